// proxy-profile: where a proxied request's time goes. mpmproxy runs as one process (`-X`,
// event MPM) proxying one of the proxy benchmark's loads (small keep-alive requests unless
// --load says otherwise) to the backend, twice: under `node --cpu-prof`, whose samples from the
// measured load alone are summed by function and grouped (Node's HTTP server and llhttp,
// undici, each module of ours, garbage collection, socket writes); and, where `perf` is
// installed, under `perf record`, which samples CPU time, kernel included. Results go to the
// `proxy-profile` section of bench/RESULTS.md.
//
//   node dist/bench/proxy-profile.js [--load close|keep-alive-64k]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { summarizeProfile } from './lib/cpu-profile';
import type { ProfileSummary } from './lib/cpu-profile';
import { mpmproxyConfig, repoRoot } from './lib/mpmproxy';
import { perfMapFlag, perfProfile } from './lib/perf-profile';
import type { PerfSummary } from './lib/perf-profile';
import { freePort, sleep, waitForPort } from './lib/ports';
import { deathOf, startProcess } from './lib/processes';
import type { RunningProcess } from './lib/processes';
import { treeCpuMs } from './lib/proc-sampler';
import { onPath, startProxyBackend } from './lib/proxy-backend';
import type { ProxyBackend } from './lib/proxy-backend';
import { loadById, loadOptions, MEASURED_S, WARMUP_S } from './lib/proxy-loads';
import type { ProxyLoad } from './lib/proxy-loads';
import { measuredLine, resultsFile, writeResultsSection } from './lib/results';
import { runWrk } from './lib/wrk';
import type { WrkResult } from './lib/wrk';
import { createWorkDir } from './lib/work-dir';
import type { WorkDir } from './lib/work-dir';

const TOP_FUNCTIONS = 30;
// Finer than the default 1 ms: a request takes tens of µs.
const SAMPLE_INTERVAL_US = 200;
// perf samples the middle of the measured load, clear of its start and end.
const PERF_DELAY_S = 1;
const PERF_S = MEASURED_S - 3;

interface Measured {
  wrk: WrkResult;
  /** CPU time of the process (all threads) per request, µs, from /proc. */
  cpuUsPerRequest: number;
}

interface Setup {
  dir: WorkDir;
  backend: ProxyBackend;
  load: ProxyLoad;
}

const monotonicUs = () => Number(process.hrtime.bigint() / 1000n);

/** mpmproxy -X with `nodeFlags`, serving `setup.load`'s requests from the backend. */
async function startSingle(s: Setup, name: string, nodeFlags: string[]): Promise<{ port: number; daemon: RunningProcess }> {
  const port = await freePort();
  const configFile = s.dir.write(
    `${name}.conf`,
    mpmproxyConfig({
      dir: s.dir,
      port,
      children: 1,
      directives: ['MPM event', 'MaxKeepAliveRequests 0', `ProxyPass / http://127.0.0.1:${s.backend.port}/`],
    }),
  );
  const daemon = startProcess({
    name: `mpmproxy -X (${name})`,
    command: process.execPath,
    args: [...nodeFlags, path.join(repoRoot, 'bin', 'mpmproxy.js'), '-X', '-f', configFile],
    cwd: repoRoot,
    logFile: s.dir.file(`${name}.out`),
  });
  try {
    await waitForPort(port, { failIf: () => deathOf(daemon) });
    await runWrk(loadOptions(port, s.backend, s.load, WARMUP_S));
  } catch (err) {
    await daemon.stop('SIGKILL');
    throw err;
  }
  return { port, daemon };
}

async function measure(s: Setup, port: number, daemon: RunningProcess): Promise<Measured> {
  const cpuBefore = treeCpuMs(daemon.pid);
  const wrk = await runWrk(loadOptions(port, s.backend, s.load, MEASURED_S));
  return { wrk, cpuUsPerRequest: ((treeCpuMs(daemon.pid) - cpuBefore) * 1000) / wrk.requests };
}

async function v8Profile(s: Setup): Promise<Measured & { profile: ProfileSummary }> {
  const profDir = s.dir.file('prof');
  const { port, daemon } = await startSingle(s, 'cpu-prof', ['--cpu-prof', `--cpu-prof-dir=${profDir}`, `--cpu-prof-interval=${SAMPLE_INTERVAL_US}`]);
  try {
    const from = monotonicUs();
    const m = await measure(s, port, daemon);
    const to = monotonicUs();
    // -X stops on TERM and writes its profile as it exits.
    await daemon.stop('SIGTERM', 20_000);
    const [file] = fs.readdirSync(profDir).filter((f) => f.endsWith('.cpuprofile'));
    if (file === undefined) throw new Error(`no profile written in ${profDir}:\n${daemon.logTail()}`);
    return { ...m, profile: summarizeProfile(path.join(profDir, file), from, to) };
  } finally {
    await daemon.stop('SIGKILL');
  }
}

async function linuxPerf(s: Setup): Promise<Measured & { perf: PerfSummary }> {
  const { port, daemon } = await startSingle(s, 'perf', [perfMapFlag]);
  try {
    const sampled = sleep(PERF_DELAY_S * 1000).then(() => perfProfile(daemon.pid, PERF_S, s.dir.file('perf.data')));
    const m = await measure(s, port, daemon);
    return { ...m, perf: await sampled };
  } finally {
    await daemon.stop('SIGKILL');
    // Node writes its map of compiled functions for perf there, and never removes it.
    fs.rmSync(`/tmp/perf-${daemon.pid}.map`, { force: true });
  }
}

const pct = (share: number) => `${(share * 100).toFixed(1)}%`;
const perRequest = (ms: number, requests: number) => ((ms * 1000) / requests).toFixed(2);
const rate = (m: Measured) => Math.round(m.wrk.requestsPerSec).toLocaleString('en-US');

