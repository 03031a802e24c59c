// The `server-status` handler's two bodies: Apache mod_status's HTML page and its `?auto`
// machine format (plus one `Process:` line per child, mpmproxy's own). Pure functions of
// the scoreboard and the master's facts, so a child renders them without asking anyone.

import {
  REQUEST_BYTES,
  type Scoreboard,
  type ScoreboardSummary,
  summarize,
  stateChar,
  WorkerState,
} from '../shm/scoreboard';
import { type ProcessRow, type WorkerRow, processRows, workerRows } from './scoreboard-view';

export interface StatusInfo {
  /** e.g. 'mpmproxy/0.1.0' */
  version: string;
  mpm: string;
  threaded: boolean;
  forked: boolean;
  serverLimit: number;
  threadLimit: number;
  threadsPerChild: number;
  maxRequestWorkers: number;
  generation: number;
  /** ms since the epoch; the totals count from here. */
  startTime: number;
  /** ms since the epoch of the last (graceful) restart; uptime counts from here, as in Apache. */
  restartTime: number;
  now: number;
  hostname?: string;
  /** `Key: value` lines other parts add (the limits' counters), shown in both formats. */
  extra?: readonly string[];
}

/** mod_status's words for each state character, in its order. */
export const STATE_LEGEND: ReadonlyArray<readonly [WorkerState, string]> = [
  [WorkerState.READY, 'Waiting for Connection'],
  [WorkerState.STARTING, 'Starting up'],
  [WorkerState.BUSY_READ, 'Reading Request'],
  [WorkerState.BUSY_WRITE, 'Sending Reply'],
  [WorkerState.BUSY_KEEPALIVE, 'Keepalive (read)'],
  [WorkerState.BUSY_DNS, 'DNS Lookup'],
  [WorkerState.CLOSING, 'Closing connection'],
  [WorkerState.BUSY_LOG, 'Logging'],
  [WorkerState.GRACEFUL, 'Gracefully finishing'],
  [WorkerState.IDLE_KILL, 'Idle cleanup of worker'],
  [WorkerState.DEAD, 'Open slot with no current process'],
];

const SCOREBOARD_ROW = 64;

interface Figures {
  summary: ScoreboardSummary;
  uptimeSeconds: number;
  reqPerSec: number;
  bytesPerSec: number;
  bytesPerReq: number;
}

function figures(scoreboard: Scoreboard, info: StatusInfo): Figures {
  const summary = summarize(scoreboard, info.threadsPerChild);
  // Rates are over the span the totals cover (since start), not since the last restart.
  const countedSeconds = Math.max(0, (info.now - info.startTime) / 1000);
  const perSecond = (n: number): number => (countedSeconds > 0 ? n / countedSeconds : 0);
  return {
    summary,
    uptimeSeconds: Math.max(0, Math.floor((info.now - info.restartTime) / 1000)),
    reqPerSec: perSecond(summary.totalAccesses),
    bytesPerSec: perSecond(summary.totalBytes),
    bytesPerReq: summary.totalAccesses > 0 ? summary.totalBytes / summary.totalAccesses : 0,
  };
}

export function renderStatusAuto(scoreboard: Scoreboard, info: StatusInfo): string {
  const f = figures(scoreboard, info);
  const s = f.summary;
  const lines: string[] = [];
  // Apache 2.4 opens ?auto with the server name alone on a line.
  if (info.hostname) lines.push(oneLine(info.hostname));
  lines.push(
    `ServerVersion: ${oneLine(info.version)}`,
    `ServerMPM: ${oneLine(info.mpm)}`,
    `CurrentTime: ${httpTime(info.now)}`,
    `RestartTime: ${httpTime(info.restartTime)}`,
    `ParentServerConfigGeneration: ${info.generation}`,
    `ServerUptimeSeconds: ${f.uptimeSeconds}`,
    `ServerUptime: ${formatDuration(f.uptimeSeconds)}`,
    `Total Accesses: ${s.totalAccesses}`,
    `Total kBytes: ${Math.floor(s.totalBytes / 1024)}`,
    `Uptime: ${f.uptimeSeconds}`,
    `ReqPerSec: ${formatG(f.reqPerSec)}`,
    `BytesPerSec: ${formatG(f.bytesPerSec)}`,
    `BytesPerReq: ${formatG(f.bytesPerReq)}`,
    `BusyWorkers: ${s.busyWorkers}`,
    `IdleWorkers: ${s.idleWorkers}`,
    `Processes: ${s.processes}`,
    `Stopping: ${s.quiescingProcesses}`,
    `ConnsTotal: ${s.openConnections}`,
    `ConnsAsyncKeepAlive: ${s.keepAliveIdle}`,
    `ConnsWebSocket: ${s.webSockets}`,
    `Scoreboard: ${s.scoreboard}`,
    // mpmproxy's own, after Apache's: state-aware sessions and the children that own them.
    `StateAwareSessions: ${s.stateAwareSessions}`,
    `StateAwareOwners: ${s.owningProcesses}`,
    ...(info.extra ?? []).map(oneLine),
  );
  for (const p of processRows(scoreboard)) {
    lines.push(
      `Process: slot=${p.slot} pid=${p.pid} generation=${p.generation} accepting=${flag(p.accepting)} ` +
        `stopping=${flag(p.quiescing)} conns=${p.connections} connsTotal=${p.connectionsTotal} ` +
        `requests=${p.requestsTotal} busy=${p.busy} keepalive=${p.keepAliveIdle} stateaware=${p.stateAware} websockets=${p.webSockets}`,
    );
  }
  return lines.join('\n') + '\n';
}

