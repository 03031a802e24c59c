// RequestReadTimeout on a running daemon with two children: slow headers and slow bodies are
// answered 408 and closed, MinRate stretches the time for a client that keeps sending, and
// slowhttptest's slowloris and slow-POST attacks are cut while a normal client is still served.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { RawConnection, hasCommand } from './helpers/cli';
import { request, sleep } from './helpers/daemon';
import { connections, launchBodyBackend, limitLine, limitsDaemon, limitsStatus, observer, sendSlowly, waitSpread } from './helpers/limits';

test('RequestReadTimeout header=1: connections that send no header are answered 408 on both children', async (t) => {
  const d = await limitsDaemon(t, 'RequestReadTimeout header=1 body=0');
  const watch = await observer(t, d);
  const silent = await connections(t, d.port, 4);
  await waitSpread(watch, 5);
  const answers = await Promise.all(silent.map((c) => c.response(4000)));
  assert.deepEqual(answers.map((a) => a.status), [408, 408, 408, 408]);
  for (const c of silent) assert.notEqual(await c.closedWithin(1000), null);
  const line = await limitLine(d, 'RequestReadTimeout');
  assert.equal(line.stage, 'header');
  assert.ok(Number(line.elapsedMs) >= 1000 && Number(line.elapsedMs) < 2500, `cut after ${line.elapsedMs} ms`);
  assert.equal((await limitsStatus(watch)).rejections.RequestReadTimeout, 4);
});

test('RequestReadTimeout header=1-3,MinRate=200: a header arriving at 500 B/s lives past 1 s, and is cut at 3 s', async (t) => {
  const d = await limitsDaemon(t, 'RequestReadTimeout header=1-3,MinRate=200 body=0');
  const conn = await RawConnection.open(d.port);
  t.after(() => conn.close());
  conn.socket.write('GET /server-status?auto HTTP/1.1\r\nHost: x\r\n');
  const started = Date.now();
  const drip = setInterval(() => conn.socket.writable && conn.socket.write(`X-Drip: ${'d'.repeat(240)}\r\n`), 500);
  t.after(() => clearInterval(drip));
  assert.equal(await conn.closedWithin(1800), null, 'still open after 1.8 s');
  assert.equal((await conn.response(3000)).status, 408);
  const lived = Date.now() - started;
  assert.ok(lived >= 2700 && lived < 4500, `cut after ${lived} ms`);
});

test('RequestReadTimeout body=1,MinRate=200: a stalled body is answered 408; one sent at 1 KB/s is served', async (t) => {
  const backend = await launchBodyBackend(t);
  const d = await limitsDaemon(t, 'RequestReadTimeout header=0 body=1,MinRate=200', `ProxyPass /b/ ${backend.url}/`);
  const stalled = await sendSlowly(d.port, '/b/stalled', ['x'.repeat(100), ...Array(20).fill('')], 200, { 'content-length': 10000 });
  assert.equal(stalled.status, 408);
  assert.ok(backend.seen.filter((s) => s.path === '/stalled').every((s) => !s.complete));
  const line = await limitLine(d, 'RequestReadTimeout');
  assert.equal(line.stage, 'body');
  const steady = await sendSlowly(d.port, '/b/steady', Array(12).fill('y'.repeat(250)), 250, { 'content-length': 3000 });
  assert.deepEqual([steady.status, steady.body], [200, '3000']);
});

interface Attack {
  /** slowhttptest's CSV: seconds, closed, pending, connected, service available. */
  rows: number[][];
  output: string;
}

function slowhttptest(args: string[], dir: string): Promise<Attack> {
  return new Promise((resolve, reject) => {
    execFile('slowhttptest', [...args, '-g', '-o', path.join(dir, 'attack')], { timeout: 60000, cwd: dir }, (err, stdout) => {
      if (err && err.killed) return reject(new Error('slowhttptest did not end'));
      const csv = fs.readFileSync(path.join(dir, 'attack.csv'), 'utf8').trim().split('\n').slice(1);
      resolve({ rows: csv.map((l) => l.split(',').map(Number)), output: stdout });
    });
  });
}

/** A normal client's requests, one every 200 ms until `stop`, each answered 200 or failed. */
async function normalClient(port: number, until: () => boolean): Promise<{ ok: number; failed: string[] }> {
  const r = { ok: 0, failed: [] as string[] };
  while (!until()) {
    try {
      const res = await request(port, '/server-status?auto', { timeoutMs: 3000 });
      if (res.status === 200) r.ok++;
      else r.failed.push(`HTTP ${res.status}`);
    } catch (err) {
      r.failed.push((err as Error).message);
    }
    await sleep(200);
  }
  return r;
}

const attackTimeouts = 'RequestReadTimeout header=2-4,MinRate=500 body=2,MinRate=500';
const needs = hasCommand('slowhttptest') ? false : 'slowhttptest is not installed (apt-get install slowhttptest)';

for (const [mode, flag] of [
  ['slowloris', '-H'],
  ['slow POST', '-B'],
] as const) {
  test(`slowhttptest ${flag} (${mode}, needs slowhttptest): 200 attack connections are cut by RequestReadTimeout, a normal client is served`, { skip: needs }, async (t) => {
    const backend = await launchBodyBackend(t);
    const d = await limitsDaemon(t, attackTimeouts, `ProxyPass /b/ ${backend.url}/`);
    const dir = fs.mkdtempSync(path.join(d.dir, 'attack-'));
    let attacking = true;
    const client = normalClient(d.port, () => !attacking);
    const started = Date.now();
    const attack = await slowhttptest([flag, '-c', '200', '-r', '200', '-i', '1', '-l', '15', '-s', '8192', '-p', '3', '-u', `http://127.0.0.1:${d.port}/b/count`], dir);
    attacking = false;
    const lasted = Date.now() - started;
    const served = await client;
    const peak = Math.max(...attack.rows.map((row) => row[3]));
    assert.ok(peak >= 100, `the attack held ${peak} connections at once`);
    // slowhttptest stops early once the server has closed every one of its connections.
    assert.match(attack.output, /No open connections left/, attack.rows.map((row) => row.join(',')).join(' | '));
    assert.ok(lasted < 12000, `every attack connection was cut after ${lasted} ms, long before the attack's 15 s`);
    assert.deepEqual(served.failed, [], 'the normal client was always served');
    assert.ok(served.ok >= 5, `the normal client got ${served.ok} answers`);
    const s = await limitsStatus(d);
    assert.ok(s.rejections.RequestReadTimeout >= 100, `RequestReadTimeout cut ${s.rejections.RequestReadTimeout}`);
    const line = await limitLine(d, 'RequestReadTimeout');
    assert.equal(line.stage, flag === '-H' ? 'header' : 'body');
  });
}
