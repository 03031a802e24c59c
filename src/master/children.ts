// The master's table of child processes: how one is started (inherited listeners, privileges,
// its scoreboard slot), how it is asked to leave, and how its exit is read.
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import { constants } from 'node:os';
import type { Settings } from '../config/types';
import type { InheritedListener } from '../child/connection-server';
import type { ChildMessage, MasterMessage } from '../child/messages';
import { childExecArgv } from '../limits/memory';
import { inheritLogFiles } from '../log/log-files';
import { log } from '../log/logger';
import type { Scoreboard } from '../shm/scoreboard';
import type { ChildIdentity } from './privileges';

export type ChildState = 'serving' | 'graceful' | 'stopping';

export interface Child {
  pid: number;
  slot: number;
  generation: number;
  proc: ChildProcess;
  state: ChildState;
  ready: boolean;
  timers: NodeJS.Timeout[];
}

export interface ChildExit {
  child: Child;
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The master asked it to leave, or it left on its own after MaxConnectionsPerChild. */
  expected: boolean;
}

/** Grace a child gets between SIGTERM and SIGKILL. */
const KILL_GRACE_MS = 2000;

/** Inherited descriptors start after stdin, stdout, stderr and the IPC channel: the listeners,
 * then the CustomLog files. */
const FIRST_LISTENER_FD = 4;

const childEntry = path.join(__dirname, '..', 'child', 'main.js');

export function describeExit(code: number | null, signal: NodeJS.Signals | null): string {
  if (signal) return `exit signal ${signal} (${constants.signals[signal] ?? '?'})`;
  return `exit code ${code}`;
}

export class ChildTable {
  private readonly byPid = new Map<number, Child>();

  constructor(
    private readonly scoreboard: Scoreboard,
    private readonly scoreboardName: string,
    private readonly healthName: string,
    private readonly tlsCacheName: string,
    private readonly onExit: (e: ChildExit) => void,
    private readonly onReady: (c: Child) => void,
  ) {}

  get size(): number {
    return this.byPid.size;
  }

  all(): Child[] {
    return [...this.byPid.values()];
  }

  spawn(
    settings: Settings,
    generation: number,
    slotsPerChild: number,
    listeners: InheritedListener[],
    identity: ChildIdentity | null,
    errorLog: number | null,
    accessLogs: ReadonlyMap<string, number>,
  ): Child | null {
    const slot = this.scoreboard.freeProcessSlot();
    if (slot < 0) return null;
    const logs = inheritLogFiles(accessLogs, FIRST_LISTENER_FD + listeners.length);
    const proc = fork(childEntry, [], {
      stdio: ['ignore', 'inherit', errorLog ?? 'inherit', 'ipc', ...listeners.map((l) => l.fd), ...logs.stdio],
      serialization: 'advanced',
      execArgv: [...process.execArgv, ...childExecArgv(settings.limitMemory)],
      ...(identity ?? {}),
    });
    if (proc.pid === undefined) {
      log('master').error('fork of a child failed');
      return null;
    }
    this.scoreboard.claimProcess(slot, proc.pid, generation, slotsPerChild);
    const child: Child = { pid: proc.pid, slot, generation, proc, state: 'serving', ready: false, timers: [] };
    this.byPid.set(child.pid, child);
    proc.on('message', (m: ChildMessage) => {
      if (m.type === 'ready') {
        child.ready = true;
        this.onReady(child);
      }
    });
    proc.on('error', (err) => log('master').error({ child: child.pid, err: err.message }, 'child process error'));
    proc.once('exit', (code, signal) => this.exited(child, code, signal));
    const start: MasterMessage = {
      type: 'start',
      settings: { ...settings, accessLogFiles: logs.byPath },
      processSlot: slot,
      generation,
      listeners: listeners.map((l, i) => ({ fd: FIRST_LISTENER_FD + i, spec: l.spec })),
      scoreboardName: this.scoreboardName,
      healthName: this.healthName,
      tlsCacheName: this.tlsCacheName,
      errorLogOnStderr: errorLog !== null,
    };
    proc.send(start);
    return child;
  }

  private exited(child: Child, code: number | null, signal: NodeJS.Signals | null): void {
    for (const t of child.timers) clearTimeout(t);
    this.byPid.delete(child.pid);
    this.scoreboard.releaseProcess(child.slot);
    const expected = child.state !== 'serving' || (code === 0 && signal === null);
    this.onExit({ child, code, signal, expected });
  }

  /** Ask a child to finish what it serves and exit; kill it if it is still there after `limitMs`. */
  graceful(child: Child, limitMs: number): void {
    if (child.state !== 'serving') return;
    child.state = 'graceful';
    this.scoreboard.setQuiescing(child.slot, true);
    this.send(child, { type: 'graceful' });
    child.timers.push(setTimeout(() => this.terminate(child), limitMs));
  }

  /** Stop a child now: SIGTERM, then SIGKILL after a short grace. */
  terminate(child: Child, graceMs = KILL_GRACE_MS): void {
    if (child.proc.exitCode !== null || child.proc.signalCode !== null) return;
    child.state = 'stopping';
    this.scoreboard.setQuiescing(child.slot, true);
    child.proc.kill('SIGTERM');
    child.timers.push(setTimeout(() => child.proc.kill('SIGKILL'), graceMs));
  }

  send(child: Child, m: MasterMessage): void {
    if (child.proc.connected) child.proc.send(m);
  }
}
