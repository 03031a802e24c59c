// LimitMemoryServer: the master and its children together, the pages they share counted once.
// Over it, MemoryPolicy applies to the child with the most memory of its own.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { test } from 'node:test';
import { parseMemoryUse, serverMemory } from '../src/limits/memory';
import type { LogLine } from './helpers/daemon';
import { MiB, pushUntil, restartInto, tally } from './helpers/memory';
import type { GateBackend } from './helpers/mpm';
import { childPidsOf, launch, launchGate, logText, waitFor } from './helpers/mpm';

const HEADROOM = 48 * MiB;

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

const memoryOf = (pid: number) => parseMemoryUse(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));

test('LimitMemoryServer: over the whole server, its largest child is replaced gracefully', async (t) => {
  const gate = await launchGate(t);
  const daemon = await launch(t, { config: config(gate), waitChildren: 2 });
  await waitFor('two children', () => childPidsOf(daemon).length === 2);
  const idle = serverMemory([daemon.pid, ...childPidsOf(daemon)].map(memoryOf));
  const limitMb = Math.ceil((idle + HEADROOM) / MiB);
  const children = await restartInto(daemon, config(gate, `${limitMb}M`), 2);

  const over = (l: LogLine) => /over LimitMemoryServer .*; MemoryPolicy restart: replacing it gracefully/.test(l.msg);
  const pushed = await pushUntil(t, daemon, gate, over);
  const victim = pushed.line.child as number;
  assert.ok(children.includes(victim), `the largest child is one of ${children.join(', ')}`);
  assert.match(pushed.line.msg, new RegExp(`^the server uses \\d+ MB, over LimitMemoryServer ${limitMb} MB; its largest child is pid ${victim}`));
  assert.ok((pushed.line.total as number) > limitMb * MiB);
  assert.ok(daemon.log().some((l) => /past the redline \(85% of LimitMemoryServer/.test(l.msg)), 'the redline came first');

  await daemon.waitLog('the hand-over', (l) => l.child === victim && /is ready; child pid \d+ drains/.test(l.msg));
  gate.open();
  const results = await pushed.results;
  assert.deepEqual(tally(results), { 200: results.length }, logText(daemon));
  await daemon.waitLog('the victim leaving', (l) => l.child === victim && /exited \(exit code 0\)/.test(l.msg));
  const replaced = daemon.log().filter((l) => /MemoryPolicy restart: replacing it gracefully/.test(l.msg));
  assert.equal(replaced.length, 1, 'one child at a time, and the total fell back under the limit');
  assert.ok(!childPidsOf(daemon).includes(victim));
});
