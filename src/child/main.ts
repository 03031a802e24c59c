// Entry point of a child process: the worker cycle. It waits for its orders from the master,
// serves through its MPM, and exits when told to or when its connection budget is spent.
import type { Settings } from '../config/types';
import { abortForMemory, prepareCoreDump } from '../limits/memory-child';
import { configureLogging, flushLogs, log } from '../log/logger';
import { mpmFor } from '../mpm';
import type { ChildRunner } from '../mpm/types';
import { loadNative } from '../native';
import { applyFileLimit } from '../native/rlimits';
import { useHealthSegment } from '../shm/health-segment';
import { attachScoreboard } from '../shm/scoreboard-segment';
import { useTlsCacheSegment } from '../shm/tls-cache-segment';
import type { InheritedListener } from './connection-server';
import { CHILD_FATAL_EXIT } from './messages';
import type { ChildMessage, MasterMessage } from './messages';
import { configureWorkerPool, releaseIdlePool } from './worker-pool';

function send(m: ChildMessage): void {
  if (process.connected) process.send?.(m);
}

function exit(code: number): never {
  flushLogs();
  process.exit(code);
}

function start(m: Extract<MasterMessage, { type: 'start' }>): void {
  // A child running as User:Group may not open the ErrorLog file itself: it writes to the
  // descriptor the master opened for it, as httpd's children do.
  const settings: Settings = m.errorLogOnStderr ? { ...m.settings, errorLog: 'stderr' } : m.settings;
  configureLogging(settings);
  applyFileLimit(settings.limitFiles);
  prepareCoreDump(settings);
  configureWorkerPool(settings);
  const scoreboard = attachScoreboard(m.scoreboardName);
  useHealthSegment(m.healthName);
  useTlsCacheSegment(m.tlsCacheName);
  const listeners: InheritedListener[] = m.listeners;
  let runner: ChildRunner | null = null;
  let ending = false;
  const finish = (how: 'graceful' | 'stop') => {
    if (ending || !runner) return;
    ending = true;
    const r = runner;
    (how === 'graceful' ? r.graceful() : r.stop()).finally(() => exit(0));
  };
  void mpmFor(settings.mpm)
    .runChild({
      settings,
      processSlot: m.processSlot,
      generation: m.generation,
      listeners,
      scoreboard,
      scoreboardName: m.scoreboardName,
      onRetired: () => {
        log('child').info(
          { connections: scoreboard.connectionsTotal(m.processSlot), requests: scoreboard.requestsTotal(m.processSlot) },
          'MaxConnectionsPerChild reached; child exits',
        );
        exit(0);
      },
    })
    .then((r) => {
      runner = r;
      send({ type: 'ready' });
      process.on('message', (msg: MasterMessage) => {
        if (msg.type === 'graceful') finish('graceful');
        else if (msg.type === 'stop') finish('stop');
        else if (msg.type === 'prune') {
          r.prune();
          releaseIdlePool();
        }
        else if (msg.type === 'abort') abortForMemory();
      });
      process.on('SIGTERM', () => finish('stop'));
    }, fatal);
}

function fatal(err: unknown): never {
  log('child').emerg({ err: (err as Error)?.message ?? String(err) }, 'child failed to start');
  exit(CHILD_FATAL_EXIT);
}

function main(): void {
  // The master handles terminal signals and tells children what to do; a child dies with it.
  for (const sig of ['SIGINT', 'SIGHUP', 'SIGUSR1', 'SIGWINCH'] as const) process.on(sig, () => undefined);
  loadNative().setParentDeathSignal(15);
  process.on('disconnect', () => exit(0));
  process.once('message', (m: MasterMessage) => {
    if (m.type !== 'start') return;
    try {
      start(m);
    } catch (err) {
      fatal(err);
    }
  });
}

main();
