// limits: what the counting limits (LimitClients, LimitConnections, LimitConnectionsPerClient,
// LimitRequestsPerClient, all counted in shared memory) cost in throughput. One daemon with
// every counting limit off and one with all of them on, set high enough never to refuse, run one
// right after the other under the same wrk load: each such pair gives a ratio, so that drift of
// a busy machine falls on both halves alike, and pairs during which other work took CPU are
// named and left out. The goal: less than 5% lost. Results go to the `limits` section of
// bench/RESULTS.md.
//
//   node dist/bench/limits.bench.js
import os from 'node:os';
import { hashClientAddress, parseClientAddress } from '../src/limits/client-address';
import { LimitCounters } from '../src/shm/limits';
import { fixedChildren, startMpmproxy } from './lib/mpmproxy';
import { freePort } from './lib/ports';
import { otherCpuWindow, sampleProcesses } from './lib/proc-sampler';
import { measuredLine, median, rate, resultsFile, writeResultsSection } from './lib/results';
import { runWrk } from './lib/wrk';
import type { WrkResult } from './lib/wrk';
import { createWorkDir } from './lib/work-dir';

const GOAL_LOSS = 0.05;
const ROUNDS = 6;
/** A run during which other work used more than this share of the CPUs is not quiet. */
const QUIET = 0.1;
const LOAD = { connections: 64, threads: 2, durationS: 6 };
const WARMUP_S = 2;
const CHILDREN = 2;

const serving = [
  ...fixedChildren('event', CHILDREN, 64),
  '<Location />',
  '  SetHandler default-page',
  '</Location>',
];

const countingLimits = ['LimitClients 1000', 'LimitConnections 100000', 'LimitConnectionsPerClient 100000', 'LimitRequestsPerClient 100000'];

type Variant = 'off' | 'on';
type Load = 'keep-alive' | 'close';

interface Round {
  variant: Variant;
  load: Load;
  wrk: WrkResult;
  /** The children's CPU time (user + system) per request served, in µs: unlike requests/s, it
   * stays readable on a machine that runs other work. */
  cpuUsPerRequest: number;
  /** Share of the CPUs that other work on the machine used during the measured run. */
  otherCpu: number;
}

async function measure(variant: Variant, load: Load): Promise<Round> {
  const dir = createWorkDir(`limits-${variant}-${load}`);
  const port = await freePort();
  const daemon = await startMpmproxy({
    dir,
    port,
    directives: [...serving, ...(variant === 'on' ? countingLimits : [])],
    children: CHILDREN,
  });
  try {
    const wrk = (durationS: number) =>
      runWrk({
        url: `http://127.0.0.1:${port}/`,
        ...LOAD,
        durationS,
        headers: load === 'close' ? ['Connection: close'] : [],
      });
    await wrk(WARMUP_S);
    const pids = (await daemon.status()).children.map((c) => c.pid);
    const cpu = async () => [...(await sampleProcesses(pids, port)).values()].reduce((n, p) => n + p.cpuMs, 0);
    const cpuBefore = await cpu();
    const other = otherCpuWindow([daemon.process.pid]);
    const result = await wrk(LOAD.durationS);
    const otherCpu = other.end();
    const cpuUsPerRequest = ((await cpu()) - cpuBefore) * 1000 / result.requests;
    const errors = result.errors.connect + result.errors.read + result.errors.write + result.errors.timeout + result.errors.status;
    if (errors > 0) throw new Error(`${variant}, ${load}: wrk saw errors ${JSON.stringify(result.errors)}`);
    return { variant, load, wrk: result, cpuUsPerRequest, otherCpu };
  } finally {
    await daemon.stop();
    dir.remove();
  }
}


interface OpCosts {
  /** What the counting adds to one connection (admit, then release), in ns. */
  connectionNs: number;
  /** What it adds to one request (enter, then leave), in ns. */
  requestNs: number;
}

/** The counting operations alone, timed in a loop on a segment-sized buffer: a figure that a
 * busy machine disturbs far less than a throughput. */
