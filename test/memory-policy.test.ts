// LimitMemory and MemoryPolicy on a running daemon. A child grows the way a proxy does under
// load: connections whose requests carry 12 KB headers and wait at the backend. The limit is set
// at the idle child's RSS plus HEADROOM; held requests take the child past the redline (85%),
// more of them over the limit.
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
import { childPidsOf, describeFailures, isAlive, launch, launchBackend, launchGate, logText, sleep, startLoad, waitFor } from './helpers/mpm';

/** Above the idle child's RSS. A child that serves grows by about 20 MB from idle (V8's young
 * generation, the proxy's code and pools), and stays under the redline of this. */
const HEADROOM = 48 * MiB;
const HEADER_BYTES = 12_000;
/** Requests added at a time; far more than enough in all (each costs the child about 50 KB). */
const STEP = 20;
const PUSH_MOST = 3000;

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

/**
 * Holds requests at the gate, STEP more each time the last ones reached it (so the child has
 * accepted them all), until the log has a line about `child` that matches `line`. A request
 * the child had not accepted yet when it left would go to its replacement, and a burst of them
 * could take that one over the limit as well.
 */
async function pushUntil(t: TestContext, daemon: Daemon, gate: GateBackend, child: number, line: RegExp): Promise<Pushed> {
  const steps: Held[] = [];
  const seen = () => daemon.log().find(about(child, line));
  const base = gate.inFlight;
  while (!seen() && steps.length * STEP < PUSH_MOST) {
    const step = holdRequests(daemon.port, '/gate/held', STEP, HEADER_BYTES);
    t.after(() => step.agent.destroy());
    steps.push(step);
    const target = base + steps.length * STEP;
    await waitFor('the requests at the backend', () => gate.inFlight >= target || seen(), 20_000, 10);
  }
  const found = await daemon.waitLog(`a line matching ${line}`, about(child, line));
  return { line: found, results: Promise.all(steps.map((h) => h.results)).then((all) => all.flat()) };
}

interface Pushed {
  line: LogLine;
  /** Each held request's status or error code, once the gate opens. */
  results: Promise<Array<number | string>>;
}

test('MemoryPolicy continue: past the redline a warning and pruning, over the limit the child keeps serving', async (t) => {
  const gate = await launchGate(t);
  const conf = config(gate, ['MemoryPolicy continue']);
  const daemon = await launch(t, { config: conf(), waitChildren: 1 });
  const { limit, child } = await limitAboveIdle(daemon, conf, HEADROOM);
  const idle = await idleKeepAlive(daemon.port, 5);
  t.after(() => idle.destroy());
  await sleep(1100); // pruning leaves connections idle for less than a second

  const toRedline = await pushUntil(t, daemon, gate, child, /past the redline \(85% of LimitMemory/);
  assert.equal(toRedline.line.level, 'warn');
  assert.ok((toRedline.line.rss as number) >= 0.85 * limit, `${toRedline.line.rss} >= 85% of ${limit}`);
  const pruned = await daemon.waitLog('the child prunes', (l) => l.pid === child && /^memory redline/.test(l.msg));
  assert.equal(pruned.closingIdle, 5, 'the idle keep-alive connections are closed');
  await waitFor('the idle connections closed', () => Object.values(idle.freeSockets).every((l) => !l?.length));

  const toLimit = await pushUntil(t, daemon, gate, child, /MemoryPolicy continue: the limit is soft/);
  const over = toLimit.line;
  assert.equal(over.level, 'error');
  assert.ok((over.rss as number) > limit);
  gate.open();
  const results = [...(await toRedline.results), ...(await toLimit.results)];
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
  const pushed = await pushUntil(t, daemon, gate, child, /MemoryPolicy restart: replacing it gracefully/);
  assert.ok((pushed.line.rss as number) > limit);
  const starts = await daemon.waitLog('the replacement', about(child, /starts to replace/));
  const drains = await daemon.waitLog('the hand-over', about(child, /is ready; child pid \d+ drains/));
  const replacement = starts.replacement as number;
  assert.ok(Date.parse(starts.time) <= Date.parse(drains.time));
  assert.ok(isAlive(child), 'the old child is still finishing its requests');
  assert.equal(heapLimitFlag(replacement), heapLimitMb(limit));

  gate.open();
  const results = await pushed.results;
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

  await pushUntil(t, daemon, gate, child, /MemoryPolicy abort: it dumps core/);
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
