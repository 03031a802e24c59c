// State-aware sessions on a running daemon with three children: every request of a state-aware
// session reaches the backend on the session's one private connection, whichever child the
// client's connection lands on (the others relay it over the owner's Unix socket), and no other
// session's request ever uses that connection; an NTLM-style handshake that the backend accepts
// only on one connection succeeds with each leg on a new client connection; 20 MB each way
// through an IPC route arrive intact; the backend ends the mode with X-StateAware: off.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import http from 'node:http';
import { test } from 'node:test';
import { request, type Daemon } from './helpers/daemon';
import { launch, logText, logsMatching } from './helpers/mpm';
import { digest, noise } from './helpers/proxy';
import { cookieOf, stateAwareConfig, statefulBackend, type StatefulBackend } from './helpers/stateaware';

const CHILDREN = 3;

function config(backend: StatefulBackend, extra: string[] = []): string {
  return stateAwareConfig(backend, [`StartServers ${CHILDREN}`, ...extra]);
}

async function json(port: number, path: string, cookie?: string): Promise<{ status: number; body: Record<string, unknown>; headers: http.IncomingHttpHeaders }> {
  const r = await request(port, path, { headers: cookie ? { cookie } : {} });
  return { status: r.status, body: JSON.parse(r.body.toString() || '{}') as Record<string, unknown>, headers: r.headers };
}

/** Pids of the children that sent a request to its owner: relayed over IPC, or the whole
 * connection handed over (a new connection's first request), from the debug log lines. */
function relayingPids(d: Daemon): Set<number> {
  return new Set(logsMatching(d, /^(route request over IPC|hand connection over to the owner)/).map((l) => l.pid));
}

