// A child killed with SIGKILL under load: the master logs it as an error and starts a
// replacement at once; only the connections the dead child held are lost, every other client
// keeps getting 200.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { crashUnderLoad } from './helpers/crash';
import { childPidsOf, describeFailures, logText, statusNow } from './helpers/mpm';

test('kill -9 of a child under load: replaced within a second, other connections unaffected', async (t) => {
  const { daemon, victim, replacement: replaced, replacedMs, victimPorts, result } = await crashUnderLoad(t, 'SIGKILL');

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
