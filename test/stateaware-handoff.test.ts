// Connection hand-off between children: a new plain connection whose first request belongs to a
// state-aware session owned by another child is handed to the owner (its descriptor and the
// bytes read so far) and served there, not relayed; a body that comes in several segments,
// pipelined requests and a client that goes away at once all survive the move; an owner killed
// just before still costs one 502 within a second (the relay's answer), and a TLS connection,
// whose state cannot move, keeps the relay.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { once } from 'node:events';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { test } from 'node:test';
import tls from 'node:tls';
import { freePort, request, type Daemon, type LogLine } from './helpers/daemon';
import { isAlive, launch, logText, logsMatching, sleep, waitFor } from './helpers/mpm';
import { issue, pki, writePems } from './helpers/pki';
import { RawConnection } from './helpers/cli';
import { SESSION_LINES, cookieOf, stateAwareConfig, statefulBackend, type StatefulBackend } from './helpers/stateaware';

const CHILDREN = 3;
const HANDOFF = /^hand connection over to the owner: session=[0-9a-f]{8}; pid_self=\d+; to_pid=\d+$/;
const ROUTE = /^route request over IPC/;
/** New connections tried until one lands on a child that does not own the session. */
const ATTEMPTS = 100;

function config(backend: StatefulBackend, extra: string[] = []): string {
  return stateAwareConfig(backend, [`StartServers ${CHILDREN}`, ...extra]);
}

interface Session {
  cookie: string;
  /** The backend connection the session is bound to. */
  port: number;
  owner: number;
}

async function login(d: Daemon, user: string): Promise<Session> {
  const before = new Set((await d.status()).processes.filter((p) => p.stateaware > 0).map((p) => p.pid));
  const r = await request(d.port, `/app/login?user=${user}`);
  assert.equal(r.status, 200, r.body.toString());
  const owners = (await d.status()).processes.filter((p) => p.stateaware > 0);
  // The owner is the child whose count of sessions just rose (or the only owner).
  const owner = owners.find((p) => !before.has(p.pid)) ?? (owners.length === 1 ? owners[0] : undefined);
  const cookie = cookieOf(r.headers);
  const ownerPid = owner?.pid ?? (await ownerFromLog(d, cookie));
  return { cookie, port: (JSON.parse(r.body.toString()) as { port: number }).port, owner: ownerPid };
}

/** When a child that already owned sessions took the login, the line of a request that reaches
 * it from another child names it (a request that lands on the owner itself logs none). */
async function ownerFromLog(d: Daemon, cookie: string): Promise<number> {
  const routed = () => d.log().filter((l) => /^(route request over IPC|hand connection over)/.test(l.msg));
  for (let i = 0; i < ATTEMPTS; i++) {
    const before = routed().length;
    const r = await request(d.port, '/app/whoami', { headers: { cookie } });
    assert.equal(r.status, 200);
    const deadline = Date.now() + 500;
    while (routed().length === before && Date.now() < deadline) await sleep(20);
    const line = routed()[before];
    if (line !== undefined) return Number(line.owner);
  }
  assert.fail('owner unknown');
}

/** One raw connection: writes `parts` (pausing `gapMs` between them), then reads until the
 * server closes, or `responses` answers have arrived. */
async function raw(d: Daemon, parts: Buffer[], o: { gapMs?: number; responses?: number; end?: boolean } = {}): Promise<{ text: string; socket: net.Socket }> {
  const socket = net.connect(d.port, '127.0.0.1');
  socket.setNoDelay(true);
  await once(socket, 'connect');
  let text = '';
  const done = new Promise<void>((resolve, reject) => {
    socket.on('data', (c: Buffer) => {
      text += c.toString('latin1');
      if (o.responses !== undefined && complete(text) >= o.responses) resolve();
    });
    socket.on('end', () => resolve());
    socket.on('close', () => resolve());
    socket.on('error', reject);
    setTimeout(() => reject(new Error(`no answer within 10 s; got ${JSON.stringify(text)}`)), 10_000).unref();
  });
  for (let i = 0; i < parts.length; i++) {
    if (i > 0 && o.gapMs) await sleep(o.gapMs);
    socket.write(parts[i]);
  }
  if (o.end) socket.end();
  await done;
  return { text, socket };
}

/** Complete responses (Content-Length framed) in `text`. */
function complete(text: string): number {
  let n = 0;
  let at = 0;
  for (;;) {
    const end = text.indexOf('\r\n\r\n', at);
    if (end < 0) return n;
    const length = /content-length: (\d+)/i.exec(text.slice(at, end))?.[1];
    const stop = end + 4 + Number(length ?? 0);
    if (stop > text.length) return n;
    n++;
    at = stop;
  }
}

