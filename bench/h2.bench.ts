// h2: HTTP/2 requests/s through mpmproxy beside nginx, both proxying to the same HTTP/1.1
// backend (nginx serving a small page), measured with h2load. HTTP/2 over cleartext by prior
// knowledge (mpmproxy `Protocols h2c http/1.1`, nginx `listen ... http2`), and the same load in
// keep-alive HTTP/1.1 (h2load --h1) for scale. Each server has two processes; the servers take
// turns so that drift of a busy machine falls on both alike. Results go to the `h2` section of
// bench/RESULTS.md.
//
//   node dist/bench/h2.bench.js
import os from 'node:os';
import { runH2load, type H2loadResult } from './lib/h2load';
import { fixedChildren, startMpmproxy } from './lib/mpmproxy';
import { startNginx } from './lib/nginx';
import { freePort, LOOPBACK } from './lib/ports';
import { treeCpuMs } from './lib/proc-sampler';
import { startProxyBackend, type ProxyBackend } from './lib/proxy-backend';
import { measuredLine, median, rate, writeResultsSection } from './lib/results';
import { createWorkDir } from './lib/work-dir';

const ROUNDS = 3;
const PROCESSES = 2;
const LOAD = { clients: 32, threads: 1, durationS: 8, warmupS: 2 };
const STREAMS = 10;

type Server = 'mpmproxy' | 'nginx';
type Protocol = 'h2c' | 'http/1.1';

interface Round {
  server: Server;
  protocol: Protocol;
  h2load: H2loadResult;
  /** The server's CPU time (all its processes) per request, in µs. */
  cpuUsPerRequest: number;
}

interface Running {
  port: number;
  pid: number;
  stop(): Promise<void>;
}

async function startServer(server: Server, protocol: Protocol, backend: ProxyBackend): Promise<Running> {
  const dir = createWorkDir(`h2-${server}`);
  const port = await freePort();
  if (server === 'nginx') {
    // nginx's cleartext http2 listener speaks HTTP/2 only.
    const http2 = protocol === 'h2c';
    const nginx = await startNginx({ dir, port, role: { backendPort: backend.port }, workers: PROCESSES, http2 });
    return { port, pid: nginx.process.pid, stop: () => nginx.stop().finally(() => dir.remove()) };
  }
  const daemon = await startMpmproxy({
    dir,
    port,
    directives: [
      ...fixedChildren('event', PROCESSES, 64),
      'Protocols h2c http/1.1',
      // As many streams per connection as nginx's http2_max_concurrent_streams default.
      'LimitStreams 128',
      'MaxKeepAliveRequests 0',
      `ProxyPass / http://${LOOPBACK}:${backend.port}/`,
    ],
    children: PROCESSES,
  });
  return { port, pid: daemon.process.pid, stop: () => daemon.stop().finally(() => dir.remove()) };
}

async function measure(server: Server, protocol: Protocol, backend: ProxyBackend): Promise<Round> {
  const running = await startServer(server, protocol, backend);
  try {
    const cpuBefore = treeCpuMs(running.pid);
    const h2load = await runH2load({
      url: `http://${LOOPBACK}:${running.port}${backend.small}`,
      ...LOAD,
      streams: protocol === 'h2c' ? STREAMS : 1,
      h1: protocol === 'http/1.1',
    });
    // The warm-up's requests are not counted: its CPU is, so this errs against both alike.
    const requests = h2load.requestsPerSec * LOAD.durationS;
    const cpuUsPerRequest = ((treeCpuMs(running.pid) - cpuBefore) * 1000) / requests;
    if (h2load.succeeded === 0 || h2load.failed + h2load.errored + h2load.non2xx > 0) throw new Error(`${server} ${protocol}: ${JSON.stringify(h2load)}`);
    return { server, protocol, h2load, cpuUsPerRequest };
  } finally {
    await running.stop();
  }
}


