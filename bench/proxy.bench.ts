// proxy: mpmproxy's throughput as a reverse proxy against the proxies operators and Node users
// would run instead, all in front of one backend, each with as many processes as the machine
// has CPUs and keep-alive connections to the backend. Loads: small responses on keep-alive
// connections, the same with `Connection: close`, and 64 KiB responses on keep-alive. The goals
// (event MPM, keep-alive, small response): at least 1.5× the best Node proxy, at least Apache
// httpd's event MPM with mod_proxy_http, and as close to nginx as it gets. Results go to the
// `proxy` section of bench/RESULTS.md.
//
//   npm run bench
//   node dist/bench/proxy.bench.js --only mpmproxy-event,nginx --loads keep-alive
//
// --only and --loads run a subset (ids as listed by --help); a subset is printed, not written.
import os from 'node:os';
import { startApache } from './lib/apache';
import { startHaproxy } from './lib/haproxy';
import { fixedChildren, startMpmproxy } from './lib/mpmproxy';
import { startNginx } from './lib/nginx';
import { nodeProxyKinds, startNodeProxy } from './lib/node-proxy';
import type { NodeProxyKind } from './lib/node-proxy';
import { freePort, sleep } from './lib/ports';
import { otherCpuWindow, treeCpuMs } from './lib/proc-sampler';
import { onPath, startProxyBackend } from './lib/proxy-backend';
import type { ProxyBackend } from './lib/proxy-backend';
import { loadOptions, MEASURED_S, proxyLoads as loads, WARMUP_S, WRK_CONNECTIONS } from './lib/proxy-loads';
import type { ProxyLoad as Load } from './lib/proxy-loads';
import { measuredLine, rate, resultsFile, writeResultsSection } from './lib/results';
import { runWrk } from './lib/wrk';
import type { WrkResult } from './lib/wrk';
import { createWorkDir } from './lib/work-dir';
import type { WorkDir } from './lib/work-dir';

const PROCESSES = os.availableParallelism();
/** Warm-up of the servers that spread the load over many V8 isolates, each compiling alone. */
const SLOW_WARMUP_S = 15;
const CONNECTIONS = WRK_CONNECTIONS;
/** Prefork serves one connection per child: this many children, and as many connections. */
const PREFORK_CHILDREN = 16;

// The goals, for the event MPM on keep-alive small responses.
const GOAL_OVER_NODE = 1.5;
const GOAL_OVER_APACHE = 1.0;

/** A server under load: where it listens, and the pid whose process tree is its CPU time. */
interface Running {
  port: number;
  pid: number;
  stop(): Promise<void>;
}

type Group = 'backend' | 'mpmproxy' | 'server' | 'node';

interface Target {
  id: string;
  label: string;
  group: Group;
  /** Processes and threads, as the table shows them. */
  shape: string;
  connections: number;
  /** Seconds of warm-up load before each measured run (WARMUP_S unless set). */
  warmupS?: number;
  /** The program it needs on PATH, if any. */
  needs?: string;
  /** What its numbers need said about them. */
  note?: string;
  start(dir: WorkDir, backend: ProxyBackend): Promise<Running>;
}

interface MpmproxyShape {
  shape: string;
  children: number;
  directives: string[];
  connections?: number;
  warmupS?: number;
  note?: string;
}

function mpmproxyTarget(id: string, label: string, m: MpmproxyShape): Target {
  const { children, directives } = m;
  return {
    id,
    label,
    group: 'mpmproxy',
    shape: m.shape,
    connections: m.connections ?? CONNECTIONS,
    warmupS: m.warmupS,
    note: m.note,
    async start(dir, backend) {
      const port = await freePort();
      const daemon = await startMpmproxy({
        dir,
        port,
        directives: [
          ...directives,
          // As the other servers here: a load generator's connection lives for the whole run.
          'MaxKeepAliveRequests 0',
          `ProxyPass / http://127.0.0.1:${backend.port}/`,
        ],
        children,
      });
      return { port, pid: daemon.process.pid, stop: daemon.stop };
    },
  };
}

