// tls: full and resumed TLS handshakes a second across two mpmproxy children, beside nginx
// (two workers, `ssl_session_cache shared:SSL:10m`, tickets on) and a bare Node TLS server (the
// floor Node's own TLS stack sets, bench/lib/node-tls.ts), on the same certificate. Resumption is
// by session ID for TLS 1.2 (mpmproxy: SSLSessionTickets off, the shared cache) and by ticket for
// TLS 1.3. The goal: resumed at least 3× full. Each server has CPU 0 to itself, the load
// generator (this process: a Node client, bench/lib/tls-handshakes.ts, 32 handshakes in flight,
// each connection closed once its handshake is done) CPU 1. Results go to the `tls` section of
// bench/RESULTS.md.
//
//   node dist/bench/tls.bench.js
import os from 'node:os';
import { issueSelfSigned } from './lib/tls-cert';
import { pinProcessTree } from './lib/cpu-pin';
import { fixedChildren, startMpmproxy } from './lib/mpmproxy';
import { startNginx } from './lib/nginx';
import { startNodeTls } from './lib/node-tls';
import { freePort } from './lib/ports';
import { otherCpuWindow, treeCpuMs } from './lib/proc-sampler';
import { measuredLine, writeResultsSection } from './lib/results';
import { runHandshakes, type HandshakeLoad, type HandshakeResult } from './lib/tls-handshakes';
import { createWorkDir, type WorkDir } from './lib/work-dir';

const CHILDREN = 2;
/** The server's CPU and the load generator's (taskset lists). */
const SERVER_CPU = '0';
const CLIENT_CPU = '1';
const LOAD = { concurrency: 32, durationS: 5 };
const WARMUP_S = 1;
const ROUNDS = 2;
const GOAL = 3;

type Server = 'mpmproxy' | 'nginx' | 'node';
const servers: Server[] = ['mpmproxy', 'nginx', 'node'];
type Kind = { version: HandshakeLoad['version']; resume: boolean; label: string };

const kinds: Kind[] = [
  { version: 'TLSv1.2', resume: false, label: 'TLS 1.2 full' },
  { version: 'TLSv1.2', resume: true, label: 'TLS 1.2 resumed (session ID)' },
  { version: 'TLSv1.3', resume: false, label: 'TLS 1.3 full' },
  { version: 'TLSv1.3', resume: true, label: 'TLS 1.3 resumed (ticket)' },
];

interface Row {
  server: Server;
  kind: Kind;
  result: HandshakeResult;
  /** mpmproxy only: handshakes each child served. */
  perChild?: number[];
  /** CPU time (user + system) of the server's processes per handshake, µs. */
  serverCpuUs: number;
  /** Share of the CPUs that other work on the machine used during the run. */
  otherCpu: number;
}

async function startServer(server: Server, dir: WorkDir, port: number, cert: string, key: string, tickets: boolean) {
  if (server === 'nginx') {
    const n = await startNginx({ dir, port, role: { root: dir.path }, workers: CHILDREN, tls: { cert, key } });
    return { pid: n.process.pid, stop: () => n.stop() };
  }
  if (server === 'node') {
    const n = await startNodeTls({ dir, port, cert, key, tickets });
    return { pid: n.process.pid, stop: () => n.stop() };
  }
  const statusPort = await freePort();
  const d = await startMpmproxy({
    dir,
    port: statusPort,
    children: CHILDREN,
    directives: [
      ...fixedChildren('event', CHILDREN, 64),
      `Listen 127.0.0.1:${port} https`,
      `SSLCertificateFile ${cert}`,
      `SSLCertificateKeyFile ${key}`,
      'SSLSessionCache shm:10M',
      `SSLSessionTickets ${tickets ? 'on' : 'off'}`,
    ],
  });
  return { pid: d.process.pid, stop: () => d.stop(), status: () => d.status() };
}

async function measure(server: Server, kind: Kind, cert: string, key: string): Promise<Row> {
  const dir = createWorkDir(`tls-${server}`);
  const port = await freePort();
  // TLS 1.2 resumption is measured by session ID: mpmproxy's shared cache, not its tickets.
  const s = await startServer(server, dir, port, cert, key, !(kind.version === 'TLSv1.2' && kind.resume));
  try {
    await pinProcessTree(s.pid, SERVER_CPU);
    const load = { port, version: kind.version, resume: kind.resume, ...LOAD };
    await runHandshakes({ ...load, durationS: WARMUP_S });
    const status = s.status;
    const before = status ? (await status()).children.map((c) => c.connsTotal) : [];
    const cpuBefore = treeCpuMs(s.pid);
    const other = otherCpuWindow([s.pid]);
    const result = await runHandshakes(load);
    const otherCpu = other.end();
    const serverCpuUs = ((treeCpuMs(s.pid) - cpuBefore) * 1000) / Math.max(1, result.handshakes);
    const perChild = status ? (await status()).children.map((c, i) => c.connsTotal - (before[i] ?? 0)) : undefined;
    return { server, kind, result, serverCpuUs, otherCpu, ...(perChild && { perChild }) };
  } finally {
    await s.stop();
    dir.remove();
  }
}

