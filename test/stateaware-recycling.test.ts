// Recycling that never breaks a state-aware session: a child that owns sessions and is recycled
// (MaxConnectionsPerChild, graceful restart, MemoryPolicy restart) stops accepting but keeps
// serving its sessions through its IPC socket until they end, or StateAwareSessionTimeout passes;
// a graceful stop drains them within ExitTimeout; an owner killed with SIGKILL costs its sessions
// one clear 502, and the next login works.
import assert from 'node:assert/strict';
import http from 'node:http';
import { test } from 'node:test';
import { request, type Daemon, type LogLine } from './helpers/daemon';
import { HEADROOM, limitAboveIdle, oneChildConfig, pushUntil, tally } from './helpers/memory';
import { childPidsOf, isAlive, launch, launchGate, logText, logsMatching, sleep, waitExit, waitFor } from './helpers/mpm';
import { cookieOf, SESSION_LINES, stateAwareConfig, statefulBackend } from './helpers/stateaware';
import { ownerKey, sessionLabel } from '../src/stateaware/session-key';

const config = stateAwareConfig;

interface Session {
  cookie: string;
  port: number;
}

async function login(d: Daemon, user: string, agent?: http.Agent): Promise<Session> {
  const r = await request(d.port, `/app/login?user=${user}`, { agent });
  assert.equal(r.status, 200, r.body.toString());
  return { cookie: cookieOf(r.headers), port: (JSON.parse(r.body.toString()) as { port: number }).port };
}

/** A request of the session on a new connection; it must reach the session's connection. */
async function use(d: Daemon, s: Session, path = '/app/whoami'): Promise<void> {
  const r = await request(d.port, path, { headers: { cookie: s.cookie } });
  assert.equal(r.status, 200, `${path}: ${r.status} ${r.body.toString()}\n${logText(d)}`);
  assert.equal((JSON.parse(r.body.toString()) as { port: number }).port, s.port, `${path} left the session's connection\n${logText(d)}`);
}

/** The pid of the child that owns the session, from the line it logged when it took it. */
function ownerOf(d: Daemon, s: Session): number {
  const label = sessionLabel(ownerKey(s.cookie.slice(s.cookie.indexOf('=') + 1)));
  const line = d.log().find((l) => l.session === label && /is state-aware/.test(l.msg));
  assert.ok(line, `no owner logged for session ${label}\n${logText(d)}`);
  return line.pid;
}

const exitedLine = (pid: number) => (l: LogLine) => l.msg === `child pid ${pid} exited (exit code 0)`;

test('MaxConnectionsPerChild 5 with live sessions: no session breaks; owners retire once their sessions end', async (t) => {
  const backend = await statefulBackend(t);
  const d = await launch(t, { config: config(backend, ['StartServers 3', 'MaxConnectionsPerChild 5']), waitChildren: 3 });
  const sessions = [await login(d, 'a'), await login(d, 'b'), await login(d, 'c')];
  const owners = new Set<number>();
  for (const p of (await d.status()).processes) if (p.stateaware > 0) owners.add(p.pid);
  // Far more connections than the children's budgets: every child is recycled several times.
  for (let round = 0; round < 20; round++) for (const s of sessions) await use(d, s);
  assert.deepEqual(backend.violations, []);
  const kept = logsMatching(d, /reached MaxConnectionsPerChild and keeps its state-aware sessions/);
  assert.ok(kept.length >= 1, logText(d));
  for (const l of kept) assert.ok(owners.has(l.child as number), `child ${String(l.child)} owned no session`);
  // Owners past their budget are shown stopping, with their sessions.
  const status = await d.status();
  const lingering = status.processes.filter((p) => p.stateaware > 0);
  assert.ok(lingering.some((p) => p.stopping === 1), JSON.stringify(status.processes));
  assert.equal(lingering.reduce((n, p) => n + p.stateaware, 0), 3);
  // The sessions end: their owners leave on their own.
  for (const s of sessions) {
    const r = await request(d.port, '/app/logout', { headers: { cookie: s.cookie } });
    assert.equal(r.status, 200, logText(d, 400));
  }
  for (const l of kept) await d.waitLog(`owner ${String(l.child)} to leave`, exitedLine(l.child as number), 10_000);
  assert.equal(logsMatching(d, /exit (code [1-9]|signal)/).length, 0, 'no child crashed or was killed');
  assert.equal(logsMatching(d, /cannot connect|cannot send request/).length, 0);
});

