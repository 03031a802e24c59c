// WINCH stops gracefully (requests in flight finish), TERM stops now; either way the master
// exits 0 and leaves nothing behind: no child, no PidFile, no shared-memory segment.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { test } from 'node:test';
import type { Daemon } from './helpers/daemon';
import { request } from './helpers/daemon';
import {
  childPidsOf,
  isAlive,
  launchGate,
  launchProxy,
  logsMatching,
  scoreboardFile,
  sleep,
  statusNow,
  waitExit,
  waitFor,
} from './helpers/mpm';

/** Nothing of a stopped master remains. */
async function assertCleanedUp(daemon: Daemon, children: number[]): Promise<void> {
  assert.equal(daemon.exitCode, 0, daemon.stderr);
  assert.equal(daemon.exitSignal, null);
  assert.equal(fs.existsSync(daemon.pidFile), false, 'PidFile removed');
  assert.equal(fs.existsSync(scoreboardFile(daemon.pid)), false, 'scoreboard segment removed');
  await waitFor('every child gone', () => children.every((pid) => !isAlive(pid)), 2000);
  assert.equal(logsMatching(daemon, /^mpmproxy stopped$/).length, 1);
}

test('WINCH: a request in flight completes, then the master exits 0 and cleans up', async (t) => {
  const { daemon } = await launchProxy(t, ['StartServers 2', 'GracefulShutdownTimeout 10'], { waitChildren: 2 });
  assert.ok(fs.existsSync(scoreboardFile(daemon.pid)));
  const children = childPidsOf(daemon);
  let answeredAt = 0;
  const slow = request(daemon.port, '/b/slow?ms=1500').finally(() => (answeredAt = Date.now()));
  await waitFor('the request at a child', async () => (await statusNow(daemon)).processes.some((p) => p.busy === 1 && p.conns === 1));
  daemon.signal('SIGWINCH');
  await sleep(300);
  assert.ok(daemon.alive, 'the master waits for the request in flight');
  const answer = await slow;
  await waitExit(daemon, 5000);
  const exitedAt = Date.now();

  assert.equal(answer.status, 200);
  assert.equal(answer.body.toString(), 'slow done after 1500 ms\n');
  assert.equal(answer.headers.connection, 'close');
  assert.ok(answeredAt <= exitedAt);
  await assertCleanedUp(daemon, children);
  assert.equal(logsMatching(daemon, /^caught SIGWINCH, shutting down gracefully$/).length, 1);
});

test('TERM: the master stops its children and exits 0 within a few seconds', async (t) => {
  const gate = await launchGate(t);
  const { daemon } = await launchProxy(t, ['StartServers 3', `ProxyPass /g/ ${gate.url}/`], { waitChildren: 3 });
  const children = childPidsOf(daemon);
  assert.equal(children.length, 3);
  // A request in flight does not hold a stop.
  const slow = request(daemon.port, '/g/never').catch((err: Error) => err);
  await waitFor('the request at a child', async () => (await statusNow(daemon)).processes.some((p) => p.busy === 1 && p.conns === 1));
  const t0 = Date.now();
  daemon.signal('SIGTERM');
  await waitExit(daemon, 5000);
  assert.ok(Date.now() - t0 < 3000, `stopped in ${Date.now() - t0} ms`);
  assert.ok((await slow) instanceof Error, 'the request in flight was cut');
  await assertCleanedUp(daemon, children);
  assert.equal(logsMatching(daemon, /^caught SIGTERM, shutting down$/).length, 1);
});
