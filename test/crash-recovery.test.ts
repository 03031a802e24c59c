// CrashRecoveryStrategy on a running daemon: recover replaces a crashed child at once while the
// others keep serving (no 503 period), kill makes the master exit non-zero within a second.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { test } from 'node:test';
import { crashUnderLoad } from './helpers/crash';
import { childPidsOf, describeFailures, isAlive, launchProxy, logText, scoreboardFile, waitExit } from './helpers/mpm';

test('recover: a child dying of SIGSEGV is replaced within a second; no request to another child fails, none gets 503', async (t) => {
  const { daemon, victim, survivor, replacement, replacedMs, victimPorts, result } = await crashUnderLoad(t, 'SIGSEGV');

  assert.ok(replacedMs <= 1000, `replaced after ${replacedMs} ms`);
  const line = await daemon.waitLog('the crash line', (l) => l.msg === `child pid ${victim} exit signal SIGSEGV (11)`);
  assert.equal(line.level, 'error');
  assert.ok(isAlive(survivor), 'the other child was left alone');
  const others = result.failures.filter((f) => !victimPorts.has(f.localPort));
  assert.equal(others.length, 0, `failures off the crashed child:\n${describeFailures(others)}\n${logText(daemon)}`);
  assert.ok(!result.failures.some((f) => f.code === 'HTTP_503'), 'no 503 period');
  assert.ok(result.failures.length <= victimPorts.size, describeFailures(result.failures));
  assert.ok(result.ok > 50, `the load ran (${result.ok} requests)`);
  assert.deepEqual(new Set(childPidsOf(daemon)), new Set([survivor, replacement.pid]));
});

test('kill: a child crash makes the master exit non-zero within a second, taking its children along', async (t) => {
  const { daemon } = await launchProxy(t, ['StartServers 2', 'MinSpareThreads 1', 'CrashRecoveryStrategy kill'], { waitChildren: 2 });
  const [victim, other] = childPidsOf(daemon);
  const master = daemon.pid;

  process.kill(victim, 'SIGKILL');
  const crashedAt = Date.now();
  await waitExit(daemon, 1000);
  const ms = Date.now() - crashedAt;

  assert.ok(ms <= 1000, `the master exited after ${ms} ms`);
  assert.equal(daemon.exitCode, 1);
  const line = await daemon.waitLog('the kill line', (l) => l.msg === `child pid ${victim} crashed; CrashRecoveryStrategy kill: mpmproxy exits`);
  assert.equal(line.level, 'emerg');
  assert.ok(!isAlive(other), 'no child outlives the master');
  assert.ok(!fs.existsSync(scoreboardFile(master)), 'shared memory removed');
  assert.ok(!fs.existsSync(daemon.pidFile), 'PidFile removed');
});
