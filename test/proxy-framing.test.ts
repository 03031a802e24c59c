// Requests whose body length could be read two ways (the shapes of request smuggling) are
// answered 400 with Connection: close, logged at info with the reason, and never forwarded: the
// backend, a raw socket here, receives not one byte of them.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { logged, parseHead, proxyDaemon, rawBackend, rawExchange } from './helpers/proxy';

const head = (lines: string[], version = '1.1') => `POST /b/x HTTP/${version}\r\nHost: x\r\n${lines.join('\r\n')}\r\n\r\n`;

/** Each request, the status it gets and the reason the log line gives. */
const smuggling: Array<[string, string, number, RegExp]> = [
  ['Content-Length and Transfer-Encoding', head(['Content-Length: 5', 'Transfer-Encoding: chunked']) + '0\r\n\r\n', 400, /Transfer-Encoding can't be present with Content-Length/],
  ['Transfer-Encoding and Content-Length', head(['Transfer-Encoding: chunked', 'Content-Length: 5']) + '0\r\n\r\n', 400, /Content-Length can't be present with Transfer-Encoding/],
  ['two equal Content-Length', head(['Content-Length: 5', 'Content-Length: 5']) + 'hello', 400, /Duplicate Content-Length/],
  ['two different Content-Length', head(['Content-Length: 5', 'Content-Length: 6']) + 'hello!', 400, /Duplicate Content-Length/],
  ['a Content-Length list', head(['Content-Length: 5, 5']) + 'hello', 400, /Invalid character in Content-Length/],
  ['a chunk size that is not hex', head(['Transfer-Encoding: chunked']) + '5\r\nhello\r\nzz\r\nabc\r\n0\r\n\r\n', 400, /Invalid character in chunk size/],
  ['a chunk size that overflows', head(['Transfer-Encoding: chunked']) + 'fffffffffffffffff\r\nhello\r\n0\r\n\r\n', 400, /Chunk size overflow/],
  ['a chunk size line ended by LF alone', head(['Transfer-Encoding: chunked']) + '5\nhello\n0\n\n', 400, /Missing expected CR/],
  ['Transfer-Encoding other than chunked', head(['Transfer-Encoding: gzip']) + 'hello', 400, /Transfer-Encoding "gzip" does not end in a single chunked/],
  ['chunked not last', head(['Transfer-Encoding: chunked, gzip']) + '0\r\n\r\n', 400, /Invalid `Transfer-Encoding` header value/],
  ['chunked twice', head(['Transfer-Encoding: chunked', 'Transfer-Encoding: chunked']) + '0\r\n\r\n', 400, /Invalid `Transfer-Encoding` header value/],
  ['Transfer-Encoding in HTTP/1.0', head(['Transfer-Encoding: chunked'], '1.0') + '0\r\n\r\n', 400, /Transfer-Encoding in an HTTP\/1\.0 request/],
  ['two Host headers', head(['Host: y', 'Content-Length: 0']), 400, /more than one Host header/],
  ['a blank before the colon', head(['Transfer-Encoding : chunked', 'Content-Length: 5']) + 'hello', 400, /Invalid header field char/],
  ['another coding before chunked', head(['Transfer-Encoding: gzip, chunked']) + '0\r\n\r\n', 501, /only chunked is supported/],
];

test('ambiguous framing is refused and never forwarded', async (t) => {
  const backend = await rawBackend(t, (socket, sofar) => {
    if (sofar.includes('\r\n0\r\n\r\n')) socket.end('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok');
  });
  const d = await proxyDaemon(t, [`ProxyPass /b/ ${backend.url}/`]);

  for (const [name, request, status, reason] of smuggling) {
    await t.test(`${name}: ${status}, Connection: close, a log line at info`, async () => {
      const reply = await rawExchange(d.port, [request], { idleMs: 5000 });
      const h = parseHead(reply.text);
      assert.deepEqual([h.status, h.headers.connection, reply.closed], [status, 'close', true], reply.text);
      const line = await d.waitLog(name, (l) => l.level === 'info' && /^bad request: /.test(l.msg) && reason.test(String(l.reason)));
      assert.match(line.msg, new RegExp(`answering ${status} and closing the connection`));
    });
  }

  await t.test('the backend received nothing of them', async () => {
    await sleep(300);
    assert.equal(backend.received().length, 0, backend.received().toString('latin1'));
  });

  await t.test('a bad chunk that comes after forwarding began cuts the backend request short', async () => {
    const reply = await rawExchange(d.port, [head(['Transfer-Encoding: chunked']) + '5\r\nhello\r\n', 'zz\r\n'], { pauseMs: 500, idleMs: 2000 });
    assert.equal(parseHead(reply.text).status, 400, reply.text);
    const seen = backend.received().toString('latin1');
    assert.match(seen, /^POST \/x HTTP\/1\.1\r\n[\s\S]*hello/);
    assert.ok(!seen.includes('\r\n0\r\n\r\n'), 'the backend never saw the request end');
  });

  await t.test('the same backend does receive a well-formed chunked request', async () => {
    const reply = await rawExchange(d.port, [head(['Transfer-Encoding: chunked', 'Connection: close']) + '5\r\nhello\r\n0\r\n\r\n'], { idleMs: 5000 });
    assert.equal(parseHead(reply.text).status, 200, reply.text);
    assert.equal(logged(d, /^bad request: /).length, smuggling.length + 1);
  });
});
