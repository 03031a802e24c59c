// The limits on HTTP/2 connections: LimitStreams as SETTINGS_MAX_CONCURRENT_STREAMS with
// REFUSED_STREAM for a stream over it, H2MaxResets against the rapid-reset attack
// (CVE-2023-44487), and the connection limits counting HTTP/2 connections as connections.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http2 from 'node:http2';
import { test } from 'node:test';
import { childPids, request, sleep, waitFor } from './helpers/daemon';
import { h2Request, STATUS_LOCATION } from './helpers/h2';
import { launch, launchGate } from './helpers/mpm';
import { childrenRssMiB, echo, httpBackend } from './helpers/proxy';

const { NGHTTP2_CANCEL, NGHTTP2_ENHANCE_YOUR_CALM, NGHTTP2_REFUSED_STREAM } = http2.constants;

/** CPU time (user + system) of the daemon's children so far, in milliseconds. */
function childrenCpuMs(masterPid: number): number {
  let ticks = 0;
  for (const pid of childPids(masterPid)) {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    ticks += Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15 of stat)
  }
  return ticks * 10; // USER_HZ is 100 on Linux
}

function connect(port: number): http2.ClientHttp2Session {
  const session = http2.connect(`http://127.0.0.1:${port}`);
  session.on('error', () => undefined);
  return session;
}

test('LimitStreams', async (t) => {
  const gate = await launchGate(t);
  const d = await launch(t, {
    config: ['StartServers 2', 'Protocols h2c http/1.1', 'LimitStreams 5', `ProxyPass /app/ ${gate.url}/`, STATUS_LOCATION].join('\n'),
    waitChildren: 2,
  });

  await t.test('is the SETTINGS_MAX_CONCURRENT_STREAMS the client is told', async (st) => {
    const session = connect(d.port);
    st.after(() => session.destroy());
    const settings = await new Promise<http2.Settings>((resolve) => session.once('remoteSettings', resolve));
    assert.equal(settings.maxConcurrentStreams, 5);
  });

  await t.test('refuses each stream over it with REFUSED_STREAM; the others are served', async (st) => {
    const session = connect(d.port);
    st.after(() => session.destroy());
    // Sent at once, before the server's SETTINGS arrive: the client does not know the limit yet.
    const outcomes = Array.from({ length: 9 }, () =>
      h2Request(session, { ':path': '/app/held' }).then(
        (r) => `status ${r.headers[':status']}`,
        (err: { code?: string; message: string }) => (err.message.includes('NGHTTP2_REFUSED_STREAM') ? 'refused' : `error ${err.message}`),
      ),
    );
    await waitFor('5 streams at the backend', () => gate.inFlight >= 5);
    await sleep(200);
    assert.equal(gate.inFlight, 5, 'no more than LimitStreams reach the backend');
    gate.open();
    const results = await Promise.all(outcomes);
    assert.equal(results.filter((r) => r === 'refused').length, 4, results.join(', '));
    assert.equal(results.filter((r) => r === 'status 200').length, 5, results.join(', '));
    assert.equal(NGHTTP2_REFUSED_STREAM, 7);
  });

  await t.test('an HTTP/2 connection counts as one connection in the scoreboard whatever its streams', async (st) => {
    const session = connect(d.port);
    st.after(() => session.destroy());
    await Promise.all(Array.from({ length: 5 }, () => h2Request(session, { ':path': '/app/x' })));
    const s = await d.status();
    // This session and the HTTP/1.1 connection asking for the status page.
    assert.equal(Number(s.fields.ConnsTotal), 2, JSON.stringify(s.fields));
  });
});