export function renderStatusHtml(scoreboard: Scoreboard, info: StatusInfo): string {
  const f = figures(scoreboard, info);
  const s = f.summary;
  const title = info.hostname ? `Server Status for ${escapeHtml(info.hostname)}` : 'Server Status';
  return [
    '<!DOCTYPE html>',
    '<html lang="en"><head><meta charset="utf-8">',
    `<title>${title}</title>`,
    '<style>table{border-collapse:collapse}th,td{border:1px solid #999;padding:0 .4em}' +
      'td.n{text-align:right}pre{line-height:1.1}</style>',
    '</head><body>',
    `<h1>${title}</h1>`,
    '<dl>',
    dt(`Server Version: ${escapeHtml(info.version)}`),
    dt(`Server MPM: ${escapeHtml(info.mpm)} (threaded: ${yesNo(info.threaded)}, forked: ${yesNo(info.forked)})`),
    dt(
      `ServerLimit: ${info.serverLimit}, ThreadLimit: ${info.threadLimit}, ` +
        `ThreadsPerChild: ${info.threadsPerChild}, MaxRequestWorkers: ${info.maxRequestWorkers}`,
    ),
    '</dl><hr>',
    '<dl>',
    dt(`Current Time: ${httpTime(info.now)}`),
    dt(`Restart Time: ${httpTime(info.restartTime)}`),
    dt(`Parent Server Config. Generation: ${info.generation}`),
    dt(`Server uptime: ${formatDuration(f.uptimeSeconds)}`),
    dt(`Total accesses: ${s.totalAccesses} - Total Traffic: ${formatBytes(s.totalBytes)}`),
    dt(
      `${formatG(f.reqPerSec)} requests/sec - ${formatBytes(f.bytesPerSec)}/second - ` +
        `${formatBytes(f.bytesPerReq)}/request`,
    ),
    dt(`${s.busyWorkers} requests currently being processed, ${s.idleWorkers} idle workers`),
    dt(`${s.stateAwareSessions} state-aware sessions owned by ${s.owningProcesses} processes`),
    dt(`${s.webSockets} WebSocket connections open`),
    ...(info.extra ?? []).map((line) => dt(escapeHtml(line))),
    '</dl>',
    processTable(processRows(scoreboard)),
    `<pre>${scoreboardRows(s.scoreboard)}</pre>`,
    scoreboardKey(),
    workerTable(workerRows(scoreboard, info.threadsPerChild), info.now),
    WORKER_COLUMN_KEY,
    '</body></html>',
    '',
  ].join('\n');
}

function processTable(rows: ProcessRow[]): string {
  const sum = (pick: (row: ProcessRow) => number): number => rows.reduce((n, row) => n + pick(row), 0);
  const cells = (values: Array<string | number>): string =>
    values.map((v) => (typeof v === 'number' ? `<td class="n">${v}</td>` : `<td>${v}</td>`)).join('');
  const body = rows.map(
    (p) =>
      `<tr>${cells([
        p.slot,
        p.pid,
        p.generation,
        yesNo(p.quiescing),
        yesNo(p.accepting),
        p.connectionsTotal,
        p.connections,
        p.busy,
        p.keepAliveIdle,
        p.requestsTotal,
        p.stateAware,
      ])}</tr>`,
  );
  return [
    '<table>',
    '<tr><th rowspan="2">Slot</th><th rowspan="2">PID</th><th rowspan="2">Generation</th>' +
      '<th rowspan="2">Stopping</th><th rowspan="2">Accepting</th><th colspan="2">Connections</th>' +
      '<th rowspan="2">Busy</th><th rowspan="2">Idle keep-alive</th><th rowspan="2">Requests</th>' +
      '<th rowspan="2">State-aware sessions</th></tr>',
    '<tr><th>total</th><th>open</th></tr>',
    ...body,
    `<tr><td colspan="5">Sum</td>${cells([
      sum((p) => p.connectionsTotal),
      sum((p) => p.connections),
      sum((p) => p.busy),
      sum((p) => p.keepAliveIdle),
      sum((p) => p.requestsTotal),
      sum((p) => p.stateAware),
    ])}</tr>`,
    '</table>',
  ].join('\n');
}

