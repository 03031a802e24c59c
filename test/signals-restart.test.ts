// HUP and USR1 re-read the configuration. A bad one leaves the running server exactly as it
// was and says why; a good one (HUP) replaces every child at once while the listening socket
// stays open, so no connection is refused.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import type { Daemon } from './helpers/daemon';
import { request } from './helpers/daemon';
import {
  describeFailures,
  generationOf,
  launchProxy,
  logsMatching,
  pidsOf,
  sleep,
  startLoad,
  statusNow,
  waitFor,
} from './helpers/mpm';

const DIRECTIVES = ['StartServers 2', 'ThreadsPerChild 8', 'GracefulShutdownTimeout 3'];

async function restartWithBadConfig(t: TestContext, signal: 'SIGHUP' | 'SIGUSR1'): Promise<void> {
  const { daemon } = await launchProxy(t, DIRECTIVES, { waitChildren: 2 });
  const before = await statusNow(daemon);
  const good = fs.readFileSync(daemon.configFile, 'utf8');
  fs.writeFileSync(daemon.configFile, `${good}StartServerz 2\n`);
  daemon.signal(signal);
  const line = await daemon.waitLog('the bad configuration', (l) => l.msg.includes('the new configuration is bad'));
  // Give a restart that wrongly went ahead the time to show.
  await sleep(500);

  assert.equal(line.level, 'error');
  assert.equal(line.msg, `${signal} received, but the new configuration is bad; keeping the running one`);
  assert.match(String(line.err), /mpmproxy\.conf:\d+/);
  assert.match(String(line.err), /StartServerz/);
  const after = await statusNow(daemon);
  assert.equal(generationOf(after), generationOf(before));
  assert.deepEqual(pidsOf(after.processes), pidsOf(before.processes));
  assert.ok(after.processes.every((p) => p.stopping === 0 && p.accepting === 1));
  assert.equal((await request(daemon.port, '/b/')).status, 200);
  assert.ok(daemon.alive);
}

test('HUP with a bad configuration keeps the running one', (t) => restartWithBadConfig(t, 'SIGHUP'));

test('USR1 with a bad configuration keeps the running one', (t) => restartWithBadConfig(t, 'SIGUSR1'));

/** Waits until every child in the scoreboard is of `generation` and accepting. */
function waitGeneration(daemon: Daemon, generation: number, children: number) {
  return waitFor(`generation ${generation}`, async () => {
    const s = await statusNow(daemon);
    const current = s.processes.filter((p) => p.generation === generation && p.accepting === 1);
    return current.length === children && s.processes.length === children ? s : null;
  });
}

test('HUP with a good configuration replaces every child; no connection is refused', async (t) => {
  const CLIENTS = 6;
  const { daemon } = await launchProxy(t, DIRECTIVES, { waitChildren: 2 });
  const before = await statusNow(daemon);
  const load = startLoad({ port: daemon.port, path: '/b/slow?ms=5', clients: CLIENTS, keepAlive: false });
  t.after(() => load.stop());
  await sleep(500);
  const okBefore = load.result.ok;
  daemon.signal('SIGHUP');
  const after = await waitGeneration(daemon, generationOf(before) + 1, 2);
  const replacedAt = Date.now();
  await sleep(500);
  const result = await load.stop();

  const old = pidsOf(before.processes);
  for (const pid of pidsOf(after.processes)) assert.ok(!old.includes(pid), `child ${pid} is new`);
  assert.equal(logsMatching(daemon, /^SIGHUP received\.  Attempting to restart$/).length, 1);
  const refused = result.failures.filter((f) => f.code === 'ECONNREFUSED');
  assert.equal(refused.length, 0, describeFailures(refused));
  // HUP stops the old children now, as httpd's restart does: what they were serving is cut,
  // at most one request per client, and nothing after the new generation took over (give or
  // take the client's own event loop).
  const cut = result.failures.filter((f) => f.code === 'ECONNRESET' && f.at <= replacedAt + 200);
  assert.deepEqual(cut, result.failures, describeFailures(result.failures));
  // A client whose request was cut reconnects at once and may reach an old child that has not
  // yet read its stop message (the kernel hands a queued connection to any process accepting),
  // so a client may lose two; never more, and nothing after the new generation took over.
  assert.ok(cut.length <= 2 * CLIENTS, describeFailures(cut));
  assert.ok(okBefore > 20 && result.ok > okBefore + 20, `served before (${okBefore}) and after (${result.ok}) the restart`);
});
