// systemd: the master speaks sd_notify over $NOTIFY_SOCKET (READY, RELOADING with
// MONOTONIC_USEC, STOPPING), and the unit file passes systemd-analyze verify.
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { bin, repoRoot, tempDir } from './helpers/daemon';
import { NotifyListener, launchProxy, notifyFields, waitExit } from './helpers/mpm';

const execFileAsync = promisify(execFile);

test('sd_notify: READY=1 once serving, RELOADING=1 then READY=1 on a reload (good or bad), STOPPING=1 on TERM', async (t) => {
  const notify = new NotifyListener();
  t.after(() => notify.close());
  const { daemon } = await launchProxy(t, ['StartServers 2'], { env: { NOTIFY_SOCKET: notify.address }, waitChildren: 2 });

  const ready = await notify.next('READY=1', 0, (m) => notifyFields(m).get('READY') === '1');
  const fields = notifyFields(ready.message);
  assert.equal(fields.get('MAINPID'), String(daemon.pid));
  assert.match(fields.get('STATUS') ?? '', /^Processes: 2; busy workers: \d+; idle workers: \d+; generation: 0$/);
  assert.ok(!notify.messages.slice(0, ready.index).some((m) => m.includes('RELOADING')));

  const signalledAt = process.hrtime.bigint() / 1000n;
  daemon.signal('SIGUSR1');
  const reloading = await notify.next('RELOADING=1', ready.index + 1, (m) => notifyFields(m).get('RELOADING') === '1');
  // systemd compares MONOTONIC_USEC with its own CLOCK_MONOTONIC: the same clock as hrtime.
  const usec = BigInt(notifyFields(reloading.message).get('MONOTONIC_USEC') ?? '0');
  const drift = usec - signalledAt;
  assert.ok(drift >= 0n && drift < 1_000_000n, `MONOTONIC_USEC ${usec} is ${drift} µs from the signal`);
  const reloaded = await notify.next('READY=1 after the reload', reloading.index + 1, (m) => notifyFields(m).get('READY') === '1');
  assert.match(notifyFields(reloaded.message).get('STATUS') ?? '', /generation: 1$/);
  assert.equal((await daemon.waitAccepting(2, 1)).fields.ParentServerConfigGeneration, '1');

  // A bad configuration: systemd still hears that the reload is over, the old one serving.
  fs.appendFileSync(daemon.configFile, 'StartServerz 2\n');
  daemon.signal('SIGHUP');
  const refused = await notify.next('RELOADING=1 on HUP', reloaded.index + 1, (m) => notifyFields(m).get('RELOADING') === '1');
  const kept = await notify.next('READY=1 after the bad reload', refused.index + 1, (m) => notifyFields(m).get('READY') === '1');
  assert.match(notifyFields(kept.message).get('STATUS') ?? '', /generation: 1$/);

  daemon.signal('SIGTERM');
  await notify.next('STOPPING=1', kept.index + 1, (m) => m === 'STOPPING=1');
  await waitExit(daemon, 5000);
  assert.equal(daemon.exitCode, 0);
});

function hasSystemdAnalyze(): boolean {
  try {
    execFileSync('systemd-analyze', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

test('systemd-analyze verify accepts the unit', { skip: !hasSystemdAnalyze() && 'systemd-analyze is not installed' }, async (t) => {
  const dir = tempDir('mpmproxy-unit-');
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const unit = fs
    .readFileSync(path.join(repoRoot, 'systemd', 'mpmproxy.service'), 'utf8')
    .replaceAll('/usr/bin/mpmproxy', bin);
  assert.ok(unit.includes(`ExecStart=${bin} `), 'the unit runs this checkout');
  const file = path.join(dir, 'mpmproxy.service');
  fs.writeFileSync(file, unit);
  const { stdout, stderr } = await execFileAsync('systemd-analyze', ['verify', file]).catch(
    (err: { stdout: string; stderr: string; code: number }) => {
      assert.fail(`systemd-analyze verify failed (${err.code}):\n${err.stdout}${err.stderr}`);
    },
  );
  // verify exits 0 on warnings too: any line about the unit is a finding.
  const findings = `${stdout}${stderr}`.split('\n').filter((l) => l.includes('mpmproxy.service'));
  assert.deepEqual(findings, []);
});
