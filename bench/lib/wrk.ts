// Runs wrk against a loopback URL and reads its report. wrk prints numbers with units
// (1.23ms, 15.43MB, 12.34k); they are turned back into plain milliseconds, bytes and counts.
import { runCommand } from './processes';

export interface WrkOptions {
  url: string;
  connections: number;
  threads: number;
  durationS: number;
  /** Extra request headers, e.g. ['Connection: close']. */
  headers?: string[];
  /** A Lua script file (wrk -s) that builds the requests. */
  script?: string;
}

export interface WrkResult {
  /** The command line, quoted for a shell, as the results document shows it. */
  command: string;
  requests: number;
  durationS: number;
  requestsPerSec: number;
  bytesRead: number;
  latencyMs: { avg: number; stdev: number; max: number; p50: number; p75: number; p90: number; p99: number };
  errors: { connect: number; read: number; write: number; timeout: number; status: number };
  output: string;
}

export function wrkArgs(o: WrkOptions): string[] {
  const args = [`-t${o.threads}`, `-c${o.connections}`, `-d${o.durationS}s`, '--latency'];
  for (const h of o.headers ?? []) args.push('-H', h);
  if (o.script !== undefined) args.push('-s', o.script);
  args.push(o.url);
  return args;
}

const shellQuote = (a: string) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replaceAll("'", `'\\''`)}'`);

export function commandLine(command: string, args: string[]): string {
  return [command, ...args].map(shellQuote).join(' ');
}

export async function runWrk(o: WrkOptions): Promise<WrkResult> {
  const args = wrkArgs(o);
  const r = await runCommand('wrk', args, (o.durationS + 60) * 1000);
  if (r.code !== 0) throw new Error(`wrk exited with ${r.code}: ${r.stderr || r.stdout}`);
  return { command: commandLine('wrk', args), ...parseWrkOutput(r.stdout) };
}

const timeUnitsMs: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const sizeUnits: Record<string, number> = { B: 1, KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3, TB: 1024 ** 4 };

function toMs(text: string): number {
  const m = /^([\d.]+)(us|ms|s|m|h)$/.exec(text);
  if (!m) throw new Error(`wrk: unreadable duration ${text}`);
  return Number(m[1]) * timeUnitsMs[m[2]];
}

function toBytes(text: string): number {
  const m = /^([\d.]+)([KMGT]?B)$/.exec(text);
  if (!m) throw new Error(`wrk: unreadable size ${text}`);
  return Number(m[1]) * sizeUnits[m[2]];
}

function match(output: string, re: RegExp, what: string): RegExpExecArray {
  const m = re.exec(output);
  if (!m) throw new Error(`wrk: no ${what} in its output:\n${output}`);
  return m;
}

export function parseWrkOutput(output: string): Omit<WrkResult, 'command'> {
  const latency = match(output, /^\s+Latency\s+(\S+)\s+(\S+)\s+(\S+)/m, 'latency line');
  const pct = (p: number) => toMs(match(output, new RegExp(`^\\s+${p}%\\s+(\\S+)`, 'm'), `${p}th percentile`)[1]);
  const total = match(output, /^\s+(\d+) requests in ([\d.]+\w+), (\S+) read/m, 'request count');
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(output);
  const status = /Non-2xx or 3xx responses: (\d+)/.exec(output);
  return {
    requests: Number(total[1]),
    durationS: toMs(total[2]) / 1000,
    requestsPerSec: Number(match(output, /^Requests\/sec:\s+([\d.]+)/m, 'Requests/sec')[1]),
    bytesRead: toBytes(total[3]),
    latencyMs: {
      avg: toMs(latency[1]),
      stdev: toMs(latency[2]),
      max: toMs(latency[3]),
      p50: pct(50),
      p75: pct(75),
      p90: pct(90),
      p99: pct(99),
    },
    errors: {
      connect: Number(socket?.[1] ?? 0),
      read: Number(socket?.[2] ?? 0),
      write: Number(socket?.[3] ?? 0),
      timeout: Number(socket?.[4] ?? 0),
      status: Number(status?.[1] ?? 0),
    },
    output,
  };
}
