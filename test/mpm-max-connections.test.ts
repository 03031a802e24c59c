// MaxConnectionsPerChild: a child that has accepted its budget of connections stops accepting,
// serves what it holds, says so and exits; the master replaces it. No connection is lost, and
// no child ever serves more than the budget, not even when threads share it (worker MPM).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import type { LogLine } from './helpers/daemon';
import { describeFailures, launchProxy, logText, logsMatching, startLoad } from './helpers/mpm';

const BUDGET = 10;
const CONNECTIONS = 50;
const CLIENTS = 5;

async function checkBudget(t: TestContext, directives: string[]): Promise<void> {
  const { daemon, backend } = await launchProxy(
    t,
    [...directives, 'StartServers 2', `MaxConnectionsPerChild ${BUDGET}`],
    { waitChildren: 2 },
  );
  const load = startLoad({
    port: daemon.port,
    path: '/b/slow?ms=20',
    clients: CLIENTS,
    keepAlive: false,
    requestsPerClient: CONNECTIONS / CLIENTS,
  });
  const result = await load.done;
  assert.equal(result.failures.length, 0, describeFailures(result.failures));
  assert.equal(result.ok, CONNECTIONS);
  assert.equal(backend.requests, CONNECTIONS);

  // The children that spent their budget have been replaced (status requests spend it too).
  const status = await daemon.waitAccepting(2);
  const exited = logsMatching(daemon, /^MaxConnectionsPerChild reached; child exits$/);
  const exitLine = (l: LogLine) => `${l.pid}: ${String(l.connections)} connections`;
  assert.ok(exited.length >= 3, `${exited.map(exitLine).join(', ')}\n${logText(daemon)}`);
  for (const l of exited) {
    // A child leaves only once every connection it took is served: exactly its budget.
    assert.equal(l.connections, BUDGET, `${exited.map(exitLine).join(', ')}\n${logText(daemon)}`);
    assert.equal(l.level, 'info');
    const left = new RegExp(`^child pid ${l.pid} exited \\(exit code 0\\)$`);
    await daemon.waitLog(`the master to see ${l.pid} leave on its own`, (m) => left.test(m.msg), 5000);
  }
  for (const p of status.processes) {
    assert.ok(p.connsTotal <= BUDGET, `live child ${p.pid} accepted ${p.connsTotal} connections`);
  }
  // Every connection is counted by exactly one child; status requests are connections too.
  const served = exited.length * BUDGET + status.processes.reduce((n, p) => n + p.connsTotal, 0);
  assert.ok(served >= CONNECTIONS, `children counted ${served} connections`);
  assert.equal(logsMatching(daemon, /exit (code [1-9]|signal)/).length, 0, 'no child crashed');
}

test('event: no child serves more than MaxConnectionsPerChild connections, none is lost', (t) =>
  checkBudget(t, ['MPM event', 'ThreadsPerChild 4']));

test('worker: the threads of a child share MaxConnectionsPerChild exactly', (t) =>
  checkBudget(t, ['MPM worker', 'ThreadsPerChild 3']));
