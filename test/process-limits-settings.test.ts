// The sandbox directives resolved into Settings, their adjustments, and `-V`.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { settingsReport } from '../src/cli/settings-report';
import { loadConfig, resolveSettings } from '../src/config';
import type { Settings } from '../src/config/types';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mpmproxy-sandbox-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

function settingsOf(config: string): Settings {
  return resolveSettings(loadConfig({ file: path.join(tmp, 'main.conf'), text: `Listen 8080\n${config}` }), { cpus: 4, uid: 1000 });
}

const MiB = 2 ** 20;

// Their defaults are in config-settings.test.ts (the embedded configuration).
describe('the sandbox settings', () => {
  it('read every directive', () => {
    const s = settingsOf(
      [
        'LimitMemory 512M',
        'LimitMemoryServer 2G',
        'MemoryPolicy abort',
        'CrashRecoveryStrategy kill',
        'CoreDumpDirectory cores',
        'LimitProcesses 40',
        'LimitFiles 4096',
        'MinWorkers 2',
        'LimitWorkers 8',
        'ThreadStack 256K',
      ].join('\n'),
    );
    assert.equal(s.limitMemory, 512 * MiB);
    assert.equal(s.limitMemoryServer, 2048 * MiB);
    assert.equal(s.memoryPolicy, 'abort');
    assert.equal(s.crashRecoveryStrategy, 'kill');
    assert.equal(s.coreDumpDirectory, path.join(tmp, 'cores'));
    assert.equal(s.limitProcesses, 40);
    assert.equal(s.limitFiles, 4096);
    assert.deepEqual([s.minWorkers, s.limitWorkers, s.threadStack], [2, 8, 256 * 1024]);
    assert.deepEqual(s.warnings, []);
  });
});

describe('ExitTimeout and GracefulShutdownTimeout', () => {
  const drain = (config: string) => settingsOf(config).exitTimeout;

  it('either one alone bounds every drain', () => {
    assert.equal(drain('ExitTimeout 60s'), 60_000);
    assert.equal(drain('GracefulShutdownTimeout 45s'), 45_000);
  });

  it('written together, the smaller wins', () => {
    assert.equal(drain('ExitTimeout 10s\nGracefulShutdownTimeout 45s'), 10_000);
    assert.equal(drain('ExitTimeout 90s\nGracefulShutdownTimeout 45s'), 45_000);
  });
});

describe('adjustments', () => {
  const at = (line: number, directive: string, message: string) => `${tmp}/main.conf:${line}: ${directive}: ${message}`;

  it('MinWorkers above LimitWorkers is lowered; above the default LimitWorkers it raises that', () => {
    const s = settingsOf('MinWorkers 6\nLimitWorkers 3');
    assert.deepEqual([s.minWorkers, s.limitWorkers], [3, 3]);
    assert.deepEqual(s.warnings, [at(2, 'MinWorkers', '6 exceeds LimitWorkers 3; lowered to 3')]);
    const raised = settingsOf('MinWorkers 6');
    assert.deepEqual([raised.minWorkers, raised.limitWorkers, raised.warnings], [6, 6, []]);
  });

  it('a LimitMemory below an idle child, and a LimitProcesses below StartServers, are reported', () => {
    assert.deepEqual(settingsOf('LimitMemory 32M').warnings, [
      at(2, 'LimitMemory', '32M is below what an idle child uses (about 60M): every child will be over it'),
    ]);
    assert.deepEqual(settingsOf('StartServers 4\nLimitProcesses 2').warnings, [
      at(3, 'LimitProcesses', '2 is less than StartServers 4: only 2 children start'),
    ]);
  });
});

describe('-V', () => {
  it('prints the values in force, with the V8 heap limit children get', () => {
    const report = settingsReport(settingsOf('LimitMemory 512M\nMemoryPolicy continue\nExitTimeout 10s\nLimitProcesses 12'));
    for (const line of [
      ' ExitTimeout               10s (bounds every drain)',
      " LimitMemory               512M (children's V8 heap: 480M)",
      ' LimitMemoryServer         unlimited',
      ' MemoryPolicy              continue',
      ' CrashRecoveryStrategy     recover',
      ' LimitProcesses            12',
      ' LimitFiles                0 (the hard limit)',
      ' MinWorkers                0',
      ' LimitWorkers              4',
      " ThreadStack               0 (Node's default)",
    ]) {
      assert.ok(report.includes(`${line}\n`), line);
    }
  });
});
