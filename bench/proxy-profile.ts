// proxy-profile: where a proxied request's time goes. mpmproxy runs as one process (`-X`,
// event MPM) under `node --cpu-prof`, proxying one of the proxy benchmark's loads (small
// keep-alive requests unless --load says otherwise) to the backend; the profile's samples from the measured load alone are summed by function and grouped (Node's
// HTTP server and llhttp, undici, each module of ours, garbage collection, socket writes).
// Results go to the `proxy-profile` section of bench/RESULTS.md.
//
//   node dist/bench/proxy-profile.js [--load close|keep-alive-64k]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { summarizeProfile } from './lib/cpu-profile';
import type { ProfileSummary } from './lib/cpu-profile';
import { mpmproxyConfig, repoRoot } from './lib/mpmproxy';
import { freePort, waitForPort } from './lib/ports';
import { deathOf, startProcess } from './lib/processes';
import { treeCpuMs } from './lib/proc-sampler';
import { startProxyBackend } from './lib/proxy-backend';
import { loadById, loadOptions, MEASURED_S, WARMUP_S } from './lib/proxy-loads';
import type { ProxyLoad } from './lib/proxy-loads';
import { measuredLine, resultsFile, writeResultsSection } from './lib/results';
import { runWrk } from './lib/wrk';
import type { WrkResult } from './lib/wrk';
import { createWorkDir } from './lib/work-dir';

const TOP_FUNCTIONS = 30;
// Finer than the default 1 ms: a request takes tens of µs.
const SAMPLE_INTERVAL_US = 200;

interface Run {
  load: ProxyLoad;
  wrk: WrkResult;
  /** CPU time of the process (all threads) per request, µs. */
  cpuUsPerRequest: number;
  profile: ProfileSummary;
  backend: string;
}

const monotonicUs = () => Number(process.hrtime.bigint() / 1000n);

async function profileRun(load: ProxyLoad): Promise<Run> {
  const dir = createWorkDir('proxy-profile');
  const backend = await startProxyBackend(dir);
  const port = await freePort();
  const profDir = dir.file('prof');
  const configFile = dir.write(
    'mpmproxy.conf',
    mpmproxyConfig({
      dir,
      port,
      children: 1,
      directives: ['MPM event', 'MaxKeepAliveRequests 0', `ProxyPass / http://127.0.0.1:${backend.port}/`],
    }),
  );
  const daemon = startProcess({
    name: 'mpmproxy -X',
    command: process.execPath,
    args: ['--cpu-prof', `--cpu-prof-dir=${profDir}`, `--cpu-prof-interval=${SAMPLE_INTERVAL_US}`, path.join(repoRoot, 'bin', 'mpmproxy.js'), '-X', '-f', configFile],
    cwd: repoRoot,
    logFile: dir.file('mpmproxy.out'),
  });
  try {
    await waitForPort(port, { failIf: () => deathOf(daemon) });
    await runWrk(loadOptions(port, backend, load, WARMUP_S));
    const cpuBefore = treeCpuMs(daemon.pid);
    const from = monotonicUs();
    const wrk = await runWrk(loadOptions(port, backend, load, MEASURED_S));
    const to = monotonicUs();
    const cpuUsPerRequest = ((treeCpuMs(daemon.pid) - cpuBefore) * 1000) / wrk.requests;
    // -X stops on TERM and writes its profile as it exits.
    await daemon.stop('SIGTERM', 20_000);
    const [file] = fs.readdirSync(profDir).filter((f) => f.endsWith('.cpuprofile'));
    if (file === undefined) throw new Error(`no profile written in ${profDir}:\n${daemon.logTail()}`);
    const profile = summarizeProfile(path.join(profDir, file), from, to);
    return { load, wrk, cpuUsPerRequest, profile, backend: backend.describe };
  } finally {
    await daemon.stop('SIGKILL');
    await backend.stop();
    dir.remove();
  }
}

const pct = (part: number, whole: number) => `${((part / whole) * 100).toFixed(1)}%`;
const perRequest = (ms: number, requests: number) => ((ms * 1000) / requests).toFixed(2);

