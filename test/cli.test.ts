// The `mpmproxy` command as an operator runs it: the checks and listings that print and exit,
// and the -k commands that find a running master through its PidFile.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { describe, test } from 'node:test';
import type { TestContext } from 'node:test';
import { usage } from '../src/cli/args';
import { builtinModules } from '../src/config/modules';
import { contextLabel, directiveList, displayName } from '../src/config/directives';
import { version } from '../src/version';
import { childPids, parseStatusAuto, repoRoot, request, waitFor } from './helpers/daemon';
import { isAlive, waitExit } from './helpers/mpm';
import { cliConfig, daemonFor, runCli, sessionOf, statusLocation, stopDetached, testDir, waitGone, writeFiles } from './helpers/cli';

const exampleConfig = path.join(repoRoot, 'etc', 'mpmproxy.conf');

/** Writes a configuration file of a Listen line and `lines`, in a folder of its own; returns its path. */
function configFile(t: TestContext, lines: string[]): string {
  const dir = writeFiles(testDir(t), { 'mpmproxy.conf': `${['Listen 127.0.0.1:8080', ...lines].join('\n')}\n` });
  return path.join(dir, 'mpmproxy.conf');
}

/** `-V`'s "Values in force" as directive -> value. */
function valuesInForce(text: string): Record<string, string> {
  const values: Record<string, string> = {};
  const at = text.indexOf('Values in force:\n');
  assert.ok(at >= 0, text);
  for (const line of text.slice(at).split('\n').slice(1)) {
    const m = /^ (\S+)\s+(.*)$/.exec(line);
    if (m) values[m[1]] = m[2];
  }
  return values;
}

async function statusOf(port: number) {
  const r = await request(port, '/server-status?auto');
  assert.equal(r.status, 200);
  return parseStatusAuto(r.body.toString());
}

function readPid(file: string): number {
  return Number(fs.readFileSync(file, 'utf8').trim());
}

describe('-t', () => {
  test('says Syntax OK on stderr and exits 0 for etc/mpmproxy.conf', async () => {
    assert.deepEqual(await runCli(['-t', '-f', exampleConfig]), { code: 0, stdout: '', stderr: 'Syntax OK\n' });
  });

  test('checks the embedded configuration when no -f is given', async () => {
    assert.deepEqual(await runCli(['-t']), { code: 0, stdout: '', stderr: 'Syntax OK\n' });
  });

  test('lists every error as file:line: Directive: message, file by file, and exits 1', async (t) => {
    const dir = writeFiles(testDir(t), {
      'broken.conf': [
        'Listen 127.0.0.1:8080',
        'StartServer 2',
        'KeepAlive maybe',
        'Timeout',
        '<Location /x>',
        '    SetHandler server-status',
        '</Location>',
        'Include conf.d/*.conf',
        'MaxClient 5',
        '',
      ].join('\n'),
      'conf.d/site.conf': '# a site\nSetHandler default-page\nProxyPass /a ftp://x/\n',
    });
    const main = path.join(dir, 'broken.conf');
    const site = path.join(dir, 'conf.d', 'site.conf');
    const r = await runCli(['-t', '-f', main]);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.deepEqual(r.stderr.split('\n'), [
      `${main}:2: StartServer: unknown directive, did you mean StartServers?`,
      `${main}:3: KeepAlive: must be On or Off (got "maybe")`,
      `${main}:4: Timeout: takes one argument: Timeout duration`,
      `${main}:9: MaxClient: unknown directive, did you mean MaxClients?`,
      `${site}:2: SetHandler: not allowed in server config; allowed in <Location>`,
      `${site}:3: ProxyPass: must be an http://, https:// or balancer:// URL, or ! (got "ftp://x/")`,
      '',
    ]);
  });

  test('a main file that cannot be read, or no Listen, is an error too', async (t) => {
    const dir = testDir(t);
    const missing = path.join(dir, 'missing.conf');
    assert.deepEqual(await runCli(['-t', '-f', missing]), {
      code: 1,
      stdout: '',
      stderr: `${missing}:0: -f: cannot read ${missing}: no such file or directory\n`,
    });
    const noListen = path.join(writeFiles(dir, { 'n.conf': 'ServerName x.example\n' }), 'n.conf');
    assert.deepEqual(await runCli(['-t', '-f', noListen]), {
      code: 1,
      stdout: '',
      stderr: `${noListen}:1: Listen: no Listen directive; at least one is required\n`,
    });
  });

  test('prints the adjustments it makes as warnings before Syntax OK', async (t) => {
    const file = configFile(t, ['MPM event', 'ThreadLimit 4', 'ThreadsPerChild 8']);
    assert.deepEqual(await runCli(['-t', '-f', file]), {
      code: 0,
      stdout: '',
      stderr: `${file}:4: ThreadsPerChild: 8 exceeds ThreadLimit of 4; lowered to 4\nSyntax OK\n`,
    });
  });
});

