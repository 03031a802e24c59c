// LimitMemory and LimitMemoryServer together. A child over its own limit is replaced; its
// replacement, starting beside it, takes the whole server over LimitMemoryServer while the old
// child still serves and then drains. That total is the hand-over's own cost: the server check
// waits for the old child to leave, so no child is replaced twice and no two at once.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { serverMemory } from '../src/limits/memory';
import type { LogLine } from './helpers/daemon';
import { childPids } from './helpers/daemon';
import { exitOf, HEADROOM, limitAboveIdle, memoryOf, MiB, oneChildConfig, pushUntil, restartInto, tally } from './helpers/memory';
import { childPidsOf, isAlive, launch, launchGate, logText, sleep, waitFor } from './helpers/mpm';

/** Ten of the master's samples: a second replacement, if the master made one, is logged within them. */
const QUIET_MS = 1000;

const replacing = (l: LogLine) => /over LimitMemory(Server)? .*; MemoryPolicy restart: replacing it gracefully/.test(l.msg);
const startsToReplace = (l: LogLine) => /^child pid \d+ starts to replace child pid \d+$/.test(l.msg);

/** The server's total as the master counts it, or 0 while a process it lists is leaving. */
function serverTotal(master: number): number {
  try {
    return serverMemory([master, ...childPids(master)].map(memoryOf));
  } catch {
    return 0;
  }
}

test('LimitMemory and LimitMemoryServer: a child over its own limit is replaced once, the server check waits for it', async (t) => {
  const gate = await launchGate(t);
  // Slots for every request the push may hold, so the maintenance pass starts no second child
  // (which would take the server over its limit on its own).
  const more = ['MemoryPolicy restart', 'ThreadLimit 3000', 'ThreadsPerChild 3000'];
  const daemon = await launch(t, { config: oneChildConfig(gate, more)(), waitChildren: 1 });
  // The server is measured idle as it will run: its child under LimitMemory, which sets that
  // child's V8 heap limit.
  const limited = await limitAboveIdle(daemon, oneChildConfig(gate, more), HEADROOM);
  const limitMb = limited.limit / MiB;
  const idle = memoryOf(limited.child);
  // The child reaches its limit when it has grown by about HEADROOM, and the server is then still
  // under its own; its replacement's own pages (an idle child's, beside the old child's) take the
  // server over.
  const serverMb = Math.ceil((serverMemory([daemon.pid, limited.child].map(memoryOf)) + HEADROOM + idle.anon / 2) / MiB);
  const conf = oneChildConfig(gate, [...more, `LimitMemoryServer ${serverMb}M`]);
  const [child] = await restartInto(daemon, conf(`${limitMb}M`), 1);
  t.diagnostic(`idle child: ${Math.round(idle.rss / MiB)} MB, ${Math.round(idle.anon / MiB)} MB of its own`);

  // What the server used at most while the child over its limit was still there.
  let most = 0;
  const sampler = setInterval(() => {
    if (isAlive(child)) most = Math.max(most, serverTotal(daemon.pid));
  }, 20);
  t.after(() => clearInterval(sampler));

  const pushed = await pushUntil(t, daemon, gate, (l) => replacing(l) && l.child === child);
  assert.match(pushed.line.msg, new RegExp(`^child pid ${child} uses \\d+ MB, over LimitMemory ${limitMb} MB;`), `the child went over its own limit first\n${logText(daemon)}`);
  await daemon.waitLog('the hand-over', (l) => l.child === child && /is ready; child pid \d+ drains/.test(l.msg));
  // The old child drains with its requests held: the server check has time to act on it again.
  await sleep(QUIET_MS);
  gate.open();
  const results = await pushed.results;
  assert.deepEqual(tally(results), { 200: results.length }, logText(daemon));
  await daemon.waitLog('the old child leaving', exitOf(child), 20_000);
  await sleep(QUIET_MS);
  clearInterval(sampler);

  const lines = daemon.log();
  const story = `server at most ${Math.round(most / MiB)} MB while child pid ${child} was there\n${logText(daemon, 60)}`;
  t.diagnostic(`LimitMemory ${limitMb} MB, LimitMemoryServer ${serverMb} MB, server at most ${Math.round(most / MiB)} MB`);
  assert.ok(most > serverMb * MiB, `the server went over LimitMemoryServer during the hand-over: ${story}`);

  const replaced = lines.filter(replacing).map((l) => l.child as number);
  assert.equal(new Set(replaced).size, replaced.length, `no child replaced twice: ${story}`);
  const started = lines.filter(startsToReplace).map((l) => Number(/child pid (\d+)$/.exec(l.msg)?.[1]));
  assert.equal(new Set(started).size, started.length, `one replacement started per child: ${story}`);
  // Every replacement started says why, just before.
  assert.deepEqual(started, replaced, `each replacement follows its reason: ${story}`);
  // Never two at once: each replacement comes after the child replaced before it has left.
  const at = (match: (l: LogLine) => boolean) => lines.findIndex(match);
  replaced.forEach((victim, i) => {
    if (i === 0) return;
    const left = at(exitOf(replaced[i - 1]));
    const next = at((l) => replacing(l) && l.child === victim);
    assert.ok(left >= 0 && left < next, `child pid ${victim} replaced only after child pid ${replaced[i - 1]} had left: ${story}`);
  });
  const survivors = await waitFor('one child', () => (childPidsOf(daemon).length === 1 ? childPidsOf(daemon) : null));
  assert.ok(!survivors.includes(child), story);
});
