// LimitMemoryServer: the master and its children together, the pages they share counted once.
// Over it, MemoryPolicy applies to the child with the most memory of its own, one child at a time:
// the total is judged again only once that child has left.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { serverMemory } from '../src/limits/memory';
import type { Daemon, LogLine } from './helpers/daemon';
import { exitOf, memoryOf, MiB, pushUntil, restartInto, tally } from './helpers/memory';
import type { GateBackend } from './helpers/mpm';
import { childPidsOf, launch, launchGate, logText, sleep, waitFor } from './helpers/mpm';

const HEADROOM = 48 * MiB;
/** Ten of the master's samples: a replacement still to come is logged within them. */
const QUIET_MS = 1000;

const replacing = (l: LogLine) => /over LimitMemoryServer .*; MemoryPolicy restart: replacing it gracefully/.test(l.msg);

/**
 * Every replacement made for LimitMemoryServer, once each replaced child has left and the master
 * has sampled for QUIET_MS after that without making another. At most `rounds` rounds, so a
 * master that never stops replacing ends the wait and fails the assertions on what it returns.
 */
async function replacementsSettled(daemon: Daemon, rounds: number): Promise<LogLine[]> {
  let lines: LogLine[] = [];
  for (let round = 0; round < rounds; round++) {
    lines = daemon.log().filter(replacing);
    for (const l of lines) await daemon.waitLog(`child pid ${String(l.child)} leaving`, exitOf(l.child as number), 20_000);
    await sleep(QUIET_MS);
    if (daemon.log().filter(replacing).length === lines.length) return lines;
  }
  return daemon.log().filter(replacing);
}

function config(gate: GateBackend, limit?: string): string {
  return [
    'StartServers 2',
    'ServerLimit 6',
    'ThreadLimit 1200',
    'ThreadsPerChild 1200',
    'MinSpareThreads 1',
    'ListenBacklog 2048',
    'MemoryPolicy restart',
    ...(limit ? [`LimitMemoryServer ${limit}`] : []),
    `ProxyPass /gate/ ${gate.url}/`,
    '<Location /server-status>\n SetHandler server-status\n</Location>',
  ].join('\n');
}

test('LimitMemoryServer: over the whole server, its largest child is replaced gracefully', async (t) => {
  const gate = await launchGate(t);
  const daemon = await launch(t, { config: config(gate), waitChildren: 2 });
  await waitFor('two children', () => childPidsOf(daemon).length === 2);
  const idle = serverMemory([daemon.pid, ...childPidsOf(daemon)].map(memoryOf));
  const limitMb = Math.ceil((idle + HEADROOM) / MiB);
  const children = await restartInto(daemon, config(gate, `${limitMb}M`), 2);

  const limit = limitMb * MiB;
  const pushed = await pushUntil(t, daemon, gate, replacing);
  const victim = pushed.line.child as number;
  assert.ok(children.includes(victim), `the largest child is one of ${children.join(', ')}`);
  assert.match(pushed.line.msg, new RegExp(`^the server uses \\d+ MB, over LimitMemoryServer ${limitMb} MB; its largest child is pid ${victim}`));
  assert.ok((pushed.line.total as number) > limit);
  assert.ok(daemon.log().some((l) => /past the redline \(85% of LimitMemoryServer/.test(l.msg)), 'the redline came first');

  await daemon.waitLog('the hand-over', (l) => l.child === victim && /is ready; child pid \d+ drains/.test(l.msg));
  gate.open();
  const results = await pushed.results;
  assert.deepEqual(tally(results), { 200: results.length }, logText(daemon));
  await daemon.waitLog('the victim leaving', exitOf(victim));
  assert.ok(!childPidsOf(daemon).includes(victim));

  // The other child answered its share of the held requests too, and V8 gives back what that
  // cost only at its next collections: when the victim has left, the total can still be over,
  // and then that child is replaced in its turn. Never two at once, never a child that took
  // none of the load, never past the limit's own verdict.
  const replaced = await replacementsSettled(daemon, children.length + 1);
  const lines = daemon.log();
  const at = (match: (l: LogLine) => boolean) => lines.findIndex(match);
  const victims = replaced.map((l) => l.child as number);
  const story = `${victims.length} replaced (${victims.join(', ')})\n${logText(daemon, 60)}`;
  t.diagnostic(`children replaced: ${victims.length}`);
  replaced.forEach((l, i) => {
    assert.ok((l.total as number) > limit, `replacement ${i + 1} logged a total over ${limitMb} MB: ${story}`);
    assert.match(l.msg, new RegExp(`^the server uses \\d+ MB, over LimitMemoryServer ${limitMb} MB; its largest child is pid ${victims[i]};`));
    if (i === 0) return;
    const left = at(exitOf(victims[i - 1]));
    const next = at((e) => replacing(e) && e.child === victims[i]);
    assert.ok(left >= 0 && left < next, `replacement ${i + 1} only after child pid ${victims[i - 1]} had left: ${story}`);
  });
  assert.ok(victims.length <= children.length, `each child of the load replaced once at most: ${story}`);
  assert.equal(new Set(victims).size, victims.length, `no child replaced twice: ${story}`);
  assert.ok(victims.every((v) => children.includes(v)), `only children that carried the load: ${story}`);
});
