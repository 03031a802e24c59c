import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Scoreboard, WorkerState, WORKER_STATE_COUNT, stateChar } from '../src/shm/scoreboard';
import {
  escapeHtml,
  formatBytes,
  formatDuration,
  formatG,
  httpTime,
  renderStatusAuto,
  renderStatusHtml,
  STATE_LEGEND,
  type StatusInfo,
} from '../src/status/server-status';

const NOW = Date.UTC(2024, 2, 12, 10, 15, 30); // a Tuesday
const HOSTILE_REQUEST = 'GET /<script>alert("x")</script> HTTP/1.1';

function info(overrides: Partial<StatusInfo> = {}): StatusInfo {
  return {
    version: 'mpmproxy/0.1.0',
    mpm: 'event',
    threaded: false,
    forked: true,
    serverLimit: 3,
    threadLimit: 4,
    threadsPerChild: 4,
    maxRequestWorkers: 12,
    generation: 2,
    startTime: NOW - 7_200_000,
    restartTime: NOW - 3_665_000,
    now: NOW,
    hostname: 'proxy.example',
    ...overrides,
  };
}

/** Two live children (one of them quiescing) and one that served two requests and exited. */
function board(): Scoreboard {
  const sb = Scoreboard.create(new ArrayBuffer(Scoreboard.byteLength(3, 4)), 3, 4);
  const S = WorkerState;

  sb.claimProcess(0, 101, 2);
  [S.READY, S.BUSY_WRITE, S.BUSY_KEEPALIVE, S.READY].forEach((st, t) => sb.setWorkerState(0, t, st));
  sb.setAccepting(0, true);
  sb.addConnections(0, 3);
  sb.addKeepAliveIdle(0, 1);
  sb.addBusy(0, 1);
  for (let i = 0; i < 4; i++) sb.incrementConnectionsTotal(0);
  for (const bytes of [1000, 2000, 4096]) sb.addRequest(0, bytes);
  sb.recordRequest(0, 1, {
    client: '203.0.113.9',
    vhost: 'a&b.example',
    request: HOSTILE_REQUEST,
    bytes: 4096,
    durationUs: 12_345,
    at: NOW - 2500,
  });

  sb.claimProcess(1, 102, 1);
  [S.GRACEFUL, S.READY, S.DEAD, S.DEAD].forEach((st, t) => sb.setWorkerState(1, t, st));
  sb.setQuiescing(1, true);
  sb.addConnections(1, 1);
  sb.incrementConnectionsTotal(1);
  sb.incrementConnectionsTotal(1);
  sb.addRequest(1, 1000);

  sb.claimProcess(2, 103, 1);
  sb.incrementConnectionsTotal(2);
  sb.addRequest(2, 500);
  sb.addRequest(2, 500);
  sb.releaseProcess(2);
  return sb;
}

interface ParsedAuto {
  hostname: string | undefined;
  fields: Map<string, string>;
  processes: Array<Record<string, number>>;
}

function parseAuto(body: string): ParsedAuto {
  assert.ok(body.endsWith('\n'));
  const lines = body.slice(0, -1).split('\n');
  const hostname = lines[0]!.includes(': ') ? undefined : lines.shift();
  const fields = new Map<string, string>();
  const processes: Array<Record<string, number>> = [];
  for (const line of lines) {
    const at = line.indexOf(': ');
    assert.ok(at > 0, `line without "key: value": ${line}`);
    const key = line.slice(0, at);
    const value = line.slice(at + 2);
    if (key === 'Process') {
      processes.push(Object.fromEntries(value.split(' ').map((pair) => {
        const [k, v] = pair.split('=');
        return [k!, Number(v)];
      })));
    } else {
      assert.ok(!fields.has(key), `duplicate key ${key}`);
      fields.set(key, value);
    }
  }
  return { hostname, fields, processes };
}

