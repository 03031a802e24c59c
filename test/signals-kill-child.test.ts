// A child killed with SIGKILL under load: the master logs it as an error and starts a
// replacement at once; only the connections the dead child held are lost, every other client
// keeps getting 200.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  childPidsOf,
  connectionOwners,
  describeFailures,
  launchProxy,
  logText,
  sleep,
  startLoad,
  statusNow,
  waitFor,
} from './helpers/mpm';

const CLIENTS = 8;

test('kill -9 of a child under load: replaced within a second, other connections unaffected', async (t) => {
  const { daemon } = await launchProxy(t, ['StartServers 2', 'ThreadsPerChild 8', 'MinSpareThreads 1'], { waitChildren: 2 });
  const before = childPidsOf(daemon);
  assert.equal(before.length, 2);
  const load = startLoad({ port: daemon.port, path: '/b/slow?ms=5', clients: CLIENTS, keepAlive: true });
  t.after(() => load.stop());
  // Every client has its connection, spread over both children.
  const owners = await waitFor('connections on both children', () => {
    const o = connectionOwners(daemon.port, before);
    const held = new Set(o.values());
    return o.size >= CLIENTS && held.size === 2 ? o : null;
  });
  const victim = before[0];
  const victimPorts = new Set([...owners].filter(([, pid]) => pid === victim).map(([port]) => port));

  process.kill(victim, 'SIGKILL');
  const killedAt = Date.now();
  const replaced = await waitFor(
    'a new child in the scoreboard',
    async () => {
      const s = await statusNow(daemon, 1000);
      const fresh = s.processes.filter((p) => !before.includes(p.pid));
      return fresh.length === 1 && !s.processes.some((p) => p.pid === victim) ? fresh[0] : null;
    },
    1000,
    20,
  );
  const replacedMs = Date.now() - killedAt;
  await daemon.waitAccepting(2, undefined, 5000);
  await sleep(1000);
  const result = await load.stop();

  assert.ok(replacedMs <= 1000, `replaced after ${replacedMs} ms`);
  assert.ok(childPidsOf(daemon).includes(replaced.pid));
  const line = await daemon.waitLog('the crash line', (l) => l.msg === `child pid ${victim} exit signal SIGKILL (9)`, 2000);
  assert.equal(line.level, 'error');
  assert.equal(line.child, victim);
  assert.equal(line.signal, 'SIGKILL');

  const lost = result.failures.filter((f) => victimPorts.has(f.localPort));
  const others = result.failures.filter((f) => !victimPorts.has(f.localPort));
  assert.equal(others.length, 0, `failures off the killed child:\n${describeFailures(others)}\n${logText(daemon)}`);
  // At most one request per connection the child held: the one in flight, or the next one sent on it.
  assert.ok(lost.length <= victimPorts.size, describeFailures(lost));
  assert.ok(result.ok > 200, `the load ran (${result.ok} requests)`);
  const status = await statusNow(daemon);
  assert.equal(status.processes.length, 2, 'one for one');
});
