// A client that leaves before the answer to a state-aware session's request is complete: the
// request went to the backend whole, so the rest of the answer is read and dropped and the
// session keeps its private connection (the backend's login stays bound to it). An answer that
// goes on past the drain bound, or a request the client left half sent, closes the connection,
// and the session ends with it.
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { DRAIN_MS } from '../src/proxy/keep-on-abandon';
import { request, waitFor, type Daemon } from './helpers/daemon';
import { launch, logText, logsMatching } from './helpers/mpm';
import { cookieOf, stateAwareConfig, statefulBackend } from './helpers/stateaware';

async function whoami(d: Daemon, cookie: string): Promise<{ port: number; user: string | null }> {
  const r = await request(d.port, '/app/whoami', { headers: { cookie } });
  assert.equal(r.status, 200);
  return JSON.parse(r.body.toString()) as { port: number; user: string | null };
}

/** Sends `head` on a new connection and closes it after `ms`, whatever came back. */
async function leaveAfter(port: number, head: string, ms: number): Promise<string> {
  const socket = net.connect(port, '127.0.0.1');
  let got = '';
  socket.on('data', (d: Buffer) => (got += d.toString('latin1')));
  socket.on('error', () => {});
  socket.write(head);
  await sleep(ms);
  socket.destroy();
  return got;
}

const stateAware = async (d: Daemon) => Number((await d.status()).fields.StateAwareSessions);

test('a client that leaves mid-answer does not cost its state-aware session the private connection', async (t) => {
  const backend = await statefulBackend(t);
  const d = await launch(t, { config: stateAwareConfig(backend, ['StartServers 1']), waitChildren: 1 });
  const login = await request(d.port, '/app/login?user=alice');
  const cookie = cookieOf(login.headers);
  const bound = (JSON.parse(login.body.toString()) as { port: number }).port;
  assert.equal(await stateAware(d), 1);

  // Sent whole, answered 300 ms later; the client is gone after 50.
  const got = await leaveAfter(d.port, `GET /app/slow?ms=300 HTTP/1.1\r\nHost: x\r\nCookie: ${cookie}\r\n\r\n`, 50);
  assert.equal(got, '', 'nothing came back before the client left');
  await sleep(400);
  assert.deepEqual(await whoami(d, cookie), { port: bound, user: 'alice' }, logText(d));
  assert.equal(await stateAware(d), 1);
  assert.equal(backend.violations.length, 0, backend.violations.join('\n'));
  assert.equal(logsMatching(d, /^client closed the connection before the response was complete; its answer is drained to keep the connection$/).length, 1, logText(d));

  // An event stream goes on past the bound: the connection is closed and the session ends.
  const stream = await leaveAfter(d.port, `GET /app/stream HTTP/1.1\r\nHost: x\r\nCookie: ${cookie}\r\n\r\n`, 100);
  assert.match(stream, /^HTTP\/1\.1 200/);
  await waitFor('the session to end with its connection', async () => ((await stateAware(d)) === 0 ? true : null), DRAIN_MS + 3000);
  const after = await whoami(d, cookie);
  assert.notEqual(after.port, bound, 'a new connection');
  assert.equal(after.user, null, "the backend's login was on the closed connection");
});

test('a client that leaves mid-upload closes the private connection: the request cannot be finished', async (t) => {
  const backend = await statefulBackend(t);
  const d = await launch(t, { config: stateAwareConfig(backend, ['StartServers 1']), waitChildren: 1 });
  const login = await request(d.port, '/app/login?user=bob');
  const cookie = cookieOf(login.headers);
  assert.equal(await stateAware(d), 1);
  await leaveAfter(d.port, `POST /app/upload HTTP/1.1\r\nHost: x\r\nCookie: ${cookie}\r\nContent-Length: 100000\r\n\r\n${'x'.repeat(1000)}`, 200);
  await waitFor('the session to end with its connection', async () => ((await stateAware(d)) === 0 ? true : null), 3000);
  assert.equal((await whoami(d, cookie)).user, null);
});