test('H2MaxResets closes a rapid-reset connection with ENHANCE_YOUR_CALM', async (t) => {
  const backend = await httpBackend(t, (req, res, seen) => setTimeout(() => echo(req, res, seen), 50));
  const d = await launch(t, {
    config: ['StartServers 2', 'Protocols h2c http/1.1', 'LimitStreams 10', 'H2MaxResets 50 10s', `ProxyPass /app/ ${backend.url}/`, STATUS_LOCATION].join('\n'),
    waitChildren: 2,
  });
  const rssBefore = childrenRssMiB(d);
  const cpuBefore = childrenCpuMs(d.pid);

  const session = connect(d.port);
  t.after(() => session.destroy());
  await new Promise((resolve) => session.once('remoteSettings', resolve));
  const goaway = new Promise<number>((resolve) => session.once('goaway', (code: number) => resolve(code)));
  const closed = new Promise<void>((resolve) => session.once('close', resolve));
  let opened = 0;
  let ended = false;
  void closed.then(() => (ended = true));
  // Opens and cancels streams as fast as the client can, staying under LimitStreams, until the
  // server ends the connection (or 20 000 streams went by, which would be a failure).
  while (!ended && !session.destroyed && opened < 20_000) {
    for (let i = 0; i < 8 && !session.destroyed && !session.closed; i++) {
      const stream = session.request({ ':path': `/app/flood${opened++}` });
      stream.on('error', () => undefined);
      stream.close(NGHTTP2_CANCEL);
    }
    await new Promise((resolve) => setImmediate(resolve));
  }
  assert.equal(await goaway, NGHTTP2_ENHANCE_YOUR_CALM);
  await closed;
  assert.ok(opened < 2_000, `the connection was closed after ${opened} streams`);
  // Each stream the server took before the limit may have reached the backend; no more did.
  assert.ok(backend.seen.length <= 60 + 10, `backend saw ${backend.seen.length} requests`);

  const line = await d.waitLog('the H2MaxResets log line', (l) => l.limit === 'H2MaxResets' || /H2MaxResets/.test(l.msg));
  assert.match(line.msg, /ENHANCE_YOUR_CALM/);
  const status = await d.status();
  assert.match(status.fields.LimitRejections ?? '', /H2MaxResets=1\b/);
  // What the flood cost the children: bounded, and over.
  assert.ok(childrenCpuMs(d.pid) - cpuBefore < 3000, 'CPU spent on the flood');
  assert.ok(childrenRssMiB(d) - rssBefore < 64, `RSS grew from ${rssBefore} to ${childrenRssMiB(d)} MiB`);
  // The server is unharmed: new connections in either protocol are served.
  const again = connect(d.port);
  t.after(() => again.destroy());
  assert.equal((await h2Request(again, { ':path': '/app/after' })).headers[':status'], 200);
  assert.equal((await request(d.port, '/app/after')).status, 200);
});

test('LimitRequestsPerClient counts HTTP/2 streams in progress', async (t) => {
  const gate = await launchGate(t);
  const d = await launch(t, {
    config: ['StartServers 2', 'Protocols h2c http/1.1', 'LimitRequestsPerClient 3', `ProxyPass /app/ ${gate.url}/`, STATUS_LOCATION].join('\n'),
    waitChildren: 2,
  });
  const session = connect(d.port);
  t.after(() => session.destroy());
  await new Promise((resolve) => session.once('remoteSettings', resolve));
  const answers = Array.from({ length: 5 }, () => h2Request(session, { ':path': '/app/held' }));
  await waitFor('3 streams at the backend', () => gate.inFlight >= 3);
  // Over the limit while the three are held: refused at once, by status.
  const refused = await Promise.all(answers.slice(3));
  assert.deepEqual(refused.map((r) => r.headers[':status']), [429, 429]);
  assert.equal(refused[0].headers['retry-after'], '1');
  assert.equal(gate.inFlight, 3);
  gate.open();
  assert.deepEqual((await Promise.all(answers.slice(0, 3))).map((r) => r.headers[':status']), [200, 200, 200]);
  const s = await d.status();
  assert.match(s.fields.LimitRejections ?? '', /LimitRequestsPerClient=2\b/);
});

test('KeepAliveTimeout closes an HTTP/2 connection without streams; a stream in progress keeps it', { timeout: 30_000 }, async (t) => {
  const backend = await httpBackend(t, (req, res, seen) => setTimeout(() => echo(req, res, seen), 1500));
  const d = await launch(t, { config: ['StartServers 1', 'Protocols h2c http/1.1', 'KeepAliveTimeout 1s', `ProxyPass /app/ ${backend.url}/`].join('\n') });
  const session = connect(d.port);
  t.after(() => session.destroy());
  const closed = new Promise<number>((resolve) => session.once('close', () => resolve(Date.now())));
  // Silent for longer than KeepAliveTimeout while its backend takes 1.5 s: still answered.
  const slow = await h2Request(session, { ':path': '/app/slow' });
  assert.equal(slow.headers[':status'], 200);
  const idleFrom = Date.now();
  const at = await closed;
  assert.ok(at - idleFrom >= 800 && at - idleFrom < 4000, `closed ${at - idleFrom} ms after its last stream`);
});
