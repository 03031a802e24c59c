// bench:accept: how evenly the children that share the master's listening socket split the
// connections and requests of a load. Each run starts the daemon with a fixed number of
// children, loads it with wrk (keep-alive, then `Connection: close`), and compares each
// child's scoreboard counters before and after. The goal: no child gets more than 1.5× the
// share of another. Results go to the `accept` section of bench/RESULTS.md.
//
//   node dist/bench/accept.bench.js [--backend default-page|nginx|node]
import os from 'node:os';
import { formatRatio, formatShares, spread } from './lib/distribution';
import type { Spread } from './lib/distribution';
import { startMpmproxy } from './lib/mpmproxy';
import type { Mpmproxy } from './lib/mpmproxy';
import { startNginx } from './lib/nginx';
import { freePort, sleep } from './lib/ports';
import { openConnectionCount, sampleProcesses } from './lib/proc-sampler';
import type { ProcessSample } from './lib/proc-sampler';
import { measuredLine, resultsFile, writeResultsSection } from './lib/results';
import type { ChildStatus, ServerStatus } from './lib/server-status';
import { startNodeBackend } from './lib/static-backend';
import { writeStaticSite } from './lib/static-site';
import { startTicker } from './lib/ticker';
import type { Tick } from './lib/ticker';
import { runWrk } from './lib/wrk';
import type { WrkOptions, WrkResult } from './lib/wrk';
import { createWorkDir } from './lib/work-dir';
import type { WorkDir } from './lib/work-dir';

const GOAL = 1.5;
const LOAD = { connections: 64, threads: 2, durationS: 8 };
// JIT warm-up before the measured load, so the first child to run hot code is not favoured.
const WARMUP_S = 2;
// The event MPM's default, spelled out because MaxRequestWorkers = children × ThreadsPerChild
// is what caps the children at StartServers: the child count must not drift during a run.
const THREADS_PER_CHILD = 64;

type Mpm = 'event' | 'prefork';
type Load = 'keep-alive' | 'close';
type Backend = 'default-page' | 'nginx' | 'node';

interface Scenario {
  mpm: Mpm;
  children: number;
  load: Load;
}

const scenarios: Scenario[] = [
  { mpm: 'event', children: 2, load: 'keep-alive' },
  { mpm: 'event', children: 2, load: 'close' },
  { mpm: 'event', children: 4, load: 'keep-alive' },
  { mpm: 'event', children: 4, load: 'close' },
  { mpm: 'prefork', children: 4, load: 'close' },
];

/** One look at the children during the load: their scoreboard rows and, from outside, their CPU. */
interface Look {
  /** Null when the status request failed under load. */
  status: ServerStatus | null;
  procs: Map<number, ProcessSample>;
}

interface RunResult {
  scenario: Scenario;
  wrk: WrkResult;
  children: ChildStatus[];
  conns: Spread;
  requests: Spread;
  timeline: Tick<Look>[];
  notes: string[];
}

function mpmDirectives(s: Scenario): string[] {
  if (s.mpm === 'prefork') {
    return [
      'MPM prefork',
      `StartServers ${s.children}`,
      'MinSpareServers 1',
      `MaxSpareServers ${s.children}`,
      `MaxRequestWorkers ${s.children}`,
      'ServerLimit 16',
    ];
  }
  return [
    'MPM event',
    `StartServers ${s.children}`,
    `ThreadsPerChild ${THREADS_PER_CHILD}`,
    `MaxRequestWorkers ${s.children * THREADS_PER_CHILD}`,
    'MinSpareThreads 1',
    'MaxSpareThreads 100000',
    'ServerLimit 16',
  ];
}

interface Target {
  backend: Backend;
  /** The daemon's directives for `/`. */
  directives: string[];
  /** The path the load requests. */
  path: string;
  describe: string;
  stop(): Promise<void>;
}