const nodeProxyNotes: Record<NodeProxyKind, string> = {
  'fastify-http-proxy':
    "answers a `Connection: close` request with the backend's `connection: keep-alive`, so wrk sends its next " +
    'request on a connection the server then closes: those requests fail (the errors).',
  'http-proxy': "passes the client's `Connection: close` on to the backend: under that load, a backend connection a request.",
};

/** A peer started by its launcher in bench/lib: its port and its own stop. */
async function running(port: number, started: Promise<{ process: { pid: number }; stop(): Promise<void> }>): Promise<Running> {
  const peer = await started;
  return { port, pid: peer.process.pid, stop: () => peer.stop() };
}

const targets: Target[] = [
  {
    id: 'backend',
    label: 'backend directly',
    group: 'backend',
    shape: '',
    connections: CONNECTIONS,
    start: async (_dir, backend) => ({ port: backend.port, pid: backend.pid, stop: async () => {} }),
  },
  mpmproxyTarget('mpmproxy-event', 'mpmproxy event', {
    shape: `${PROCESSES} children × 64 request slots`,
    children: PROCESSES,
    directives: fixedChildren('event', PROCESSES, 64),
  }),
  mpmproxyTarget('mpmproxy-worker', 'mpmproxy worker', {
    shape: `${PROCESSES} children × ${CONNECTIONS / PROCESSES} threads`,
    children: PROCESSES,
    directives: fixedChildren('worker', PROCESSES, CONNECTIONS / PROCESSES),
    warmupS: SLOW_WARMUP_S,
    note:
      `each of the ${CONNECTIONS} threads is a V8 isolate that compiles its code alone and gets a ${CONNECTIONS}th of the ` +
      `load, so it warms up ${SLOW_WARMUP_S} s (not ${WARMUP_S}) before it is measured; ${CONNECTIONS} event loops with one ` +
      `connection each still take turns on ${PROCESSES} CPUs, each with its own wake-ups and system calls per request.`,
  }),
  mpmproxyTarget('mpmproxy-prefork', 'mpmproxy prefork', {
    shape: `${PREFORK_CHILDREN} children`,
    children: PREFORK_CHILDREN,
    connections: PREFORK_CHILDREN,
    directives: [
      'MPM prefork',
      `StartServers ${PREFORK_CHILDREN}`,
      'MinSpareServers 1',
      `MaxSpareServers ${PREFORK_CHILDREN}`,
      `MaxRequestWorkers ${PREFORK_CHILDREN}`,
      `ServerLimit ${PREFORK_CHILDREN}`,
    ],
    warmupS: SLOW_WARMUP_S,
    note:
      `a child serves one connection, so every request is an event-loop turn of its own, with its own wake-ups and ` +
      `system calls, in one of ${PREFORK_CHILDREN} processes taking turns on ${PROCESSES} CPUs (each compiles its own code: ` +
      `${SLOW_WARMUP_S} s of warm-up).`,
  }),
  {
    id: 'nginx',
    label: 'nginx',
    group: 'server',
    shape: `${PROCESSES} workers`,
    connections: CONNECTIONS,
    needs: 'nginx',
    async start(dir, backend) {
      const port = await freePort();
      return running(port, startNginx({ dir, port, role: { backendPort: backend.port }, workers: PROCESSES }));
    },
  },
  {
    id: 'apache',
    label: 'Apache httpd event + mod_proxy_http',
    group: 'server',
    shape: `${PROCESSES} children × 64 threads`,
    connections: CONNECTIONS,
    needs: 'apache2',
    async start(dir, backend) {
      const port = await freePort();
      const tuning = [
        `StartServers ${PROCESSES}`,
        `ServerLimit ${PROCESSES}`,
        'ThreadLimit 64',
        'ThreadsPerChild 64',
        `MaxRequestWorkers ${PROCESSES * 64}`,
        'MinSpareThreads 1',
        `MaxSpareThreads ${PROCESSES * 64}`,
      ];
      return running(port, startApache({ dir, port, role: { backendPort: backend.port }, mpm: 'event', tuning }));
    },
  },
  {
    id: 'haproxy',
    label: 'HAProxy (http mode)',
    group: 'server',
    shape: `1 process × ${PROCESSES} threads`,
    connections: CONNECTIONS,
    needs: 'haproxy',
    async start(dir, backend) {
      const port = await freePort();
      return running(port, startHaproxy({ dir, port, backendPort: backend.port, threads: PROCESSES }));
    },
  },
  ...nodeProxyKinds.map(
    (kind): Target => ({
      id: kind,
      label: kind === 'http-proxy' ? 'http-proxy' : '@fastify/http-proxy',
      group: 'node',
      shape: `cluster, ${PROCESSES} workers`,
      connections: CONNECTIONS,
      note: nodeProxyNotes[kind],
      async start(dir, backend) {
        const port = await freePort();
        const p = await startNodeProxy({ dir, kind, port, backendPort: backend.port, workers: PROCESSES });
        return { port, pid: p.pid, stop: () => p.stop() };
      },
    }),
  ),
];