test('?auto parses into the expected keys and values', () => {
  const parsed = parseAuto(renderStatusAuto(board(), info()));
  assert.equal(parsed.hostname, 'proxy.example');
  assert.deepEqual(Object.fromEntries(parsed.fields), {
    ServerVersion: 'mpmproxy/0.1.0',
    ServerMPM: 'event',
    CurrentTime: 'Tuesday, 12-Mar-2024 10:15:30 UTC',
    RestartTime: 'Tuesday, 12-Mar-2024 09:14:25 UTC',
    ParentServerConfigGeneration: '2',
    ServerUptimeSeconds: '3665',
    ServerUptime: '1 hour 1 minute 5 seconds',
    'Total Accesses': '6',
    'Total kBytes': '8',
    Uptime: '3665',
    ReqPerSec: '0.000833333',
    BytesPerSec: '1.26333',
    BytesPerReq: '1516',
    BusyWorkers: '3',
    IdleWorkers: '2',
    Processes: '2',
    Stopping: '1',
    ConnsTotal: '4',
    ConnsAsyncKeepAlive: '1',
    ConnsWebSocket: '0',
    Scoreboard: '_WK_G_......',
    StateAwareSessions: '0',
    StateAwareOwners: '0',
  });
  assert.deepEqual(parsed.processes, [
    { slot: 0, pid: 101, generation: 2, accepting: 1, stopping: 0, conns: 3, connsTotal: 4, requests: 3, busy: 1, keepalive: 1, stateaware: 0, websockets: 0 },
    { slot: 1, pid: 102, generation: 1, accepting: 0, stopping: 1, conns: 1, connsTotal: 2, requests: 1, busy: 0, keepalive: 0, stateaware: 0, websockets: 0 },
  ]);
});

test('?auto keeps Apache key order and leaves out the host line without a hostname', () => {
  const body = renderStatusAuto(board(), info({ hostname: undefined }));
  const keys = body.trimEnd().split('\n').map((line) => line.slice(0, line.indexOf(':')));
  assert.deepEqual(keys, [
    'ServerVersion', 'ServerMPM', 'CurrentTime', 'RestartTime', 'ParentServerConfigGeneration',
    'ServerUptimeSeconds', 'ServerUptime', 'Total Accesses', 'Total kBytes', 'Uptime', 'ReqPerSec',
    'BytesPerSec', 'BytesPerReq', 'BusyWorkers', 'IdleWorkers', 'Processes', 'Stopping', 'ConnsTotal',
    'ConnsAsyncKeepAlive', 'ConnsWebSocket', 'Scoreboard', 'StateAwareSessions', 'StateAwareOwners', 'Process', 'Process',
  ]);
});

test('?auto cannot be given extra lines through a value', () => {
  const body = renderStatusAuto(board(), info({ hostname: 'evil\nBusyWorkers: 999', version: 'v\r\nIdleWorkers: 9' }));
  const parsed = parseAuto(body.split('\n').slice(1).join('\n'));
  assert.equal(body.split('\n')[0], 'evil BusyWorkers: 999');
  assert.equal(parsed.fields.get('BusyWorkers'), '3');
  assert.equal(parsed.fields.get('IdleWorkers'), '2');
  assert.equal(parsed.fields.get('ServerVersion'), 'v IdleWorkers: 9');
});

test('the HTML page shows the figures, the process table and the worker detail', () => {
  const html = renderStatusHtml(board(), info());
  for (const line of [
    '<h1>Server Status for proxy.example</h1>',
    '<dt>Server Version: mpmproxy/0.1.0</dt>',
    '<dt>Server MPM: event (threaded: no, forked: yes)</dt>',
    '<dt>ServerLimit: 3, ThreadLimit: 4, ThreadsPerChild: 4, MaxRequestWorkers: 12</dt>',
    '<dt>Current Time: Tuesday, 12-Mar-2024 10:15:30 UTC</dt>',
    '<dt>Restart Time: Tuesday, 12-Mar-2024 09:14:25 UTC</dt>',
    '<dt>Parent Server Config. Generation: 2</dt>',
    '<dt>Server uptime: 1 hour 1 minute 5 seconds</dt>',
    '<dt>Total accesses: 6 - Total Traffic: 8.9 kB</dt>',
    '<dt>0.000833333 requests/sec - 1 B/second - 1516 B/request</dt>',
    '<dt>3 requests currently being processed, 2 idle workers</dt>',
    '<dt>0 state-aware sessions owned by 0 processes</dt>',
    '<tr><td class="n">0</td><td class="n">101</td><td class="n">2</td><td>no</td><td>yes</td>' +
      '<td class="n">4</td><td class="n">3</td><td class="n">1</td><td class="n">1</td><td class="n">3</td><td class="n">0</td></tr>',
    '<tr><td class="n">1</td><td class="n">102</td><td class="n">1</td><td>yes</td><td>no</td>' +
      '<td class="n">2</td><td class="n">1</td><td class="n">0</td><td class="n">0</td><td class="n">1</td><td class="n">0</td></tr>',
    '<tr><td colspan="5">Sum</td><td class="n">6</td><td class="n">4</td><td class="n">1</td><td class="n">1</td>' +
      '<td class="n">4</td><td class="n">0</td></tr>',
    '<pre>_WK_G_......</pre>',
    '<tr><td>0-1</td><td class="n">101</td><td class="n">1</td><td><b>W</b></td><td class="n">2</td>' +
      '<td class="n">12</td><td class="n">4096 B</td><td>203.0.113.9</td><td>a&amp;b.example</td>' +
      '<td>GET /&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; HTTP/1.1</td></tr>',
    '<tr><td>0-2</td><td class="n">101</td><td class="n">0</td><td><b>K</b></td><td class="n">-</td>' +
      '<td class="n">0</td><td class="n">0 B</td><td></td><td></td><td></td></tr>',
    '<tr><td>1-0</td><td class="n">102</td><td class="n">0</td><td><b>G</b></td><td class="n">-</td>' +
      '<td class="n">0</td><td class="n">0 B</td><td></td><td></td><td></td></tr>',
  ]) {
    assert.ok(html.split('\n').includes(line), `missing line: ${line}`);
  }
  // READY slots that never served are left out, as mod_status does.
  assert.equal(html.match(/<tr><td>\d+-\d+<\/td>/g)?.length, 3);
});