async function startTarget(backend: Backend, dir: WorkDir): Promise<Target> {
  if (backend === 'default-page') {
    return {
      backend,
      directives: ['<Location />', '  SetHandler default-page', '</Location>'],
      path: '/',
      describe: "mpmproxy's built-in default page (`SetHandler default-page`), no backend",
      stop: async () => {},
    };
  }
  const site = writeStaticSite(dir);
  const port = await freePort();
  const server =
    backend === 'nginx'
      ? await startNginx({ dir, port, role: { root: site.root }, workers: 1 })
      : { stop: (await startNodeBackend({ dir, port, root: site.root })).stop };
  return {
    backend,
    directives: [`ProxyPass / http://127.0.0.1:${port}/`],
    path: site.page,
    describe: `\`ProxyPass\` to ${backend === 'nginx' ? 'nginx (1 worker)' : 'a Node server'} serving a ${site.bytes}-byte static file`,
    stop: () => server.stop(),
  };
}

function wrkOptions(port: number, path: string, load: Load, durationS: number): WrkOptions {
  return {
    url: `http://127.0.0.1:${port}${path}`,
    connections: LOAD.connections,
    threads: LOAD.threads,
    durationS,
    headers: load === 'close' ? ['Connection: close'] : [],
  };
}

/** Waits until the load's connections have all closed, so the scoreboard is at rest. */
async function settle(port: number): Promise<void> {
  const until = Date.now() + 10_000;
  while ((await openConnectionCount(port)) > 0) {
    if (Date.now() > until) throw new Error(`connections to port ${port} still open 10 s after the load`);
    await sleep(100);
  }
}

/** The child that answered a status request taken at rest: the only one with a connection open. */
function probeChild(s: ServerStatus): number {
  const open = s.children.filter((c) => c.conns > 0);
  if (open.length !== 1 || open[0].conns !== 1) {
    throw new Error(`expected only the status request's connection open, found ${JSON.stringify(open)}`);
  }
  return open[0].pid;
}

async function snapshot(daemon: Mpmproxy, port: number): Promise<{ status: ServerStatus; prober: number }> {
  await settle(port);
  const status = await daemon.status();
  return { status, prober: probeChild(status) };
}

async function runScenario(s: Scenario, target: Target): Promise<RunResult> {
  const dir = createWorkDir(`accept-${s.mpm}-${s.children}-${s.load}`);
  const port = await freePort();
  const daemon = await startMpmproxy({
    dir,
    port,
    directives: [...mpmDirectives(s), ...target.directives],
    children: s.children,
  });
  let result: RunResult;
  try {
    await runWrk(wrkOptions(port, target.path, s.load, WARMUP_S));
    const before = await snapshot(daemon, port);
    const pids = before.status.children.map((c) => c.pid);
    const ticker = startTicker<Look>(1000, async () => {
      const [status, procs] = await Promise.all([daemon.status().catch(() => null), sampleProcesses(pids, port)]);
      return { status, procs };
    });
    const wrk = await runWrk(wrkOptions(port, target.path, s.load, LOAD.durationS));
    const timeline = await ticker.stop();
    const after = await snapshot(daemon, port);

    const notes: string[] = [];
    const afterPids = after.status.children.map((c) => c.pid);
    if (afterPids.length !== pids.length || afterPids.some((p) => !pids.includes(p))) {
      notes.push(`children changed during the run: ${pids.join(',')} → ${afterPids.join(',')}`);
    }
    const children = before.status.children.filter((c) => afterPids.includes(c.pid));
    const counts = children.map((b) => {
      const a = after.status.children.find((c) => c.pid === b.pid) as ChildStatus;
      // A status request's connection is counted in its own snapshot, its request only once
      // answered: the "after" probe adds one connection, the "before" probe one request.
      return {
        conns: a.connsTotal - b.connsTotal - (a.pid === after.prober ? 1 : 0),
        requests: a.requests - b.requests - (b.pid === before.prober ? 1 : 0),
      };
    });
    const requests = spread(counts.map((c) => c.requests));
    const served = requests.counts.reduce((x, y) => x + y, 0);
    // wrk stops counting at its deadline; the daemon also counts the answers in flight then.
    if (Math.abs(served - wrk.requests) > Math.max(LOAD.connections, wrk.requests * 0.01)) {
      notes.push(`children served ${served} requests, wrk counted ${wrk.requests}`);
    }
    const errors = wrk.errors.connect + wrk.errors.read + wrk.errors.write + wrk.errors.timeout;
    if (errors > 0 || wrk.errors.status > 0) {
      notes.push(`wrk: ${errors} socket errors (${JSON.stringify(wrk.errors)}), ${wrk.errors.status} non-2xx`);
    }
    result = { scenario: s, wrk, children, conns: spread(counts.map((c) => c.conns)), requests, timeline, notes };
  } catch (err) {
    await daemon.stop();
    throw new Error(`${label(s)}: ${(err as Error).message}\n(daemon files kept in ${dir.path})`);
  }
  await daemon.stop();
  dir.remove();
  return result;
}

