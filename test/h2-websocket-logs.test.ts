// What the access log says of HTTP/2 streams and WebSocket handshakes: the request line with its
// protocol, the status, and the body bytes counted as for HTTP/1.1; a WebSocket is logged with
// 101 when its tunnel opens.
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import path from 'node:path';
import { test } from 'node:test';
import { waitLines } from './helpers/access-log';
import { h2Request } from './helpers/h2';
import { launch } from './helpers/mpm';
import { httpBackend } from './helpers/proxy';
import { connectClient, echoBackend } from './helpers/websocket';

test('access log lines for HTTP/2 streams and WebSockets', async (t) => {
  const backend = await httpBackend(t, (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('x'.repeat(1234));
  });
  const ws = await echoBackend(t);
  const d = await launch(t, {
    config: [
      'StartServers 1',
      'Protocols h2c http/1.1',
      'CustomLog @DIR@/access.log "%r %>s %b %H"',
      `ProxyPass /app/ ${backend.url}/`,
      `ProxyPass /ws/ ${ws.url}/`,
    ].join('\n'),
  });
  const file = path.join(d.dir, 'access.log');
  const session = http2.connect(`http://127.0.0.1:${d.port}`);
  t.after(() => session.close());
  const r = await h2Request(session, { ':path': '/app/page' });
  assert.equal(r.body.length, 1234);
  const c = await connectClient(t, `ws://127.0.0.1:${d.port}/ws/chat`);
  c.ws.send('hi');
  await c.next();
  const lines = await waitLines(file, 2);
  assert.deepEqual(lines, ['GET /app/page HTTP/2.0 200 1234 HTTP/2.0', 'GET /ws/chat HTTP/1.1 101 - HTTP/1.1']);
});
