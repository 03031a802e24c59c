// A child that crashes again and again is not replaced in a fork storm: after 5 crashes within
// 10 s each replacement waits (0.5 s, then twice as long after each crash), the maintenance pass
// starts nothing meanwhile, and each wait is logged.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { childPidsOf, launchProxy, waitFor } from './helpers/mpm';

test('a crash loop backs off: the 5th crash within 10 s and each one after wait longer for their replacement', async (t) => {
  const { daemon } = await launchProxy(t, ['StartServers 1', 'ThreadsPerChild 4', 'MinSpareThreads 1'], { waitChildren: 1 });
  let most = 0;
  const sampler = setInterval(() => (most = Math.max(most, childPidsOf(daemon).length)), 5);
  t.after(() => clearInterval(sampler));

  let current = childPidsOf(daemon)[0];
  const waits: number[] = [];
  for (let crash = 1; crash <= 7; crash++) {
    process.kill(current, 'SIGKILL');
    const at = Date.now();
    current = await waitFor('the replacement', () => childPidsOf(daemon).find((p) => p !== current), 10_000, 5);
    waits.push(Date.now() - at);
  }
  clearInterval(sampler);

  // The first four are replaced at once (the fork is what takes time).
  for (const ms of waits.slice(0, 4)) assert.ok(ms < 400, `replaced at once: ${waits.join(', ')} ms`);
  const [fifth, sixth, seventh] = waits.slice(4);
  assert.ok(fifth >= 500 && sixth >= 1000 && seventh >= 2000, `back-off: ${waits.join(', ')} ms`);
  assert.ok(fifth < sixth && sixth < seventh, `growing: ${waits.join(', ')} ms`);
  assert.equal(most, 1, 'never more than one child: nothing else started during a wait');
  const lines = daemon.log().filter((l) => l.msg.startsWith('children keep crashing'));
  assert.deepEqual(lines.map((l) => l.delayMs), [500, 1000, 2000]);
  assert.ok(lines.every((l) => l.level === 'error'));
  await daemon.waitAccepting(1);
});
