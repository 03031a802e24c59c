// When the backend fails: 502 when it cannot be reached or drops the request, 504 when it is too
// slow, a cut connection when it fails after its response began, and an aborted backend request
// when the client goes away. Each leaves an error-log line naming the backend, the cause and a
// hint of what to check.
import assert from 'node:assert/strict';
import http from 'node:http';
import https from 'node:https';
import { test } from 'node:test';
import { freePort, request, waitFor, type LogLine } from './helpers/daemon';
import { certificateChain, httpBackend, parseHead, proxyDaemon, rawBackend, rawExchange } from './helpers/proxy';

/** What a client reading the whole response saw: its status and whether it ended cleanly. */
function fetchToEnd(port: number, path: string): Promise<{ status: number; body: string; complete: boolean }> {
  return new Promise((resolve, reject) => {
    http
      .get({ port, host: '127.0.0.1', path, agent: false }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, complete: res.complete }));
        res.on('error', () => resolve({ status: res.statusCode ?? 0, body, complete: false }));
      })
      .on('error', reject);
  });
}

test('backend failures', async (t) => {
  const closedPort = await freePort();
  // Drops every connection as soon as a request arrives.
  const resetting = await rawBackend(t, (socket) => socket.destroy());
  const chain = certificateChain();
  const untrusted = await httpBackend(t, (_req, res) => res.end('tls ok'), https.createServer({ cert: chain.certPem, key: chain.keyPem }));
  const held: http.ServerResponse[] = [];
  const backend = await httpBackend(t, (req, res) => {
    if (req.url === '/hold') {
      held.push(res);
    } else if (req.url === '/cut') {
      res.writeHead(200, { 'content-length': 100 });
      res.write('partial');
      setTimeout(() => res.socket?.destroy(), 100);
    } else if (req.url === '/stall') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('partial');
    } else {
      res.end('ok');
    }
  });
  t.after(() => held.forEach((r) => r.destroy()));
  const d = await proxyDaemon(t, [
    'ProxyTimeout 1',
    // retry=0: tried again at once, where Apache's default keeps a failed backend out for 60 s (503).
    `ProxyPass /refused/ http://127.0.0.1:${closedPort}/ retry=0`,
    `ProxyPass /reset/ ${resetting.url}/`,
    'ProxyPass /dns/ http://no-such-host.invalid/',
    `ProxyPass /tls/ ${untrusted.url}/`,
    `ProxyPass /b/ ${backend.url}/`,
  ]);

  /** The error-log line for `backend` whose message matches. */
  const lineFor = (backend: string, msg: RegExp): Promise<LogLine> =>
    d.waitLog(`a line about ${backend} matching ${msg}`, (l) => l.backend === backend && msg.test(l.msg));

  await t.test('connection refused: 502, and the hint to check the backend listens', async () => {
    const r = await request(d.port, '/refused/x', { method: 'POST', body: 'payload' });
    assert.equal(r.status, 502);
    const origin = `http://127.0.0.1:${closedPort}`;
    const line = await lineFor(origin, new RegExp(`^${origin}: connection refused by 127\\.0\\.0\\.1:${closedPort}; answering 502$`));
    assert.equal(line.level, 'error');
    assert.match(String(line.hint), /listening on 127\.0\.0\.1:\d+\? check from this machine with curl -v/);
  });

  await t.test('Expect: 100-continue to a backend that cannot be reached: no 100, the 502 at once', async () => {
    const reply = await rawExchange(d.port, ['POST /refused/x HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n'], { idleMs: 5000 });
    assert.ok(reply.text.startsWith('HTTP/1.1 502 Bad Gateway\r\n'), reply.text);
    assert.equal(parseHead(reply.text).headers.connection, 'close');
  });

  await t.test('the backend resets the connection before answering: 502', async () => {
    assert.equal((await request(d.port, '/reset/x')).status, 502);
    const line = await lineFor(resetting.url, /closed the connection before its response was complete .*; answering 502$/);
    assert.match(String(line.hint), /backend's own error log/);
  });

  await t.test('DNS failure: 502, "DNS lookup of host … failed"', async () => {
    assert.equal((await request(d.port, '/dns/x')).status, 502);
    const line = await lineFor('http://no-such-host.invalid', /DNS lookup of host no-such-host\.invalid failed: (ENOTFOUND|EAI_AGAIN); answering 502$/);
    assert.match(String(line.hint), /getent hosts no-such-host\.invalid/);
  });

  await t.test('an untrusted TLS certificate: 502, with OpenSSL’s reason', async () => {
    assert.equal((await request(d.port, '/tls/x')).status, 502);
    const line = await lineFor(untrusted.url, /UNABLE_TO_VERIFY_LEAF_SIGNATURE: unable to verify the first certificate; answering 502$/);
    assert.match(String(line.hint), /openssl s_client -connect 127\.0\.0\.1:\d+ .*-showcerts/);
  });

  await t.test('no response headers within ProxyTimeout: 504, naming the timeout', async () => {
    const started = Date.now();
    assert.equal((await request(d.port, '/b/hold')).status, 504);
    assert.ok(Date.now() - started < 3000, `answered after ${Date.now() - started} ms`);
    await lineFor(backend.url, /no response headers within 1s \(ProxyTimeout\); answering 504$/);
  });

  await t.test('the client goes away: the backend request is aborted', async () => {
    const before = backend.seen.length;
    const client = http.get({ port: d.port, host: '127.0.0.1', path: '/b/hold', agent: false });
    client.on('error', () => undefined);
    await waitFor('the backend to get the request', () => backend.seen.length > before);
    client.destroy();
    const seen = backend.seen[before];
    await waitFor('the backend to see its request aborted', () => seen.aborted, 3000);
    const line = await lineFor(backend.url, /^client closed the connection before the response was complete; request to http:\/\/127\.0\.0\.1:\d+ aborted$/);
    assert.equal(line.level, 'info');
  });

  await t.test('the backend fails after its response began: the client connection is cut, not ended', async () => {
    const r = await fetchToEnd(d.port, '/b/cut');
    assert.deepEqual([r.status, r.body, r.complete], [200, 'partial', false]);
    await lineFor(backend.url, /closed the connection before its response was complete .*, after the response began; client connection cut$/);
  });

  await t.test('the backend stalls in its body longer than ProxyTimeout: the client connection is cut', async () => {
    const r = await fetchToEnd(d.port, '/b/stall');
    assert.deepEqual([r.status, r.body, r.complete], [200, 'partial', false]);
    await lineFor(backend.url, /no response data for 1s \(ProxyTimeout\) while the body was being received, after the response began; client connection cut$/);
  });
});