test('graceful restart: the old owner keeps its sessions past ExitTimeout, until they end or StateAwareSessionTimeout', async (t) => {
  const backend = await statefulBackend(t);
  const conf = config(backend, ['StartServers 2', 'ExitTimeout 1', 'StateAwareSessionTimeout 4']);
  const d = await launch(t, { config: conf, waitChildren: 2 });
  // Two sessions on one owner: logged in over one connection, which one child serves.
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  t.after(() => agent.destroy());
  const ending = await login(d, 'ending', agent);
  const idle = await login(d, 'idle', agent);
  const owner = ownerOf(d, ending);
  assert.equal(ownerOf(d, idle), owner);
  d.signal('SIGUSR1');
  await d.waitAccepting(2, 1);
  // Past ExitTimeout the old owner still serves both sessions through IPC.
  await sleep(1500);
  assert.ok(isAlive(owner), 'the owner outlived ExitTimeout for its sessions');
  for (let i = 0; i < 6; i++) await use(d, ending);
  const status = await d.status();
  const old = status.processes.find((p) => p.pid === owner);
  assert.ok(old && old.stopping === 1 && old.stateaware === 2, JSON.stringify(status.processes));
  assert.equal(Number(status.fields.StateAwareOwners), 1);
  await request(d.port, '/app/logout', { headers: { cookie: ending.cookie } });
  // The idle one ends at StateAwareSessionTimeout, and then the old owner leaves.
  const gone = await d.waitLog('the idle session to end', (l) => /^state-aware session [0-9a-f]{8} ended: (idle for|its owner is retiring and) StateAwareSessionTimeout/.test(l.msg), 10_000).catch((err: Error) => assert.fail(`${err.message}\n${logText(d, 80)}`));
  assert.equal(gone.pid, owner);
  await d.waitLog('the old owner to leave', exitedLine(owner), 5000);
  assert.equal(logsMatching(d, /exit (code [1-9]|signal)/).length, 0, logText(d));
  // Its sessions are ordinary from then on, and a new login is state-aware again.
  assert.equal((await request(d.port, '/app/whoami', { headers: { cookie: idle.cookie } })).status, 200);
  const again = await login(d, 'again');
  for (let i = 0; i < 4; i++) await use(d, again);
});

test('MemoryPolicy restart: the owner over LimitMemory is replaced, keeps its session until it ends, then leaves', async (t) => {
  const gate = await launchGate(t);
  const backend = await statefulBackend(t);
  const conf = oneChildConfig(gate, ['MemoryPolicy restart', ...SESSION_LINES, 'LogLevel info proxy:debug', `ProxyPass /app/ ${backend.url}/`]);
  const d = await launch(t, { config: conf(), waitChildren: 1 });
  const { child } = await limitAboveIdle(d, conf, HEADROOM);
  const s = await login(d, 'heavy');
  assert.equal(ownerOf(d, s), child);
  const pushed = await pushUntil(t, d, gate, (l) => l.child === child && /MemoryPolicy restart: replacing it gracefully/.test(l.msg));
  await d.waitLog('the hand-over', (l) => l.child === child && /drains/.test(l.msg));
  gate.open();
  assert.deepEqual(tally(await pushed.results), { 200: (await pushed.results).length });
  // The replacement takes the new connections; the session's requests are relayed to the old owner.
  await waitFor('the replacement accepting', async () => (await d.status()).processes.some((p) => p.pid !== child && p.accepting === 1));
  for (let i = 0; i < 5; i++) await use(d, s);
  assert.ok(isAlive(child), 'the old owner waits for its session');
  assert.ok(
    logsMatching(d, /^(route request over IPC|hand connection over to the owner)/).some((l) => l.pid !== child),
    'the replacement relayed (or handed connections) to the old owner',
  );
  await request(d.port, '/app/logout', { headers: { cookie: s.cookie } });
  await d.waitLog('the old owner to leave', exitedLine(child), 10_000);
  assert.deepEqual(backend.violations, []);
});

test('SIGKILL of an owner: the next request of its sessions gets 502 within a second, with the dead owner named; a new login works', async (t) => {
  const backend = await statefulBackend(t);
  const d = await launch(t, { config: config(backend, ['StartServers 3']), waitChildren: 3 });
  const s = await login(d, 'doomed');
  const owner = ownerOf(d, s);
  process.kill(owner, 'SIGKILL');
  await waitFor('the owner to die', () => !isAlive(owner));
  const started = Date.now();
  const r = await request(d.port, '/app/whoami', { headers: { cookie: s.cookie }, timeoutMs: 5000 });
  const took = Date.now() - started;
  assert.equal(r.status, 502, r.body.toString());
  assert.ok(took < 1000, `answered in ${took} ms`);
  const line = await d.waitLog('the line naming the dead owner', (l) => new RegExp(`owner pid ${owner} died|cannot connect to pid ${owner}`).test(l.msg));
  assert.equal(line.level, 'error');
  await d.waitLog('the master to see the owner die', (l) => l.msg === `child pid ${owner} exit signal SIGKILL (9)`);
  // The session left state-aware mode: its next request is an ordinary one.
  const next = await request(d.port, '/app/whoami', { headers: { cookie: s.cookie } });
  assert.equal(next.status, 200);
  const fresh = await login(d, 'again');
  for (let i = 0; i < 6; i++) await use(d, fresh);
  assert.equal(Number((await d.status()).fields.StateAwareSessions), 1);
});

test('graceful stop drains state-aware sessions within ExitTimeout', async (t) => {
  const backend = await statefulBackend(t);
  const d = await launch(t, { config: config(backend, ['StartServers 2', 'ExitTimeout 3', 'StateAwareSessionTimeout 60']), waitChildren: 2 });
  const owner = ownerOf(d, await login(d, 'staying'));
  const started = Date.now();
  d.signal('SIGWINCH');
  await waitExit(d, 8000);
  const took = Date.now() - started;
  assert.ok(took < 3000 + 2000, `stopped in ${took} ms`);
  assert.ok(!isAlive(owner));
  assert.ok(childPidsOf(d).length === 0);
});
