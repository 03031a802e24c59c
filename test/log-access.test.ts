// Access logs written by a running daemon: the exact lines of common, combined, a format with
// timings and json for known requests (a 404, a HEAD, a query string, requests proxied to a
// real backend, one with a body), several CustomLogs at once, virtual hosts with and without logs of their own,
// CustomLog stderr, and a bad LogFormat refused by -t.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { runCli, statusLocation, testDir, writeFiles } from './helpers/cli';
import { request, waitFor } from './helpers/daemon';
import { childPidsOf, launch, launchProxy } from './helpers/mpm';
import { clfTime, logLines, waitLines } from './helpers/access-log';

const TIMED = '%h %l %u %t \\"%r\\" %>s %b \\"%{Referer}i\\" \\"%{User-agent}i\\" %D %T %{ms}T';

/** `line` with its [time] checked to be within the test's clock window and cut out. */
function withoutTime(line: string, from: number, to: number): string {
  const m = /\[[^\]]+\]/.exec(line);
  assert.ok(m, line);
  const at = clfTime(m[0]);
  // CLF has whole seconds.
  assert.ok(at >= Math.floor(from / 1000) * 1000 && at <= to, `${m[0]} not between ${new Date(from).toISOString()} and ${new Date(to).toISOString()}`);
  return line.replace(m[0], '[T]');
}

test('common, combined, a timed format and json: the lines of known requests', async (t) => {
  const { daemon } = await launchProxy(t, [
    'StartServers 1',
    'CustomLog @DIR@/common.log common',
    'CustomLog @DIR@/combined.log combined',
    `LogFormat "${TIMED}" timed`,
    'CustomLog @DIR@/timed.log timed',
    'CustomLog @DIR@/access.json json',
  ]);
  const file = (name: string) => path.join(daemon.dir, name);
  const from = Date.now();
  const ua = { 'user-agent': 'log-test/1.0' };
  const missing = await request(daemon.port, '/missing?x=1&y=%22', { headers: { ...ua, referer: 'http://referrer.test/page' } });
  const head = await request(daemon.port, '/missing', { method: 'HEAD', headers: ua });
  const proxied = await request(daemon.port, '/b/echo?q=1', { headers: ua });
  const slow = await request(daemon.port, '/b/slow?ms=300', { headers: ua });
  const posted = await request(daemon.port, '/b/echo', { method: 'POST', body: 'a body to send', headers: ua });
  const to = Date.now();
  assert.deepEqual([missing.status, head.status, proxied.status, slow.status, posted.status], [404, 404, 200, 200, 200]);
  assert.equal(head.body.length, 0);

  const common = (await waitLines(file('common.log'), 5)).map((l) => withoutTime(l, from, to));
  assert.deepEqual(common, [
    `127.0.0.1 - - [T] "GET /missing?x=1&y=%22 HTTP/1.1" 404 ${missing.body.length}`,
    '127.0.0.1 - - [T] "HEAD /missing HTTP/1.1" 404 -',
    `127.0.0.1 - - [T] "GET /b/echo?q=1 HTTP/1.1" 200 ${proxied.body.length}`,
    `127.0.0.1 - - [T] "GET /b/slow?ms=300 HTTP/1.1" 200 ${slow.body.length}`,
    `127.0.0.1 - - [T] "POST /b/echo HTTP/1.1" 200 ${posted.body.length}`,
  ]);

  const combined = (await waitLines(file('combined.log'), 5)).map((l) => withoutTime(l, from, to));
  assert.deepEqual(combined, [
    `127.0.0.1 - - [T] "GET /missing?x=1&y=%22 HTTP/1.1" 404 ${missing.body.length} "http://referrer.test/page" "log-test/1.0"`,
    '127.0.0.1 - - [T] "HEAD /missing HTTP/1.1" 404 - "-" "log-test/1.0"',
    `127.0.0.1 - - [T] "GET /b/echo?q=1 HTTP/1.1" 200 ${proxied.body.length} "-" "log-test/1.0"`,
    `127.0.0.1 - - [T] "GET /b/slow?ms=300 HTTP/1.1" 200 ${slow.body.length} "-" "log-test/1.0"`,
    `127.0.0.1 - - [T] "POST /b/echo HTTP/1.1" 200 ${posted.body.length} "-" "log-test/1.0"`,
  ]);

  // %D %T %{ms}T: the slow backend answers after 300 ms; the others in well under a second.
  const timed = (await waitLines(file('timed.log'), 5)).map((l) => withoutTime(l, from, to));
  const timings = timed.map((l) => l.split(' ').slice(-3).map(Number));
  for (const [us, s, ms] of timings) {
    assert.equal(s, 0);
    assert.equal(ms, Math.floor(us / 1000));
    assert.ok(us > 0 && us < to - from + 1000 * 1000, `${us} µs`);
  }
  assert.ok(timings[3][0] >= 300_000 && timings[3][0] < 2_000_000, `the slow request took ${timings[3][0]} µs`);
  assert.ok(timings[2][0] < timings[3][0] - 200_000, 'the fast proxied request took less than the slow one');
  assert.equal(
    timed[3].slice(0, timed[3].lastIndexOf('"') + 1),
    `127.0.0.1 - - [T] "GET /b/slow?ms=300 HTTP/1.1" 200 ${slow.body.length} "-" "log-test/1.0"`,
  );

  const json = (await waitLines(file('access.json'), 5)).map((l) => JSON.parse(l) as Record<string, unknown>);
  const [child] = childPidsOf(daemon);
  const expected = [
    { method: 'GET', url: '/missing?x=1&y=%22', status: 404, body_bytes: missing.body.length, referer: 'http://referrer.test/page' },
    { method: 'HEAD', url: '/missing', status: 404, body_bytes: 0, referer: null },
    { method: 'GET', url: '/b/echo?q=1', status: 200, body_bytes: proxied.body.length, referer: null },
    { method: 'GET', url: '/b/slow?ms=300', status: 200, body_bytes: slow.body.length, referer: null },
    { method: 'POST', url: '/b/echo', status: 200, body_bytes: posted.body.length, referer: null },
  ];
  json.forEach((entry, i) => {
    const { time, client_port, bytes_sent, duration_us, server, ...rest } = entry;
    const at = Date.parse(time as string);
    assert.ok(at >= from - 1 && at <= to, `${String(time)}`);
    assert.equal(typeof client_port, 'number');
    assert.equal(typeof server, 'string');
    assert.ok((bytes_sent as number) > (entry.body_bytes as number), 'bytes_sent counts the headers too');
    // One record of the request feeds every CustomLog.
    assert.equal(duration_us, timings[i][0]);
    assert.deepEqual(rest, {
      client: '127.0.0.1',
      port: daemon.port,
      protocol: 'HTTP/1.1',
      host: `127.0.0.1:${daemon.port}`,
      ...expected[i],
      user_agent: 'log-test/1.0',
      user: null,
      connection: 'close',
      pid: child,
    });
  });
});

