// The connection directives on a running daemon: keep-alive, timeouts, listeners and backlog.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { freePort, request } from './helpers/daemon';
import {
  RawConnection,
  daemonFor,
  fetchText,
  hasCommand,
  hasIpv6Loopback,
  listenQueueLimit,
  statusLocation,
  timed,
} from './helpers/cli';
import { launchBackend } from './helpers/mpm';

const config = (...lines: string[]) => [...lines, 'StartServers 1', statusLocation].join('\n');

test('KeepAlive On (default): the connection stays open for the next request', async (t) => {
  const d = await daemonFor(t, { config: config(), waitChildren: 1 });
  const conn = await RawConnection.open(d.port);
  t.after(() => conn.close());
  const first = await conn.get('/server-status?auto');
  assert.equal(first.headers.connection, 'keep-alive');
  const second = await conn.get('/server-status?auto');
  assert.equal(second.status, 200);
  assert.equal(conn.isClosed, false);
});

test('KeepAlive Off: every response says Connection: close and the server closes the socket', async (t) => {
  const d = await daemonFor(t, { config: config('KeepAlive Off'), waitChildren: 1 });
  const conn = await RawConnection.open(d.port);
  t.after(() => conn.close());
  const r = await conn.get('/server-status?auto');
  assert.equal(r.status, 200);
  assert.equal(r.headers.connection, 'close');
  assert.notEqual(await conn.closedWithin(1000), null, 'the server closed the connection');
});

test('KeepAliveTimeout 1: an idle connection is closed by the server after a second', async (t) => {
  const d = await daemonFor(t, { config: config('KeepAliveTimeout 1'), waitChildren: 1 });
  const conn = await RawConnection.open(d.port);
  t.after(() => conn.close());
  const r = await conn.get('/server-status?auto');
  const answered = Date.now();
  assert.equal(r.headers.connection, 'keep-alive');
  assert.equal(r.headers['keep-alive'], 'timeout=1, max=100');
  const idle = (await conn.closed) - answered;
  assert.ok(idle >= 900 && idle < 2500, `closed after ${idle} ms`);
});

test('MaxKeepAliveRequests 3: the third response on a connection says Connection: close', async (t) => {
  const d = await daemonFor(t, { config: config('MaxKeepAliveRequests 3'), waitChildren: 1 });
  const conn = await RawConnection.open(d.port);
  t.after(() => conn.close());
  const said: string[] = [];
  for (let i = 0; i < 3; i++) said.push((await conn.get('/server-status?auto')).headers.connection);
  assert.deepEqual(said, ['keep-alive', 'keep-alive', 'close']);
  // As in httpd (and RFC 9112 §9.6), the server closes the connection after that response,
  // not at KeepAliveTimeout.
  assert.notEqual(await conn.closedWithin(1000), null, 'the server closed the connection');
});

test('Timeout 1: a backend slower than Timeout is answered 504 after a second, and logged naming it', async (t) => {
  const backend = await launchBackend(t);
  const d = await daemonFor(t, { config: config('Timeout 1', `ProxyPass /b/ ${backend.url}/`), waitChildren: 1 });
  const { ms, value } = await timed(request(d.port, '/b/slow?ms=2500'));
  assert.equal(value.status, 504);
  assert.ok(ms >= 900 && ms < 2400, `answered after ${ms} ms`);
  const line = await d.waitLog('the timeout line', (l) => /: no response headers within 1s \(ProxyTimeout\); answering 504$/.test(l.msg));
  assert.deepEqual([line.module, line.level, line.backend, line.status, line.url], ['proxy', 'error', backend.url, 504, '/b/slow?ms=2500']);
  // A backend within Timeout is served.
  assert.equal((await request(d.port, '/b/slow?ms=100')).status, 200);
});

test('Listen: every Listen line serves (IPv4 twice, and [::1] when the machine has IPv6)', async (t) => {
  const ipv6 = await hasIpv6Loopback();
  const second = await freePort();
  const third = await freePort();
  const listens = ['Listen 127.0.0.1:@PORT@', `Listen 127.0.0.1:${second}`, ...(ipv6 ? [`Listen [::1]:${third}`] : [])];
  const d = await daemonFor(t, { config: config(...listens), waitChildren: 1 });
  const addresses: Array<[string, number]> = [
    ['127.0.0.1', d.port],
    ['127.0.0.1', second],
    ...(ipv6 ? [['::1', third] as [string, number]] : []),
  ];
  for (const [host, port] of addresses) {
    const r = await fetchText(host, port, '/server-status?auto');
    assert.equal(r.status, 200, `${host}:${port}`);
    assert.match(r.body, /^ServerMPM: event$/m);
  }
  if (!ipv6) t.diagnostic('no IPv6 loopback here: [::1] not tried');
});

test('ListenBacklog 37: the kernel queue of the listening socket is 37 (ss -ltn Send-Q)', async (t) => {
  if (!hasCommand('ss')) return t.skip('ss is not installed');
  const d = await daemonFor(t, { config: config('ListenBacklog 37'), waitChildren: 1 });
  assert.equal(await listenQueueLimit(d.port), 37);
});

test('ListenBacklog changed by a graceful restart applies to the kept listener, with sessions on too', async (t) => {
  if (!hasCommand('ss')) return t.skip('ss is not installed');
  // With sessions on a proxied path, children accept through the addon and never listen() on the
  // socket themselves. The backend is never asked.
  const sessions = ['Session On', `ProxyPass /app/ http://127.0.0.1:${await freePort()}/`];
  const d = await daemonFor(t, { config: config('ListenBacklog 37', ...sessions), waitChildren: 1 });
  assert.equal(await listenQueueLimit(d.port), 37);
  d.writeConfig(config('ListenBacklog 53', ...sessions));
  d.signal('SIGUSR1');
  await d.waitAccepting(1, 1);
  assert.equal(await listenQueueLimit(d.port), 53);
  assert.equal((await fetchText('127.0.0.1', d.port, '/server-status?auto')).status, 200);
});
