// Bodies stream through both ways with backpressure and nothing buffered: a 400 MB upload to a
// slow backend and a 400 MB download to a slow client arrive intact while the child's memory
// stays bounded; Server-Sent Events and long-poll headers reach the client at once; Expect:
// 100-continue is answered only for requests that are forwarded; trailers, HEAD and 103 Early
// Hints pass through.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import http from 'node:http';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { childrenRssMiB, digest, httpBackend, metered, noise, parseHead, proxyDaemon, rawExchange } from './helpers/proxy';

const MiB = 1024 * 1024;

/** Resolves the next time `release` is called. */
function gate(): { wait: Promise<void>; release: () => void } {
  let release!: () => void;
  const wait = new Promise<void>((r) => (release = r));
  return { wait, release };
}

interface Watched {
  /** Growth of the children's resident memory, MiB. */
  rssGrowth: number;
  /** The most bytes sent and not yet received at the far end, MiB: what sits between the two. */
  inFlight: number;
}

/**
 * Samples every 100 ms while `work` runs. RSS alone cannot tell buffering from garbage that V8
 * collects late (it jumps by tens of MiB and stays); bytes in flight can: without backpressure
 * they grow with the body.
 */
async function watch(d: Parameters<typeof childrenRssMiB>[0], work: Promise<unknown>, inFlight: () => number): Promise<Watched> {
  const before = childrenRssMiB(d);
  const w: Watched = { rssGrowth: 0, inFlight: 0 };
  let running = true;
  void work.finally(() => (running = false));
  while (running) {
    w.rssGrowth = Math.max(w.rssGrowth, childrenRssMiB(d) - before);
    w.inFlight = Math.max(w.inFlight, inFlight() / MiB);
    await sleep(100);
  }
  await work;
  return w;
}

/** Reads a stream at about 100 MB/s at most, as a slow peer would. */
function slowly(stream: NodeJS.ReadableStream & { pause(): void; resume(): void }, onChunk: (c: Buffer) => void): Promise<void> {
  let sincePause = 0;
  return new Promise((resolve, reject) => {
    stream.on('data', (c: Buffer) => {
      onChunk(c);
      sincePause += c.length;
      if (sincePause >= 512 * 1024) {
        sincePause = 0;
        stream.pause();
        setTimeout(() => stream.resume(), 5);
      }
    });
    stream.on('end', resolve);
    stream.on('error', reject);
  });
}