describe('-V', () => {
  test('prints the version, the MPM, its mapping and the values in force from the file', async (t) => {
    const file = configFile(t, ['MPM worker', 'StartServers 3', 'MaxClients 40', 'KeepAliveTimeout 1500ms', 'LogLevel notice proxy:debug']);
    const r = await runCli(['-V', '-f', file]);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.split('\n');
    assert.equal(lines[0], `Server version: mpmproxy/${version} (Linux) Node.js/${process.versions.node}`);
    assert.ok(lines.includes('Server MPM:     worker'), r.stdout);
    assert.ok(lines.includes('  threaded:     yes (fixed thread count)'), r.stdout);
    assert.ok(lines.includes('    forked:     yes (variable process count)'), r.stdout);
    assert.ok(lines.includes('  worker: each child process runs ThreadsPerChild 8 worker threads (node:worker_threads),'), r.stdout);
    assert.ok(lines.includes(`Configuration:  ${file}`), r.stdout);
    const v = valuesInForce(r.stdout);
    assert.equal(v.StartServers, '3');
    // MaxClients is the old name of MaxRequestWorkers.
    assert.equal(v.MaxRequestWorkers, '40');
    assert.equal(v.KeepAliveTimeout, '1500ms');
    assert.equal(v.LogLevel, 'notice proxy:debug');
    assert.equal(v.Listen, '127.0.0.1:8080');
    // worker's own defaults
    assert.equal(v.ServerLimit, '16');
    assert.equal(v.ThreadLimit, '64');
    assert.equal(v.ThreadsPerChild, '8');
    assert.equal(v.MinSpareThreads, '8');
    assert.equal(v.MaxSpareThreads, '24');
    assert.equal(v.ServerRoot, path.dirname(file));
  });

  test('shows each MPM its own defaults', async (t) => {
    const expected = {
      prefork: { ServerLimit: '256', ThreadLimit: '1', ThreadsPerChild: '1', MaxRequestWorkers: '256', MinSpareThreads: '2', MaxSpareThreads: '8' },
      event: { ServerLimit: '16', ThreadLimit: '256', ThreadsPerChild: '64', MaxRequestWorkers: '1024', MinSpareThreads: '64', MaxSpareThreads: '128' },
    };
    for (const [mpm, want] of Object.entries(expected)) {
      const r = await runCli(['-V', '-f', configFile(t, [`MPM ${mpm}`, 'StartServers 2'])]);
      assert.equal(r.code, 0, r.stderr);
      assert.ok(r.stdout.includes(`\nServer MPM:     ${mpm}\n  threaded:     no\n`), r.stdout);
      const v = valuesInForce(r.stdout);
      assert.deepEqual(
        Object.fromEntries(Object.keys(want).map((k) => [k, v[k]])),
        want,
        `${mpm} defaults`,
      );
    }
  });

  test('-D NAME reaches <IfDefine NAME> and <IfDefine !NAME>', async (t) => {
    const file = configFile(t, [
      '<IfDefine BIG>',
      '  StartServers 5',
      '</IfDefine>',
      '<IfDefine !BIG>',
      '  StartServers 1',
      '</IfDefine>',
    ]);
    const withBig = await runCli(['-V', '-D', 'BIG', '-f', file]);
    const without = await runCli(['-V', '-f', file]);
    assert.equal(valuesInForce(withBig.stdout).StartServers, '5');
    assert.equal(valuesInForce(without.stdout).StartServers, '1');
  });
});