test('a virtual host with a CustomLog logs there only; one without logs to the main server’s', async (t) => {
  const daemon = await launch(t, {
    config: [
      'StartServers 1',
      'CustomLog @DIR@/main.log "%v %U %>s"',
      '<VirtualHost *:@PORT@>',
      '  ServerName a.test',
      '  CustomLog @DIR@/a.log "%v %U %>s"',
      '  CustomLog @DIR@/a.json json',
      '</VirtualHost>',
      '<VirtualHost *:@PORT@>',
      '  ServerName b.test',
      '</VirtualHost>',
      statusLocation,
    ].join('\n'),
    waitChildren: 1,
  });
  const ask = (host: string, p: string) => request(daemon.port, p, { headers: { host } });
  await ask('a.test', '/one');
  await ask('b.test', '/two');
  await ask('a.test:8080', '/three');
  await ask('b.test', '/four');
  // The harness's status requests (no Host it names) went to a.test, the first host for the address.
  const requested = (name: string) =>
    waitFor(`two lines in ${name}`, () => {
      const lines = logLines(path.join(daemon.dir, name)).filter((l) => !l.includes('server-status'));
      return lines.length >= 2 ? lines : null;
    });
  assert.deepEqual(await requested('a.log'), ['a.test /one 404', 'a.test /three 404']);
  assert.deepEqual(await requested('main.log'), ['b.test /two 404', 'b.test /four 404']);
  const json = (await requested('a.json')).map((l) => JSON.parse(l) as { server: string; url: string });
  assert.deepEqual(json.map((j) => [j.server, j.url]), [['a.test', '/one'], ['a.test', '/three']]);
});

test('CustomLog stderr is the master’s stderr, not the ErrorLog file the children have as theirs', async (t) => {
  const daemon = await launch(t, { config: ['StartServers 1', 'CustomLog stderr "%U %>s"', statusLocation].join('\n'), waitChildren: 1 });
  await request(daemon.port, '/to-stderr');
  await waitFor('the line on stderr', () => daemon.stderr.includes('/to-stderr 404\n'));
  assert.ok(!fs.readFileSync(daemon.errorLog, 'utf8').includes('/to-stderr'));
});

test('mpmproxy -t names the file and line of a bad LogFormat, and of an unknown nickname', async (t) => {
  const dir = testDir(t);
  writeFiles(dir, {
    'mpmproxy.conf': ['Listen 127.0.0.1:8080', 'LogFormat "%h %l %Z" broken', 'CustomLog logs/access.log combnied', ''].join('\n'),
  });
  const file = path.join(dir, 'mpmproxy.conf');
  const r = await runCli(['-t', '-f', file]);
  assert.equal(r.code, 1, r.stderr);
  assert.equal(
    r.stderr,
    `${file}:2: LogFormat: unknown format directive %Z (docs/logging.md lists them)\n` +
      `${file}:3: CustomLog: unknown LogFormat nickname "combnied", did you mean combined? (a format needs at least one %)\n`,
  );
});