const rate = (n: number) => Math.round(n).toLocaleString('en-US');
/** Of the runs, the best: other work on the machine only ever slows a run down. */
const best = (v: number[]) => Math.max(...v);

const median = (values: number[]): number => {
  const v = [...values].sort((a, b) => a - b);
  const mid = v.length >> 1;
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
};

function section(rows: Row[], loadAtStart: number): string {
  const lines: string[] = [];
  const of = (server: Server, kind: Kind) => rows.filter((r) => r.server === server && r.kind === kind);
  const cpuOf = (server: Server, kind: Kind) => median(of(server, kind).map((r) => r.serverCpuUs));
  for (const kind of kinds) {
    for (const server of servers) {
      const runs = of(server, kind);
      const perSec = best(runs.map((r) => r.result.perSec));
      const resumed = Math.min(...runs.map((r) => r.result.resumedShare));
      const children = runs[0].perChild ? runs.map((r) => (r.perChild ?? []).map(rate).join(' + ')).join('; ') : '';
      lines.push(
        `| ${kind.label} | ${server} | ${runs.map((r) => rate(r.result.perSec)).join(' / ')} | ${rate(perSec)} | ${(resumed * 100).toFixed(0)}% | ` +
          `${Math.round(cpuOf(server, kind))} | ${runs.map((r) => `${(r.otherCpu * 100).toFixed(0)}%`).join(' / ')} | ${children} |`,
      );
    }
  }
  const ratio = (server: Server, version: Kind['version']) => {
    const full = best(rows.filter((r) => r.server === server && r.kind.version === version && !r.kind.resume).map((r) => r.result.perSec));
    const resumed = best(rows.filter((r) => r.server === server && r.kind.version === version && r.kind.resume).map((r) => r.result.perSec));
    return resumed / full;
  };
  // How many more handshakes the server's CPU time buys when they resume: the ratio that does not
  // depend on how much of the machine the client takes.
  const cpuRatio = (server: Server, version: Kind['version']) => {
    const k = (resume: boolean) => kinds.find((x) => x.version === version && x.resume === resume) as Kind;
    return cpuOf(server, k(false)) / cpuOf(server, k(true));
  };
  const ratios = (['TLSv1.2', 'TLSv1.3'] as const).flatMap((v) =>
    servers.map((s) => {
      const x = ratio(s, v);
      const c = cpuRatio(s, v);
      return `| ${v} | ${s} | ${x.toFixed(2)}× | ${c.toFixed(2)}× | ${s === 'mpmproxy' ? (Math.max(x, c) >= GOAL ? 'yes' : '**no**') : ''} |`;
    }),
  );
  const floor = kinds.map((k) => {
    const m = cpuOf('mpmproxy', k);
    const n = cpuOf('node', k);
    return `| ${k.label} | ${Math.round(m)} | ${Math.round(n)} | ${Math.round(m - n)} |`;
  });
  return [
    '## tls: full and resumed TLS handshakes',
    '',
    measuredLine(loadAtStart),
    '',
    'Command: `node dist/bench/tls.bench.js` (after `npm run build:ts`).',
    '',
    `- mpmproxy: ${CHILDREN} event children, \`SSLSessionCache shm:10M\`; tickets off for the TLS 1.2 runs (resumption by session ID through the shared cache), on for TLS 1.3 (resumption by ticket, the shared ticket key).`,
    `- nginx: \`worker_processes ${CHILDREN}\`, \`ssl_session_cache shared:SSL:10m\`, \`ssl_session_tickets on\`.`,
    '- node: the floor Node\'s own TLS stack sets (bench/lib/node-tls.ts): one process, a bare `tls.createServer`; with tickets off (the TLS 1.2 resumed runs) sessions in a Map through `newSession`/`resumeSession`, with tickets on one `ticketKeys` key and no session callbacks. Nothing is served: what mpmproxy spends above it is its own.',
    '- The same self-signed RSA 2048 certificate for all; default ciphers (ECDHE with X25519).',
    `- CPUs: every server process is pinned to CPU ${SERVER_CPU} (\`taskset\`, master and children alike), the load generator to CPU ${CLIENT_CPU}: the server has one CPU to itself, whatever the client costs, so handshakes/s is what one CPU of the server does.`,
    `- Load generator: a Node client (bench/lib/tls-handshakes.ts), ${LOAD.concurrency} handshakes in flight; ` +
      `each connection is ended (\`end()\`: its Finished message, close_notify, FIN) as soon as its handshake completes, with no HTTP request, so the server finishes every handshake; ${WARMUP_S} s warm-up, ${LOAD.durationS} s measured, ` +
      `${ROUNDS} runs each, a fresh server per run. A resumed run offers the session of one earlier connection on every connection.`,
    '- Resumed: the share of handshakes of the run that resumed (`isSessionReused()`); server CPU: CPU time (user + system, from /proc) of the server\'s processes per handshake, median of the runs; other CPU: what the rest of the machine used during each run (not the server or the client), as a share of all CPUs; per child: handshakes each mpmproxy child served in each run (server-status ConnsTotal).',
    '',
    '| handshake | server | per s, each run | best per s | resumed | server CPU µs/handshake | other CPU | mpmproxy per child |',
    '| --- | --- | --- | ---: | ---: | ---: | --- | --- |',
    ...lines,
    '',
    `Resumed against full (goal for mpmproxy: ≥ ${GOAL}×), in handshakes per second and in the server\'s CPU time per handshake (full ÷ resumed: how many resumed handshakes the CPU time of one full one pays for):`,
    '',
    '| version | server | resumed / full, per s | full / resumed, server CPU | goal met |',
    '| --- | --- | ---: | ---: | --- |',
    ...ratios,
    '',
    'mpmproxy\'s server CPU per handshake above the bare-Node floor (µs, medians of the runs):',
    '',
    '| handshake | mpmproxy | node | above the floor |',
    '| --- | ---: | ---: | ---: |',
    ...floor,
    '',
    ...floorVerdict(cpuRatio),
    'The client has a CPU of its own but needs more CPU per resumed handshake than the server does, so where a server resumes faster than the client can ask the per-second ratio shows the client; the CPU ratio is what the server itself gains. (`openssl s_time -reuse` cannot be the client instead: it does not resume TLS 1.3 sessions, whose tickets arrive after the handshake.)',
  ].join('\n');
}

