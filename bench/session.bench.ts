// session: what sessions cost through the proxy. For each store (shm, sqlite, mariadb) wrk
// sends requests that carry a valid session cookie: reads (the session is looked up on every
// request; nothing is written back within SessionExpiryUpdateInterval) and writes (the backend
// sets an attribute on every request, so each is a store write before the answer goes out). The
// same load on a path without sessions gives the baseline; the goal for shm is under 10% lost.
// Results go to the `session` section of bench/RESULTS.md.
//
//   node dist/bench/session.bench.js
import fs from 'node:fs';
import os from 'node:os';
import { CacheTable } from '../src/shm/cache';
import { cookieValue } from '../src/session/cookie';
import { CREATE_TABLE } from '../src/session/mariadb-schema';
import { newSessionId } from '../src/session/record';
import { ShmSessionStore } from '../src/session/shm-store';
import { TestMariadb } from '../test/helpers/mariadb';
import { fixedChildren, startMpmproxy } from './lib/mpmproxy';
import { freePort, LOOPBACK } from './lib/ports';
import { otherCpuWindow, treeCpuMs } from './lib/proc-sampler';
import { measuredLine, resultsFile, writeResultsSection } from './lib/results';
import { newSession, startSessionBackend } from './lib/session-backend';
import { createWorkDir, type WorkDir } from './lib/work-dir';
import { runWrk, type WrkResult } from './lib/wrk';

const GOAL_LOSS = 0.1;
const CHILDREN = 2;
const LOAD = { connections: 32, threads: 2, durationS: 5 };
const WARMUP_S = 1;
const ROUNDS = 5;
/** A run during which other work used more than this share of the CPUs is not quiet. */
const QUIET = 0.1;

type Store = 'none' | 'shm' | 'sqlite' | 'mariadb';
type Op = 'read' | 'write';

interface Run {
  store: Store;
  op: Op;
  wrk: WrkResult;
  /** The daemon's CPU time (user + system) per request, µs. */
  cpuUs: number;
  /** Share of the CPUs that other work on the machine used during the run. */
  otherCpu: number;
  round: number;
}

function storeLines(store: Store, dir: WorkDir, db: TestMariadb | null): string[] {
  switch (store) {
    case 'none':
    case 'shm':
      return [];
    case 'sqlite':
      return ['SessionStore sqlite', `SessionSQLiteFile ${dir.file('sessions.sqlite')}`];
    case 'mariadb':
      return ['SessionStore mariadb', `SessionDBConnect ${(db as TestMariadb).url('bench')}`];
  }
}

async function measure(store: Store, ops: readonly Op[], backend: { port: number; pid: number }, db: TestMariadb | null, round: number): Promise<Run[]> {
  const backendPort = backend.port;
  const backendPid = backend.pid;
  const dir = createWorkDir(`session-${store}`);
  const port = await freePort();
  const daemon = await startMpmproxy({
    dir,
    port,
    children: CHILDREN,
    directives: [
      ...fixedChildren('event', CHILDREN, 64),
      'LimitCache 64M',
      ...storeLines(store, dir, db),
      `ProxyPass /s http://${LOOPBACK}:${backendPort}`,
      ...(store === 'none' ? [] : ['<Location /s>', '  Session On', '</Location>']),
    ],
  });
  try {
    const cookie = store === 'none' ? 'none=1' : await newSession(port);
    const runs: Run[] = [];
    for (const op of ops) {
      const wrk = (durationS: number) =>
        runWrk({ url: `http://${LOOPBACK}:${port}/s/${op === 'write' ? 'write' : 'read'}`, ...LOAD, durationS, headers: [`Cookie: ${cookie}`] });
      await wrk(WARMUP_S);
      const cpuBefore = treeCpuMs(daemon.process.pid);
      const other = otherCpuWindow([daemon.process.pid, backendPid]);
      const result = await wrk(LOAD.durationS);
      const otherCpu = other.end();
      const cpuUs = ((treeCpuMs(daemon.process.pid) - cpuBefore) * 1000) / Math.max(1, result.requests);
      const e = result.errors;
      if (e.connect + e.read + e.write + e.timeout + e.status > 0) throw new Error(`${store} ${op}: wrk saw errors ${JSON.stringify(e)}`);
      runs.push({ store, op, wrk: result, cpuUs, otherCpu, round });
      console.log(`${store} ${op}: ${rate(result.requestsPerSec)} req/s, p99 ${result.latencyMs.p99} ms, ${cpuUs.toFixed(1)} µs CPU a request, other work ${(otherCpu * 100).toFixed(0)}% of the CPUs`);
    }
    return runs;
  } finally {
    await daemon.stop();
    dir.remove();
  }
}

