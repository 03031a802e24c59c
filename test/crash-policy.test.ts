// CrashRecoveryStrategy's decisions over time, without a daemon.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CrashPolicy, CRASH_LOOP_CRASHES, CRASH_LOOP_WINDOW_MS } from '../src/master/crash-policy';

/** The delays of crashes at `times` (ms), or 'exit'. */
function delays(policy: CrashPolicy, times: number[]): Array<number | 'exit'> {
  return times.map((t, i) => {
    const d = policy.crashed(1000 + i, t);
    return d.action === 'exit' ? 'exit' : d.delayMs;
  });
}

describe('CrashPolicy', () => {
  it('kill: exits at the first crash', () => {
    assert.deepEqual(delays(new CrashPolicy('kill'), [0]), ['exit']);
  });

  it('recover: replaces at once until 5 crashes within 10 s, then waits 0.5 s, doubling up to 30 s', () => {
    const times = Array.from({ length: 12 }, (_, i) => i * 100);
    assert.equal(CRASH_LOOP_CRASHES, 5);
    assert.deepEqual(delays(new CrashPolicy('recover'), times), [0, 0, 0, 0, 500, 1000, 2000, 4000, 8000, 16000, 30000, 30000]);
  });

  it('recover: crashes spread wider than the window never back off', () => {
    const times = Array.from({ length: 10 }, (_, i) => i * (CRASH_LOOP_WINDOW_MS / 4 + 1));
    assert.deepEqual(delays(new CrashPolicy('recover'), times), Array(10).fill(0));
  });

  it('a back-off goes on while crashes come, even slower than the window, and ends after a calm minute', () => {
    const policy = new CrashPolicy('recover');
    delays(policy, [0, 1, 2, 3, 4]);
    // Each replacement crashes as soon as it starts, after its wait.
    assert.deepEqual(delays(policy, [20_000, 45_000]), [1000, 2000]);
    assert.ok(policy.holding(45_000 + 1999));
    assert.ok(!policy.holding(45_000 + 2000));
    assert.deepEqual(delays(policy, [45_000 + 60_000]), [0]);
  });

  it('a restart forgets the crashes and may change the strategy', () => {
    const policy = new CrashPolicy('recover');
    delays(policy, [0, 1, 2, 3, 4]);
    policy.reset('recover');
    assert.ok(!policy.holding(5));
    assert.deepEqual(delays(policy, [6]), [0]);
    policy.reset('kill');
    assert.deepEqual(delays(policy, [7]), ['exit']);
  });
});