test('streaming through the proxy', async (t) => {
  const upload = { received: 0 };
  const download: { body: ReturnType<typeof metered> | null } = { body: null };
  const sse = gate();
  const poll = gate();
  const backend = await httpBackend(t, (req, res) => {
    const path = req.url ?? '';
    if (path === '/upload') {
      const hash = crypto.createHash('sha256');
      void slowly(req, (c) => {
        hash.update(c);
        upload.received += c.length;
      }).then(() => res.end(JSON.stringify({ sha256: hash.digest('hex'), length: upload.received })));
      return;
    }
    req.resume();
    if (path.startsWith('/download')) {
      const size = Number(new URL(path, 'http://x').searchParams.get('size'));
      res.writeHead(200, path.includes('chunked') ? {} : { 'content-length': size });
      download.body = metered(noise(size));
      download.body.stream.pipe(res);
    } else if (path === '/events') {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      res.write('data: first\n\n');
      void sse.wait.then(() => res.end('data: last\n\n'));
    } else if (path === '/poll') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.flushHeaders();
      void poll.wait.then(() => res.end('{"event":1}'));
    } else if (path === '/trailers') {
      res.writeHead(200, { 'content-type': 'text/plain', trailer: 'X-Checksum' });
      res.write('body ');
      res.addTrailers({ 'X-Checksum': 'sha256=abc' });
      res.end('end');
    } else if (path === '/head') {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 1234 });
      res.end(req.method === 'HEAD' ? undefined : Buffer.alloc(1234, 0x61));
    } else if (path === '/hints') {
      res.writeEarlyHints({ link: '</style.css>; rel=preload; as=style' });
      setTimeout(() => res.end('final'), 50);
    } else {
      res.end(`${req.method} ${path}`);
    }
  });
  const d = await proxyDaemon(t, [`ProxyPass /b/ ${backend.url}/`]);

  // The backend (or the client) reads at about 100 MB/s, the other end writes as fast as it can:
  // a proxy that buffered would take in most of the body.
  await t.test('a 400 MB chunked upload to a slow backend arrives intact; the child does not buffer it', async () => {
    const sent = metered(noise(400 * MiB));
    const reply = new Promise<string>((resolve, reject) => {
      const req = http.request({ port: d.port, host: '127.0.0.1', path: '/b/upload', method: 'POST', agent: false }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c));
        res.on('end', () => resolve(body));
      });
      req.on('error', reject);
      sent.stream.pipe(req);
    });
    const w = await watch(d, reply, () => sent.bytes() - upload.received);
    assert.deepEqual(JSON.parse(await reply), sent.digest());
    assert.ok(w.inFlight < 48, `${w.inFlight.toFixed(0)} MiB were between client and backend at once`);
    assert.ok(w.rssGrowth < 256, `the child grew by ${w.rssGrowth.toFixed(0)} MiB`);
  });

  await t.test('a 400 MB download to a slow client arrives intact, and one without Content-Length; the child does not buffer them', async () => {
    const res = await new Promise<http.IncomingMessage>((resolve) => http.get({ port: d.port, host: '127.0.0.1', path: `/b/download?size=${400 * MiB}`, agent: false }, resolve));
    assert.equal(res.headers['content-length'], String(400 * MiB));
    const hash = crypto.createHash('sha256');
    let received = 0;
    const w = await watch(
      d,
      slowly(res, (c) => {
        hash.update(c);
        received += c.length;
      }),
      () => (download.body?.bytes() ?? 0) - received,
    );
    assert.deepEqual({ sha256: hash.digest('hex'), length: received }, download.body?.digest());
    assert.ok(w.inFlight < 48, `${w.inFlight.toFixed(0)} MiB were between backend and client at once`);
    assert.ok(w.rssGrowth < 256, `the child grew by ${w.rssGrowth.toFixed(0)} MiB`);
    const chunked = await new Promise<http.IncomingMessage>((resolve) => http.get({ port: d.port, host: '127.0.0.1', path: `/b/download-chunked?size=${4 * MiB}`, agent: false }, resolve));
    assert.equal(chunked.headers['transfer-encoding'], 'chunked');
    assert.deepEqual(await digest(chunked), download.body?.digest());
  });

  await t.test('a Server-Sent Event reaches the client before the backend ends the response', async () => {
    const res = await new Promise<http.IncomingMessage>((resolve) => http.get({ port: d.port, host: '127.0.0.1', path: '/b/events', agent: false }, resolve));
    assert.equal(res.headers['content-type'], 'text/event-stream');
    const first = await Promise.race([
      new Promise<string>((resolve) => res.once('data', (c: Buffer) => resolve(c.toString()))),
      sleep(3000).then(() => 'nothing within 3 s'),
    ]);
    assert.equal(first, 'data: first\n\n');
    sse.release();
    assert.equal((await digest(res)).length, 'data: last\n\n'.length);
  });

  await t.test('long polling: the response headers reach the client before any body', async () => {
    const res = await Promise.race([
      new Promise<http.IncomingMessage>((resolve) => http.get({ port: d.port, host: '127.0.0.1', path: '/b/poll', agent: false }, resolve)),
      sleep(3000).then(() => null),
    ]);
    assert.ok(res, 'headers arrived while the backend still held the body');
    poll.release();
    let body = '';
    for await (const c of res) body += String(c);
    assert.equal(body, '{"event":1}');
  });

  await t.test('Expect: 100-continue: 100 only for a request that is forwarded, then its body goes through', async () => {
    const head = (path: string) => `POST ${path} HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\nConnection: close\r\n\r\n`;
    // As curl does: the headers, a wait for 100 (it sends the body anyway after a second), the body.
    const forwarded = await rawExchange(d.port, [head('/b/continue'), 'hello'], { pauseMs: 1500, idleMs: 5000 });
    assert.ok(forwarded.text.startsWith('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n'), forwarded.text);
    assert.ok(forwarded.text.endsWith('POST /continue'), forwarded.text);
    const requests = backend.seen.length;
    const refused = await rawExchange(d.port, [head('/elsewhere')], { idleMs: 5000 });
    assert.ok(refused.text.startsWith('HTTP/1.1 404 Not Found\r\n'), refused.text);
    assert.equal(parseHead(refused.text).headers.connection, 'close');
    assert.equal(backend.seen.length, requests);
  });

  await t.test('response trailers reach the client', async () => {
    const res = await new Promise<http.IncomingMessage>((resolve) => http.get({ port: d.port, host: '127.0.0.1', path: '/b/trailers', agent: false }, resolve));
    let body = '';
    for await (const c of res) body += String(c);
    assert.equal(body, 'body end');
    assert.equal(res.headers.trailer, 'X-Checksum');
    assert.deepEqual(res.trailers, { 'x-checksum': 'sha256=abc' });
  });

  await t.test('HEAD: the headers of a GET and no body, the connection still usable', async () => {
    const reply = await rawExchange(d.port, ['HEAD /b/head HTTP/1.1\r\nHost: x\r\n\r\n', 'GET /b/other HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'], { pauseMs: 300, idleMs: 5000 });
    const [headReply, getReply] = reply.text.split(/(?=HTTP\/1\.1 )/);
    const h = parseHead(headReply);
    assert.deepEqual([h.status, h.headers['content-length'], h.body], [200, '1234', '']);
    assert.ok(getReply.endsWith('GET /other'), reply.text);
  });

  await t.test('103 Early Hints are relayed before the final response', async () => {
    const hints: http.InformationEvent[] = [];
    const res = await new Promise<http.IncomingMessage>((resolve) => {
      const req = http.get({ port: d.port, host: '127.0.0.1', path: '/b/hints', agent: false }, resolve);
      req.on('information', (info) => hints.push(info));
    });
    res.resume();
    assert.deepEqual(
      hints.map((h) => [h.statusCode, h.headers.link]),
      [[103, '</style.css>; rel=preload; as=style']],
    );
  });
});
