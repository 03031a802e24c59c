// Each child's worker thread pool (piscina), for CPU work that must not stall an event loop:
// filters that inspect or rewrite bodies, user filter modules, compression. Appweb's MinWorkers,
// LimitWorkers and ThreadStack size it. A child makes it on first use, starting MinWorkers
// threads, grows it up to LimitWorkers while tasks wait, and, as Appweb does, ends threads
// beyond MinWorkers that stayed idle for five minutes.
import Piscina from 'piscina';
import type { Settings } from '../config/types';
import { log } from '../log/logger';

export type WorkerPoolSettings = Pick<Settings, 'minWorkers' | 'limitWorkers' | 'threadStack'>;

/** How long a thread beyond MinWorkers may stay idle (Appweb: five minutes). */
const IDLE_THREAD_MS = 5 * 60_000;

const MiB = 2 ** 20;

let wanted: { settings: WorkerPoolSettings; idleMs: number } | null = null;
let pool: Piscina | null = null;
/** Tasks queued or running. */
let pending = 0;

/** Called once the child has its settings; the pool itself waits for its first task. */
export function configureWorkerPool(settings: WorkerPoolSettings, idleMs = IDLE_THREAD_MS): void {
  wanted = { settings, idleMs };
}

function workerPool(): Piscina {
  if (pool) return pool;
  if (!wanted) throw new Error('the worker pool is used before the child has its settings');
  const { settings: s, idleMs } = wanted;
  pool = new Piscina({
    minThreads: s.minWorkers,
    maxThreads: s.limitWorkers,
    idleTimeout: idleMs,
    ...(s.threadStack > 0 ? { resourceLimits: { stackSizeMb: s.threadStack / MiB } } : {}),
  });
  return pool;
}

/** Runs export `name` of the module at absolute path `filename` on a pool thread. */
export function runInPool<T, R>(filename: string, name: string, task: T): Promise<R> {
  const run = workerPool().run(task, { filename, name }) as Promise<R>;
  pending++;
  return run.finally(() => pending--);
}

/** The memory redline: a pool with nothing to do ends its threads (each a V8 isolate of a few
 * MB, MinWorkers included); the next task makes it again. */
export function releaseIdlePool(): void {
  if (!pool || pending > 0) return;
  log('child').notice({ threads: pool.threads.length }, `memory redline: the idle worker pool ends its ${pool.threads.length} threads`);
  void pool.destroy();
  pool = null;
}
