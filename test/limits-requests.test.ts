// The limits on one request and its response, on one running daemon with two children: each
// request goes on a fresh connection, so the requests of a test spread over both children, and
// the rejection counts server-status shows are the server's.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import net from 'node:net';
import type { Daemon } from './helpers/daemon';
import { request, waitFor } from './helpers/daemon';
import { RawConnection } from './helpers/cli';
import { getFrom, launchBodyBackend, limitLine, limitsDaemon, limitsStatus, OBSERVER, sendSlowly, type BodyBackend } from './helpers/limits';

const ROUNDS = 4;

describe('request and response limits', () => {
  let d: Daemon;
  let backend: BodyBackend;
  // What the daemon and backend leave to do at the end, run once every test is done.
  const cleanups: Array<() => unknown> = [];
  const scope = { after: (fn: () => unknown) => void cleanups.push(fn) };
  after(async () => {
    for (const fn of cleanups.reverse()) await fn();
  });

  before(async () => {
    backend = await launchBodyBackend(scope);
    d = await limitsDaemon(
      scope,
      'LogLevel debug',
      'LimitUri 100',
      'LimitRequestHeaderLines 10',
      'LimitRequestHeader 2K',
      'LimitRequestBody 4K',
      'LimitRequestForm 2K',
      'LimitUpload 1K',
      'LimitKeepAlive 3',
      'LimitResponseBody 3K',
      'LimitChunk 1000',
      'LimitPacket 1K',
      `ProxyPass /b/ ${backend.url}/`,
    );
  });

  const rejections = async (limit: string) => (await limitsStatus(d)).rejections[limit];

  it('LimitUri 100: a longer URI is answered 414 by every child, and logged', async () => {
    const before = await rejections('LimitUri');
    for (let i = 0; i < ROUNDS; i++) assert.equal((await request(d.port, `/b/uri?q=${'a'.repeat(120)}`)).status, 414);
    assert.equal((await request(d.port, '/b/uri?q=short')).status, 200);
    assert.equal((await rejections('LimitUri')) - before, ROUNDS);
    const line = await limitLine(d, 'LimitUri');
    assert.deepEqual([line.status, line.LimitUri, line.length], [414, 100, 129]);
  });

  it('LimitRequestHeaderLines 10: eleven header fields are answered 431, ten are served', async () => {
    // Node's client adds Host and Connection.
    const fields = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`x-field-${i}`, 'v']));
    for (let i = 0; i < ROUNDS; i++) assert.equal((await request(d.port, '/b/lines', { headers: fields(9) })).status, 431);
    assert.equal((await request(d.port, '/b/lines', { headers: fields(8) })).status, 200);
    const line = await limitLine(d, 'LimitRequestHeaderLines');
    assert.deepEqual([line.status, line.LimitRequestHeaderLines], [431, 10]);
  });

  it('LimitRequestHeader 2K: a larger header is answered 431 by Node\'s parser, and logged naming the limit', async () => {
    for (let i = 0; i < ROUNDS; i++) {
      assert.equal((await request(d.port, '/b/header', { headers: { 'x-big': 'b'.repeat(2500) } })).status, 431);
    }
    assert.equal((await request(d.port, '/b/header', { headers: { 'x-big': 'b'.repeat(1500) } })).status, 200);
    const line = await limitLine(d, 'LimitRequestHeader');
    assert.deepEqual([line.level, line.LimitRequestHeader], ['info', 2048]);
    assert.equal(await rejections('LimitRequestHeader'), ROUNDS);
  });

  it('LimitRequestBody 4K: a larger Content-Length is answered 413 before the backend sees it', async () => {
    const body = Buffer.alloc(5000, 0x62);
    for (let i = 0; i < ROUNDS; i++) assert.equal((await request(d.port, '/b/declared', { method: 'POST', body })).status, 413);
    assert.equal(backend.seen.filter((s) => s.path === '/declared').length, 0);
    const line = await limitLine(d, 'LimitRequestBody');
    assert.deepEqual([line.status, line.LimitRequestBody, line.length], [413, 4096, 5000]);
  });

  it('LimitRequestBody 4K: a chunked body is cut at the limit, answered 413, and the backend never gets it whole', async () => {
    const kilobyte = Buffer.alloc(1024, 0x63);
    const cut = await sendSlowly(d.port, '/b/streamed', Array(8).fill(kilobyte), 40);
    assert.equal(cut.status, 413);
    assert.match(cut.body, /LimitRequestBody/);
    await waitFor('the backend request to end', () => backend.seen.some((s) => s.path === '/streamed'));
    assert.ok(backend.seen.filter((s) => s.path === '/streamed').every((s) => !s.complete && s.bytes <= 4096));
    const fits = await sendSlowly(d.port, '/b/streamed-fits', Array(3).fill(kilobyte), 10);
    assert.deepEqual([fits.status, fits.body], [200, '3072']);
    const line = await d.waitLog('the streamed cut', (l) => l.limit === 'LimitRequestBody' && l.streamed === true);
    assert.equal(line.status, 413);
  });

  it('LimitRequestForm 2K: a form is held whole before it is routed; a larger one is answered 413 and never routed', async () => {
    const form = { 'content-type': 'application/x-www-form-urlencoded' };
    const pieces = ['a=', 'x'.repeat(700), '&b=', 'y'.repeat(700)];
    const sent = Date.now();
    const ok = await sendSlowly(d.port, '/b/form', pieces, 150, { ...form, 'content-length': 1405 });
    assert.deepEqual([ok.status, ok.body], [200, '1405']);
    const seen = backend.seen.find((s) => s.path === '/form');
    assert.ok(seen && seen.at - sent >= 400, `routed ${seen ? seen.at - sent : '?'} ms after the first piece, once the last came`);
    const big = await sendSlowly(d.port, '/b/big-form', Array(6).fill('z'.repeat(500)), 20, form);
    assert.equal(big.status, 413);
    assert.equal(backend.seen.filter((s) => s.path === '/big-form').length, 0);
    const line = await limitLine(d, 'LimitRequestForm');
    assert.deepEqual([line.status, line.LimitRequestForm], [413, 2048]);
  });

  it('LimitUpload 1K: a larger file in a multipart body is answered 413; larger plain fields are not files', async () => {
    const boundary = 'XyZ123';
    const part = (headers: string, content: string) => `--${boundary}\r\n${headers}\r\n\r\n${content}\r\n`;
    const multipart = (...parts: string[]) => `${parts.join('')}--${boundary}--\r\n`;
    const headers = { 'content-type': `multipart/form-data; boundary=${boundary}` };
    const file = (size: number) => part('Content-Disposition: form-data; name="f"; filename="a.bin"\r\nContent-Type: application/octet-stream', 'f'.repeat(size));
    const field = part('Content-Disposition: form-data; name="note"', 'n'.repeat(1500));
    const big = await sendSlowly(d.port, '/b/upload', [multipart(field, file(1500))], 0, headers);
    assert.equal(big.status, 413);
    assert.match(big.body, /LimitUpload/);
    const fits = await sendSlowly(d.port, '/b/upload-fits', [multipart(field, file(1000))], 0, headers);
    assert.equal(fits.status, 200);
    const line = await limitLine(d, 'LimitUpload');
    assert.deepEqual([line.status, line.LimitUpload], [413, 1024]);
  });

  it('LimitKeepAlive 3: the third response on a connection says Connection: close, and the reason is logged', async () => {
    const conn = await RawConnection.open(d.port);
    cleanups.push(() => conn.close());
    const said: string[] = [];
    for (let i = 0; i < 3; i++) said.push((await conn.get('/b/keep')).headers.connection);
    assert.deepEqual(said, ['keep-alive', 'keep-alive', 'close']);
    assert.notEqual(await conn.closedWithin(2000), null);
    const line = await limitLine(d, 'LimitKeepAlive');
    assert.deepEqual([line.level, line.LimitKeepAlive], ['debug', 3]);
  });

  it('LimitResponseBody 3K: the status page built whole is answered 500 when larger, and logged', async () => {
    const page = await getFrom(d.port, '/server-status', OBSERVER);
    assert.equal(page.status, 500);
    assert.match(page.body, /LimitResponseBody/);
    assert.equal((await getFrom(d.port, '/server-status?auto', OBSERVER)).status, 200);
    const line = await limitLine(d, 'LimitResponseBody');
    assert.equal(line.LimitResponseBody, 3072);
    assert.ok(Number(line.bytes) > 3072);
  });

  it('LimitChunk 1000: a chunked response goes out in chunks of at most 1000 bytes; a sized one is left whole', async () => {
    const sizes = await chunkSizes(d.port, '/b/chunked?size=5000');
    assert.equal(sizes.reduce((a, b) => a + b, 0), 5000);
    assert.ok(sizes.every((n) => n <= 1000) && sizes.length >= 5, `chunks ${sizes}`);
    const sized = await request(d.port, '/b/download?size=5000');
    assert.deepEqual([sized.headers['content-length'], sized.body.length], ['5000', 5000]);
  });

  it('LimitPacket 1K: bodies stream whole through 1 KiB stage buffers both ways', async () => {
    const down = await request(d.port, '/b/download?size=1048576');
    assert.equal(down.body.length, 1048576);
    const up = await sendSlowly(d.port, '/b/up', [Buffer.alloc(3000), Buffer.alloc(1000)], 5);
    assert.deepEqual([up.status, up.body], [200, '4000']);
  });
});

/** The chunk sizes of a chunked response, read from the wire. */
function chunkSizes(port: number, urlPath: string): Promise<number[]> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(`GET ${urlPath} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`));
    const parts: Buffer[] = [];
    socket.on('data', (b: Buffer) => parts.push(b));
    socket.on('error', reject);
    socket.on('close', () => {
      const text = Buffer.concat(parts).toString('latin1');
      let at = text.indexOf('\r\n\r\n') + 4;
      const sizes: number[] = [];
      for (;;) {
        const eol = text.indexOf('\r\n', at);
        const size = parseInt(text.slice(at, eol), 16);
        if (!(size > 0)) break;
        sizes.push(size);
        at = eol + 2 + size + 2;
      }
      resolve(sizes);
    });
  });
}