/** Where the bare-Node floor itself resumes short of the goal, that is on record, with its numbers. */
function floorVerdict(cpuRatio: (server: Server, version: Kind['version']) => number): string[] {
  const short = (['TLSv1.2', 'TLSv1.3'] as const).filter((v) => cpuRatio('node', v) < GOAL);
  if (short.length === 0) return [];
  const list = short.map((v) => `${v} ${cpuRatio('node', v).toFixed(2)}×`).join(', ');
  return [
    `The bare-Node floor itself stays under ${GOAL}× (full ÷ resumed server CPU: ${list}; its µs per handshake are the node rows above): ` +
      'in Node every connection costs a net.Socket, a TLSSocket wrapped around it and their JavaScript events whether it resumes or not, and a TLS 1.3 resumption still makes an X25519 key exchange (psk_dhe_ke), so no server built on Node\'s TLS stack reaches the goal on this measure.',
    '',
  ];
}

async function main(): Promise<void> {
  const [loadAtStart] = os.loadavg();
  if (loadAtStart > 0.5) console.warn(`load average ${loadAtStart.toFixed(2)}: other work on this machine adds noise`);
  // This process is the load generator.
  await pinProcessTree(process.pid, CLIENT_CPU);
  const certDir = createWorkDir('tls-cert');
  const { cert, key } = issueSelfSigned(certDir);
  const rows: Row[] = [];
  try {
    for (let i = 0; i < ROUNDS; i++) {
      for (const kind of kinds) {
        for (const server of i % 2 === 0 ? servers : [...servers].reverse()) {
          const row = await measure(server, kind, cert, key);
          rows.push(row);
          console.log(`${kind.label}, ${server}: ${rate(row.result.perSec)}/s, resumed ${(row.result.resumedShare * 100).toFixed(0)}%, errors ${row.result.errors}${row.perChild ? `, per child ${row.perChild.join(' + ')}` : ''}`);
        }
      }
    }
  } finally {
    certDir.remove();
  }
  writeResultsSection('tls', section(rows, loadAtStart));
}

void main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
