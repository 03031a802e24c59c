// h2: HTTP/2 requests/s through mpmproxy beside nginx, both proxying to the same HTTP/1.1
// backend (nginx serving a small page), measured with h2load. HTTP/2 over TLS (ALPN) and over
// cleartext by prior knowledge (mpmproxy `Protocols h2 h2c http/1.1`, nginx `listen ... http2`),
// and the same load in keep-alive HTTP/1.1 (h2load --h1) for scale. Each server has two processes; the servers take
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
import { issueSelfSigned } from './lib/tls-cert';
import { createWorkDir } from './lib/work-dir';

const ROUNDS = 3;
const PROCESSES = 2;
const LOAD = { clients: 32, threads: 1, durationS: 8, warmupS: 2 };
const STREAMS = 10;

type Server = 'mpmproxy' | 'nginx';
type Protocol = 'h2' | 'h2c' | 'http/1.1';
const PROTOCOLS: readonly Protocol[] = ['h2', 'h2c', 'http/1.1'];

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

interface Certificate {
  cert: string;
  key: string;
}

async function startServer(server: Server, protocol: Protocol, backend: ProxyBackend, tls: Certificate): Promise<Running> {
  const dir = createWorkDir(`h2-${server}`);
  const port = await freePort();
  if (server === 'nginx') {
    // nginx's cleartext http2 listener speaks HTTP/2 only.
    const http2 = protocol !== 'http/1.1';
    const nginx = await startNginx({ dir, port, role: { backendPort: backend.port }, workers: PROCESSES, http2, ...(protocol === 'h2' && { tls }) });
    return { port, pid: nginx.process.pid, stop: () => nginx.stop().finally(() => dir.remove()) };
  }
  // server-status stays on the cleartext port the launcher gives it.
  const tlsPort = protocol === 'h2' ? await freePort() : 0;
  const daemon = await startMpmproxy({
    dir,
    port,
    directives: [
      ...fixedChildren('event', PROCESSES, 64),
      'Protocols h2 h2c http/1.1',
      ...(protocol === 'h2' ? [`Listen ${LOOPBACK}:${tlsPort} https`, `SSLCertificateFile ${tls.cert}`, `SSLCertificateKeyFile ${tls.key}`] : []),
      // As many streams per connection as nginx's http2_max_concurrent_streams default.
      'LimitStreams 128',
      'MaxKeepAliveRequests 0',
      `ProxyPass / http://${LOOPBACK}:${backend.port}/`,
    ],
    children: PROCESSES,
  });
  return { port: protocol === 'h2' ? tlsPort : port, pid: daemon.process.pid, stop: () => daemon.stop().finally(() => dir.remove()) };
}

async function measure(server: Server, protocol: Protocol, backend: ProxyBackend, tls: Certificate): Promise<Round> {
  const running = await startServer(server, protocol, backend, tls);
  try {
    const cpuBefore = treeCpuMs(running.pid);
    const h2load = await runH2load({
      url: `${protocol === 'h2' ? 'https' : 'http'}://${LOOPBACK}:${running.port}${backend.small}`,
      ...LOAD,
      streams: protocol === 'http/1.1' ? 1 : STREAMS,
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
  for (const protocol of PROTOCOLS) {
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
    `- mpmproxy: ${PROCESSES} event children (\`ThreadsPerChild 64\`), \`Protocols h2 h2c http/1.1\` (an \`https\` listener for h2), \`LimitStreams 128\`, ` +
      '`MaxKeepAliveRequests 0`, `ProxyPass /` to the backend.',
    `- nginx 1.22: \`worker_processes ${PROCESSES}\`, \`listen ... ssl http2\` for h2, \`listen ... http2\` for h2c (prior knowledge), a plain listener for HTTP/1.1; ` +
      '`proxy_pass` to an upstream with `keepalive 64`, `proxy_http_version 1.1`.',
    '- h2: TLS 1.3 with the same self-signed RSA 2048 certificate (`mpmproxy cert selfsigned`) for both; 32 connections, so handshakes are a small part of a run.',
    `- Load: \`${generic(h2.h2load.command)}\` for h2c (${STREAMS} streams per connection; \`https://\` for h2) and ` +
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
  const tls = issueSelfSigned(backendDir);
  const rounds: Round[] = [];
  try {
    for (let i = 0; i < ROUNDS; i++) {
      for (const protocol of PROTOCOLS) {
        const order: Server[] = i % 2 === 0 ? ['mpmproxy', 'nginx'] : ['nginx', 'mpmproxy'];
        for (const server of order) {
          const r = await measure(server, protocol, backend, tls);
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