function v8Lines(r: Measured & { profile: ProfileSummary }): string[] {
  const p = r.profile;
  const n = r.wrk.requests;
  const share = (ms: number) => pct(ms / p.busyMs);
  return [
    `**By V8's profiler** (\`node --cpu-prof --cpu-prof-interval=${SAMPLE_INTERVAL_US}\`): ${rate(r)} requests/s; the main ` +
      `thread was busy ${perRequest(p.busyMs, n)} µs a request (${pct(p.busyMs / (p.busyMs + p.idleMs))} of the time); ` +
      `the process's CPU time ${r.cpuUsPerRequest.toFixed(1)} µs a request (the profiler's own thread included).`,
    '',
    'Self time: in the function itself, not in what it calls. Native functions called from JavaScript ' +
      '(the llhttp parser, socket writes) count as themselves; socket reads and the event loop run outside ' +
      'JavaScript and count as native. This profiler samples the main thread by the clock, not by CPU time: ' +
      'a socket write on loopback wakes its reader, which may take the CPU from the writer inside the system ' +
      'call, so where every core is busy (wrk, the backend and the proxy share them here) the socket writes ' +
      'also carry the time the process waited for a CPU.',
    '',
    '| where | self time | µs a request |',
    '| --- | ---: | ---: |',
    ...p.groups.map((g) => `| ${g.group} | ${share(g.selfMs)} | ${perRequest(g.selfMs, n)} |`),
    '',
    `<details><summary>The ${TOP_FUNCTIONS} functions with the most self time</summary>`,
    '',
    '| function | group | self time | µs a request |',
    '| --- | --- | ---: | ---: |',
    ...p.functions
      .slice(0, TOP_FUNCTIONS)
      .map((f) => `| \`${f.name.replaceAll('|', '\\|')}\` | ${f.group} | ${share(f.selfMs)} | ${perRequest(f.selfMs, n)} |`),
    '',
    '</details>',
  ];
}

function perfLines(r: Measured & { perf: PerfSummary }): string[] {
  const us = (share: number) => (share * r.cpuUsPerRequest).toFixed(2);
  return [
    `**By Linux perf** (\`perf record -e cpu-clock -g\` for ${PERF_S} s of the load, JavaScript named through ` +
      `\`node ${perfMapFlag}\`): ${rate(r)} requests/s, ${r.cpuUsPerRequest.toFixed(1)} µs of CPU a request ` +
      `(from /proc), ${r.perf.samples.toLocaleString('en-US')} samples. A sample counts for the innermost JavaScript ` +
      'function on its stack, whatever ran below it (V8 builtins, Node\'s C++, the kernel); "in the kernel" is the ' +
      'part of it spent in system calls, TCP and waking other processes.',
    '',
    '| where | CPU time | of it in the kernel | µs a request |',
    '| --- | ---: | ---: | ---: |',
    ...r.perf.groups.map((g) => `| ${g.group} | ${pct(g.share)} | ${pct(g.kernelShare)} | ${us(g.share)} |`),
  ];
}

function section(
  s: Setup,
  v8: Measured & { profile: ProfileSummary },
  perf: (Measured & { perf: PerfSummary }) | null,
  loadAtStart: number,
  argv: string[],
): string {
  const command = v8.wrk.command.replace(/:\d+\//, ':PORT/');
  return [
    "## proxy-profile: where a proxied request's time goes",
    '',
    measuredLine(loadAtStart),
    '',
    `Command: \`node dist/bench/proxy-profile.js${argv.length ? ` ${argv.join(' ')}` : ''}\` (after \`npm run build:ts\`).`,
    '',
    `- mpmproxy in one process (\`mpmproxy -X\`, event MPM, \`MaxKeepAliveRequests 0\`, no access log), ` +
      `\`ProxyPass\` to ${s.backend.describe}.`,
    `- Load: ${s.load.label}; ${WARMUP_S} s warm-up, then \`${command}\`, once per profiler; only the samples ` +
      'of the measured load count.',
    '',
    ...(perf ? [...perfLines(perf), ''] : ['`perf` is not installed: no CPU-time profile.', '']),
    ...v8Lines(v8),
  ].join('\n');
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const [loadAtStart] = os.loadavg();
  if (loadAtStart > 0.5) console.warn(`load average ${loadAtStart.toFixed(2)}: other work on this machine skews the numbers`);
  const i = argv.indexOf('--load');
  const load = loadById(i < 0 ? 'keep-alive' : argv[i + 1]);
  const dir = createWorkDir('proxy-profile');
  const setup: Setup = { dir, backend: await startProxyBackend(dir), load };
  try {
    const v8 = await v8Profile(setup);
    console.log(`--cpu-prof: ${rate(v8)} req/s, ${v8.cpuUsPerRequest.toFixed(1)} µs CPU a request`);
    for (const g of v8.profile.groups) console.log(`  ${pct(g.selfMs / v8.profile.busyMs).padStart(6)}  ${g.group}`);
    const perf = onPath('perf') ? await linuxPerf(setup) : null;
    if (perf) {
      console.log(`perf: ${rate(perf)} req/s, ${perf.cpuUsPerRequest.toFixed(1)} µs CPU a request`);
      for (const g of perf.perf.groups) console.log(`  ${pct(g.share).padStart(6)} (kernel ${pct(g.kernelShare)})  ${g.group}`);
    }
    writeResultsSection('proxy-profile', section(setup, v8, perf, loadAtStart, argv));
    console.log(`wrote the proxy-profile section of ${resultsFile}`);
  } finally {
    await setup.backend.stop();
    dir.remove();
  }
}

main().catch((err: Error) => {
  console.error(err.message);
  process.exitCode = 1;
});
