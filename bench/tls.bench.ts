// tls: full and resumed TLS handshakes a second across two mpmproxy children, beside nginx
// (one worker per core, `ssl_session_cache shared:SSL:10m`, tickets on) on the same certificate.
// Resumption is by session ID for TLS 1.2 (mpmproxy: SSLSessionTickets off, the shared cache)
// and by ticket for TLS 1.3. The goal: resumed at least 3× full. The load generator is a Node
// client (bench/lib/tls-handshakes.ts) holding 32 handshakes in flight, each connection closed
// once its handshake is done. Results go to the `tls` section of bench/RESULTS.md.
//
//   node dist/bench/tls.bench.js
import os from 'node:os';
import { issueSelfSigned } from './lib/tls-cert';
import { fixedChildren, startMpmproxy } from './lib/mpmproxy';
import { startNginx } from './lib/nginx';
import { freePort } from './lib/ports';
import { measuredLine, writeResultsSection } from './lib/results';
import { runHandshakes, type HandshakeLoad, type HandshakeResult } from './lib/tls-handshakes';
import { createWorkDir, type WorkDir } from './lib/work-dir';

const CHILDREN = 2;
const LOAD = { concurrency: 32, durationS: 5 };
const WARMUP_S = 1;
const ROUNDS = 2;
const GOAL = 3;

type Server = 'mpmproxy' | 'nginx';
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
}

async function startServer(server: Server, dir: WorkDir, port: number, cert: string, key: string, tickets: boolean) {
  if (server === 'nginx') return startNginx({ dir, port, role: { root: dir.path }, tls: { cert, key } });
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
  return { stop: () => d.stop(), status: () => d.status() };
}

async function measure(server: Server, kind: Kind, cert: string, key: string): Promise<Row> {
  const dir = createWorkDir(`tls-${server}`);
  const port = await freePort();
  // TLS 1.2 resumption is measured by session ID: mpmproxy's shared cache, not its tickets.
  const s = await startServer(server, dir, port, cert, key, !(kind.version === 'TLSv1.2' && kind.resume));
  try {
    const load = { port, version: kind.version, resume: kind.resume, ...LOAD };
    await runHandshakes({ ...load, durationS: WARMUP_S });
    const before = 'status' in s ? (await s.status()).children.map((c) => c.connsTotal) : [];
    const result = await runHandshakes(load);
    const perChild = 'status' in s ? (await s.status()).children.map((c, i) => c.connsTotal - (before[i] ?? 0)) : undefined;
    return { server, kind, result, ...(perChild && { perChild }) };
  } finally {
    await s.stop();
    dir.remove();
  }
}

const rate = (n: number) => Math.round(n).toLocaleString('en-US');
/** Of the runs, the best: other work on the machine only ever slows a run down. */
const best = (v: number[]) => Math.max(...v);

function section(rows: Row[], loadAtStart: number): string {
  const lines: string[] = [];
  const of = (server: Server, kind: Kind) => rows.filter((r) => r.server === server && r.kind === kind);
  for (const kind of kinds) {
    for (const server of ['mpmproxy', 'nginx'] as const) {
      const runs = of(server, kind);
      const perSec = best(runs.map((r) => r.result.perSec));
      const resumed = Math.min(...runs.map((r) => r.result.resumedShare));
      const children = runs[0].perChild ? runs.map((r) => (r.perChild ?? []).map(rate).join(' + ')).join('; ') : '';
      lines.push(`| ${kind.label} | ${server} | ${runs.map((r) => rate(r.result.perSec)).join(' / ')} | ${rate(perSec)} | ${(resumed * 100).toFixed(0)}% | ${children} |`);
    }
  }
  const ratio = (server: Server, version: Kind['version']) => {
    const full = best(rows.filter((r) => r.server === server && r.kind.version === version && !r.kind.resume).map((r) => r.result.perSec));
    const resumed = best(rows.filter((r) => r.server === server && r.kind.version === version && r.kind.resume).map((r) => r.result.perSec));
    return resumed / full;
  };
  const ratios = (['TLSv1.2', 'TLSv1.3'] as const).flatMap((v) =>
    (['mpmproxy', 'nginx'] as const).map((s) => {
      const x = ratio(s, v);
      return `| ${v} | ${s} | ${x.toFixed(2)}× | ${s === 'mpmproxy' ? (x >= GOAL ? 'yes' : '**no**') : ''} |`;
    }),
  );
  return [
    '## tls: full and resumed TLS handshakes',
    '',
    measuredLine(loadAtStart),
    '',
    'Command: `node dist/bench/tls.bench.js` (after `npm run build:ts`).',
    '',
    `- mpmproxy: ${CHILDREN} event children, \`SSLSessionCache shm:10M\`; tickets off for the TLS 1.2 runs (resumption by session ID through the shared cache), on for TLS 1.3 (resumption by ticket, the shared ticket key).`,
    '- nginx: `worker_processes auto` (one per core), `ssl_session_cache shared:SSL:10m`, `ssl_session_tickets on`.',
    '- The same self-signed RSA 2048 certificate for both; default ciphers (ECDHE with X25519).',
    `- Load generator: a Node client on the same machine (bench/lib/tls-handshakes.ts), ${LOAD.concurrency} handshakes in flight, ` +
      `each connection closed as soon as its handshake completes (no HTTP request); ${WARMUP_S} s warm-up, ${LOAD.durationS} s measured, ` +
      `${ROUNDS} runs each, a fresh server per run. A resumed run offers the session of one earlier connection on every connection.`,
    '- Resumed: the share of handshakes of the run that resumed (`isSessionReused()`); per child: handshakes each mpmproxy child served in each run (server-status ConnsTotal).',
    '',
    '| handshake | server | per s, each run | best per s | resumed | mpmproxy per child |',
    '| --- | --- | --- | ---: | ---: | --- |',
    ...lines,
    '',
    `Resumed against full (goal for mpmproxy: ≥ ${GOAL}×):`,
    '',
    '| version | server | resumed / full | goal met |',
    '| --- | --- | ---: | --- |',
    ...ratios,
    '',
    'The client shares the two cores with the server: a full handshake costs the client an ECDHE key exchange and the certificate parse, a resumed one little, so the client is a larger part of every figure than on a machine of its own.',
  ].join('\n');
}

async function main(): Promise<void> {
  const [loadAtStart] = os.loadavg();
  if (loadAtStart > 0.5) console.warn(`load average ${loadAtStart.toFixed(2)}: other work on this machine adds noise`);
  const certDir = createWorkDir('tls-cert');
  const { cert, key } = issueSelfSigned(certDir);
  const rows: Row[] = [];
  try {
    for (let i = 0; i < ROUNDS; i++) {
      for (const kind of kinds) {
        for (const server of (i % 2 === 0 ? ['mpmproxy', 'nginx'] : ['nginx', 'mpmproxy']) as Server[]) {
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
