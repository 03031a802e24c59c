// The counting limits on a running daemon with two children: each holds for the server as a
// whole (connections spread over both children), refuses with the right answer and a log line
// naming it, and a child killed with SIGKILL leaves nothing counted.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RawConnection } from './helpers/cli';
import { request, waitFor } from './helpers/daemon';
import { connections, getFrom, limitLine, limitsDaemon, limitsStatus, OBSERVER, waitSpread } from './helpers/limits';
import { launchGate } from './helpers/mpm';

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
  const held = await connections(t, d.port, 4);
  const s = await waitSpread(held[0], 4);
  assert.equal(s.connections, 4);
  await assertClosedAtAccept(d.port);
  const line = await limitLine(d, 'LimitConnections');
  assert.deepEqual([line.level, line.LimitConnections, line.client], ['warn', 4, '127.0.0.1']);
  held.pop()?.close();
  const after = await waitFor('the closed connection to be uncounted', async () => {
    const r = await limitsStatus(d);
    return r.connections === 4 ? r : null;
  });
  assert.ok(after.rejections.LimitConnections >= 1, JSON.stringify(after.rejections));
});

test('LimitConnectionsPerClient 3: a fourth connection from one address is closed, another address is served', async (t) => {
  const d = await limitsDaemon(t, 'LimitConnectionsPerClient 3');
  const held = await connections(t, d.port, 3);
  await waitSpread(held[0], 3);
  await assertClosedAtAccept(d.port);
  const other = await connections(t, d.port, 1, '127.0.0.2');
  assert.equal((await other[0].get('/server-status?auto')).status, 200);
  const line = await limitLine(d, 'LimitConnectionsPerClient');
  assert.deepEqual([line.level, line.LimitConnectionsPerClient, line.client], ['warn', 3, '127.0.0.1']);
  assert.equal((await limitsStatus(d)).rejections.LimitConnectionsPerClient, 1);
});

test('LimitClients 2: a third client address is closed at accept, the two connected ones may open more', async (t) => {
  const d = await limitsDaemon(t, 'LimitClients 2');
  const first = await connections(t, d.port, 2, '127.0.0.1');
  await connections(t, d.port, 1, '127.0.0.2');
  const s = await waitSpread(first[0], 3);
  assert.equal(s.clients, 2);
  await assertClosedAtAccept(d.port, '127.0.0.3');
  const more = await connections(t, d.port, 1, '127.0.0.2');
  assert.equal((await more[0].get('/server-status?auto')).status, 200);
  const line = await limitLine(d, 'LimitClients');
  assert.deepEqual([line.level, line.LimitClients, line.client], ['warn', 2, '127.0.0.3']);
  assert.equal((await limitsStatus(first[0])).rejections.LimitClients, 1);
});

test('LimitRequestsPerClient 2: a third request in progress from one address is answered 429, over both children', async (t) => {
  const gate = await launchGate(t);
  const d = await limitsDaemon(t, 'LimitRequestsPerClient 2', `ProxyPass /b/ ${gate.url}/`);
  const held = await connections(t, d.port, 2);
  for (const c of held) c.send('/b/held');
  await waitFor('two requests at the backend', () => gate.inFlight === 2);
  const busy = (await limitsStatus(d)).processes.map((p) => p.busy);
  assert.ok(busy.every((b) => b >= 1), `requests in progress on both children: ${busy}`);
  const third = await getFrom(d.port, '/b/third', '127.0.0.1');
  assert.equal(third.status, 429);
  assert.match(third.body, /LimitRequestsPerClient/);
  assert.equal((await getFrom(d.port, '/server-status?auto', OBSERVER)).status, 200, 'another client is not limited');
  const line = await limitLine(d, 'LimitRequestsPerClient');
  assert.deepEqual([line.level, line.status, line.url], ['info', 429, '/b/third']);
  gate.open();
  for (const c of held) assert.equal((await c.response()).status, 200);
  assert.equal((await request(d.port, '/b/after')).status, 200, 'the finished requests are no longer counted');
});

test('SIGKILL of a child holding connections: its share is taken off within a second', async (t) => {
  const d = await limitsDaemon(t, 'LimitConnections 200', 'LimitConnectionsPerClient 60');
  const held = await connections(t, d.port, 50);
  const before = await waitSpread(d, 51);
  assert.equal(before.connections, 51);
  assert.equal(before.clients, 2);
  const victim = before.processes.reduce((a, b) => (b.conns > a.conns ? b : a));
  process.kill(victim.pid, 'SIGKILL');
  const killedAt = Date.now();
  // The kernel resets the dead child's connections; the rest, and the status request, are true.
  const alive = () => held.filter((c) => !c.isClosed).length;
  const after = await waitFor(
    'the counters to drop the dead child',
    async () => {
      const s = await limitsStatus(d);
      return s.connections === alive() + 1 && alive() < 50 ? s : null;
    },
    3000,
    20,
  );
  assert.ok(Date.now() - killedAt < 1000, `counted right after ${Date.now() - killedAt} ms`);
  assert.equal(after.clients, 2);
  // The address's own count went down too: it may open exactly what the dead child held, and no more.
  await connections(t, d.port, 60 - alive());
  await assertClosedAtAccept(d.port);
});