interface Result {
  target: Target;
  load: Load;
  wrk: WrkResult;
  /** CPU time of the server's processes per request, µs (the backend's not included). */
  cpuUsPerRequest: number;
  errors: number;
  /** CPU time of everything else on the machine during the measured run (not the server, the
   * backend, wrk or this process), as a share of all CPUs: how much other work blurred it. */
  otherCpu: number;
}

async function measure(target: Target, server: Running, backend: ProxyBackend, load: Load): Promise<Result> {
  await runWrk(loadOptions(server.port, backend, load, target.warmupS ?? WARMUP_S, target.connections));
  await sleep(500);
  // The backend measured directly is its own server.
  const other = otherCpuWindow(server.pid === backend.pid ? [server.pid] : [server.pid, backend.pid]);
  const serverBefore = treeCpuMs(server.pid);
  const wrk = await runWrk(loadOptions(server.port, backend, load, MEASURED_S, target.connections));
  const cpuUsPerRequest = ((treeCpuMs(server.pid) - serverBefore) * 1000) / Math.max(1, wrk.requests);
  const otherCpu = other.end();
  const e = wrk.errors;
  return { target, load, wrk, cpuUsPerRequest, errors: e.connect + e.read + e.write + e.timeout + e.status, otherCpu };
}

async function runTarget(target: Target, backend: ProxyBackend, chosen: Load[]): Promise<Result[]> {
  const dir = createWorkDir(`proxy-${target.id}`);
  const server = await target.start(dir, backend);
  const results: Result[] = [];
  try {
    for (const load of chosen) {
      const r = await measure(target, server, backend, load);
      results.push(r);
      console.log(
        `${target.label}, ${load.id}: ${rate(r.wrk.requestsPerSec)} req/s, p50 ${ms(r.wrk.latencyMs.p50)} ms, ` +
          `p99 ${ms(r.wrk.latencyMs.p99)} ms, ${r.errors} errors, ${r.cpuUsPerRequest.toFixed(1)} µs CPU a request, ` +
          `other work ${(r.otherCpu * 100).toFixed(0)}% of the CPUs`,
      );
    }
  } catch (err) {
    await server.stop();
    throw new Error(`${target.label}: ${(err as Error).message}\n(files kept in ${dir.path})`);
  }
  await server.stop();
  dir.remove();
  return results;
}

/** Answers per second that were not errors (wrk's requests/s counts a 5xx as well). */
const answered = (r: Result) => (r.wrk.requestsPerSec * (r.wrk.requests - r.wrk.errors.status)) / Math.max(1, r.wrk.requests);
const ms = (n: number) => (n < 10 ? n.toFixed(2) : n.toFixed(1));
const ratio = (a: number, b: number | undefined) => (b ? `${(a / b).toFixed(2)}×` : '–');

/** For one load: the nginx proxy's requests/s and the best Node proxy's, what each row is held to. */
function references(results: Result[], load: Load): { nginx?: number; node?: number; nodeLabel?: string } {
  const of = (r: Result[]) => r.filter((x) => x.load.id === load.id);
  const nginx = of(results).find((r) => r.target.id === 'nginx');
  const node = of(results)
    .filter((r) => r.target.group === 'node')
    .sort((a, b) => answered(b) - answered(a))[0];
  return { nginx: nginx && answered(nginx), node: node && answered(node), nodeLabel: node?.target.label };
}

