// LimitMemory and MemoryPolicy on a running daemon. A child grows the way a proxy does under
// load: connections whose requests carry 12 KB headers and wait at the backend. The limit is set
// at the idle child's RSS plus HEADROOM; a first batch of held requests takes the child past
// the redline (85%), more of them over the limit.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { heapLimitMb } from '../src/limits/memory';
import type { Daemon, LogLine } from './helpers/daemon';
import { request } from './helpers/daemon';
import { heapLimitFlag, holdRequests, idleKeepAlive, limitAboveIdle, MiB, procLimit, tally } from './helpers/memory';
import type { Held } from './helpers/memory';
import type { GateBackend } from './helpers/mpm';
import { childPidsOf, describeFailures, isAlive, launch, launchBackend, launchGate, logText, startLoad, waitFor } from './helpers/mpm';

const HEADROOM = 32 * MiB;
const HEADER_BYTES = 12_000;
/** About 20 MB: past the redline, under the limit. */
const FIRST_BATCH = 400;
/** More than enough to take the child over its limit with the first batch. */
const PUSH_MOST = 1500;

const STATUS = '<Location /server-status>\n SetHandler server-status\n</Location>';

/** One event child with room for every held request; spares low, so the maintenance pass
 * starts no second child beside it. */
function config(gate: GateBackend, more: string[]): (limit?: string) => string {
  return (limit) =>
    [
      'StartServers 1',
      'ServerLimit 4',
      'ThreadLimit 1200',
      'ThreadsPerChild 1200',
      'MinSpareThreads 1',
      'KeepAliveTimeout 30',
      // Every held request reaches the child at once, none waits for a SYN retry.
      'ListenBacklog 2048',
      ...more,
      ...(limit ? [`LimitMemory ${limit}`] : []),
      `ProxyPass /gate/ ${gate.url}/`,
      STATUS,
    ].join('\n');
}

const about = (child: number, msg: RegExp) => (l: LogLine) => l.child === child && msg.test(l.msg);

function linesAbout(daemon: Daemon, child: number, msg: RegExp): LogLine[] {
  return daemon.log().filter(about(child, msg));
}

/** Holds the first batch and waits until every one of its requests reached the backend. */
async function holdFirstBatch(t: TestContext, gate: GateBackend, port: number): Promise<Held> {
  const first = holdRequests(port, '/gate/first', FIRST_BATCH, HEADER_BYTES);
  t.after(() => first.agent.destroy());
  await waitFor('the first batch at the backend', () => gate.inFlight >= FIRST_BATCH);
  return first;
}

/**
 * Adds held requests, paced, until the master applies MemoryPolicy to `child` (its log line
 * matches `policy`), then sends no more: what a child has not accepted when it leaves goes to
 * its replacement, and must not take that one over the limit as well.
 */
async function pushOverLimit(t: TestContext, daemon: Daemon, child: number, policy: RegExp): Promise<{ over: LogLine; held: Held }> {
  const held = holdRequests(daemon.port, '/gate/more', PUSH_MOST, HEADER_BYTES, { perTick: 10, tickMs: 25 });
  t.after(() => held.agent.destroy());
  const over = await daemon.waitLog('MemoryPolicy applied', about(child, policy), 20_000);
  held.stop();
  return { over, held };
}