function section(r: Run, loadAtStart: number, argv: string[]): string {
  const p = r.profile;
  const n = r.wrk.requests;
  const command = r.wrk.command.replace(/:\d+\//, ':PORT/');
  return [
    '## proxy-profile: where a proxied request\'s time goes',
    '',
    measuredLine(loadAtStart),
    '',
    `Command: \`node dist/bench/proxy-profile.js${argv.length ? ` ${argv.join(' ')}` : ''}\` (after \`npm run build:ts\`).`,
    '',
    `- mpmproxy in one process (\`mpmproxy -X\`, event MPM, \`MaxKeepAliveRequests 0\`, no access log) under ` +
      `\`node --cpu-prof --cpu-prof-interval=${SAMPLE_INTERVAL_US}\`, \`ProxyPass\` to ${r.backend}.`,
    `- Load: ${r.load.label}; ${WARMUP_S} s warm-up, then \`${command}\`; only the samples of the measured ${MEASURED_S} s count.`,
    `- ${Math.round(r.wrk.requestsPerSec).toLocaleString('en-US')} requests/s; the main thread was busy ` +
      `${perRequest(p.busyMs, n)} µs a request (${pct(p.busyMs, p.busyMs + p.idleMs)} of the time); the process's ` +
      `CPU time, its helper threads included, ${r.cpuUsPerRequest.toFixed(1)} µs a request (from /proc).`,
    '- Self time: in the function itself, not in what it calls. Native functions called from JavaScript ' +
      '(the llhttp parser, socket writes) count as themselves; socket reads and the event loop run outside ' +
      'JavaScript and count as native. The profiler samples the main thread by the clock, not by CPU time: ' +
      'a socket write on loopback wakes its reader, which may take the CPU from the writer inside the system ' +
      'call, so on a machine whose cores are all busy (wrk, the backend and the proxy share them here) the ' +
      'socket writes also carry the time the process waited for a CPU.',
    '',
    '| where | self time | µs a request |',
    '| --- | ---: | ---: |',
    ...p.groups.map((g) => `| ${g.group} | ${pct(g.selfMs, p.busyMs)} | ${perRequest(g.selfMs, n)} |`),
    '',
    `<details><summary>The ${TOP_FUNCTIONS} functions with the most self time</summary>`,
    '',
    '| function | group | self time | µs a request |',
    '| --- | --- | ---: | ---: |',
    ...p.functions
      .slice(0, TOP_FUNCTIONS)
      .map((f) => `| \`${f.name.replaceAll('|', '\\|')}\` | ${f.group} | ${pct(f.selfMs, p.busyMs)} | ${perRequest(f.selfMs, n)} |`),
    '',
    '</details>',
  ].join('\n');
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const [loadAtStart] = os.loadavg();
  if (loadAtStart > 0.5) console.warn(`load average ${loadAtStart.toFixed(2)}: other work on this machine skews the numbers`);
  const i = argv.indexOf('--load');
  const r = await profileRun(loadById(i < 0 ? 'keep-alive' : argv[i + 1]));
  const p = r.profile;
  console.log(
    `${Math.round(r.wrk.requestsPerSec)} req/s, main thread ${perRequest(p.busyMs, r.wrk.requests)} µs a request, ` +
      `process CPU ${r.cpuUsPerRequest.toFixed(1)} µs a request`,
  );
  const line = (ms: number, what: string) => console.log(`  ${pct(ms, p.busyMs).padStart(6)}  ${perRequest(ms, r.wrk.requests).padStart(6)} µs  ${what}`);
  for (const g of p.groups) line(g.selfMs, g.group);
  for (const f of p.functions.slice(0, TOP_FUNCTIONS)) line(f.selfMs, f.name);
  writeResultsSection('proxy-profile', section(r, loadAtStart, argv));
  console.log(`wrote the proxy-profile section of ${resultsFile}`);
}

main().catch((err: Error) => {
  console.error(err.message);
  process.exitCode = 1;
});
