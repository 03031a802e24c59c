// Looks at processes from outside while a load runs: CPU time from /proc/<pid>/stat and the
// established connections each one holds on a port (ss lists the sockets, /proc/<pid>/fd says
// whose they are). Nothing is asked of the processes themselves, so looking does not change
// what they are measured doing.
import fs from 'node:fs';
import os from 'node:os';
import { runCommand } from './processes';

export interface ProcessSample {
  /** CPU time (user + system, all threads) since the process started, in ms. */
  cpuMs: number;
  /** Established connections on the watched port that this process holds now. */
  conns: number;
  /** The CPU its main thread last ran on: where the scheduler has placed it. */
  lastCpu: number;
}

// Linux reports CPU time in USER_HZ ticks, 100 a second on every architecture Node runs on.
const TICK_MS = 10;

/** Fields of /proc/<pid>/stat from the third (state) on, or null once the process is gone. */
function statFields(pid: number): string[] | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name before them may itself hold spaces and parentheses.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null;
  }
}

// proc(5) numbers the fields from 1; statFields starts at field 3.
const field = (fields: string[] | null, n: number) => (fields ? Number(fields[n - 3]) : NaN);

function socketInodes(pid: number): Set<string> {
  const inodes = new Set<string>();
  let fds: string[];
  try {
    fds = fs.readdirSync(`/proc/${pid}/fd`);
  } catch {
    return inodes;
  }
  for (const fd of fds) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1]);
    } catch {
      // The descriptor closed between the listing and the read.
    }
  }
  return inodes;
}

/** Inodes of the sockets on local port `port` in the given ss state filter. */
async function socketsOnPort(port: number, states: string[]): Promise<Set<string>> {
  const r = await runCommand('ss', ['-Htne', ...states, `( sport = :${port} )`]);
  if (r.code !== 0) throw new Error(`ss failed: ${r.stderr}`);
  return new Set([...r.stdout.matchAll(/\bino:(\d+)/g)].map((m) => m[1]));
}

export async function sampleProcesses(pids: number[], port: number): Promise<Map<number, ProcessSample>> {
  const established = await socketsOnPort(port, ['state', 'established']);
  const samples = new Map<number, ProcessSample>();
  for (const pid of pids) {
    let conns = 0;
    for (const inode of socketInodes(pid)) if (established.has(inode)) conns++;
    const stat = statFields(pid);
    samples.set(pid, {
      cpuMs: (field(stat, 14) + field(stat, 15)) * TICK_MS,
      conns,
      lastCpu: field(stat, 39),
    });
  }
  return samples;
}

/** The pids of `root` and every process below it. */
export function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const ppid = field(statFields(Number(entry)), 4);
    if (Number.isNaN(ppid)) continue;
    const list = children.get(ppid);
    if (list) list.push(Number(entry));
    else children.set(ppid, [Number(entry)]);
  }
  const tree = [root];
  for (let i = 0; i < tree.length; i++) tree.push(...(children.get(tree[i]) ?? []));
  return tree;
}

/** CPU time (user + system, all threads) of `root` and the processes below it, in ms: what a
 * server of several processes has spent, read from outside. */
export function treeCpuMs(root: number): number {
  let ms = 0;
  for (const pid of processTree(root)) {
    const stat = statFields(pid);
    if (stat) ms += (field(stat, 14) + field(stat, 15)) * TICK_MS;
  }
  return ms;
}

/** CPU time the machine spent busy, all CPUs together (everything but idle and I/O wait), in ms. */
export function machineBusyMs(): number {
  // The first line of /proc/stat: "cpu  user nice system idle iowait irq softirq steal ...".
  const ticks = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1, 9).map(Number);
  const total = ticks.reduce((a, b) => a + b, 0);
  return (total - ticks[3] - ticks[4]) * TICK_MS;
}

/** CPU time of this process and of the children it has waited for (a load generator that has
 * exited), in ms. */
export function selfCpuMs(): number {
  const stat = statFields(process.pid);
  return (field(stat, 14) + field(stat, 15) + field(stat, 16) + field(stat, 17)) * TICK_MS;
}

/** CPU time (ms) that a measured run is made of (`ours`: the process trees given, this process
 * and the load generators it has waited for) and that the whole machine spent. */
function runCpu(roots: number[]): { machine: number; ours: number } {
  return { machine: machineBusyMs(), ours: roots.reduce((n, pid) => n + treeCpuMs(pid), 0) + selfCpuMs() };
}

/**
 * Starts watching for other work during a run: `end()` returns the CPU time everything else on
 * the machine used meanwhile (not the process trees `roots`, this process or its load
 * generators), as a share of all CPUs. Other work takes CPU from the run and blurs requests/s.
 */
export function otherCpuWindow(roots: number[]): { end: () => number } {
  const before = runCpu(roots);
  const started = Date.now();
  return {
    end: () => {
      const after = runCpu(roots);
      const other = after.machine - before.machine - (after.ours - before.ours);
      return Math.max(0, other) / (Math.max(1, Date.now() - started) * os.cpus().length);
    },
  };
}

/**
 * Connections on `port` not yet fully closed (any state but LISTEN and TIME-WAIT): 0 once a
 * load has ended and the server has finished closing, lingering close included.
 */
export async function openConnectionCount(port: number): Promise<number> {
  return (await socketsOnPort(port, ['state', 'connected', 'exclude', 'time-wait'])).size;
}