function opCosts(): OpCosts {
  const serverLimit = 16;
  const slots = 32768;
  const c = LimitCounters.create(new ArrayBuffer(LimitCounters.byteLength(serverLimit, slots)), serverLimit, slots);
  const a = new Int32Array(4);
  const n = 2_000_000;
  const time = (work: () => void): number => {
    work(); // warm-up
    const start = process.hrtime.bigint();
    work();
    return Number(process.hrtime.bigint() - start) / n;
  };
  const connectionNs = time(() => {
    for (let i = 0; i < n; i++) {
      if (c.addConnection(1) > 100000) throw new Error('over');
      parseClientAddress('127.0.0.1', a);
      const h = c.admitClient(a, hashClientAddress(a), 1, 100000, 1000);
      c.releaseClient(h, 1);
      c.removeConnection(1);
    }
  });
  parseClientAddress('127.0.0.1', a);
  const h = c.admitClient(a, hashClientAddress(a), 1, 0, 0);
  const requestNs = time(() => {
    for (let i = 0; i < n; i++) {
      c.enterRequest(h, 1, 100000);
      c.leaveRequest(h, 1);
    }
  });
  return { connectionNs, requestNs };
}

interface Pair {
  off: Round;
  on: Round;
  /** Requests/s with the limits on over off, from two runs one right after the other. */
  ratio: number;
  quiet: boolean;
}

function pairsOf(rounds: Round[], load: Load): Pair[] {
  const runs = rounds.filter((r) => r.load === load);
  const pairs: Pair[] = [];
  for (let i = 0; i + 1 < runs.length; i += 2) {
    const [off, on] = runs[i].variant === 'off' ? [runs[i], runs[i + 1]] : [runs[i + 1], runs[i]];
    const quiet = off.otherCpu < QUIET && on.otherCpu < QUIET;
    pairs.push({ off, on, ratio: on.wrk.requestsPerSec / off.wrk.requestsPerSec, quiet });
  }
  return pairs;
}

const percent = (n: number) => `${(n * 100).toFixed(1)}%`;