function section(rounds: Round[], backend: ProxyBackend, loadAtStart: number): string {
  const rows: string[] = [];
  for (const protocol of ['h2c', 'http/1.1'] as const) {
    const of = (server: Server) => rounds.filter((r) => r.server === server && r.protocol === protocol);
    const m = median(of('mpmproxy').map((r) => r.h2load.requestsPerSec));
    const n = median(of('nginx').map((r) => r.h2load.requestsPerSec));
    const cpu = (server: Server) => median(of(server).map((r) => r.cpuUsPerRequest)).toFixed(0);
    rows.push(
      `| ${protocol} | ${of('mpmproxy').map((r) => rate(r.h2load.requestsPerSec)).join(' / ')} | ${rate(m)} | ${cpu('mpmproxy')} | ` +
        `${of('nginx').map((r) => rate(r.h2load.requestsPerSec)).join(' / ')} | ${rate(n)} | ${cpu('nginx')} | ${(m / n).toFixed(2)} |`,
    );
  }
  const h2 = rounds.find((r) => r.protocol === 'h2c') as Round;
  const h1 = rounds.find((r) => r.protocol === 'http/1.1') as Round;
  const generic = (c: string) => c.replace(/:\d+\//, ':PORT/');
  return [
    '## h2: HTTP/2 requests/s beside nginx',
    '',
    measuredLine(loadAtStart),
    '',
    'Command: `node dist/bench/h2.bench.js` (after `npm run build:ts`).',
    '',
    `- Backend for both: ${backend.describe}; the small page is requested.`,
    `- mpmproxy: ${PROCESSES} event children (\`ThreadsPerChild 64\`), \`Protocols h2c http/1.1\` (for both loads), \`LimitStreams 128\`, ` +
      '`MaxKeepAliveRequests 0`, `ProxyPass /` to the backend.',
    `- nginx 1.22: \`worker_processes ${PROCESSES}\`, \`listen ... http2\` (h2c by prior knowledge; a plain listener for HTTP/1.1), ` +
      '`proxy_pass` to an upstream with `keepalive 64`, `proxy_http_version 1.1`.',
    `- Load: \`${generic(h2.h2load.command)}\` for HTTP/2 (${STREAMS} streams per connection) and ` +
      `\`${generic(h1.h2load.command)}\` for HTTP/1.1; a fresh server per run, the servers take turns, ${ROUNDS} runs each; ` +
      'h2load runs on the same machine (one core of its own at most).',
    "- CPU µs/req: the server's processes' CPU time (`/proc/<pid>/stat`, all of them) per request, medians.",
    '',
    '| protocol | mpmproxy req/s per run | mpmproxy median | mpmproxy CPU µs/req | nginx req/s per run | nginx median | nginx CPU µs/req | mpmproxy / nginx |',
    '| --- | --- | ---: | ---: | --- | ---: | ---: | ---: |',
    ...rows,
    '',
    'Both servers proxy every HTTP/2 stream as an HTTP/1.1 request to the backend. mpmproxy reads the first bytes of a ' +
      'cleartext connection in the kernel queue (MSG_PEEK) and hands it to a native Node HTTP/2 session; its cost per ' +
      "request is that of Node's HTTP/2 server and its compatibility API on top of the HTTP/1.1 proxy path.",
    ...(loadAtStart > 2
      ? ['', `The machine was busy with other work (load average ${loadAtStart.toFixed(1)} on ${os.cpus().length} CPUs): runs differ widely, and the CPU figures, which divide by fewer requests, are inflated by the fixed per-second work of each server.`]
      : []),
  ].join('\n');
}

async function main(): Promise<void> {
  const [loadAtStart] = os.loadavg();
  if (loadAtStart > 0.5) console.warn(`load average ${loadAtStart.toFixed(2)}: other work on this machine adds noise`);
  const backendDir = createWorkDir('h2-backend');
  const backend = await startProxyBackend(backendDir);
  const rounds: Round[] = [];
  try {
    for (let i = 0; i < ROUNDS; i++) {
      for (const protocol of ['h2c', 'http/1.1'] as const) {
        const order: Server[] = i % 2 === 0 ? ['mpmproxy', 'nginx'] : ['nginx', 'mpmproxy'];
        for (const server of order) {
          const r = await measure(server, protocol, backend);
          rounds.push(r);
          console.log(`round ${i + 1}, ${protocol}, ${server}: ${rate(r.h2load.requestsPerSec)} req/s, ${r.cpuUsPerRequest.toFixed(0)} µs CPU a request`);
        }
      }
    }
  } finally {
    await backend.stop();
    backendDir.remove();
  }
  writeResultsSection('h2', section(rounds, backend, loadAtStart));
  console.log('wrote the h2 section of bench/RESULTS.md');
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