function loadTable(results: Result[], load: Load): string[] {
  const ref = references(results, load);
  const rows = results
    .filter((r) => r.load.id === load.id)
    .map((r) => {
      const proxy = r.target.group !== 'backend';
      return [
        r.target.group === 'mpmproxy' ? `**${r.target.label}**` : r.target.label,
        r.target.shape,
        r.target.connections,
        rate(r.wrk.requestsPerSec),
        ms(r.wrk.latencyMs.p50),
        ms(r.wrk.latencyMs.p99),
        r.errors,
        r.cpuUsPerRequest.toFixed(1),
        proxy ? ratio(answered(r), ref.nginx) : '',
        proxy ? ratio(answered(r), ref.node) : '',
        `${(r.otherCpu * 100).toFixed(0)}%`,
      ].join(' | ');
    });
  return [
    `**${load.label}**${ref.nodeLabel ? ` (best Node proxy: ${ref.nodeLabel})` : ''}`,
    '',
    '| server | processes | conns | req/s | p50 ms | p99 ms | errors | CPU µs/req | × nginx | × best Node | other CPU |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows.map((row) => `| ${row} |`),
  ];
}

function goals(results: Result[]): string[] {
  const load = loads[0];
  const of = (id: string) => {
    const r = results.find((x) => x.target.id === id && x.load.id === load.id);
    return r && answered(r);
  };
  const event = of('mpmproxy-event');
  const ref = references(results, load);
  const apache = of('apache');
  if (event === undefined) return [];
  const row = (goal: string, against: number | undefined, min: number | null) =>
    `| ${goal} | ${against === undefined ? '–' : rate(against)} | ${ratio(event, against)} | ` +
    `${min === null || against === undefined ? '' : event / against >= min ? 'met' : '**not met**'} |`;
  return [
    `Goals (mpmproxy event, ${rate(event)} req/s on keep-alive small responses):`,
    '',
    '| goal | against, req/s | mpmproxy event / it | |',
    '| --- | ---: | ---: | --- |',
    row(`≥ ${GOAL_OVER_NODE.toFixed(1)}× the best Node proxy (${ref.nodeLabel ?? 'none ran'})`, ref.node, GOAL_OVER_NODE),
    row(`≥ ${GOAL_OVER_APACHE.toFixed(1)}× Apache httpd event + mod_proxy_http`, apache, GOAL_OVER_APACHE),
    row('as close to nginx as it gets', ref.nginx, null),
  ];
}

