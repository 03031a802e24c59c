// HTTP/2 on cleartext listeners (Protocols h2c): curl by prior knowledge and by Upgrade: h2c,
// Node's HTTP/2 client, and h2load against a real daemon with two children proxying to a real
// HTTP/1.1 backend; what the backend is told, what the client gets back, and the limits that
// apply to HTTP/2 streams as to HTTP/1.1 requests.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import http2 from 'node:http2';
import net from 'node:net';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { request, sleep, waitFor } from './helpers/daemon';
import { echo, httpBackend, parseHead, rawExchange } from './helpers/proxy';
import { launch } from './helpers/mpm';
import { h2Request, STATUS_LOCATION } from './helpers/h2';

const run = promisify(execFile);

test('HTTP/2 cleartext through the proxy', async (t) => {
  const backend = await httpBackend(t, (req, res, seen) => {
    if (req.url?.startsWith('/slow')) {
      setTimeout(() => echo(req, res, seen), 300);
      return;
    }
    if (req.url === '/hop') {
      res.writeHead(200, { connection: 'x-private, keep-alive', 'x-private': 'secret', 'keep-alive': 'timeout=5', 'x-kept': 'yes' });
      res.end('hop');
      return;
    }
    echo(req, res, seen);
  });
  const d = await launch(t, {
    config: [
      'StartServers 2',
      'MinSpareThreads 1',
      'Protocols h2c http/1.1',
      'LimitRequestHeaderLines 20',
      `ProxyPass /app/ ${backend.url}/`,
      STATUS_LOCATION,
    ].join('\n'),
    waitChildren: 2,
  });
  const base = `http://127.0.0.1:${d.port}`;

  await t.test('curl with prior knowledge gets an HTTP/2 answer relayed from the HTTP/1.1 backend', async () => {
    const { stdout } = await run('curl', ['-s', '-i', '--http2-prior-knowledge', '-H', 'Cookie: a=1', '-H', 'Cookie: b=2', `${base}/app/echo?x=1`]);
    assert.match(stdout, /^HTTP\/2 200/);
    const body = JSON.parse(stdout.slice(stdout.indexOf('\r\n\r\n') + 4)) as { url: string; headers: Record<string, string> };
    assert.equal(body.url, '/echo?x=1');
    // :authority became the Host the client meant; the backend gets its own Host.
    assert.equal(body.headers['x-forwarded-host'], `127.0.0.1:${d.port}`);
    assert.equal(body.headers.host, `127.0.0.1:${backend.port}`);
    // HTTP/2 sends each cookie apart; HTTP/1.1 wants them in one field (RFC 9113 §8.2.3).
    assert.equal(body.headers.cookie, 'a=1; b=2');
    assert.ok(!Object.keys(body.headers).some((k) => k.startsWith(':')), 'no pseudo-header reaches the backend');
    assert.match(body.headers.via ?? '', /^2\.0 /);
  });

  await t.test('curl --http2 upgrades with Upgrade: h2c and gets the answer on stream 1', async () => {
    const { stdout } = await run('curl', ['-s', '-i', '--http2', `${base}/app/echo?upgraded=1`]);
    assert.match(stdout, /^HTTP\/1\.1 101 Switching Protocols\r\n/);
    assert.match(stdout, /\r\n\r\nHTTP\/2 200/);
    const body = JSON.parse(stdout.slice(stdout.lastIndexOf('\r\n\r\n') + 4)) as { url: string; headers: Record<string, string> };
    assert.equal(body.url, '/echo?upgraded=1');
    assert.equal(body.headers.upgrade, undefined);
    assert.equal(body.headers['http2-settings'], undefined);
    // The connection goes on in HTTP/2: a second request on it takes a new stream.
    const two = await run('curl', ['-s', '-o', '/dev/null', '-o', '/dev/null', '-w', '%{http_version} %{http_code}\\n', '--http2', `${base}/app/a`, `${base}/app/b`]);
    assert.equal(two.stdout, '2 200\n2 200\n');
  });

  await t.test('HTTP/1.1 clients are served on the same port', async () => {
    const r = await request(d.port, '/app/echo');
    assert.equal(r.status, 200);
    assert.equal((JSON.parse(r.body.toString()) as { url: string }).url, '/echo');
  });

  await t.test('clients whose first bytes come late, or in pieces, get the protocol they speak', async (st) => {
    // Nothing is queued when the connection is accepted: the first bytes are read, then replayed.
    const socket = net.connect(d.port, '127.0.0.1');
    await once(socket, 'connect');
    await sleep(300);
    const session = http2.connect(base, { createConnection: () => socket });
    st.after(() => session.close());
    const late = await h2Request(session, { ':path': '/app/echo?late=1' });
    assert.equal(late.headers[':status'], 200);
    assert.equal((JSON.parse(late.body.toString()) as { url: string }).url, '/echo?late=1');
    // An HTTP/1.1 request whose first byte comes alone could still have been a preface.
    const h1 = await rawExchange(d.port, ['G', 'ET /app/echo?split=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'], { pauseMs: 200 });
    const head = parseHead(h1.text);
    assert.equal(head.status, 200);
    assert.equal((JSON.parse(head.body) as { url: string }).url, '/echo?split=1');
  });

  await t.test('request bodies of unannounced length stream to the backend; hop-by-hop fields never reach the client', async (st) => {
    const session = http2.connect(base);
    st.after(() => session.close());
    const body = Buffer.alloc(200_000, 0x61);
    const post = await h2Request(session, { ':method': 'POST', ':path': '/app/echo' }, body);
    assert.equal(post.headers[':status'], 200);
    const seen = JSON.parse(post.body.toString()) as { method: string; length: number; headers: Record<string, string> };
    assert.equal(seen.method, 'POST');
    assert.equal(seen.length, body.length);
    assert.equal(seen.headers['transfer-encoding'], 'chunked');
    const hop = await h2Request(session, { ':path': '/app/hop' });
    assert.equal(hop.headers[':status'], 200);
    assert.equal(hop.body.toString(), 'hop');
    assert.equal(hop.headers['x-kept'], 'yes');
    for (const name of ['connection', 'keep-alive', 'x-private', 'transfer-encoding']) assert.equal(hop.headers[name], undefined, name);
  });

  await t.test('LimitRequestHeaderLines answers 431 to an HTTP/2 request with too many fields', async (st) => {
    const session = http2.connect(base);
    st.after(() => session.close());
    const headers: http2.OutgoingHttpHeaders = { ':path': '/app/echo' };
    for (let i = 0; i < 25; i++) headers[`x-field-${i}`] = 'v';
    const r = await h2Request(session, headers);
    assert.equal(r.headers[':status'], 431);
    const ok = await h2Request(session, { ':path': '/app/echo', 'x-one': '1' });
    assert.equal(ok.headers[':status'], 200);
  });

  await t.test('LimitRequestHeader bounds the header list: a larger one is answered 431 and never reaches the backend', async (st) => {
    const session = http2.connect(base);
    st.after(() => session.destroy());
    session.on('error', () => undefined);
    const seenBefore = backend.seen.length;
    const outcome = await h2Request(session, { ':path': '/app/echo', 'x-big': 'b'.repeat(20_000) }).then(
      (r) => `status ${r.headers[':status']}`,
      (err: Error) => err.message,
    );
    assert.equal(outcome, 'status 431');
    assert.equal(backend.seen.length, seenBefore);
  });

  await t.test('h2load: every request answered, counted in the scoreboard over both children', async () => {
    const before = await d.status();
    const { stdout } = await run('h2load', ['-n', '2000', '-c', '8', '-m', '10', `${base}/app/echo`], { timeout: 60_000 });
    assert.match(stdout, /requests: 2000 total, 2000 started, 2000 done, 2000 succeeded, 0 failed, 0 errored/);
    assert.match(stdout, /status codes: 2000 2xx/);
    const after = await waitFor('the requests in the scoreboard', async () => {
      const s = await d.status();
      return Number(s.fields['Total Accesses']) - Number(before.fields['Total Accesses']) >= 2000 ? s : null;
    });
    const served = after.processes.filter((p) => p.requests > 0);
    assert.ok(served.length >= 2, `both children served h2 streams: ${JSON.stringify(after.processes)}`);
  });

  await t.test('graceful restart: GOAWAY, and a stream under way still gets its answer', async (st) => {
    const session = http2.connect(base);
    st.after(() => session.destroy());
    const goaway = new Promise<number>((resolve) => session.once('goaway', (code: number) => resolve(code)));
    const slow = h2Request(session, { ':path': '/app/slow' });
    await waitFor('the slow request at the backend', () => backend.seen.some((s) => s.url === '/slow'));
    d.signal('SIGUSR1');
    assert.equal(await goaway, http2.constants.NGHTTP2_NO_ERROR);
    const r = await slow;
    assert.equal(r.headers[':status'], 200);
  });
});