describe('listings', () => {
  test('-v prints the version alone', async () => {
    assert.deepEqual(await runCli(['-v']), { code: 0, stdout: `Server version: mpmproxy/${version} (Linux)\n`, stderr: '' });
  });

  test('-l lists the built-in modules', async () => {
    const r = await runCli(['-l']);
    assert.equal(r.code, 0);
    assert.deepEqual(r.stdout.split('\n'), ['Compiled in modules:', ...builtinModules.map((m) => `  ${m}`), '']);
    assert.deepEqual([...builtinModules], [
      'core',
      'mpm_prefork',
      'mpm_worker',
      'mpm_event',
      'proxy',
      'proxy_http',
      'proxy_balancer',
      'lbmethod_byrequests',
      'lbmethod_bybusyness',
      'proxy_hcheck',
      'status',
      'log_config',
      'session',
      'ssl',
      'http2',
      'proxy_wstunnel',
    ]);
  });

  test('-L lists every directive of the table with its contexts and default', async () => {
    const r = await runCli(['-L']);
    assert.equal(r.code, 0);
    const blocks = r.stdout.split(/\n(?=\S)/).map((b) => b.split('\n'));
    assert.deepEqual(
      blocks.map((b) => b[0]),
      directiveList.map((spec) => `${displayName(spec)} (${spec.module})`),
    );
    blocks.forEach((lines, i) => {
      const spec = directiveList[i];
      assert.ok(lines.includes(`\tContext: ${spec.contexts.map(contextLabel).join(', ')}`), lines.join('\n'));
      assert.ok(lines.includes(`\tDefault: ${spec.default}`), lines.join('\n'));
    });
    assert.ok(r.stdout.includes('MaxConnectionsPerChild (mpm)\n'));
    assert.ok(r.stdout.includes('\tAlias:   MaxRequestsPerChild\n'));
    assert.ok(r.stdout.includes('<VirtualHost> (core)\n'));
  });

  test('-h prints the usage', async () => {
    assert.deepEqual(await runCli(['-h']), { code: 0, stdout: usage, stderr: '' });
    assert.ok(usage.startsWith('Usage: mpmproxy [-D name] [-f file] [-k start|restart|graceful|graceful-stop|stop]'));
  });

  test('an unknown option is a usage error: the problem, the usage, exit 1', async () => {
    assert.deepEqual(await runCli(['-Z']), { code: 1, stdout: '', stderr: `mpmproxy: unknown option -Z\n${usage}` });
    const k = await runCli(['-k', 'reload']);
    assert.equal(k.code, 1);
    assert.ok(k.stderr.startsWith('mpmproxy: -k reload: expected one of start, stop, restart, graceful, graceful-stop\nUsage:'), k.stderr);
    const missing = await runCli(['-f']);
    assert.equal(missing.code, 1);
    assert.ok(missing.stderr.startsWith('mpmproxy: option -f needs an argument\n'), missing.stderr);
  });
});

