// A process that configures a child's worker pool as a child does and runs tasks on it when
// the test asks, so the test can count its threads in /proc/<pid>/task. Also the pool's task.
// The test passes the pool's settings; run without them (node --test runs every file under
// test/), it has nothing to do.
import { resourceLimits } from 'node:worker_threads';
import { configureWorkerPool, releaseIdlePool, runInPool } from '../../src/child/worker-pool';
import type { WorkerPoolSettings } from '../../src/child/worker-pool';

/** Tasks to run at once, each busy for `ms`; or the memory redline's release of the pool. */
export type PoolChildOrder = { tasks: number; ms: number } | { release: true };

/** The pool task: keeps its thread busy for `ms`, then says what stack it was given. */
export function busy(ms: number): number | undefined {
  const until = Date.now() + ms;
  while (Date.now() < until);
  return resourceLimits.stackSizeMb;
}

function main(args: string): void {
  const [settings, idleMs] = JSON.parse(args) as [WorkerPoolSettings, number];
  configureWorkerPool(settings, idleMs);
  process.on('message', (o: PoolChildOrder) => {
    if ('release' in o) {
      releaseIdlePool();
      process.send?.({});
      return;
    }
    const runs = Array.from({ length: o.tasks }, () => runInPool<number, number | undefined>(__filename, 'busy', o.ms));
    void Promise.all(runs).then((stacks) => process.send?.({ stacks }));
  });
  process.send?.({ ready: true });
}

if (require.main === module && process.argv[2] !== undefined) main(process.argv[2]);