test('without h2c in Protocols, HTTP/2 clients get HTTP/1.1', async (t) => {
  const backend = await httpBackend(t);
  const d = await launch(t, { config: ['StartServers 1', `ProxyPass /app/ ${backend.url}/`].join('\n') });
  const base = `http://127.0.0.1:${d.port}`;
  // curl --http2 asks for the upgrade; the answer comes in HTTP/1.1, as from httpd without h2c.
  const { stdout } = await run('curl', ['-s', '-o', '/dev/null', '-w', '%{http_version} %{http_code}', '--http2', `${base}/app/x`]);
  assert.equal(stdout, '1.1 200');
  // The preface is no HTTP/1.1 request: 400 and closed.
  const pk = await run('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '--http2-prior-knowledge', `${base}/app/x`]).catch((e: { stdout: string }) => e);
  assert.notEqual(pk.stdout, '200');
});

for (const mpm of ['prefork', 'worker'] as const) {
  test(`the ${mpm} MPM serves HTTP/2 streams concurrently in a connection's slot`, async (t) => {
    const backend = await httpBackend(t);
    const d = await launch(t, {
      config: [`MPM ${mpm}`, 'StartServers 2', 'Protocols h2c http/1.1', `ProxyPass /app/ ${backend.url}/`, STATUS_LOCATION].join('\n'),
      waitChildren: 2,
    });
    const { stdout } = await run('h2load', ['-n', '500', '-c', '2', '-m', '10', `http://127.0.0.1:${d.port}/app/echo`], { timeout: 60_000 });
    assert.match(stdout, /requests: 500 total, 500 started, 500 done, 500 succeeded, 0 failed, 0 errored/);
    // The last streams' slots are released just after their answers went out: wait for that,
    // so that a slot never released (a leak) is what fails here, not a slow machine.
    const s = await waitFor('every request counted and only the status request busy', async () => {
      const st = await d.status();
      return Number(st.fields['Total Accesses']) >= 500 && Number(st.fields.BusyWorkers) === 1 ? st : null;
    });
    assert.equal(Number(s.fields.BusyWorkers), 1, 'only the status request is busy once the load is over');
  });
}

test('with sessions configured, h2c by prior knowledge still reaches HTTP/2', async (t) => {
  const backend = await httpBackend(t);
  const d = await launch(t, {
    config: ['StartServers 2', 'Protocols h2c http/1.1', `ProxyPass /app/ ${backend.url}/`, '<Location /app/>\n  Session On\n</Location>', STATUS_LOCATION].join('\n'),
    waitChildren: 2,
  });
  // When sessions are on, a new connection's first bytes are read before anything else (to see
  // whether it belongs to another child's state-aware session): the preface must still be taken
  // for HTTP/2 once they are put back.
  for (let i = 0; i < 10; i++) {
    const session = http2.connect(`http://127.0.0.1:${d.port}`);
    try {
      const r = await h2Request(session, { ':path': `/app/echo?i=${i}` });
      assert.equal(r.headers[':status'], 200);
      assert.equal((JSON.parse(r.body.toString()) as { url: string }).url, `/echo?i=${i}`);
    } finally {
      session.close();
    }
  }
  // The preface alone first, the client's SETTINGS a moment later.
  const raw = net.connect(d.port, '127.0.0.1');
  await once(raw, 'connect');
  const preface = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
  const settings = Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]);
  raw.write(preface);
  await sleep(50);
  raw.write(settings);
  const first = (await once(raw, 'data')) as [Buffer];
  // A server SETTINGS frame (type 4), not an HTTP/1.1 status line.
  assert.equal(first[0][3], 4, `an HTTP/2 frame, not ${JSON.stringify(first[0].subarray(0, 16).toString('latin1'))}`);
  raw.destroy();
});
