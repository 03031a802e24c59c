// Each child's worker pool (MinWorkers, LimitWorkers, ThreadStack), through the function a child
// exposes to run work on it, in a process of its own whose threads the test counts.
import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { test } from 'node:test';
import type { PoolChildOrder } from './helpers/worker-pool-child';
import { MiB, threadCount } from './helpers/memory';
import { sleep, waitFor } from './helpers/mpm';

const IDLE_MS = 300;

type Reply = { ready?: boolean; stacks?: Array<number | undefined> };

function ask(proc: ChildProcess, order: PoolChildOrder): Promise<Reply> {
  proc.send(order);
  return once(proc, 'message').then(([m]) => m as Reply);
}

test('the pool starts MinWorkers threads on first use, grows to LimitWorkers under load, prunes idle ones back, and the redline ends them', async (t) => {
  const settings = { minWorkers: 2, limitWorkers: 4, threadStack: 2 * MiB };
  const proc = fork(path.join(__dirname, 'helpers', 'worker-pool-child.js'), [JSON.stringify([settings, IDLE_MS])]);
  t.after(() => proc.kill());
  await once(proc, 'message');
  await sleep(200); // let the process's own threads settle
  const before = threadCount(proc.pid as number);

  const one = await ask(proc, { tasks: 1, ms: 10 });
  assert.deepEqual(one.stacks, [2], 'ThreadStack 2M is the stack of a pool thread');
  assert.equal(threadCount(proc.pid as number) - before, 2, 'MinWorkers threads, made on first use');

  let most = 0;
  const sampler = setInterval(() => (most = Math.max(most, threadCount(proc.pid as number) - before)), 10);
  t.after(() => clearInterval(sampler));
  const many = await ask(proc, { tasks: 12, ms: 150 });
  clearInterval(sampler);
  assert.equal(many.stacks?.length, 12);
  assert.equal(most, 4, 'never more than LimitWorkers');

  await waitFor('idle threads pruned to MinWorkers', () => threadCount(proc.pid as number) - before === 2, IDLE_MS * 10);

  // The memory redline ends an idle pool's threads, MinWorkers included; the next task remakes it.
  await ask(proc, { release: true });
  await waitFor('the idle pool released', () => threadCount(proc.pid as number) === before, 2000);
  await ask(proc, { tasks: 1, ms: 10 });
  assert.equal(threadCount(proc.pid as number) - before, 2);
});