/** The JSON bodies of the responses in `text`, with their status. */
function bodies(text: string): Array<{ status: number; body: Record<string, unknown> }> {
  const out: Array<{ status: number; body: Record<string, unknown> }> = [];
  let at = 0;
  for (;;) {
    const end = text.indexOf('\r\n\r\n', at);
    if (end < 0) return out;
    const head = text.slice(at, end);
    const length = Number(/content-length: (\d+)/i.exec(head)?.[1] ?? 0);
    const body = text.slice(end + 4, end + 4 + length);
    out.push({ status: Number(head.slice(9, 12)), body: body.startsWith('{') ? (JSON.parse(body) as Record<string, unknown>) : {} });
    at = end + 4 + length;
  }
}

function get(path: string, cookie: string, close = false): Buffer {
  return Buffer.from(`GET ${path} HTTP/1.1\r\nHost: x\r\nCookie: ${cookie}\r\n${close ? 'Connection: close\r\n' : ''}\r\n`);
}

const handoffs = (d: Daemon) => logsMatching(d, HANDOFF);
const routes = (d: Daemon) => logsMatching(d, ROUTE);

/** The hand-off lines logged since the first `before`. The child that hands a connection over
 * logs it once the owner has it, and the owner may have answered by then: they are waited for
 * a moment (none may come: the connection may have landed on its owner). */
async function handoffsSince(d: Daemon, before: number, waitMs = 500): Promise<LogLine[]> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const moved = handoffs(d).slice(before);
    if (moved.length > 0 || Date.now() >= deadline) return moved;
    await sleep(20);
  }
}

/**
 * Runs `attempt` on new connections until one lands on a child other than `s.owner` and is
 * handed over (the kernel spreads connections over the children); every attempt must succeed.
 */
async function untilHandedOff(d: Daemon, s: Session, attempt: () => Promise<void>, relaysExpected = false): Promise<void> {
  for (let i = 0; i < ATTEMPTS; i++) {
    const before = handoffs(d).length;
    const routed = routes(d).length;
    await attempt();
    const moved = await handoffsSince(d, before);
    if (moved.length === 0) continue;
    assert.equal(Number(moved[0].to_pid ?? moved[0].owner), s.owner, moved[0].msg);
    assert.notEqual(moved[0].pid, s.owner);
    if (!relaysExpected) assert.equal(routes(d).length, routed, `a handed-over request was relayed as well\n${logText(d)}`);
    return;
  }
  assert.fail(`no connection was handed over in ${ATTEMPTS} attempts\n${logText(d)}`);
}