const label = (s: Scenario) => `${s.mpm}, ${s.children} children, ${s.load}`;
const meets = (r: RunResult) => r.conns.maxOverMin <= GOAL && r.requests.maxOverMin <= GOAL;

function table(results: RunResult[]): string[] {
  const rows = results.map((r) =>
    [
      r.scenario.mpm,
      r.scenario.children,
      r.scenario.load,
      Math.round(r.wrk.requestsPerSec).toLocaleString('en-US'),
      r.conns.counts.join(' / '),
      formatShares(r.conns),
      formatRatio(r.conns.maxOverMin),
      r.requests.counts.join(' / '),
      formatShares(r.requests),
      formatRatio(r.requests.maxOverMin),
      meets(r) ? 'yes' : '**no**',
    ].join(' | '),
  );
  return [
    '| MPM | children | load | req/s | connections per child | conn. shares % | conn. max/min | requests per child | req. shares % | req. max/min | ≤ 1.5× |',
    '| --- | ---: | --- | ---: | --- | --- | ---: | --- | --- | ---: | --- |',
    ...rows.map((row) => `| ${row} |`),
  ];
}

/** Per second of the load, for each child: connections accepted, requests served, CPU %, open connections, CPU it ran on. */
function timeline(r: RunResult): string[] {
  const pids = r.children.map((c) => c.pid);
  const rows: string[] = [];
  for (let i = 1; i < r.timeline.length; i++) {
    const [prev, cur] = [r.timeline[i - 1], r.timeline[i]];
    const ms = (cur.t - prev.t) * 1000;
    const cells = pids.map((pid) => {
      const row = (look: Look) => look.status?.children.find((c) => c.pid === pid);
      const [a, b] = [row(prev.value), row(cur.value)];
      const [pa, pb] = [prev.value.procs.get(pid), cur.value.procs.get(pid)];
      const counts = a && b ? `${b.connsTotal - a.connsTotal} / ${b.requests - a.requests}` : '? / ?';
      const cpu = pa && pb ? `${Math.round(((pb.cpuMs - pa.cpuMs) / ms) * 100)}%` : '?';
      return `${counts} / ${cpu} / ${pb?.conns ?? '?'} / cpu${pb?.lastCpu ?? '?'}`;
    });
    rows.push(`| ${prev.t.toFixed(1)}–${cur.t.toFixed(1)} | ${cells.join(' | ')} |`);
  }
  return [
    `**${label(r.scenario)}**`,
    '',
    `| t (s) | ${pids.map((p, i) => `child ${i + 1} (pid ${p})`).join(' | ')} |`,
    `| --- |${' ---: |'.repeat(pids.length)}`,
    ...rows,
  ];
}

