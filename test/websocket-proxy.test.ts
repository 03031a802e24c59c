// WebSockets through the proxy: a real `ws` echo backend behind a daemon with two children;
// the handshake and echo, the frame and message limits (close code 1009), the idle timeout, the
// scoreboard's count, and a graceful restart that closes old WebSockets with 1001 once
// GracefulShutdownTimeout has passed.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ClientOptions } from 'ws';
import { testDir } from './helpers/cli';
import { freePort, request, sleep, waitFor } from './helpers/daemon';
import { STATUS_LOCATION } from './helpers/h2';
import { launch } from './helpers/mpm';
import { issue, pki, writePems } from './helpers/pki';
import { connectClient, echoBackend, handshakeStatus } from './helpers/websocket';

test('WebSocket echo and limits through the proxy', async (t) => {
  const backend = await echoBackend(t);
  const d = await launch(t, {
    config: [
      'StartServers 2',
      'LimitWebSocketsFrame 48K',
      'LimitWebSocketsMessage 64K',
      'LimitWebSocketsPacket 4K',
      `ProxyPass /ws/ ${backend.url}/`,
      STATUS_LOCATION,
    ].join('\n'),
    waitChildren: 2,
  });
  const ws = (path: string) => `ws://127.0.0.1:${d.port}${path}`;

  await t.test('messages echo both ways; the backend sees a proxied handshake', async (st) => {
    const c = await connectClient(st, ws('/ws/chat'));
    c.ws.send('hello');
    assert.equal((await c.next()).toString(), 'hello');
    const big = Buffer.alloc(40_000, 7); // more than LimitWebSocketsPacket: relayed in 4K packets
    c.ws.send(big);
    assert.deepEqual(await c.next(), big);
    const h = backend.handshakes.at(-1) ?? {};
    assert.equal(h['x-forwarded-for'], '127.0.0.1');
    assert.equal(h.upgrade, 'websocket');
    assert.equal(h.host, new URL(backend.url).host);
    const s = await d.status();
    assert.equal(s.fields.ConnsWebSocket, '1');
    assert.equal(s.processes.reduce((n, p) => n + p.websockets, 0), 1);
    c.ws.close(1000, 'bye');
    assert.equal((await c.closed).code, 1000);
    await waitFor('the scoreboard to forget it', async () => (await d.status()).fields.ConnsWebSocket === '0');
  });

  await t.test('a frame over LimitWebSocketsFrame gets 1009; the backend never sees it', async (st) => {
    const c = await connectClient(st, ws('/ws/frame'));
    const before = backend.messages;
    c.ws.send(Buffer.alloc(50_000, 1));
    const closed = await c.closed;
    assert.equal(closed.code, 1009);
    assert.match(closed.reason, /LimitWebSocketsFrame/);
    await sleep(100);
    assert.equal(backend.messages, before);
  });

  await t.test('a message over LimitWebSocketsMessage in frames each under the frame limit gets 1009', async (st) => {
    const c = await connectClient(st, ws('/ws/message'));
    c.ws.send(Buffer.alloc(40_000, 2), { fin: false });
    c.ws.send(Buffer.alloc(40_000, 3), { fin: true });
    const closed = await c.closed;
    assert.equal(closed.code, 1009);
    assert.match(closed.reason, /LimitWebSocketsMessage/);
    const s = await d.status();
    assert.match(s.fields.LimitRejections ?? '', /LimitWebSocketsFrame=1 LimitWebSocketsMessage=1/);
    const lines = d.log().filter((l) => l.limit === 'LimitWebSocketsMessage' || l.limit === 'LimitWebSocketsFrame');
    assert.equal(lines.length, 2);
  });

  await t.test('messages up to the limits pass, in as many frames as the client likes', async (st) => {
    const c = await connectClient(st, ws('/ws/ok'));
    c.ws.send(Buffer.alloc(30_000, 4), { fin: false });
    c.ws.send(Buffer.alloc(30_000, 5), { fin: true });
    assert.equal((await c.next()).length, 60_000);
    c.ws.ping();
    c.ws.send('still open');
    assert.equal((await c.next()).toString(), 'still open');
  });

  await t.test('a backend that refuses the handshake is answered as it answered; unrouted paths get 404', async () => {
    assert.equal(await handshakeStatus(ws('/ws/refuse')), 403);
    assert.equal(await handshakeStatus(ws('/elsewhere')), 404);
    // The connections that carried them are gone: HTTP requests still work.
    assert.equal((await request(d.port, '/ws/')).status, 200);
  });
});