function section(rounds: Round[], ops: OpCosts, loadAtStart: number): string {
  const keepAliveOff = median(rounds.filter((r) => r.load === 'keep-alive' && r.variant === 'off').map((r) => r.wrk.requestsPerSec));
  const rows: string[] = [];
  const pairRows: string[] = [];
  for (const load of ['keep-alive', 'close'] as const) {
    const pairs = pairsOf(rounds, load);
    const quiet = pairs.filter((p) => p.quiet);
    const counted = quiet.length >= 2 ? quiet : pairs;
    const loss = 1 - median(counted.map((p) => p.ratio));
    const cpuOf = (v: Variant) => median(rounds.filter((r) => r.load === load && r.variant === v).map((r) => r.cpuUsPerRequest));
    // What requests/s a CPU-bound server loses when each request costs this much more CPU.
    const cpuLoss = 1 - cpuOf('off') / cpuOf('on');
    rows.push(
      `| ${load} | ${counted.length} of ${pairs.length}${counted === quiet ? ' (quiet)' : ' (all: too few quiet)'} | ` +
        `${rate(median(counted.map((p) => p.off.wrk.requestsPerSec)))} | ${rate(median(counted.map((p) => p.on.wrk.requestsPerSec)))} | ` +
        `**${percent(loss)}** | ${cpuOf('off').toFixed(1)} | ${cpuOf('on').toFixed(1)} | ${percent(cpuLoss)} | ` +
        `${loss < GOAL_LOSS ? 'yes' : '**no**'} |`,
    );
    pairs.forEach((p, i) =>
      pairRows.push(
        `| ${load} | ${i + 1} | ${rate(p.off.wrk.requestsPerSec)} | ${rate(p.on.wrk.requestsPerSec)} | ${p.ratio.toFixed(3)} | ` +
          `${percent(p.off.otherCpu)} / ${percent(p.on.otherCpu)} | ${p.quiet ? 'yes' : 'no'} |`,
      ),
    );
  }
  const command = rounds[0].wrk.command.replace(/:\d+\//, ':PORT/');
  return [
    '## limits: the cost of the counting limits',
    '',
    measuredLine(loadAtStart),
    '',
    'Command: `node dist/bench/limits.bench.js` (after `npm run build:ts`).',
    '',
    `- Served: mpmproxy's built-in default page (\`SetHandler default-page\`), ${CHILDREN} event children, ` +
      '`ThreadsPerChild 64`; `MaxKeepAliveRequests 100` (the default), so keep-alive clients also reconnect ' +
      'and every connection goes through the accept-time checks.',
    '- off: no counting limit. on: ' + countingLimits.map((l) => `\`${l}\``).join(', ') +
      ': each connection is counted server-wide and per client address in the limits segment, each request per client address; none is refused.',
    `- Load: ${WARMUP_S} s warm-up, then ${LOAD.durationS} s measured, \`${command}\` ` +
      "(with `-H 'Connection: close'` for close); a fresh daemon per run. " +
      `${ROUNDS} pairs per load: off and on one right after the other (which goes first alternates).`,
    `- Loss: 1 − the median over the pairs of (requests/s on ÷ off). A pair is quiet when other work on the machine ` +
      `(CPU time not of the daemon, wrk or the benchmark) used under ${QUIET * 100}% of the CPUs in both of its runs; ` +
      'only quiet pairs count when there are at least two. Beside it, the CPU time of the children per request ' +
      `(\`/proc/<pid>/stat\`, medians of all runs): 1 − off/on is what a CPU-bound server loses. The goal is under ${GOAL_LOSS * 100}%.`,
    '',
    '| load | pairs counted | off, req/s (median) | on, req/s (median) | loss | CPU µs/req off | CPU µs/req on | CPU loss | < 5% |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
    ...rows,
    '',
    '<details><summary>Every pair</summary>',
    '',
    '| load | pair | off, req/s | on, req/s | on ÷ off | other CPU (off / on) | quiet |',
    '| --- | ---: | ---: | ---: | ---: | ---: | --- |',
    ...pairRows,
    '',
    '</details>',
    '',
    `The counting alone, timed in a loop (one process, the segment of 16 process slots and 32768 client entries): ` +
      `${ops.connectionNs.toFixed(0)} ns per connection (LimitConnections and the client table, admitted then released, ` +
      `the address parsed from its text) and ${ops.requestNs.toFixed(0)} ns per request (LimitRequestsPerClient in and out). ` +
      `At the keep-alive median with the limits off (${rate(keepAliveOff)} req/s) the per-request part is ` +
      `${((ops.requestNs * keepAliveOff) / 1e7).toFixed(2)}% of one core.`,
  ].join('\n');
}

async function main(): Promise<void> {
  const [loadAtStart] = os.loadavg();
  if (loadAtStart > 0.5) console.warn(`load average ${loadAtStart.toFixed(2)}: other work on this machine adds noise`);
  const rounds: Round[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    for (const load of ['keep-alive', 'close'] as const) {
      // Alternate which goes first, so neither always follows the other.
      const order: Variant[] = i % 2 === 0 ? ['off', 'on'] : ['on', 'off'];
      for (const variant of order) {
        const r = await measure(variant, load);
        rounds.push(r);
        console.log(`round ${i + 1}, ${load}, limits ${variant}: ${rate(r.wrk.requestsPerSec)} req/s, ${r.cpuUsPerRequest.toFixed(1)} µs CPU a request, other work ${percent(r.otherCpu)} of the CPUs`);
      }
    }
  }
  const ops = opCosts();
  console.log(`counting: ${ops.connectionNs.toFixed(0)} ns a connection, ${ops.requestNs.toFixed(0)} ns a request`);
  writeResultsSection('limits', section(rounds, ops, loadAtStart));
  console.log(`wrote the limits section of ${resultsFile}`);
}

main().catch((err: Error) => {
  console.error(err.message);
  process.exitCode = 1;
});
