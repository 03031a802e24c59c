// The counting limits on a running daemon with two children: each holds for the server as a
// whole (connections spread over both children), refuses with the right answer and a log line
// naming it, and a child killed with SIGKILL leaves nothing counted. Each test reads
// server-status on one connection of its own from another address (the observer), counted like
// any other.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RawConnection } from './helpers/cli';
import { waitFor } from './helpers/daemon';
import { connections, getFrom, limitLine, limitsDaemon, limitsStatus, observer, waitSpread } from './helpers/limits';
import { connectionOwners, launchGate } from './helpers/mpm';

/** A connection the server closed at accept: closed soon, without a byte of answer. */
async function assertClosedAtAccept(port: number, from = '127.0.0.1'): Promise<void> {
  const c = await RawConnection.open(port, '127.0.0.1', from);
  try {
    c.send('/server-status?auto');
    await assert.rejects(c.response(3000), /closed before a whole response \(0 bytes\)/);
  } finally {
    c.close();
  }
}

test('LimitConnections 4: the fifth connection over both children is closed at accept, counted and logged', async (t) => {
  const d = await limitsDaemon(t, 'LimitConnections 4');
  const watch = await observer(t, d);
  const held = await connections(t, d.port, 3);
  assert.equal((await waitSpread(watch, 4)).connections, 4);
  await assertClosedAtAccept(d.port);
  const line = await limitLine(d, 'LimitConnections');
  assert.deepEqual([line.level, line.LimitConnections, line.client], ['warn', 4, '127.0.0.1']);
  // A closed connection is no longer counted: another takes its place.
  const counted = (n: number) => async () => {
    const r = await limitsStatus(watch);
    return r.connections === n ? r : null;
  };
  held[0].close();
  await waitFor('the closed connection to be uncounted', counted(3));
  await connections(t, d.port, 1);
  const s = await waitFor('the new connection counted in its place', counted(4));
  assert.deepEqual([s.connections, s.rejections.LimitConnections], [4, 1]);
});

test('LimitConnectionsPerClient 3: a fourth connection from one address is closed, another address is served', async (t) => {
  const d = await limitsDaemon(t, 'LimitConnectionsPerClient 3');
  const watch = await observer(t, d);
  await connections(t, d.port, 3);
  await waitSpread(watch, 4);
  await assertClosedAtAccept(d.port);
  const [other] = await connections(t, d.port, 1, '127.0.0.2');
  assert.equal((await other.get('/server-status?auto')).status, 200);
  const line = await limitLine(d, 'LimitConnectionsPerClient');
  assert.deepEqual([line.level, line.LimitConnectionsPerClient, line.client], ['warn', 3, '127.0.0.1']);
  assert.equal((await limitsStatus(watch)).rejections.LimitConnectionsPerClient, 1);
});

test('LimitClients 3: a fourth client address is closed at accept, the connected ones may open more', async (t) => {
  const d = await limitsDaemon(t, 'LimitClients 3');
  const watch = await observer(t, d);
  await connections(t, d.port, 2, '127.0.0.1');
  await connections(t, d.port, 1, '127.0.0.2');
  await waitSpread(watch, 4);
  // The scoreboard may count a connection a moment before its client is: wait for the three.
  await waitFor('three client addresses counted', async () => ((await limitsStatus(watch)).clients === 3 ? true : null));
  await assertClosedAtAccept(d.port, '127.0.0.3');
  const [more] = await connections(t, d.port, 1, '127.0.0.2');
  assert.equal((await more.get('/server-status?auto')).status, 200);
  const line = await limitLine(d, 'LimitClients');
  assert.deepEqual([line.level, line.LimitClients, line.client], ['warn', 3, '127.0.0.3']);
  const s = await limitsStatus(watch);
  assert.deepEqual([s.clients, s.rejections.LimitClients], [3, 1]);
});

test('LimitRequestsPerClient 2: a third request in progress from one address is answered 429, over both children', async (t) => {
  const gate = await launchGate(t);
  const d = await limitsDaemon(t, 'LimitRequestsPerClient 2', `ProxyPass /b/ ${gate.url}/`);
  const watch = await observer(t, d);
  const conns = await connections(t, d.port, 4);
  const s = await waitSpread(watch, 5);
  // One connection on each child carries a request held at the backend.
  const owners = connectionOwners(d.port, s.processes.map((p) => p.pid));
  const onChild = (pid: number) => conns.find((c) => owners.get(c.socket.localPort ?? 0) === pid);
  const held = s.processes.map((p) => onChild(p.pid)).filter((c): c is RawConnection => c !== undefined);
  assert.equal(held.length, 2, 'a connection on each child');
  for (const c of held) c.send('/b/held');
  await waitFor('two requests at the backend', () => gate.inFlight === 2);
  const third = await getFrom(d.port, '/b/third', '127.0.0.1');
  assert.equal(third.status, 429);
  assert.match(third.body, /LimitRequestsPerClient/);
  const line = await limitLine(d, 'LimitRequestsPerClient');
  assert.deepEqual([line.level, line.status, line.url], ['info', 429, '/b/third']);
  assert.equal((await limitsStatus(watch)).rejections.LimitRequestsPerClient, 1, 'another client is not limited');
  gate.open();
  for (const c of held) assert.equal((await c.response()).status, 200);
  assert.equal((await getFrom(d.port, '/b/after', '127.0.0.1')).status, 200, 'the finished requests are no longer counted');
});

test('SIGKILL of a child holding connections: its share is taken off within a second', async (t) => {
  const d = await limitsDaemon(t, 'LimitConnections 200', 'LimitConnectionsPerClient 50');
  const watch = await observer(t, d);
  const held = await connections(t, d.port, 50);
  const before = await waitSpread(watch, 51);
  assert.deepEqual([before.connections, before.clients], [51, 2]);
  const watchedBy = connectionOwners(d.port, before.processes.map((p) => p.pid)).get(watch.socket.localPort ?? 0);
  const victim = before.processes.filter((p) => p.pid !== watchedBy)[0];
  assert.ok(victim.conns > 0, 'the victim holds connections');
  process.kill(victim.pid, 'SIGKILL');
  const killedAt = Date.now();
  const after = await waitFor('the counters to drop the dead child', async () => {
    const s = await limitsStatus(watch);
    return s.connections === 51 - victim.conns ? s : null;
  }, 3000, 20);
  assert.ok(Date.now() - killedAt < 1000, `counted right after ${Date.now() - killedAt} ms`);
  assert.equal(after.clients, 2);
  // The address's own count went down too: it may open again what the dead child held, and no more.
  await waitFor('the reset connections to be seen closed', () => held.filter((c) => c.isClosed).length === victim.conns);
  await connections(t, d.port, victim.conns);
  await assertClosedAtAccept(d.port);
});