test('state-aware sessions across three children', async (t) => {
  const backend = await statefulBackend(t);
  const d = await launch(t, { config: config(backend), waitChildren: CHILDREN });
  const port = d.port;

  await t.test('every request of a session arrives on its private connection, and only its requests do', async () => {
    const sessions: Array<{ cookie: string; port: number }> = [];
    for (let i = 0; i < 3; i++) {
      const login = await json(port, `/app/login?user=u${i}`);
      assert.equal(login.status, 200);
      assert.equal(login.headers['x-stateaware'], undefined, 'X-StateAware is consumed, never relayed');
      sessions.push({ cookie: cookieOf(login.headers), port: login.body.port as number });
    }
    const status = await d.status();
    assert.equal(Number(status.fields.StateAwareSessions), 3, JSON.stringify(status.fields));
    assert.ok(status.processes.some((p) => p.stateaware > 0));
    // Interleaved, one new client connection per request, plus requests of no session at all.
    for (let round = 0; round < 15; round++) {
      for (const s of sessions) {
        const r = await json(port, '/app/whoami', s.cookie);
        assert.equal(r.status, 200, JSON.stringify(r.body));
        assert.equal(r.body.port, s.port, `round ${round}: a request of ${s.cookie} left its connection\n${logText(d)}`);
      }
      const plain = await json(port, '/app/whoami');
      assert.ok(!sessions.some((s) => s.port === plain.body.port), 'a request of no session used a private connection');
    }
    assert.deepEqual(backend.violations, []);
    // The kernel spreads new connections over the children: some requests went through a relay.
    const relays = relayingPids(d);
    assert.ok(relays.size >= 1, `no request was routed to its owner\n${logText(d)}`);
    for (const route of logsMatching(d, /^route request over IPC/).slice(0, 1)) {
      assert.match(route.msg, /^route request over IPC to another process: session=[0-9a-f]{8}; pid_self=\d+; ipc_to_pid=\d+$/);
    }
    for (const handoff of logsMatching(d, /^hand connection over/).slice(0, 1)) {
      assert.match(handoff.msg, /^hand connection over to the owner: session=[0-9a-f]{8}; pid_self=\d+; to_pid=\d+$/);
    }
    const listening = logsMatching(d, /^IPC server: process id \d+ listening on domain socket .*stateaware\.\d+\.0\.sock$/);
    assert.ok(listening.length >= 1, 'each owner logs its IPC server at debug');
  });

  await t.test('an NTLM-style handshake with each leg on a new client connection', async () => {
    const leg1 = await json(port, '/app/ntlm');
    assert.equal(leg1.status, 401);
    assert.equal(leg1.headers['www-authenticate'], 'NTLM');
    const cookie = cookieOf(leg1.headers);
    const leg2 = await request(port, '/app/ntlm', { headers: { cookie, authorization: 'NTLM TYPE1' } });
    assert.equal(leg2.status, 401);
    const challenge = /^NTLM ([0-9a-f]+)$/.exec(String(leg2.headers['www-authenticate']))?.[1];
    assert.ok(challenge, String(leg2.headers['www-authenticate']));
    const leg3 = await json(port, '/app/ntlm', cookie);
    // The third leg carries the answer; a request after it stays authenticated on the connection.
    const answer = await request(port, '/app/ntlm', { headers: { cookie, authorization: `NTLM TYPE3-${challenge}` } });
    assert.equal(answer.status, 200, `${answer.body.toString()}\n${logText(d)}`);
    assert.equal(JSON.parse(answer.body.toString()).user, 'ntlm-user');
    assert.equal(leg3.status, 401, 'a request without the answer is challenged again');
    for (let i = 0; i < 6; i++) {
      const after = await json(port, '/app/ntlm', cookie);
      assert.equal(after.status, 200, 'the authenticated connection keeps serving the session');
    }
    // The same handshake without a session (no cookie to key it by) fails, as it would behind
    // any multi-process proxy: each leg may reach another backend connection.
  });

  await t.test('20 MB up and 20 MB down through an IPC route arrive intact', async () => {
    const login = await json(port, '/app/login?user=big');
    const cookie = cookieOf(login.headers);
    const size = 20 * 1024 * 1024;
    const before = logsMatching(d, /^route request over IPC/).length;
    let routedUp = false;
    let routedDown = false;
    // Repeat on new connections until each direction has gone through a relay at least once.
    // (The upload's body is chunked, which keeps its connection where it lands; the download
    // comes second on a connection whose first request had no session, which keeps it too.)
    for (let i = 0; i < 12 && !(routedUp && routedDown); i++) {
      const up = await upload(port, cookie, size);
      assert.equal(up.status, 200);
      const got = JSON.parse(up.body) as { length: number; sha256: string; port: number };
      assert.deepEqual({ length: got.length, sha256: got.sha256 }, up.sent);
      assert.equal(got.port, login.body.port);
      const n = logsMatching(d, /^route request over IPC/).length;
      routedUp ||= n > before;
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      assert.equal((await request(port, '/app/whoami', { agent })).status, 200);
      const down = await download(port, cookie, size, agent);
      agent.destroy();
      assert.equal(down.status, 200);
      assert.equal(down.length, size);
      assert.equal(down.sha256, down.expected);
      routedDown ||= logsMatching(d, /^route request over IPC/).length > n;
    }
    assert.ok(routedUp && routedDown, `not routed over IPC in both directions (up ${routedUp}, down ${routedDown})`);
  });

  await t.test('the session ending (X-Session-Invalidate) ends its state-aware mode', async () => {
    const login = await json(port, '/app/login?user=invalidated');
    const cookie = cookieOf(login.headers);
    const before = Number((await d.status()).fields.StateAwareSessions);
    assert.equal((await json(port, '/app/invalidate', cookie)).status, 200);
    await d.waitLog('the state-aware session to end with it', (l) => /^state-aware session [0-9a-f]{8} ended: the session ended$/.test(l.msg));
    assert.equal(Number((await d.status()).fields.StateAwareSessions), before - 1);
  });

  await t.test('X-StateAware: off ends the mode: the private connection closes and the session is ordinary again', async () => {
    const login = await json(port, '/app/login?user=leaving');
    const cookie = cookieOf(login.headers);
    const off = await json(port, '/app/logout', cookie);
    assert.equal(off.status, 200);
    assert.equal(off.headers['x-stateaware'], undefined);
    await d.waitLog('the session to end', (l) => /^state-aware session [0-9a-f]{8} ended: the backend ended state-aware mode/.test(l.msg));
    const after = await json(port, '/app/whoami', cookie);
    assert.equal(after.status, 200);
    assert.notEqual(after.body.port, login.body.port, 'the private connection is closed');
  });
});