interface OpCosts {
  /** A session unchanged since this process last read it (its decoded record is kept). */
  readNs: number;
  /** A session read with nothing kept, as after another process changed it: copied, checked, decoded. */
  freshReadNs: number;
  writeNs: number;
}

/** The shm store's part of a request alone, timed in a loop on a segment-sized buffer: the
 * cookie found in a Cookie header and the session read (kept, or by a store that has kept
 * nothing yet), or written. */
function opCosts(): OpCosts {
  const size = 64 * 2 ** 20;
  const cache = CacheTable.create(new ArrayBuffer(CacheTable.byteLength(size)), size, 512 * 1024);
  const store = new ShmSessionStore(cache, size, 0);
  const id = newSessionId();
  const now = Date.now();
  const record = { created: now, touched: now, authenticated: true, principal: 'someone', attributes: { role: 'editor', counter: '1' } };
  store.create(id, record, now + 3_600_000);
  const header = `theme=dark; mpmproxy_session=${id}; lang=en`;
  const n = 500_000;
  const time = (work: () => void): number => {
    work();
    const start = process.hrtime.bigint();
    work();
    return Number(process.hrtime.bigint() - start) / n;
  };
  const readNs = time(() => {
    for (let i = 0; i < n; i++) if (store.get(cookieValue(header, 'mpmproxy_session') as string) === null) throw new Error('lost');
  });
  const freshReadNs = time(() => {
    for (let i = 0; i < n; i++) if (new ShmSessionStore(cache, size, 0).get(cookieValue(header, 'mpmproxy_session') as string) === null) throw new Error('lost');
  });
  const writeNs = time(() => {
    for (let i = 0; i < n; i++) store.update(id, record, now + 3_600_000);
  });
  return { readNs, freshReadNs, writeNs };
}

const median = (values: number[]): number => {
  const v = [...values].sort((a, b) => a - b);
  const mid = v.length >> 1;
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
};
const rate = (n: number) => Math.round(n).toLocaleString('en-US');

