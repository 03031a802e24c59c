// USR1, graceful restart: a new generation starts at once while the old children finish what
// they serve and leave, within GracefulShutdownTimeout. Clients see nothing of it: no request
// fails, no connection is refused, a response in flight arrives whole.
import assert from 'node:assert/strict';
import http from 'node:http';
import { test } from 'node:test';
import { request } from './helpers/daemon';
import {
  childPidsOf,
  describeFailures,
  generationOf,
  launchProxy,
  logText,
  pidsOf,
  sleep,
  startLoad,
  statusNow,
  waitFor,
} from './helpers/mpm';

const GRACE_S = 3;
/** More than loopback socket buffers hold, so the paused reader keeps the child sending. */
const BODY_BYTES = 20_000_000;

test('five graceful restarts under keep-alive load: no request fails, old generations leave', async (t) => {
  const { daemon } = await launchProxy(
    t,
    ['StartServers 2', 'ThreadsPerChild 16', `GracefulShutdownTimeout ${GRACE_S}`, 'Timeout 10'],
    { waitChildren: 2 },
  );
  const before = generationOf(await statusNow(daemon));
  const load = startLoad({ port: daemon.port, path: '/b/slow?ms=5', clients: 20, keepAlive: true });
  t.after(() => load.stop());
  const loadEnds = sleep(10000);
  let lastSignal = 0;
  for (let i = 0; i < 5; i++) {
    await sleep(1500);
    daemon.signal('SIGUSR1');
    lastSignal = Date.now();
  }
  await loadEnds;
  const result = await load.stop();

  assert.equal(
    result.failures.length,
    0,
    `${result.ok} ok, ${result.retried} retried; failures:\n${describeFailures(result.failures)}\n${logText(daemon, 60)}`,
  );
  assert.ok(result.ok > 500, `the load ran (${result.ok} requests)`);
  assert.ok(result.ports.size > 20, 'old children closed their keep-alive connections and clients reconnected');

  const status = await statusNow(daemon);
  const generation = generationOf(status);
  assert.equal(generation, before + 5);
  // Old children had GracefulShutdownTimeout to finish: none of them outlives it.
  await sleep(Math.max(0, lastSignal + GRACE_S * 1000 + 500 - Date.now()));
  const after = await waitFor('only the current generation', async () => {
    const s = await statusNow(daemon);
    return s.processes.every((p) => p.generation === generation) ? s : null;
  }, 1000);
  assert.ok(after.processes.length >= 2);
  assert.ok(after.processes.every((p) => p.stopping === 0));
  assert.deepEqual(pidsOf(after.processes), childPidsOf(daemon).sort((a, b) => a - b), 'no process outside the scoreboard');
});

test('graceful restarts with idle keep-alive clients: a retry of RFC 9112 §9.3.1 is all they need', async (t) => {
  // An old child closes its idle keep-alive connections (after a short linger). A client that
  // sends on one just as it closes sees the close before any byte of answer: the race every
  // HTTP/1.1 server has when it closes an idle connection, which RFC 9112 §9.3.1 lets a client
  // answer by retrying an idempotent request. With that retry, nothing fails.
  const { daemon } = await launchProxy(
    t,
    ['StartServers 2', 'ThreadsPerChild 16', `GracefulShutdownTimeout ${GRACE_S}`],
    { waitChildren: 2 },
  );
  const load = startLoad({
    port: daemon.port,
    path: '/b/',
    clients: 20,
    keepAlive: true,
    pauseMs: 400,
    retryIdempotent: true,
  });
  t.after(() => load.stop());
  for (let i = 0; i < 3; i++) {
    await sleep(1500);
    daemon.signal('SIGUSR1');
  }
  await sleep(1000);
  const result = await load.stop();

  assert.equal(result.failures.length, 0, `${result.retried} retried; failures:\n${describeFailures(result.failures)}`);
  assert.ok(result.ok > 200, `the load ran (${result.ok} requests)`);
  assert.equal(generationOf(await statusNow(daemon)), 3);
});

/** GET whose reader stops after the first chunk until `resume` settles: the body stays in flight. */
function readLater(port: number, path: string, resume: Promise<void>): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
        const chunks: Buffer[] = [];
        res.once('data', () => {
          res.pause();
          void resume.then(() => res.resume());
        });
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      })
      .on('error', reject);
  });
}

test('responses in flight during USR1 arrive whole', async (t) => {
  const { daemon } = await launchProxy(t, ['StartServers 1', 'GracefulShutdownTimeout 10'], { waitChildren: 1 });
  const [old] = (await statusNow(daemon)).processes;
  let signalled!: () => void;
  const afterSignal = new Promise<void>((resolve) => (signalled = resolve));
  const slow = request(daemon.port, '/b/slow?ms=1500');
  const big = readLater(daemon.port, `/b/body?size=${BODY_BYTES}`, afterSignal);
  // Busy counts this status request too: the two requests are still being served.
  await waitFor('both requests at the child', async () => (await statusNow(daemon)).processes[0].busy === 3);
  daemon.signal('SIGUSR1');
  await waitFor('the new generation', async () => generationOf(await statusNow(daemon)) === 1);
  await sleep(200);
  signalled();
  const [s, b] = await Promise.all([slow, big]);

  assert.equal(s.status, 200);
  assert.equal(s.body.toString(), 'slow done after 1500 ms\n');
  // Its answer began after the restart: the old child says it closes the connection.
  assert.equal(s.headers.connection, 'close');
  assert.equal(b.status, 200);
  assert.equal(b.body.length, BODY_BYTES);
  assert.ok(b.body.every((c) => c === 0x61), 'every byte of the body as the backend sent it');
  await waitFor('the old child to leave', () => !childPidsOf(daemon).includes(old.pid));
  const [current] = (await statusNow(daemon)).processes;
  assert.equal(current.generation, 1);
});