function section(results: Result[], backend: ProxyBackend, skipped: Target[], loadAtStart: number): string {
  const command = results[0].wrk.command.replace(/:\d+\/\S*/, ':PORT/PATH');
  const errors = results.filter((r) => r.errors > 0);
  const noted = [...new Set(results.map((r) => r.target))].filter((t) => t.note !== undefined);
  return [
    '## proxy: mpmproxy against other reverse proxies',
    '',
    measuredLine(loadAtStart),
    `1-minute load average at the end: ${os.loadavg()[0].toFixed(2)} (the worker MPM's ${CONNECTIONS} threads and prefork's ` +
      `${PREFORK_CHILDREN} processes raise it themselves).`,
    '',
    'Command: `npm run bench` (= `npm run build:ts && node dist/bench/proxy.bench.js`).',
    '',
    `- Backend: ${backend.describe}, keep-alive without a request limit; every proxy forwards \`/\` to it.`,
    `- Load: per server and load, ${WARMUP_S} s of warm-up (${SLOW_WARMUP_S} s for mpmproxy worker and prefork, see the notes), then \`${command}\` ` +
      "(with `-H 'Connection: close'` for close); one run at a time, everything on 127.0.0.1.",
    `- mpmproxy: \`mpmproxy -f FILE -D FOREGROUND\` with \`LogLevel warn\`, no access log, default limits, ` +
      '`ProxyPass / http://127.0.0.1:BACKEND/` (a keep-alive pool per serving loop) and `MaxKeepAliveRequests 0` ' +
      `(as the peers here, no per-connection request limit). event: \`StartServers ${PROCESSES}\`, \`ThreadsPerChild 64\`; ` +
      `worker: \`StartServers ${PROCESSES}\`, \`ThreadsPerChild ${CONNECTIONS / PROCESSES}\` (a thread serves one connection at a time, ` +
      `so ${CONNECTIONS} threads for ${CONNECTIONS} connections); prefork: \`StartServers ${PREFORK_CHILDREN}\` ` +
      `and ${PREFORK_CHILDREN} connections (a child serves one connection at a time; ${CONNECTIONS} Node processes ` +
      `on ${PROCESSES} CPUs would measure the scheduler), spare limits that keep the child count fixed.`,
    `- nginx: \`worker_processes ${PROCESSES}\`, \`proxy_http_version 1.1\`, \`proxy_set_header Connection ""\`, ` +
      `upstream \`keepalive 64\`. Apache httpd: \`mpm_event\`, ${PROCESSES} children × 64 threads, ` +
      '`ProxyPass / http://127.0.0.1:BACKEND/ enablereuse=on keepalive=On`. HAProxy: `mode http`, ' +
      `\`nbthread ${PROCESSES}\`, \`http-reuse always\`. @fastify/http-proxy (undici pool) and http-proxy ` +
      `(\`http.Agent({ keepAlive: true })\`): Node \`cluster\` with ${PROCESSES} workers, its default round-robin scheduling.`,
    '- errors: socket errors (connect, read, write, timeout) and non-2xx answers, as wrk counts them. ' +
      "CPU µs/req: the server's processes' CPU time (user + system, from /proc) over the requests served; " +
      'the backend and wrk share the same CPUs and are not included. × nginx, × best Node: requests/s over ' +
      "nginx's and the best Node proxy's under the same load, each counting only answers that were not errors " +
      '(the best Node proxy is the one with the most of them). other CPU: what the rest of the machine used ' +
      '(/proc/stat less the server, the backend, wrk and the benchmark itself) during the measured run, as a share ' +
      'of all CPUs: other work that took CPU time from the run.',
    ...(skipped.length ? [`- Not installed, so not run: ${skipped.map((t) => `${t.label} (\`${t.needs}\`)`).join(', ')}.`] : []),
    '',
    ...loads.flatMap((l) => [...loadTable(results, l), '']),
    ...goals(results),
    ...(errors.length
      ? ['', 'Errors:', '', ...errors.map((r) => `- ${r.target.label}, ${r.load.id}: ${JSON.stringify(r.wrk.errors)}`)]
      : []),
    ...(noted.length ? ['', 'Notes:', '', ...noted.map((t) => `- ${t.label}: ${t.note}`)] : []),
  ].join('\n');
}

function listOption(argv: string[], name: string): string[] | null {
  const i = argv.indexOf(name);
  return i < 0 ? null : (argv[i + 1] ?? '').split(',');
}

function choose<T extends { id: string }>(all: T[], ids: string[] | null, what: string): T[] {
  if (ids === null) return all;
  const unknown = ids.filter((id) => !all.some((x) => x.id === id));
  if (unknown.length) throw new Error(`unknown ${what} ${unknown.join(', ')}; known: ${all.map((x) => x.id).join(', ')}`);
  return all.filter((x) => ids.includes(x.id));
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv.includes('--help')) {
    console.log(`servers: ${targets.map((t) => t.id).join(', ')}\nloads: ${loads.map((l) => l.id).join(', ')}`);
    return;
  }
  const only = listOption(argv, '--only');
  const loadIds = listOption(argv, '--loads');
  const chosenLoads = choose(loads, loadIds, 'load');
  const chosen = choose(targets, only, 'server');
  const skipped = chosen.filter((t) => t.needs !== undefined && !onPath(t.needs));
  const [loadAtStart] = os.loadavg();
  if (loadAtStart > 0.5) console.warn(`load average ${loadAtStart.toFixed(2)}: other work on this machine skews the numbers`);
  const dir = createWorkDir('proxy-backend');
  const backend = await startProxyBackend(dir);
  const results: Result[] = [];
  try {
    for (const target of chosen) if (!skipped.includes(target)) results.push(...(await runTarget(target, backend, chosenLoads)));
  } finally {
    await backend.stop();
    dir.remove();
  }
  if (only !== null || loadIds !== null) {
    console.log('a subset of the servers or loads ran: RESULTS.md is left as it was');
    return;
  }
  writeResultsSection('proxy', section(results, backend, skipped, loadAtStart));
  console.log(`wrote the proxy section of ${resultsFile}`);
}

main().catch((err: Error) => {
  console.error(err.message);
  process.exitCode = 1;
});