test('StateAware off on a <Location> leaves its sessions ordinary', async (t) => {
  const backend = await statefulBackend(t);
  const d = await launch(t, { config: config(backend, ['<Location /app/plain>\n  StateAware off\n</Location>']), waitChildren: CHILDREN });
  const plain = await json(d.port, '/app/plain/login');
  assert.equal(plain.status, 200);
  assert.equal(plain.headers['x-stateaware'], undefined, 'the header is consumed even where it has no effect');
  assert.equal(Number((await d.status()).fields.StateAwareSessions), 0);
  // The same backend answer elsewhere makes the session state-aware.
  await json(d.port, '/app/login?user=elsewhere');
  assert.equal(Number((await d.status()).fields.StateAwareSessions), 1);
});

async function upload(port: number, cookie: string, size: number): Promise<{ status: number; body: string; sent: { sha256: string; length: number } }> {
  const hash = crypto.createHash('sha256');
  let length = 0;
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: '/app/upload', method: 'POST', agent: false, headers: { cookie } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString(), sent: { sha256: hash.digest('hex'), length } }));
    });
    req.on('error', reject);
    const source = noise(size);
    source.on('data', (c: Buffer) => {
      hash.update(c);
      length += c.length;
    });
    source.pipe(req);
  });
}

async function download(port: number, cookie: string, size: number, agent: http.Agent): Promise<{ status: number; length: number; sha256: string; expected: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: `/app/download?size=${size}`, agent, headers: { cookie } }, (res) => {
        void digest(res).then((d) => resolve({ status: res.statusCode ?? 0, ...d, expected: String(res.headers['x-sha256']) }));
      })
      .on('error', reject);
  });
}

test('worker MPM: threads of one child route to the thread that owns the session', async (t) => {
  const backend = await statefulBackend(t);
  const d = await launch(t, {
    config: config(backend).replace('MPM event', 'MPM worker').replace(`StartServers ${CHILDREN}`, 'StartServers 1').replace('ThreadsPerChild 8', 'ThreadsPerChild 3'),
    waitChildren: 1,
  });
  const login = await json(d.port, '/app/login?user=threads');
  const cookie = cookieOf(login.headers);
  const agents = Array.from({ length: 3 }, () => new http.Agent({ keepAlive: true, maxSockets: 1 }));
  t.after(() => agents.forEach((a) => a.destroy()));
  // Three keep-alive connections held at once: each takes one thread of the child.
  for (let round = 0; round < 5; round++) {
    const answers = await Promise.all(agents.map((agent) => request(d.port, '/app/whoami', { agent, headers: { cookie } })));
    for (const r of answers) {
      assert.equal(r.status, 200);
      assert.equal(JSON.parse(r.body.toString()).port, login.body.port, logText(d));
    }
  }
  assert.deepEqual(backend.violations, []);
  const routes = logsMatching(d, /^route request over IPC/);
  assert.ok(routes.length >= 1, `no request was routed between threads\n${logText(d)}`);
  for (const r of routes) assert.match(r.msg, new RegExp(`pid_self=${r.pid}; ipc_to_pid=${r.pid}$`), 'routed within the child');
  const sockets = logsMatching(d, /^IPC server: process id \d+ listening on domain socket .*stateaware\.\d+\.[0-2]\.sock$/);
  assert.equal(sockets.length, 1, 'only the owning thread runs an IPC server');
});
