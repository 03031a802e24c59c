// session-profile: what the session step adds to a proxied request, for finding where it goes.
// mpmproxy runs as one process (`-X`, event MPM) proxying to the session benchmark's backend,
// one case at a time: no sessions, shm reads, shm reads with `StateAware off` (the session step
// without the state-aware layer), shm writes. Each round runs every case (the order alternating
// between rounds, so drift of a busy machine falls on all alike) and measures the process's CPU
// time per request from /proc; the medians over the rounds are printed with what each case adds
// to no sessions. With --profile, one more run per case under `node --cpu-prof` prints self time
// per group and the costliest functions. Printed only: bench/RESULTS.md is left alone.
//
//   node dist/bench/session-profile.js [--rounds N] [--profile]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { summarizeProfile } from './lib/cpu-profile';
import { mpmproxyConfig, repoRoot } from './lib/mpmproxy';
import { freePort, LOOPBACK, waitForPort } from './lib/ports';
import { deathOf, startProcess } from './lib/processes';
import { treeCpuMs } from './lib/proc-sampler';
import { newSession, startSessionBackend } from './lib/session-backend';
import { createWorkDir, type WorkDir } from './lib/work-dir';
import { runWrk } from './lib/wrk';

const LOAD = { connections: 32, threads: 2 };
const WARMUP_S = 1;
const MEASURED_S = 5;
const DEFAULT_ROUNDS = 5;
// Finer than the default 1 ms: a request takes tens of µs.
const SAMPLE_INTERVAL_US = 200;
const TOP_FUNCTIONS = 30;

const CASES = ['none', 'read', 'read-stateaware-off', 'write'] as const;
type Case = (typeof CASES)[number];

const monotonicUs = () => Number(process.hrtime.bigint() / 1000n);

function directives(c: Case, backendPort: number): string[] {
  const session = c === 'none' ? [] : ['<Location /s>', '  Session On', ...(c === 'read-stateaware-off' ? ['  StateAware off'] : []), '</Location>'];
  return ['MPM event', 'ThreadsPerChild 64', 'LimitCache 64M', `ProxyPass /s http://${LOOPBACK}:${backendPort}`, ...session];
}

/** One run of case `c`: CPU µs per request, and the V8 profile's summary when `profile`. */
async function run(dir: WorkDir, backendPort: number, c: Case, profile: boolean): Promise<number> {
  const port = await freePort();
  const name = `${c}-${port}`;
  const profDir = dir.file(`prof-${name}`);
  const configFile = dir.write(`${name}.conf`, mpmproxyConfig({ dir, port, children: 1, directives: directives(c, backendPort) }));
  const daemon = startProcess({
    name: `mpmproxy -X (${name})`,
    command: process.execPath,
    args: [...(profile ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`, `--cpu-prof-interval=${SAMPLE_INTERVAL_US}`] : []), path.join(repoRoot, 'bin', 'mpmproxy.js'), '-X', '-f', configFile],
    cwd: repoRoot,
    logFile: dir.file(`${name}.out`),
  });
  try {
    await waitForPort(port, { failIf: () => deathOf(daemon) });
    const cookie = c === 'none' ? 'none=1' : await newSession(port);
    const load = (durationS: number) => runWrk({ url: `http://${LOOPBACK}:${port}/s/${c === 'write' ? 'write' : 'read'}`, ...LOAD, durationS, headers: [`Cookie: ${cookie}`] });
    await load(WARMUP_S);
    const from = monotonicUs();
    const cpuBefore = treeCpuMs(daemon.pid);
    const wrk = await load(MEASURED_S);
    const cpuUs = ((treeCpuMs(daemon.pid) - cpuBefore) * 1000) / wrk.requests;
    const to = monotonicUs();
    console.log(`${c}${profile ? ' (profiled)' : ''}: ${Math.round(wrk.requestsPerSec)} req/s, ${cpuUs.toFixed(1)} µs CPU a request`);
    if (profile) {
      // -X stops on TERM and writes its profile as it exits.
      await daemon.stop('SIGTERM', 20_000);
      const [file] = fs.readdirSync(profDir).filter((f) => f.endsWith('.cpuprofile'));
      if (file === undefined) throw new Error(`no profile written in ${profDir}:\n${daemon.logTail()}`);
      const p = summarizeProfile(path.join(profDir, file), from, to);
      const us = (ms: number) => ((ms * 1000) / wrk.requests).toFixed(2).padStart(7);
      console.log(`  main thread busy ${us(p.busyMs).trim()} µs a request; self time, µs a request, by group:`);
      for (const g of p.groups) console.log(`  ${us(g.selfMs)}  ${g.group}`);
      console.log(`  the ${TOP_FUNCTIONS} costliest functions:`);
      for (const f of p.functions.slice(0, TOP_FUNCTIONS)) console.log(`  ${us(f.selfMs)}  ${f.name}`);
    }
    return cpuUs;
  } finally {
    await daemon.stop('SIGKILL');
  }
}

const median = (values: number[]): number => {
  const v = [...values].sort((a, b) => a - b);
  const mid = v.length >> 1;
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
};

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const i = argv.indexOf('--rounds');
  const rounds = i < 0 ? DEFAULT_ROUNDS : Number(argv[i + 1]);
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error('--rounds takes a whole number of rounds, 1 or more');
  const [loadAtStart] = os.loadavg();
  if (loadAtStart > 0.5) console.warn(`load average ${loadAtStart.toFixed(2)}: other work on this machine adds noise`);
  const dir = createWorkDir('session-profile');
  const backendPort = await freePort();
  const backend = await startSessionBackend(dir, backendPort);
  const cpu = new Map<Case, number[]>(CASES.map((c) => [c, []]));
  try {
    for (let r = 0; r < rounds; r++) {
      for (const c of r % 2 === 0 ? CASES : [...CASES].reverse()) cpu.get(c)?.push(await run(dir, backendPort, c, false));
    }
    const none = median(cpu.get('none') ?? []);
    console.log(`\nmedians over ${rounds} round(s), CPU µs a request:`);
    for (const c of CASES) {
      const m = median(cpu.get(c) ?? []);
      console.log(`  ${c.padEnd(20)} ${m.toFixed(1).padStart(6)}${c === 'none' ? '' : `  (+${(m - none).toFixed(1)}, ${(((m - none) / m) * 100).toFixed(1)}% of it)`}`);
    }
    if (argv.includes('--profile')) for (const c of CASES) await run(dir, backendPort, c, true);
  } finally {
    await backend.stop();
    dir.remove();
  }
}

main().catch((err: Error) => {
  console.error(err.message);
  process.exitCode = 1;
});
