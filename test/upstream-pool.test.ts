// Backend pools of a running daemon: max= connections per child with the rest of the requests
// queued, keep-alive reuse, and host names resolved once per ProxyDNSCacheTimeout.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { request, waitFor } from './helpers/daemon';
import { childPidsOf, launch, launchGate, logsMatching } from './helpers/mpm';
import { connectionsTo, namedBackend } from './helpers/upstream';

const statusPage = '<Location /server-status>\n SetHandler server-status\n</Location>';

test('pools: max= per child, queued requests, keep-alive, cached DNS', async (t) => {
  const gate = await launchGate(t);
  const kept = await namedBackend(t, 'kept');
  const named = await namedBackend(t, 'named');
  const gatePort = Number(new URL(gate.url).port);
  const daemon = await launch(t, {
    config: [
      'StartServers 2',
      'ThreadsPerChild 16',
      'LogLevel info proxy:debug',
      statusPage,
      `ProxyPass /gate/ ${gate.url}/ max=2`,
      `ProxyPass /kept/ ${kept.url}/ max=2`,
      `ProxyPass /named/ http://localhost:${named.port}/ disablereuse=On`,
    ].join('\n'),
    waitChildren: 2,
  });
  const children = childPidsOf(daemon);
  assert.equal(children.length, 2);

  await t.test('max=2: no child opens a third connection; the other requests wait for one and succeed', async () => {
    const answers = Promise.all(Array.from({ length: 12 }, () => request(daemon.port, '/gate/')));
    await waitFor('requests to reach the gate', () => gate.requests >= 2);
    // Give every child time to have opened all it would.
    await new Promise((r) => setTimeout(r, 500));
    const perChild = connectionsTo(gatePort, children);
    assert.ok([...perChild.values()].every((n) => n <= 2), JSON.stringify([...perChild]));
    assert.ok(gate.requests <= 4 && gate.inFlight <= 4, `${gate.requests} requests at the backend`);
    gate.open();
    const results = await answers;
    assert.deepEqual(results.map((r) => r.status), Array(12).fill(200));
    assert.equal(gate.requests, 12);
    assert.ok(gate.maxInFlight <= 4, `${gate.maxInFlight} at once`);
  });

  await t.test('keep-alive: sequential requests reuse the pool connections', async () => {
    for (let i = 0; i < 20; i++) assert.equal((await request(daemon.port, '/kept/')).status, 200);
    assert.equal(kept.requests, 20);
    assert.ok(kept.maxConnections <= 4, `${kept.maxConnections} connections for 20 requests`);
  });

  await t.test('a backend host name is resolved once per child for its TTL (3600 s by default)', async () => {
    // disablereuse=On: every request opens a connection, and so needs the address.
    for (let i = 0; i < 12; i++) assert.equal((await request(daemon.port, '/named/')).status, 200);
    assert.equal(named.requests, 12);
    const lookups = logsMatching(daemon, /^resolved backend host name$/).filter((l) => l.host === 'localhost');
    const perChild = new Map<number, number>();
    for (const l of lookups) perChild.set(l.pid, (perChild.get(l.pid) ?? 0) + 1);
    assert.ok(lookups.length >= 1 && [...perChild.values()].every((n) => n === 1), JSON.stringify([...perChild]));
    assert.deepEqual(lookups[0].ttl, 3600);
  });
});