function scoreboardRows(scoreboard: string): string {
  const rows: string[] = [];
  for (let at = 0; at < scoreboard.length; at += SCOREBOARD_ROW) {
    rows.push(scoreboard.slice(at, at + SCOREBOARD_ROW));
  }
  return rows.join('\n');
}

function scoreboardKey(): string {
  const entries = STATE_LEGEND.map(([state, words]) => `"<b><code>${stateChar(state)}</code></b>" ${words}`);
  return `<p>Scoreboard Key:<br>\n${entries.join(',\n')}</p>`;
}

function workerTable(rows: WorkerRow[], now: number): string {
  const body = rows.map((w) => {
    const sinceLast = w.lastUsed > 0 ? String(Math.max(0, Math.floor((now - w.lastUsed) / 1000))) : '-';
    return (
      `<tr><td>${w.slot}-${w.thread}</td><td class="n">${w.pid}</td><td class="n">${w.accessCount}</td>` +
      `<td><b>${stateChar(w.state)}</b></td><td class="n">${sinceLast}</td>` +
      `<td class="n">${Math.round(w.lastDurationUs / 1000)}</td><td class="n">${formatBytes(w.bytesServed)}</td>` +
      `<td>${escapeHtml(w.client)}</td><td>${escapeHtml(w.vhost)}</td><td>${escapeHtml(w.request)}</td></tr>`
    );
  });
  return [
    '<table>',
    '<tr><th>Srv</th><th>PID</th><th>Acc</th><th>M</th><th>SS</th><th>Req</th><th>Bytes</th>' +
      '<th>Client</th><th>VHost</th><th>Request</th></tr>',
    ...body,
    '</table>',
  ].join('\n');
}

const WORKER_COLUMN_KEY = [
  '<hr><table>',
  '<tr><th>Srv</th><td>Process slot - worker slot</td></tr>',
  '<tr><th>PID</th><td>OS process ID</td></tr>',
  '<tr><th>Acc</th><td>Requests served by this worker slot</td></tr>',
  '<tr><th>M</th><td>Mode of operation (see the scoreboard key)</td></tr>',
  '<tr><th>SS</th><td>Seconds since the beginning of the most recent request</td></tr>',
  '<tr><th>Req</th><td>Milliseconds taken by the most recent request</td></tr>',
  '<tr><th>Bytes</th><td>Bytes served by this worker slot</td></tr>',
  '<tr><th>Client</th><td>Client address of the most recent request</td></tr>',
  '<tr><th>VHost</th><td>Virtual host of the most recent request</td></tr>',
  `<tr><th>Request</th><td>Request line of the most recent request (at most ${REQUEST_BYTES} bytes)</td></tr>`,
  '</table>',
].join('\n');

function dt(text: string): string {
  return `<dt>${text}</dt>`;
}

function yesNo(value: boolean): string {
  return value ? 'yes' : 'no';
}

function flag(value: boolean): string {
  return value ? '1' : '0';
}

const HTML_ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]);
}

/** A value on one `?auto` line must not start another. */
function oneLine(text: string): string {
  return text.replace(/[\r\n]+/g, ' ');
}

const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** Apache's status time format ("%A, %d-%b-%Y %H:%M:%S %Z"), always in UTC. */
export function httpTime(ms: number): string {
  const d = new Date(ms);
  const two = (n: number): string => String(n).padStart(2, '0');
  return (
    `${DAYS[d.getUTCDay()]}, ${two(d.getUTCDate())}-${MONTHS[d.getUTCMonth()]}-${d.getUTCFullYear()} ` +
    `${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())} UTC`
  );
}

/** Apache's uptime wording: "1 day 2 hours 5 seconds", zero parts left out. */
export function formatDuration(totalSeconds: number): string {
  const parts: string[] = [];
  const units: Array<[string, number]> = [
    ['day', Math.floor(totalSeconds / 86400)],
    ['hour', Math.floor(totalSeconds / 3600) % 24],
    ['minute', Math.floor(totalSeconds / 60) % 60],
    ['second', totalSeconds % 60],
  ];
  for (const [unit, n] of units) {
    if (n !== 0) parts.push(`${n} ${unit}${n === 1 ? '' : 's'}`);
  }
  return parts.length > 0 ? parts.join(' ') : '0 seconds';
}

/** Apache's format_byte_out: B below 5 kB, then kB, MB, GB with one decimal. */
export function formatBytes(bytes: number): string {
  if (bytes < 5 * 1024) return `${Math.round(bytes)} B`;
  if (bytes < 512 * 1024) return `${(bytes / 1024).toFixed(1)} kB`;
  if (bytes < 512 * 1024 * 1024) return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
  return `${(bytes / (1024 * 1024 * 1024)).toFixed(1)} GB`;
}

/** printf's %g: six significant digits, trailing zeros dropped. */
export function formatG(value: number): string {
  return String(Number(value.toPrecision(6)));
}
