// Entry point of one worker-MPM thread: its own event loop, its own mapping of the scoreboard,
// one connection at a time.
import { parentPort, workerData } from 'node:worker_threads';
import type { Settings } from '../config/types';
import { pruneEventLoop } from '../limits/memory-child';
import { configureLogging } from '../log/logger';
import { attachScoreboard } from '../shm/scoreboard-segment';
import { sharedBudget } from './connection-budget';
import type { InheritedListener } from './connection-server';
import { serve } from './serve';

export interface ThreadData {
  settings: Settings;
  processSlot: number;
  thread: number;
  listeners: InheritedListener[];
  scoreboardName: string;
  budget: SharedArrayBuffer;
}

export type ThreadMessage = { type: 'retired' } | { type: 'holding' };
export type ParentMessage = { type: 'stop' | 'prune' } | { type: 'graceful'; sessionGraceMs: number | null };

function main(): void {
  const d = workerData as ThreadData;
  const port = parentPort;
  if (!port) throw new Error('thread.js runs only as a worker thread');
  configureLogging(d.settings);
  const scoreboard = attachScoreboard(d.scoreboardName);
  const serving = serve({
    settings: d.settings,
    listeners: d.listeners,
    scoreboard,
    processSlot: d.processSlot,
    mode: 'connection',
    workerSlots: [d.thread],
    budget: sharedBudget(d.settings.maxConnectionsPerChild, new Int32Array(d.budget)),
    mayAccept: () => true,
    onRetired: () => port.postMessage({ type: 'retired' } satisfies ThreadMessage),
    onHoldingSessions: () => port.postMessage({ type: 'holding' } satisfies ThreadMessage),
  });
  port.on('message', (m: ParentMessage) => {
    if (m.type === 'prune') return pruneEventLoop(serving.server);
    const done = () => serving.close().finally(() => process.exit(0));
    if (m.type === 'graceful') {
      void serving.server
        .graceful()
        .then(() => serving.retireSessions(m.sessionGraceMs))
        .then(done);
    }
    else {
      serving.server.closeAll('stop');
      void done();
    }
  });
}

main();