describe('-k', () => {
  test('start detaches, then graceful, restart, graceful-stop and stop signal the master', async (t) => {
    const { file, pidFile, port } = await cliConfig(t);
    const masters: number[] = [];
    t.after(async () => {
      for (const pid of masters) await stopDetached(pid);
    });

    const started = await runCli(['-f', file, '-k', 'start']);
    assert.deepEqual(started, { code: 0, stdout: '', stderr: '' });
    // It returned because the master wrote its PidFile: the pid is there and runs.
    const master = readPid(pidFile);
    masters.push(master);
    assert.ok(isAlive(master));
    assert.equal(sessionOf(master), master, 'the master leads a session of its own');
    const first = await waitFor('a child', async () => {
      const s = await statusOf(port);
      return s.processes.length === 1 ? s : null;
    });
    assert.equal(first.fields.ParentServerConfigGeneration, '0');

    assert.deepEqual(await runCli(['-f', file, '-k', 'start']), {
      code: 0,
      stdout: '',
      stderr: `mpmproxy (pid ${master}) already running\n`,
    });

    assert.equal((await runCli(['-f', file, '-k', 'graceful'])).code, 0);
    const graceful = await waitFor('generation 1', async () => {
      const s = await statusOf(port);
      return s.fields.ParentServerConfigGeneration === '1' && s.processes.every((p) => p.generation === 1) ? s : null;
    });
    assert.notEqual(graceful.processes[0].pid, first.processes[0].pid);

    assert.equal((await runCli(['-f', file, '-k', 'restart'])).code, 0);
    await waitFor('generation 2', async () => {
      const s = await statusOf(port);
      return s.fields.ParentServerConfigGeneration === '2' && s.processes.every((p) => p.generation === 2) ? s : null;
    });
    assert.equal(readPid(pidFile), master, 'restarts keep the master');

    assert.equal((await runCli(['-f', file, '-k', 'graceful-stop'])).code, 0);
    await waitGone(master);
    assert.equal(fs.existsSync(pidFile), false);

    assert.equal((await runCli(['-f', file, '-k', 'start'])).code, 0);
    const second = readPid(pidFile);
    masters.push(second);
    assert.notEqual(second, master);
    assert.equal((await request(port, '/server-status?auto')).status, 200);

    assert.deepEqual(await runCli(['-f', file, '-k', 'stop']), { code: 0, stdout: '', stderr: '' });
    await waitGone(second);
    assert.equal(fs.existsSync(pidFile), false);
    await assert.rejects(request(port, '/'), /ECONNREFUSED/);

    assert.deepEqual(await runCli(['-f', file, '-k', 'stop']), {
      code: 1,
      stdout: '',
      stderr: 'mpmproxy (no pid file) not running\n',
    });
  });

  test('a second master with the same PidFile is refused and the first keeps serving', async (t) => {
    const first = await daemonFor(t, { config: `StartServers 1\n${statusLocation}`, waitChildren: 1 });
    // Another port, so only the PidFile is shared.
    const other = await cliConfig(t, { pidFile: first.pidFile });
    const message = `mpmproxy: mpmproxy (pid ${first.pid}) already running (PidFile ${first.pidFile})\n`;
    assert.deepEqual(await runCli(['-f', other.file, '-D', 'FOREGROUND']), { code: 1, stdout: '', stderr: message });
    assert.deepEqual(await runCli(['-f', other.file]), { code: 1, stdout: '', stderr: message });
    assert.equal(readPid(first.pidFile), first.pid);
    assert.equal((await request(first.port, '/server-status?auto')).status, 200);
    await assert.rejects(request(other.port, '/'), /ECONNREFUSED/);
  });

  test('a stale PidFile: not running, exit 1', async (t) => {
    const { file, pidFile } = await cliConfig(t);
    // A stale PidFile naming a pid that is gone.
    fs.mkdirSync(path.dirname(pidFile), { recursive: true });
    fs.writeFileSync(pidFile, '2147483646\n');
    assert.deepEqual(await runCli(['-f', file, '-k', 'graceful']), {
      code: 1,
      stdout: '',
      stderr: 'mpmproxy (pid 2147483646?) not running\n',
    });
  });
});

describe('start-up failures', () => {
  test('a Listen port already in use: could not bind to address, exit 1, no PidFile left', async (t) => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    t.after(() => blocker.close());
    const port = (blocker.address() as net.AddressInfo).port;
    const { file, pidFile } = await cliConfig(t, { port });
    const r = await runCli(['-f', file, '-D', 'FOREGROUND']);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr, `mpmproxy: could not bind to address: bind 127.0.0.1:${port}: Address already in use\n`);
    assert.equal(fs.existsSync(pidFile), false);

    // Detached, the command waits for the master and reports that it failed.
    const detached = await runCli(['-f', file]);
    assert.equal(detached.code, 1);
    assert.ok(detached.stderr.startsWith('mpmproxy: the daemon exited during start-up (exit code 1)'), detached.stderr);
  });
});

describe('-X', () => {
  test('serves in one process without children and stops on TERM', async (t) => {
    const single = await daemonFor(t, { config: statusLocation, args: ['-X'] });
    assert.equal(readPid(single.pidFile), single.pid);
    const s = await statusOf(single.port);
    assert.deepEqual(s.processes.map((p) => p.pid), [single.pid]);
    assert.equal((await request(single.port, '/server-status')).status, 200);
    assert.deepEqual(childPids(single.pid), []);
    single.signal('SIGTERM');
    await waitExit(single, 5000);
    assert.equal(single.exitCode, 0);
    assert.equal(fs.existsSync(single.pidFile), false);
  });
});