test('connection hand-off across three children', async (t) => {
  const backend = await statefulBackend(t);
  const d = await launch(t, { config: config(backend), waitChildren: CHILDREN });
  const a = await login(d, 'alice');
  const b = await login(d, 'bob');

  await t.test('a first request of a session owned by another child is served by the owner, keep-alive included', async () => {
    await untilHandedOff(d, a, async () => {
      const { text, socket } = await raw(d, [get('/app/whoami', a.cookie)], { responses: 1 });
      const [r] = bodies(text);
      assert.equal(r.status, 200, text);
      assert.equal(r.body.port, a.port, `${JSON.stringify(a)} ${text}\n${logText(d)}`);
      socket.destroy();
    });
    // The owner holds the connection: an idle keep-alive connection shows there, nowhere else.
    let idleOwner = false;
    for (let i = 0; i < ATTEMPTS && !idleOwner; i++) {
      const before = handoffs(d).length;
      const { text, socket } = await raw(d, [get('/app/whoami', a.cookie)], { responses: 1 });
      assert.equal(bodies(text)[0].body.port, a.port);
      if ((await handoffsSince(d, before)).length > 0) {
        let seen = '';
        await waitFor('the handed-over connection idle at its owner, and only there', async () => {
          const status = await d.status();
          seen = JSON.stringify(status.processes);
          const idle = status.processes.filter((p) => p.keepalive > 0).map((p) => p.pid);
          return idle.length === 1 && idle[0] === a.owner;
        }, 3000).catch(() => assert.fail(seen));
        // And it keeps serving later requests there.
        let more = '';
        socket.on('data', (c: Buffer) => (more += c.toString('latin1')));
        socket.write(get('/app/whoami', a.cookie, true));
        await once(socket, 'close');
        assert.equal(bodies(more)[0].body.port, a.port);
        idleOwner = true;
      }
      socket.destroy();
    }
    assert.ok(idleOwner, 'no handed-over connection seen idle at its owner');
    assert.deepEqual(backend.violations, []);
  });

  await t.test('a POST body that comes in several segments arrives whole', async () => {
    const body = crypto.randomBytes(300_000);
    const sha256 = crypto.createHash('sha256').update(body).digest('hex');
    await untilHandedOff(d, a, async () => {
      const head = Buffer.from(
        `POST /app/upload HTTP/1.1\r\nHost: x\r\nCookie: ${a.cookie}\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`,
      );
      // The header block with the body's first bytes, then the rest in pieces.
      const parts = [Buffer.concat([head, body.subarray(0, 1000)]), body.subarray(1000, 100_000), body.subarray(100_000, 200_000), body.subarray(200_000)];
      const { text } = await raw(d, parts, { gapMs: 30 });
      const [r] = bodies(text);
      assert.equal(r.status, 200, text.slice(0, 300));
      assert.deepEqual({ length: r.body.length, sha256: r.body.sha256, port: r.body.port }, { length: body.length, sha256, port: a.port });
    });
  });

  await t.test('pipelined requests: all answered, in order, each of its own session', async () => {
    await untilHandedOff(d, a, async () => {
      const parts = [Buffer.concat([get('/app/whoami', a.cookie), get('/app/whoami', b.cookie), get('/app/whoami', a.cookie, true)])];
      const { text } = await raw(d, parts);
      const r = bodies(text);
      assert.deepEqual(
        r.map((x) => [x.status, x.body.port]),
        [
          [200, a.port],
          [200, b.port],
          [200, a.port],
        ],
        text,
      );
      // The second request, of another session, is relayed from the owner when its own owner is
      // another child.
    }, true);
    assert.deepEqual(backend.violations, []);
  });

  await t.test('a client that closes right after sending: nothing is left open, and the owner keeps serving', async () => {
    // A request given up by its client in flight on a private connection ends that connection
    // (and the session's state-aware mode), handed over or not: each try takes a fresh session.
    let moved = 0;
    for (let i = 0; i < ATTEMPTS && moved < 3; i++) {
      const s = await login(d, `leaving-${i}`);
      const before = handoffs(d).length;
      const socket = net.connect(d.port, '127.0.0.1');
      await once(socket, 'connect');
      socket.end(get('/app/whoami', s.cookie));
      socket.resume();
      await once(socket, 'close');
      moved += (await handoffsSince(d, before)).length;
    }
    assert.ok(moved > 0, `none of the connections was handed over\n${logText(d)}`);
    await waitFor('every connection to end', async () => {
      const status = await d.status();
      // The status request's own connection is the only one left.
      return status.processes.reduce((n, p) => n + p.conns, 0) === 1;
    });
    const again = await login(d, 'alice-again');
    for (let i = 0; i < 6; i++) {
      const w = await request(d.port, '/app/whoami', { headers: { cookie: again.cookie } });
      assert.equal(w.status, 200);
      assert.equal((JSON.parse(w.body.toString()) as { port: number }).port, again.port);
    }
  });

  await t.test('a first request with a chunked body, or with Expect, stays where it lands and is relayed', async () => {
    // A session of its own: the one before lost its private connection to the clients that left.
    const c = await login(d, 'carol');
    const before = handoffs(d).length;
    const routed = routes(d).length;
    for (let i = 0; i < 12; i++) {
      const chunked = Buffer.from(
        `POST /app/upload HTTP/1.1\r\nHost: x\r\nCookie: ${c.cookie}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n`,
      );
      const up = bodies((await raw(d, [chunked])).text);
      assert.deepEqual([up[0].status, up[0].body.length, up[0].body.port], [200, 5, c.port]);
      const expect = Buffer.from(
        `POST /app/upload HTTP/1.1\r\nHost: x\r\nCookie: ${c.cookie}\r\nContent-Length: 5\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n`,
      );
      const { text } = await raw(d, [expect, Buffer.from('hello')], { gapMs: 20 });
      const answers = bodies(text).filter((r) => r.status !== 100);
      assert.deepEqual([answers[0].status, answers[0].body.length, answers[0].body.port], [200, 5, c.port], text);
    }
    assert.equal(handoffs(d).length, before, 'a chunked or Expect request was handed over');
    assert.ok(routes(d).length > routed, `none was relayed\n${logText(d)}`);
  });

  await t.test('a request of no session, or of an unknown one, is served where it lands', async () => {
    const before = handoffs(d).length;
    for (let i = 0; i < 10; i++) {
      assert.equal((await request(d.port, '/app/whoami')).status, 200);
      assert.equal((await request(d.port, '/app/whoami', { headers: { cookie: 'SID=not-a-session' } })).status, 200);
    }
    assert.equal(handoffs(d).length, before);
  });

  await t.test('an owner killed just before: 502 within a second, as with the relay', async () => {
    const s = await login(d, 'doomed');
    process.kill(s.owner, 'SIGKILL');
    await waitFor('the owner to die', () => !isAlive(s.owner));
    const started = Date.now();
    const r = await request(d.port, '/app/whoami', { headers: { cookie: s.cookie }, timeoutMs: 5000 });
    const took = Date.now() - started;
    assert.equal(r.status, 502, r.body.toString());
    assert.ok(took < 1000, `answered in ${took} ms`);
    await d.waitLog('the line naming the dead owner', (l) => new RegExp(`owner pid ${s.owner} died|cannot connect to pid ${s.owner}`).test(l.msg));
  });
});