test('MemoryPolicy continue: past the redline a warning and pruning, over the limit the child keeps serving', async (t) => {
  const gate = await launchGate(t);
  const conf = config(gate, ['MemoryPolicy continue']);
  const daemon = await launch(t, { config: conf(), waitChildren: 1 });
  const { limit, child } = await limitAboveIdle(daemon, conf, HEADROOM);
  const idle = await idleKeepAlive(daemon.port, 5);
  t.after(() => idle.destroy());

  const first = await holdFirstBatch(t, gate, daemon.port);
  const redline = await daemon.waitLog('the redline warning', about(child, /past the redline \(85% of LimitMemory/));
  assert.equal(redline.level, 'warn');
  assert.ok((redline.rss as number) >= 0.85 * limit, `${redline.rss} >= 85% of ${limit}`);
  const pruned = await daemon.waitLog('the child prunes', (l) => l.pid === child && /^memory redline/.test(l.msg));
  assert.equal(pruned.closingIdle, 5, 'the idle keep-alive connections are closed');
  await waitFor('the idle connections closed', () => Object.values(idle.freeSockets).every((l) => !l?.length));

  const { over, held } = await pushOverLimit(t, daemon, child, /MemoryPolicy continue: the limit is soft/);
  assert.equal(over.level, 'error');
  assert.ok((over.rss as number) > limit);
  gate.open();
  const results = [...(await first.results), ...(await held.results)];
  assert.deepEqual(tally(results), { 200: results.length });

  // The same child serves on, and says so at most once every 10 s.
  assert.equal((await request(daemon.port, '/gate/after')).status, 200);
  assert.deepEqual(childPidsOf(daemon), [child]);
  const soft = linesAbout(daemon, child, /MemoryPolicy continue/);
  assert.ok(soft.length <= 1 + Math.floor((Date.now() - Date.parse(over.time)) / 10_000), logText(daemon));
  assert.ok(!daemon.log().some((l) => /replac|abort/i.test(l.msg) && l.child === child), logText(daemon));
});

test('MemoryPolicy restart: the replacement starts first, the old child finishes every request in flight', async (t) => {
  const gate = await launchGate(t);
  const backend = await launchBackend(t);
  const conf = config(gate, ['MemoryPolicy restart', `ProxyPass /b/ ${backend.url}/`]);
  const daemon = await launch(t, { config: conf(), waitChildren: 1 });
  const { limit, child } = await limitAboveIdle(daemon, conf, HEADROOM);
  // LimitMemory is enforced before V8's own heap limit, which sits below it.
  assert.equal(heapLimitFlag(child), heapLimitMb(limit));
  assert.ok(heapLimitMb(limit) * MiB < limit);

  let most = 0;
  const sampler = setInterval(() => (most = Math.max(most, childPidsOf(daemon).length)), 20);
  t.after(() => clearInterval(sampler));
  const load = startLoad({ port: daemon.port, path: '/b/slow?ms=5', clients: 4, keepAlive: true });
  t.after(() => load.stop());
  const first = await holdFirstBatch(t, gate, daemon.port);
  const { over, held } = await pushOverLimit(t, daemon, child, /MemoryPolicy restart: replacing it gracefully/);
  assert.ok((over.rss as number) > limit);
  const starts = await daemon.waitLog('the replacement', about(child, /starts to replace/));
  const drains = await daemon.waitLog('the hand-over', about(child, /is ready; child pid \d+ drains/));
  const replacement = starts.replacement as number;
  assert.ok(Date.parse(starts.time) <= Date.parse(drains.time));
  assert.ok(isAlive(child), 'the old child is still finishing its requests');
  assert.equal(heapLimitFlag(replacement), heapLimitMb(limit));

  gate.open();
  const results = [...(await first.results), ...(await held.results)];
  assert.deepEqual(tally(results), { 200: results.length }, 'every request in flight on the old child was answered');
  await daemon.waitLog('the old child leaving', about(child, /exited \(exit code 0\)/));
  const result = await load.stop();
  clearInterval(sampler);
  assert.equal(result.failures.length, 0, `${describeFailures(result.failures)}\n${logText(daemon)}`);
  assert.ok(result.ok > 20, `the load ran (${result.ok} requests)`);
  assert.deepEqual(childPidsOf(daemon), [replacement]);
  assert.ok(most <= 2, `at most the child and its replacement (${most})`);
  assert.ok(!daemon.log().some((l) => /heap limit|out of memory/i.test(l.msg)), 'no V8 heap exhaustion');
});

test('MemoryPolicy abort: the child dumps core (SIGABRT), the crash strategy replaces it', async (t) => {
  const gate = await launchGate(t);
  const conf = config(gate, ['MemoryPolicy abort', 'CoreDumpDirectory @DIR@']);
  const daemon = await launch(t, { config: conf(), waitChildren: 1 });
  const { child } = await limitAboveIdle(daemon, conf, HEADROOM);
  const core = procLimit(child, 'Max core file size');
  assert.equal(core.soft, core.hard, 'the child raised its core size limit');

  await holdFirstBatch(t, gate, daemon.port);
  await pushOverLimit(t, daemon, child, /MemoryPolicy abort: it dumps core/);
  await daemon.waitLog("the child's last line", (l) => l.pid === child && /aborting, dumping core/.test(l.msg));
  const crash = await daemon.waitLog('the crash line', (l) => l.msg === `child pid ${child} exit signal SIGABRT (6)`);
  assert.equal(crash.level, 'error');
  const replacement = await waitFor('a replacement', () => childPidsOf(daemon).find((p) => p !== child));
  await daemon.waitAccepting(1);
  assert.equal((await request(daemon.port, '/server-status?auto')).status, 200);
  assert.deepEqual(childPidsOf(daemon), [replacement]);

  const pattern = fs.readFileSync('/proc/sys/kernel/core_pattern', 'utf8').trim();
  if (pattern.startsWith('|') || pattern.includes('/')) {
    t.diagnostic(`core_pattern ${pattern} sends cores elsewhere; only SIGABRT was checked`);
    return;
  }
  const file = await waitFor('the core file', () => fs.readdirSync(daemon.dir).find((f) => f.startsWith(pattern.split('%')[0])));
  assert.ok(fs.statSync(path.join(daemon.dir, file)).size > 0);
});
