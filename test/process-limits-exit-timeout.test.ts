// ExitTimeout bounds every drain: a graceful restart's, a memory restart's, a graceful stop's.
// With GracefulShutdownTimeout also written, the smaller wins.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { LogLine } from './helpers/daemon';
import { request } from './helpers/daemon';
import { HEADROOM, limitAboveIdle, oneChildConfig, pushUntil } from './helpers/memory';
import { childPidsOf, isAlive, launch, launchGate, waitExit, waitFor } from './helpers/mpm';

const STATUS = '<Location /server-status>\n SetHandler server-status\n</Location>';

const closing = (pid: number) => (l: LogLine) => l.pid === pid && l.msg === 'closing connections still open';

test('ExitTimeout 1s under GracefulShutdownTimeout 30s: a graceful restart cuts what is left after 1 s', async (t) => {
  const gate = await launchGate(t);
  const daemon = await launch(t, {
    config: ['StartServers 1', 'MinSpareThreads 1', 'GracefulShutdownTimeout 30s', 'ExitTimeout 1s', `ProxyPass /gate/ ${gate.url}/`, STATUS].join('\n'),
    waitChildren: 1,
  });
  const [old] = childPidsOf(daemon);
  const held = request(daemon.port, '/gate/held').then(
    (r) => r.status,
    (err: NodeJS.ErrnoException) => err.code ?? 'ERROR',
  );
  await waitFor('the request at the backend', () => gate.inFlight === 1);
  const signalled = Date.now();
  daemon.signal('SIGUSR1');
  assert.equal(await held, 'ECONNRESET');
  const cut = Date.now() - signalled;
  assert.ok(cut >= 900 && cut < 2500, `cut after ${cut} ms`);
  const line = await daemon.waitLog('the drain limit', closing(old));
  assert.equal(line.reason, 'ExitTimeout');
  await waitFor('the old child gone', () => !isAlive(old));
});

test('ExitTimeout bounds the drain of a child replaced for memory', async (t) => {
  const gate = await launchGate(t);
  const conf = oneChildConfig(gate, ['MemoryPolicy restart', 'ExitTimeout 1s']);
  const daemon = await launch(t, { config: conf(), waitChildren: 1 });
  const { child } = await limitAboveIdle(daemon, conf, HEADROOM);
  await pushUntil(t, daemon, gate, (l) => l.child === child && /MemoryPolicy restart/.test(l.msg));
  const drains = await daemon.waitLog('the drain', (l) => l.child === child && /is ready; child pid \d+ drains/.test(l.msg));
  // The gate stays shut: the requests the old child holds never end by themselves.
  const cut = await daemon.waitLog('the drain limit', closing(child), 5000);
  const ms = Date.parse(cut.time) - Date.parse(drains.time);
  assert.ok(ms >= 900 && ms < 2500, `cut ${ms} ms after the drain began`);
  assert.equal(cut.reason, 'ExitTimeout');
  assert.ok((cut.connections as number) > 0);
  await waitFor('the old child gone', () => !isAlive(child));
});

test('ExitTimeout bounds a graceful stop (WINCH): the master exits once it has passed', async (t) => {
  const gate = await launchGate(t);
  const daemon = await launch(t, {
    config: ['StartServers 1', 'MinSpareThreads 1', 'ExitTimeout 1s', `ProxyPass /gate/ ${gate.url}/`, STATUS].join('\n'),
    waitChildren: 1,
  });
  const held = request(daemon.port, '/gate/held').catch(() => null);
  await waitFor('the request at the backend', () => gate.inFlight === 1);
  const signalled = Date.now();
  daemon.signal('SIGWINCH');
  await waitExit(daemon, 5000);
  const ms = Date.now() - signalled;
  assert.ok(ms >= 900 && ms < 4000, `exited after ${ms} ms`);
  assert.equal(daemon.exitCode, 0);
  await held;
});