test('ProxyWebsocketIdleTimeout closes a silent WebSocket with 1001', async (t) => {
  const backend = await echoBackend(t);
  const d = await launch(t, { config: ['StartServers 1', 'ProxyWebsocketIdleTimeout 1s', `ProxyPass /ws/ ${backend.url}/`].join('\n') });
  const c = await connectClient(t, `ws://127.0.0.1:${d.port}/ws/idle`);
  const opened = Date.now();
  // Traffic keeps it open past the timeout...
  for (let i = 0; i < 3; i++) {
    await sleep(500);
    c.ws.send('tick');
    await c.next();
  }
  // ...silence does not.
  const last = Date.now();
  const closed = await c.closed;
  assert.equal(closed.code, 1001);
  assert.ok(closed.at - opened > 1500, 'open while traffic passed');
  assert.ok(closed.at - last >= 900 && closed.at - last < 3000, `closed ${closed.at - last} ms after the last message`);
  await waitFor('the backend to see the close', () => backend.closes.length === 1);
});

test('a graceful restart closes old WebSockets with 1001 when GracefulShutdownTimeout ends', async (t) => {
  const backend = await echoBackend(t);
  const d = await launch(t, {
    config: ['StartServers 2', 'GracefulShutdownTimeout 2s', `ProxyPass /ws/ ${backend.url}/`, STATUS_LOCATION].join('\n'),
    waitChildren: 2,
  });
  const url = `ws://127.0.0.1:${d.port}/ws/long`;
  const clients = await Promise.all(Array.from({ length: 4 }, () => connectClient(t, url)));
  const oldPids = (await d.status()).processes.map((p) => p.pid);
  const restarted = Date.now();
  d.signal('SIGUSR1');
  await d.waitAccepting(2, 1);
  // The old children still relay while they drain.
  clients[0].ws.send('during the drain');
  assert.equal((await clients[0].next()).toString(), 'during the drain');
  const fresh = await connectClient(t, url);
  fresh.ws.send('new child');
  assert.equal((await fresh.next()).toString(), 'new child');
  for (const c of clients) {
    const closed = await c.closed;
    assert.equal(closed.code, 1001);
    const after = closed.at - restarted;
    assert.ok(after >= 1800 && after < 5000, `closed ${after} ms after the restart`);
  }
  await waitFor('the old children to exit', async () => {
    const pids = (await d.status()).processes.map((p) => p.pid);
    return !oldPids.some((pid) => pids.includes(pid));
  });
  // The new generation's WebSocket is untouched.
  fresh.ws.send('still here');
  assert.equal((await fresh.next()).toString(), 'still here');
});

test('open WebSockets count in LimitConnections for as long as they live', async (t) => {
  const backend = await echoBackend(t);
  const d = await launch(t, { config: ['StartServers 1', 'LimitConnections 3', `ProxyPass /ws/ ${backend.url}/`].join('\n') });
  const url = `ws://127.0.0.1:${d.port}/ws/held`;
  const clients = [];
  for (let i = 0; i < 3; i++) clients.push(await connectClient(t, url));
  // A fourth connection of any kind is closed at accept.
  await assert.rejects(request(d.port, '/ws/', { timeoutMs: 5000 }));
  await assert.rejects(connectClient(t, url));
  clients[0].ws.close(1000);
  await clients[0].closed;
  await waitFor('a connection to be let in again', () => request(d.port, '/ws/').then((r) => r.status === 200, () => false));
});

test('WebSockets over an https listener (wss://)', async (t) => {
  const dir = testDir(t);
  const { root, intermediate } = pki('wss');
  const server = issue('ws.test', { issuer: intermediate, names: ['ws.test'] });
  const f = writePems(dir, { 'ws.pem': server.certPem, 'ws.key': server.keyPem, 'chain.pem': intermediate.certPem });
  const backend = await echoBackend(t);
  const tlsPort = await freePort();
  const d = await launch(t, {
    config: [
      'Listen 127.0.0.1:@PORT@',
      `Listen 127.0.0.1:${tlsPort} https`,
      'StartServers 1',
      `SSLCertificateFile ${f['ws.pem']}`,
      `SSLCertificateKeyFile ${f['ws.key']}`,
      `SSLCertificateChainFile ${f['chain.pem']}`,
      `ProxyPass /ws/ ${backend.url}/`,
      STATUS_LOCATION,
    ].join('\n'),
  });
  const c = await connectClient(t, `wss://127.0.0.1:${tlsPort}/ws/secure`, { ca: root.certPem, servername: 'ws.test' } as ClientOptions);
  c.ws.send('over tls');
  assert.equal((await c.next()).toString(), 'over tls');
  assert.equal(backend.handshakes.at(-1)?.['x-forwarded-proto'], 'https');
  assert.equal((await d.status()).fields.ConnsWebSocket, '1');
  c.ws.close(1000);
  assert.equal((await c.closed).code, 1000);
});
