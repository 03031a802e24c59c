// The directives that name files and say what is logged, on a running daemon: PidFile,
// ServerRoot, DefaultRuntimeDir, ErrorLog, LogLevel and Include.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { request, waitFor } from './helpers/daemon';
import type { Daemon, LogLine } from './helpers/daemon';
import {
  RawConnection,
  cliConfig,
  daemonFor,
  runCli,
  statusLocation,
  stopDetached,
  testDir,
  waitGone,
  writeFiles,
} from './helpers/cli';
import { isAlive } from './helpers/mpm';

const config = (...lines: string[]) => [...lines, 'StartServers 1', statusLocation].join('\n');

/** A request llhttp rejects, so the child that reads it logs a debug line and answers 400. */
async function sendGarbage(d: Daemon): Promise<void> {
  const conn = await RawConnection.open(d.port);
  try {
    conn.socket.write('NOT HTTP AT ALL\r\n\r\n');
    assert.equal((await conn.response()).status, 400);
  } finally {
    conn.close();
  }
}

const childDebug = (d: Daemon) => (l: LogLine) => l.level === 'debug' && l.module === 'child' && l.pid !== d.pid;
const masterDebug = (d: Daemon) => (l: LogLine) => l.level === 'debug' && l.module === 'master' && l.pid === d.pid;

test('PidFile: the master writes its pid there (folders created) and removes it when it stops', async (t) => {
  const dir = testDir(t);
  const pidFile = path.join(dir, 'nested', 'deeper', 'custom.pid');
  const { file } = await cliConfig(t, { pidFile });
  // -k start returns once the master has written its PidFile.
  assert.equal((await runCli(['-f', file, '-k', 'start'])).code, 0);
  const pid = Number(fs.readFileSync(pidFile, 'utf8'));
  t.after(() => stopDetached(pid));
  assert.equal(fs.readFileSync(pidFile, 'utf8'), `${pid}\n`);
  assert.ok(isAlive(pid));
  assert.equal((await runCli(['-f', file, '-k', 'stop'])).code, 0);
  await waitGone(pid);
  assert.equal(fs.existsSync(pidFile), false);
});

test('ServerRoot: relative PidFile, ErrorLog, DefaultRuntimeDir and Include start there', async (t) => {
  const d = await daemonFor(
    t,
    {
      config: config(
        'ServerRoot @DIR@/root',
        // The harness waits for @DIR@/mpmproxy.pid and reads @DIR@/error.log.
        'PidFile ../mpmproxy.pid',
        'ErrorLog ../error.log',
        'DefaultRuntimeDir rt',
        'Include conf.d/*.conf',
      ),
    },
    (dir) => writeFiles(dir, { 'root/conf.d/page.conf': '<Location /included>\n SetHandler default-page\n</Location>\n' }),
  );
  assert.equal(fs.readFileSync(d.pidFile, 'utf8'), `${d.pid}\n`);
  assert.ok(fs.statSync(path.join(d.dir, 'root', 'rt')).isDirectory());
  await d.waitLog('the start line', (l) => l.msg === 'mpmproxy configured -- resuming normal operations');
  const r = await request(d.port, '/included');
  assert.equal(r.status, 200);
  assert.match(r.body.toString(), /It works/);
});

test('DefaultRuntimeDir: the master creates it, parents included', async (t) => {
  const d = await daemonFor(t, { config: config('DefaultRuntimeDir @DIR@/a/b/run') });
  const stat = fs.statSync(path.join(d.dir, 'a', 'b', 'run'));
  assert.ok(stat.isDirectory());
  assert.equal(stat.mode & 0o777, 0o755);
});

test('ErrorLog file: master and children write JSON lines with level, time, pid, module and msg', async (t) => {
  const d = await daemonFor(t, {
    config: config('LogLevel debug', 'ProxyPass /dead/ http://127.0.0.1:1/'),
    waitChildren: 1,
  });
  assert.equal((await request(d.port, '/dead/x')).status, 502);
  const refused = await d.waitLog('the child line', (l) => l.msg === 'http://127.0.0.1:1: connection refused by 127.0.0.1:1; answering 502');
  assert.notEqual(refused.pid, d.pid);
  assert.deepEqual([refused.module, refused.backend, refused.status], ['proxy', 'http://127.0.0.1:1', 502]);
  const lines = fs.readFileSync(d.errorLog, 'utf8').trimEnd().split('\n');
  for (const text of lines) {
    const l = JSON.parse(text) as LogLine;
    assert.deepEqual(
      [typeof l.level, typeof l.pid, typeof l.module, typeof l.msg, Number.isNaN(Date.parse(l.time))],
      ['string', 'number', 'string', 'string', false],
      text,
    );
  }
  assert.ok(d.log().some((l) => l.pid === d.pid && l.msg === 'mpmproxy configured -- resuming normal operations'));
  assert.equal(d.stderr, '');
});

test('ErrorLog stderr: the same JSON lines go to the stderr of master and children', async (t) => {
  const d = await daemonFor(t, { config: config('ErrorLog stderr', 'ProxyPass /dead/ http://127.0.0.1:1/'), waitChildren: 1 });
  assert.equal((await request(d.port, '/dead/x')).status, 502);
  const parsed = () => d.stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as LogLine);
  await waitFor('the child line on stderr', () => parsed().some((l) => l.msg === 'http://127.0.0.1:1: connection refused by 127.0.0.1:1; answering 502'));
  const lines = parsed();
  assert.ok(lines.some((l) => l.pid === d.pid && l.msg === 'mpmproxy configured -- resuming normal operations'));
  assert.ok(lines.some((l) => l.pid !== d.pid && l.module === 'proxy'));
  assert.equal(fs.existsSync(d.errorLog), false);
});

test('LogLevel: debug lines appear at debug and not at info', async (t) => {
  for (const level of ['info', 'debug'] as const) {
    await t.test(`LogLevel ${level}`, async (t) => {
      const d = await daemonFor(t, { config: config(`LogLevel ${level}`), waitChildren: 1 });
      await sendGarbage(d);
      const debug = d.log().filter((l) => l.level === 'debug');
      if (level === 'info') {
        assert.deepEqual(debug, []);
      } else {
        assert.ok(debug.some(masterDebug(d)), 'master debug line');
        assert.ok(debug.some(childDebug(d)), 'child debug line');
      }
    });
  }
});

test('LogLevel warn master:debug: debug lines of the master, none of the children', async (t) => {
  const d = await daemonFor(t, { config: config('LogLevel warn master:debug'), waitChildren: 1 });
  await sendGarbage(d);
  const lines = d.log();
  const started = lines.find(masterDebug(d));
  assert.equal(started?.msg, 'child started');
  assert.deepEqual(lines.filter(childDebug(d)), []);
  // Other modules stay at warn.
  assert.deepEqual(
    lines.filter((l) => l.module !== 'master' && ['notice', 'info', 'debug'].includes(l.level)),
    [],
  );
});

test('Include: directives of an included file take effect', async (t) => {
  const extra = writeFiles(testDir(t), {
    'extra.conf': 'MPM prefork\n<Location /from-include>\n SetHandler default-page\n</Location>\n',
  });
  const d = await daemonFor(t, { config: config(`Include ${path.join(extra, 'extra.conf')}`), waitChildren: 1 });
  assert.equal((await d.status()).fields.ServerMPM, 'prefork');
  assert.equal((await request(d.port, '/from-include')).status, 200);
  assert.equal((await request(d.port, '/elsewhere')).status, 404);
});
