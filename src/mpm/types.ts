// One interface for every MPM, as httpd has one per server/mpm/*: the master asks it how many
// children and slots the configuration allows and what idle means; a child asks it to serve.
import type { MpmName, Settings } from '../config/types';
import type { InheritedListener } from '../child/connection-server';
import type { Scoreboard } from '../shm/scoreboard';

export interface ChildContext {
  settings: Settings;
  processSlot: number;
  generation: number;
  listeners: InheritedListener[];
  scoreboard: Scoreboard;
  /** Name of the scoreboard segment, for threads that map it themselves. */
  scoreboardName: string;
  /** The child spent its MaxConnectionsPerChild budget and served its last connection. */
  onRetired: () => void;
  /** The child spent its budget but keeps serving the state-aware sessions it owns. */
  onHoldingSessions: () => void;
}

/** A running child's serving loop. */
export interface ChildRunner {
  /** Stop accepting; resolves when every connection has ended (bounded by ExitTimeout) and then
   * every state-aware session it owns (bounded by `sessionGraceMs`; null: a graceful stop, where
   * the master's ExitTimeout bounds them). */
  graceful(sessionGraceMs: number | null): Promise<void>;
  /** Close every connection now. */
  stop(): Promise<void>;
  /** The memory redline: drop what each event loop can spare (src/limits/memory-child.ts). */
  prune(): void;
}

/** What the once-a-second maintenance pass counts idle, and against which limits. */
export interface SpareLimits {
  min: number;
  max: number;
  /** 'children' for prefork (Min/MaxSpareServers), 'threads' for worker and event. */
  unit: 'children' | 'threads';
}

export interface Mpm {
  readonly name: MpmName;
  /** Requests run on threads other than the child's main thread. */
  readonly threaded: boolean;
  /** Children the configuration allows at once (MaxRequestWorkers / ThreadsPerChild). */
  maxChildren(s: Settings): number;
  /** Scoreboard worker slots one child uses. */
  slotsPerChild(s: Settings): number;
  spareLimits(s: Settings): SpareLimits;
  /** Lines for -V: how Apache's process/thread model maps onto this one. */
  describe(s: Settings): string[];
  runChild(ctx: ChildContext): Promise<ChildRunner>;
}
