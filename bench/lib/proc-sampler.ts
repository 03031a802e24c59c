// Watches processes from outside while a load runs: CPU time from /proc/<pid>/stat and the
// established connections each one holds on a port (ss lists the sockets, /proc/<pid>/fd says
// whose they are). Nothing is asked of the processes themselves, so sampling them does not
// change what they are measured doing.
import fs from 'node:fs';
import { runCommand } from './processes';

export interface PidSample {
  /** CPU time (user + system, all threads) since the previous sample, in ms. */
  cpuMs: number;
  /** Established connections on the watched port held by this process now. */
  conns: number;
}

export interface Sample {
  /** Seconds since sampling started. */
  t: number;
  byPid: Map<number, PidSample>;
}

// Linux reports CPU time in USER_HZ ticks, 100 a second on every architecture Node runs on.
const TICK_MS = 10;

function cpuMs(pid: number): number {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which may itself hold spaces and parentheses.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * TICK_MS;
  } catch {
    return NaN;
  }
}

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

async function establishedInodes(port: number): Promise<Set<string>> {
  const r = await runCommand('ss', ['-Htne', 'state', 'established', `( sport = :${port} )`]);
  return new Set([...r.stdout.matchAll(/\bino:(\d+)/g)].map((m) => m[1]));
}

export interface SamplerOptions {
  pids: number[];
  port: number;
  everyMs?: number;
}

export interface Sampler {
  stop(): Promise<Sample[]>;
}

export function startSampler(o: SamplerOptions): Sampler {
  const start = Date.now();
  const samples: Sample[] = [];
  let last = new Map(o.pids.map((pid) => [pid, cpuMs(pid)]));
  let running = true;
  const take = async () => {
    const established = await establishedInodes(o.port);
    const byPid = new Map<number, PidSample>();
    const now = new Map<number, number>();
    for (const pid of o.pids) {
      now.set(pid, cpuMs(pid));
      let conns = 0;
      for (const inode of socketInodes(pid)) if (established.has(inode)) conns++;
      byPid.set(pid, { cpuMs: (now.get(pid) ?? NaN) - (last.get(pid) ?? NaN), conns });
    }
    last = now;
    samples.push({ t: (Date.now() - start) / 1000, byPid });
  };
  const loop = (async () => {
    while (running) {
      await new Promise((r) => setTimeout(r, o.everyMs ?? 1000));
      if (running) await take();
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return samples;
    },
  };
}

/** Established connections on `port`, whoever holds them: 0 once a load has fully closed. */
export async function establishedCount(port: number): Promise<number> {
  return (await establishedInodes(port)).size;
}
