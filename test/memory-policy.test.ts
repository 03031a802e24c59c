// LimitMemory and MemoryPolicy on a running daemon. A child grows the way a proxy does under
// load: connections whose requests carry 12 KB headers and wait at the backend. The limit is set
// at the idle child's RSS plus HEADROOM; held requests take the child past the redline (85%),
// more of them over the limit.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { heapLimitMb } from '../src/limits/memory';
import type { LogLine } from './helpers/daemon';
import { request } from './helpers/daemon';
import { HEADROOM, heapLimitFlag, idleKeepAlive, limitAboveIdle, MiB, oneChildConfig, procLimit, pushUntil, tally } from './helpers/memory';
import { childPidsOf, describeFailures, isAlive, launch, launchBackend, launchGate, logText, sleep, startLoad, waitFor } from './helpers/mpm';

const about = (child: number, msg: RegExp) => (l: LogLine) => l.child === child && msg.test(l.msg);

test('MemoryPolicy continue: past the redline a warning and pruning, over the limit the child keeps serving', async (t) => {
  const gate = await launchGate(t);
  const conf = oneChildConfig(gate, ['MemoryPolicy continue']);
  const daemon = await launch(t, { config: conf(), waitChildren: 1 });
  const { limit, child } = await limitAboveIdle(daemon, conf, HEADROOM);
  const idle = await idleKeepAlive(daemon.port, 5);
  t.after(() => idle.destroy());
  await sleep(1100); // pruning leaves connections idle for less than a second

  const toRedline = await pushUntil(t, daemon, gate, about(child, /past the redline \(85% of LimitMemory/));
  assert.equal(toRedline.line.level, 'warn');
  assert.ok((toRedline.line.rss as number) >= 0.85 * limit, `${toRedline.line.rss} >= 85% of ${limit}`);
  const pruned = await daemon.waitLog('the child prunes', (l) => l.pid === child && /^memory redline/.test(l.msg));
  assert.equal(pruned.closingIdle, 5, 'the idle keep-alive connections are closed');
  await waitFor('the idle connections closed', () => Object.values(idle.freeSockets).every((l) => !l?.length));

  const toLimit = await pushUntil(t, daemon, gate, about(child, /MemoryPolicy continue: the limit is soft/));
  const over = toLimit.line;
  assert.equal(over.level, 'error');
  assert.ok((over.rss as number) > limit);
  gate.open();
  const results = [...(await toRedline.results), ...(await toLimit.results)];
  assert.deepEqual(tally(results), { 200: results.length });

  // The same child serves on, and says so at most once every 10 s.
  assert.equal((await request(daemon.port, '/gate/after')).status, 200);
  assert.deepEqual(childPidsOf(daemon), [child]);
  const soft = daemon.log().filter(about(child, /MemoryPolicy continue/));
  assert.ok(soft.length <= 1 + Math.floor((Date.now() - Date.parse(over.time)) / 10_000), logText(daemon));
  assert.ok(!daemon.log().some((l) => /replac|abort/i.test(l.msg) && l.child === child), logText(daemon));
});

test('MemoryPolicy restart: the replacement starts first, the old child finishes every request in flight', async (t) => {
  const gate = await launchGate(t);
  const backend = await launchBackend(t);
  const conf = oneChildConfig(gate, ['MemoryPolicy restart', `ProxyPass /b/ ${backend.url}/`]);
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
  const pushed = await pushUntil(t, daemon, gate, about(child, /MemoryPolicy restart: replacing it gracefully/));
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
  const conf = oneChildConfig(gate, ['MemoryPolicy abort', 'CoreDumpDirectory @DIR@']);
  const daemon = await launch(t, { config: conf(), waitChildren: 1 });
  const { child } = await limitAboveIdle(daemon, conf, HEADROOM);
  const core = procLimit(child, 'Max core file size');
  assert.equal(core.soft, core.hard, 'the child raised its core size limit');

  await pushUntil(t, daemon, gate, about(child, /MemoryPolicy abort: it dumps core/));
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