function section(runs: Run[], ops: OpCosts, loadAtStart: number, mariadb: string): string {
  const of = (store: Store, op: Op) => runs.filter((r) => r.store === store && r.op === op);
  const med = (store: Store, op: Op) => median(of(store, op).map((r) => r.wrk.requestsPerSec));
  const p99 = (store: Store, op: Op) => median(of(store, op).map((r) => r.wrk.latencyMs.p99));
  const base = med('none', 'read');
  const rows = (['shm', 'sqlite', 'mariadb'] as const).flatMap((store) =>
    (['read', 'write'] as const).map((op) => {
      const loss = (base - med(store, op)) / base;
      return `| ${store} | ${op} | ${of(store, op).map((r) => rate(r.wrk.requestsPerSec)).join(' / ')} | ${rate(med(store, op))} | ${p99(store, op).toFixed(2)} | ${(loss * 100).toFixed(1)}% |`;
    }),
  );
  // Pairs of a round, one right after the other: drift of a busy machine falls on both alike.
  const pairs = Array.from({ length: ROUNDS }, (_, i) => {
    const none = runs.find((r) => r.round === i && r.store === 'none') as Run;
    const shm = runs.find((r) => r.round === i && r.store === 'shm' && r.op === 'read') as Run;
    return { ratio: shm.wrk.requestsPerSec / none.wrk.requestsPerSec, quiet: none.otherCpu < QUIET && shm.otherCpu < QUIET };
  });
  const quiet = pairs.filter((x) => x.quiet);
  const shmLoss = 1 - median(quiet.map((x) => x.ratio));
  const cpu = (store: Store, op: Op) => median(of(store, op).map((r) => r.cpuUs));
  const cpuLoss = 1 - cpu('none', 'read') / cpu('shm', 'read');
  const command = runs[0].wrk.command.replace(/:\d+\//, ':PORT/');
  return [
    '## session: sessions through the proxy, per store',
    '',
    measuredLine(loadAtStart),
    '',
    'Command: `node dist/bench/session.bench.js` (after `npm run build:ts`).',
    '',
    `- Served: ${CHILDREN} event children (\`ThreadsPerChild 64\`) proxying to a small Node backend in its own process; ` +
      '`Session On` on the path, the default `SessionExpiryUpdateInterval` (60 s), `LimitCache 64M`.',
    '- read: every request carries the cookie of one live session; the proxy looks it up and forwards. ' +
      'write: the backend answers every request with `X-Session-Set-counter`, so each request also writes the session ' +
      'to the store before its answer goes out.',
    `- sqlite: a file in the benchmark's temporary directory (WAL). mariadb: ${mariadb}, over its Unix socket, \`SessionDBPoolSize 4\`.`,
    `- Load: \`${command}\` with the cookie as a header, ${WARMUP_S} s warm-up then ${LOAD.durationS} s measured; ` +
      `a fresh daemon per store and round, ${ROUNDS} rounds for no sessions and shm, 1 for sqlite and mariadb.`,
    `- Baseline, the same path without sessions: ${of('none', 'read').map((r) => rate(r.wrk.requestsPerSec)).join(' / ')} req/s, median ${rate(base)}.`,
    '',
    '| store | requests | req/s per run | median req/s | p99 ms | loss against no sessions |',
    '| --- | --- | --- | ---: | ---: | ---: |',
    ...rows,
    '',
    quiet.length >= 2
      ? `Sessions on (shm, reads) against off, 1 − the median over the ${quiet.length} quiet rounds (other work under ${QUIET * 100}% of the CPUs in both runs) ` +
        `of (req/s with ÷ without): ${(shmLoss * 100).toFixed(1)}% fewer requests/s; the goal is under ${GOAL_LOSS * 100}%: ${shmLoss < GOAL_LOSS ? 'met' : '**not met**'}. ` +
        `Per round: ${pairs.map((x) => `${x.ratio.toFixed(3)}${x.quiet ? '' : ' (busy)'}`).join(', ')}.`
      : `Sessions on (shm, reads) against off: fewer than two rounds were quiet (other work under ${QUIET * 100}% of the CPUs in both runs), ` +
        `so requests/s cannot tell a ${GOAL_LOSS * 100}% difference here (per round, req/s with ÷ without: ${pairs.map((x) => x.ratio.toFixed(3)).join(', ')}); ` +
        `judged by the CPU time below instead: ${cpuLoss < GOAL_LOSS ? 'met' : '**not met**'}.`,
    '',
    `CPU time of the daemon per request (medians): ${cpu('none', 'read').toFixed(1)} µs without sessions, ${cpu('shm', 'read').toFixed(1)} µs with shm reads, ` +
      `${cpu('shm', 'write').toFixed(1)} µs with shm writes; what a CPU-bound server loses to shm reads: ${(cpuLoss * 100).toFixed(1)}%.`,
    '',
    `The shm store's own work, timed in a loop (one process, a 64M segment): ${ops.readNs.toFixed(0)} ns to find the cookie and read ` +
      `a session unchanged since this process last read it (its decoded record is kept while the segment's bytes stay the same), ` +
      `${ops.freshReadNs.toFixed(0)} ns with nothing kept (as after another child changed it: copied, checked and decoded), ` +
      `${ops.writeNs.toFixed(0)} ns to write one. At the baseline's ${rate(base)} req/s on ${CHILDREN} children ` +
      `the unchanged read is ${((ops.readNs * base) / (CHILDREN * 1e9) * 100).toFixed(2)}% of each child's time.`,
  ].join('\n');
}

async function main(): Promise<void> {
  const [loadAtStart] = os.loadavg();
  if (loadAtStart > 0.5) console.warn(`load average ${loadAtStart.toFixed(2)}: other work on this machine adds noise`);
  const dir = createWorkDir('session-backend');
  const backendPort = await freePort();
  const backend = await startSessionBackend(dir, backendPort);
  const served = { port: backendPort, pid: backend.pid };
  const db = new TestMariadb();
  const runs: Run[] = [];
  let mariadb = '';
  try {
    await db.install();
    await db.start();
    await db.query('CREATE DATABASE bench');
    await db.query(CREATE_TABLE, 'bench');
    mariadb = `a local MariaDB ${String(((await db.query('SELECT VERSION() AS v')) as Array<{ v: string }>)[0].v)} started for the run (defaults, 32M buffer pool)`;
    for (let i = 0; i < ROUNDS; i++) {
      // Alternate the order, so neither always follows the other.
      for (const store of i % 2 === 0 ? (['none', 'shm'] as const) : (['shm', 'none'] as const)) {
        runs.push(...(await measure(store, store === 'none' ? ['read'] : ['read', 'write'], served, db, i)));
      }
    }
    for (const store of ['sqlite', 'mariadb'] as const) runs.push(...(await measure(store, ['read', 'write'], served, db, ROUNDS)));
  } finally {
    await db.stop();
    fs.rmSync(db.dir, { recursive: true, force: true });
    await backend.stop();
    dir.remove();
  }
  const ops = opCosts();
  console.log(`shm store: ${ops.readNs.toFixed(0)} ns a read, ${ops.freshReadNs.toFixed(0)} ns a read with nothing kept, ${ops.writeNs.toFixed(0)} ns a write`);
  writeResultsSection('session', section(runs, ops, loadAtStart, mariadb));
  console.log(`wrote the session section of ${resultsFile}`);
}

main().catch((err: Error) => {
  console.error(err.message);
  process.exitCode = 1;
});