function section(results: RunResult[], target: Target, argv: string[], loadAtStart: number): string {
  const commands = [...new Set(results.map((r) => r.wrk.command.replace(/:\d+\//, ':PORT/')))];
  const notes = results.flatMap((r) => r.notes.map((n) => `- ${label(r.scenario)}: ${n}`));
  return [
    '## bench:accept: spread of connections and requests over children',
    '',
    measuredLine(loadAtStart),
    '',
    `Command: \`npm run bench:accept${argv.length ? ` -- ${argv.join(' ')}` : ''}\` ` +
      `(= \`npm run build:ts && node dist/bench/accept.bench.js${argv.length ? ` ${argv.join(' ')}` : ''}\`).`,
    '',
    `- Served: ${target.describe}.`,
    `- Daemon: a fresh \`mpmproxy -f FILE -D FOREGROUND\` per run. event: \`StartServers N\`, ` +
      `\`ThreadsPerChild ${THREADS_PER_CHILD}\`, \`MaxRequestWorkers N×${THREADS_PER_CHILD}\`, \`MinSpareThreads 1\`, ` +
      '`MaxSpareThreads 100000`; prefork: `StartServers N`, `MinSpareServers 1`, `MaxSpareServers N`, ' +
      '`MaxRequestWorkers N`; everything else at its default (`MaxKeepAliveRequests 100`, `KeepAliveTimeout 5s`), ' +
      'so a keep-alive connection is closed by the server after 100 requests and wrk reconnects.',
    `- Load: ${WARMUP_S} s warm-up, then (measured, ${LOAD.durationS} s):`,
    ...commands.map((c) => `  \`${c}\``),
    '- Per child: `connsTotal` and `requests` from `server-status?auto` at rest before and after the load, ' +
      "less the status requests' own connection and request. The timeline's status requests " +
      '(one a second during the load) are included: each is one connection and one request on some child.',
    `- max/min: the largest share over the smallest; the goal is ≤ ${GOAL}.`,
    '',
    ...table(results),
    '',
    ...(notes.length ? ['Notes:', '', ...notes, ''] : []),
    '<details><summary>Per-child timelines</summary>',
    '',
    'Each second of the load, for each child: connections accepted / requests served (from ' +
      'server-status) / CPU time as % of one core (from /proc) / connections open at the end of the second ' +
      '(from ss) / the core its main thread last ran on then.',
    '',
    ...results.flatMap((r) => [...timeline(r), '']),
    '</details>',
  ].join('\n');
}

function parseBackend(argv: string[]): Backend {
  const i = argv.indexOf('--backend');
  if (i < 0) return 'default-page';
  const b = argv[i + 1];
  if (b === 'default-page' || b === 'nginx' || b === 'node') return b;
  throw new Error(`--backend takes default-page, nginx or node, not ${b}`);
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const [loadAtStart] = os.loadavg();
  if (loadAtStart > 0.5) console.warn(`load average ${loadAtStart.toFixed(2)}: other work on this machine will skew the spread`);
  const dir = createWorkDir('accept-backend');
  const target = await startTarget(parseBackend(argv), dir);
  const results: RunResult[] = [];
  try {
    for (const s of scenarios) {
      process.stdout.write(`${label(s)} … `);
      const r = await runScenario(s, target);
      results.push(r);
      console.log(
        `${Math.round(r.wrk.requestsPerSec)} req/s; connections ${r.conns.counts.join('/')} (max/min ` +
          `${formatRatio(r.conns.maxOverMin)}), requests ${r.requests.counts.join('/')} (max/min ${formatRatio(r.requests.maxOverMin)})`,
      );
    }
  } finally {
    await target.stop();
    dir.remove();
  }
  writeResultsSection('accept', section(results, target, argv, loadAtStart));
  console.log(`wrote the accept section of ${resultsFile}`);
}

main().catch((err: Error) => {
  console.error(err.message);
  process.exitCode = 1;
});