test('a TLS connection is never handed over: its requests are relayed', async (t) => {
  const backend = await statefulBackend(t);
  const dir = fs.mkdtempSync(path.join('/tmp', 'mpmproxy-handoff-tls-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const { root, intermediate } = pki('handoff');
  const leaf = issue('localhost', { issuer: intermediate, names: ['localhost'] });
  const f = writePems(dir, { 'leaf.pem': leaf.certPem, 'leaf.key': leaf.keyPem, 'chain.pem': intermediate.certPem });
  const tlsPort = await freePort();
  const d = await launch(t, {
    config: config(backend, [
      'Listen 127.0.0.1:@PORT@',
      `Listen 127.0.0.1:${tlsPort} https`,
      `SSLCertificateFile ${f['leaf.pem']}`,
      `SSLCertificateKeyFile ${f['leaf.key']}`,
      `SSLCertificateChainFile ${f['chain.pem']}`,
    ]),
    waitChildren: CHILDREN,
  });
  const s = await login(d, 'secure');
  let relayed = 0;
  for (let i = 0; i < 15; i++) {
    const socket = tls.connect({ host: '127.0.0.1', port: tlsPort, ca: root.certPem, servername: 'localhost' });
    await once(socket, 'secureConnect');
    let text = '';
    socket.on('data', (c: Buffer) => (text += c.toString('latin1')));
    const before = routes(d).length;
    socket.write(get('/app/whoami', s.cookie, true));
    await once(socket, 'close');
    const [r] = bodies(text);
    assert.equal(r.status, 200, text);
    assert.equal(r.body.port, s.port);
    relayed += routes(d).length - before;
  }
  assert.equal(handoffs(d).length, 0, 'a TLS connection was handed over');
  assert.ok(relayed > 0, `no TLS request was relayed\n${logText(d)}`);
});

test('first requests the look at new connections cannot use: too long, in pieces, stalled, abandoned', async (t) => {
  const backend = await statefulBackend(t);
  const d = await launch(t, { config: config(backend, ['Timeout 2', 'LimitRequestHeader 2048']), waitChildren: CHILDREN });
  const s = await login(d, 'dave');

  await t.test('a header block over LimitRequestHeader gets 431 wherever it lands, and is not handed over', async () => {
    const before = handoffs(d).length;
    for (let i = 0; i < 6; i++) {
      const long = Buffer.from(`GET /app/whoami HTTP/1.1\r\nHost: x\r\nCookie: ${s.cookie}\r\nX-Filler: ${'f'.repeat(3000)}\r\n\r\n`);
      const { text } = await raw(d, [long]);
      assert.match(text, /^HTTP\/1\.1 431 /, text.slice(0, 200));
    }
    assert.equal((await handoffsSince(d, before, 200)).length, 0);
  });

  await t.test('a header block that comes in pieces is served whole by the owner', async () => {
    await untilHandedOff(d, s, async () => {
      const head = `GET /app/whoami HTTP/1.1\r\nHost: x\r\nCookie: ${s.cookie}\r\nConnection: close\r\n\r\n`;
      const parts = [head.slice(0, 20), head.slice(20, 50), head.slice(50)].map((p) => Buffer.from(p));
      const [r] = bodies((await raw(d, parts, { gapMs: 40 })).text);
      assert.deepEqual([r.status, r.body.port], [200, s.port]);
    });
  });

  await t.test('a header block that stops coming gets 408 after Timeout', async () => {
    for (let i = 0; i < 3; i++) {
      const started = Date.now();
      const { text } = await raw(d, [Buffer.from(`GET /app/whoami HTTP/1.1\r\nHost: x\r\nCookie: ${s.cookie}\r\n`)]);
      const took = Date.now() - started;
      assert.match(text, /^HTTP\/1\.1 408 /, text);
      assert.ok(took >= 1500 && took < 6000, `answered after ${took} ms`);
    }
  });

  await t.test('a client that leaves in the middle of its header block leaves nothing open', async () => {
    for (let i = 0; i < 6; i++) await raw(d, [Buffer.from(`GET /app/whoami HTTP/1.1\r\nCookie: ${s.cookie}`)], { end: true });
    await waitFor('every connection to end', async () => (await d.status()).processes.reduce((n, p) => n + p.conns, 0) === 1);
    const r = await request(d.port, '/app/whoami', { headers: { cookie: s.cookie } });
    assert.deepEqual([r.status, (JSON.parse(r.body.toString()) as { port: number }).port], [200, s.port]);
  });
});

test('a retiring owner keeps a connection handed over for its session open past ExitTimeout, and closes it once the session ends', async (t) => {
  const backend = await statefulBackend(t);
  const d = await launch(t, {
    config: config(backend, ['ExitTimeout 1', 'StateAwareSessionTimeout 60']).replace(`StartServers ${CHILDREN}`, 'StartServers 1'),
    waitChildren: 1,
  });
  const s = await login(d, 'staying');
  d.signal('SIGUSR1');
  // The new generation accepts every connection now; the old owner accepts none (once it has
  // taken in the restart: the master marks it stopping before).
  await d.waitAccepting(1, 1);
  await waitFor('the old owner to stop accepting', async () => (await d.status()).processes.some((p) => p.pid === s.owner && p.accepting === 0));
  const before = handoffs(d).length;
  const { text, socket } = await raw(d, [get('/app/whoami', s.cookie)], { responses: 1 });
  assert.equal((await handoffsSince(d, before)).length, 1, `not handed over\n${logText(d)}`);
  assert.match(text, /\r\nConnection: keep-alive\r\n/i);
  assert.equal(bodies(text)[0].body.port, s.port);
  let more = '';
  socket.on('data', (c: Buffer) => (more += c.toString('latin1')));
  // Past ExitTimeout the connection still serves the session, at the owner.
  await sleep(1500);
  socket.write(get('/app/whoami', s.cookie));
  await waitFor('the second answer', () => complete(more) >= 1);
  assert.equal(bodies(more)[0].body.port, s.port);
  assert.equal(handoffs(d).length, before + 1);
  // The backend ends the mode: the owner has no session left, answers, and closes the connection.
  socket.write(get('/app/logout', s.cookie));
  const closed = once(socket, 'close');
  await waitFor('the logout answer', () => complete(more) >= 2);
  await Promise.race([closed, sleep(3000).then(() => assert.fail('the owner kept the connection after its session ended'))]);
  await d.waitLog('the old owner to leave', (l) => l.msg === `child pid ${s.owner} exited (exit code 0)`, 10_000);
});

test('prefork with sessions: each child holds one connection at a time, and a session reaches its owner on new connections', async (t) => {
  const backend = await statefulBackend(t);
  const d = await launch(t, {
    config: [
      'MPM prefork',
      'StartServers 3',
      'MinSpareServers 1',
      'MaxSpareServers 3',
      'MaxRequestWorkers 3',
      ...SESSION_LINES,
      'LogLevel info proxy:debug',
      `ProxyPass /app/ ${backend.url}/`,
      '<Location /server-status>\n  SetHandler server-status\n</Location>',
    ].join('\n'),
    waitChildren: 3,
  });
  const s = await login(d, 'carol');
  // Which child accepts is the kernel's choice: new connections until one lands elsewhere (its
  // log line may come after the answer).
  for (let i = 0; i < ATTEMPTS && logsMatching(d, HANDOFF).length === 0; i++) {
    const r = await request(d.port, '/app/whoami', { headers: { cookie: s.cookie } });
    assert.equal(r.status, 200);
    assert.deepEqual(JSON.parse(r.body.toString()), { port: s.port, user: 'carol' });
    if (i >= 12) await sleep(20);
  }
  await waitFor(`a connection landing on another child, handed over\n${logText(d)}`, () => logsMatching(d, HANDOFF).length > 0 || null, 2000);

  // Three keep-alive connections take the three children; a fourth waits in the backlog.
  const held: RawConnection[] = [];
  t.after(() => held.forEach((c) => c.close()));
  for (let i = 0; i < 3; i++) {
    const c = await RawConnection.open(d.port);
    held.push(c);
    assert.equal((await c.get('/app/whoami')).status, 200);
  }
  const fourth = await RawConnection.open(d.port);
  held.push(fourth);
  fourth.send('/app/whoami');
  await assert.rejects(fourth.response(500), /no response within 500 ms/, 'no child was free');
  held[0].close();
  assert.equal((await fourth.response(5000)).status, 200);
});