test('the HTML page escapes every client-derived string', () => {
  const html = renderStatusHtml(board(), info({ hostname: '<img src=x onerror=alert(1)>', version: 'v<i>' }));
  assert.ok(!html.includes('<script>'));
  assert.ok(!html.includes('<img'));
  assert.ok(!html.includes('<i>'));
  assert.ok(html.includes('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;'));
  assert.ok(html.includes('<title>Server Status for &lt;img src=x onerror=alert(1)&gt;</title>'));
  assert.ok(html.includes('<dt>Server Version: v&lt;i&gt;</dt>'));
  assert.equal(escapeHtml(`<a href="x">'&'</a>`), '&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
});

test('the scoreboard map is drawn in rows of 64 with the key', () => {
  const sb = Scoreboard.create(new ArrayBuffer(Scoreboard.byteLength(40, 4)), 40, 4);
  sb.claimProcess(0, 9, 1);
  for (let t = 0; t < 4; t++) sb.setWorkerState(0, t, WorkerState.READY);
  const html = renderStatusHtml(sb, info({ serverLimit: 40 }));
  const pre = /<pre>([^<]*)<\/pre>/.exec(html)?.[1];
  assert.deepEqual(pre?.split('\n'), ['____' + '.'.repeat(60), '.'.repeat(64), '.'.repeat(32)]);
  for (const [state, words] of STATE_LEGEND) {
    assert.ok(html.includes(`"<b><code>${stateChar(state)}</code></b>" ${words}`));
  }
});

test('the key names every state once', () => {
  const states = STATE_LEGEND.map(([state]) => state).sort((a, b) => a - b);
  assert.deepEqual(states, Array.from({ length: WORKER_STATE_COUNT }, (_, i) => i));
  assert.equal(STATE_LEGEND.map(([state]) => stateChar(state)).join(''), '_SRWKDCLGI.');
});

test('Apache number and time formats', () => {
  assert.equal(httpTime(NOW), 'Tuesday, 12-Mar-2024 10:15:30 UTC');
  assert.equal(httpTime(Date.UTC(2025, 0, 5, 3, 4, 5)), 'Sunday, 05-Jan-2025 03:04:05 UTC');
  assert.equal(formatDuration(0), '0 seconds');
  assert.equal(formatDuration(1), '1 second');
  assert.equal(formatDuration(90_061), '1 day 1 hour 1 minute 1 second');
  assert.equal(formatDuration(2 * 86_400 + 120), '2 days 2 minutes');
  assert.equal(formatBytes(5119), '5119 B');
  assert.equal(formatBytes(5120), '5.0 kB');
  assert.equal(formatBytes(512 * 1024), '0.5 MB');
  assert.equal(formatBytes(3 * 2 ** 30), '3.0 GB');
  assert.equal(formatG(0), '0');
  assert.equal(formatG(1 / 3), '0.333333');
  assert.equal(formatG(12), '12');
});

test('rates are zero, not NaN, in the first second', () => {
  const sb = Scoreboard.create(new ArrayBuffer(Scoreboard.byteLength(1, 1)), 1, 1);
  const parsed = parseAuto(renderStatusAuto(sb, info({ startTime: NOW, restartTime: NOW, serverLimit: 1, threadLimit: 1, threadsPerChild: 1 })));
  assert.equal(parsed.fields.get('ReqPerSec'), '0');
  assert.equal(parsed.fields.get('BytesPerSec'), '0');
  assert.equal(parsed.fields.get('BytesPerReq'), '0');
  assert.equal(parsed.fields.get('ServerUptime'), '0 seconds');
  assert.equal(parsed.fields.get('Scoreboard'), '.');
  assert.deepEqual(parsed.processes, []);
});
