// bench:access-log: what an access log costs a request. Two measures, written to the
// `access-log` section of bench/RESULTS.md:
//  1. in one process, the CPU time to format a line and write it through the buffered writer
//     (user + system, the thread pool's writes included), per format;
//  2. end to end, the CPU time a child spends per proxied request under wrk, without an access
//     log and with each format: the difference is what logging adds to a request. CPU time per
//     request, read from /proc, holds steady on a shared machine where requests/s would not.
//
//   node dist/bench/access-log.bench.js
import fs from 'node:fs';
import type http from 'node:http';
import type net from 'node:net';
import os from 'node:os';
import type { Exchange } from '../src/log/exchange';
import { jsonFormat } from '../src/log/json-format';
import { compileLogFormat, predefinedFormats, type LineFormat } from '../src/log/log-format';
import { LogWriter } from '../src/log/log-writer';
import { startMpmproxy } from './lib/mpmproxy';
import { freePort, sleep } from './lib/ports';
import { sampleProcesses } from './lib/proc-sampler';
import { measuredLine, resultsFile, writeResultsSection } from './lib/results';
import { startNodeBackend } from './lib/static-backend';
import { writeStaticSite } from './lib/static-site';
import { runWrk } from './lib/wrk';
import { createWorkDir } from './lib/work-dir';

const LINES = 1_000_000;
const LOAD = { connections: 32, threads: 1, durationS: 8 };
const WARMUP_S = 2;
const ROUNDS = 3;

const formats: Array<{ name: string; directive: string; line: () => LineFormat }> = [
  { name: 'common', directive: 'common', line: () => compileLogFormat(predefinedFormats.common).line },
  {
    name: 'combined + %D',
    directive: '"%h %l %u %t \\"%r\\" %>s %b \\"%{Referer}i\\" \\"%{User-agent}i\\" %D"',
    line: () => compileLogFormat(`${predefinedFormats.combined} %D`).line,
  },
  { name: 'json', directive: 'json', line: jsonFormat },
];

/** A request as a browser sends it, answered 200 with 612 bytes. */
function sampleExchange(): Exchange {
  const req = {
    method: 'GET',
    url: '/shop/items?id=4711&page=2',
    httpVersion: '1.1',
    headers: {
      host: 'shop.example.com',
      referer: 'https://shop.example.com/shop/',
      'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36',
    },
  } as unknown as http.IncomingMessage;
  const socket = { remoteAddress: '::ffff:203.0.113.7', remotePort: 51234, localAddress: '::ffff:10.0.0.1', localPort: 443 } as net.Socket;
  return { req, res: null, socket, status: 200, startMs: Date.now(), durationUs: 1834, bytesOut: 812, bodyBytes: 612, serverName: 'shop.example.com', connection: '+' };
}

interface LineCost {
  name: string;
  formatNs: number;
  totalNs: number;
  bytes: number;
}

async function lineCost(f: (typeof formats)[number], dir: string): Promise<LineCost> {
  const line = f.line();
  const x = sampleExchange();
  for (let i = 0; i < 100_000; i++) line(x);
  let cpu = process.cpuUsage();
  let bytes = 0;
  for (let i = 0; i < LINES; i++) {
    x.startMs += 0.01;
    bytes += line(x).length;
  }
  const formatUs = process.cpuUsage(cpu);
  const fd = fs.openSync(`${dir}/${f.name.replace(/\W+/g, '-')}.log`, 'a');
  const writer = new LogWriter(fd, 'bench');
  cpu = process.cpuUsage();
  for (let i = 0; i < LINES; i++) {
    x.startMs += 0.01;
    writer.write(line(x));
    // No server makes lines this fast: wait for the writes now and then, as requests would
    // between lines, so none is dropped and every line's write is counted.
    if (i % 1000 === 999) await writer.close();
  }
  await writer.close();
  const totalUs = process.cpuUsage(cpu);
  fs.closeSync(fd);
  const ns = (u: NodeJS.CpuUsage) => ((u.user + u.system) * 1000) / LINES;
  return { name: f.name, formatNs: ns(formatUs), totalNs: ns(totalUs), bytes: bytes / LINES };
}

interface RequestCost {
  name: string;
  requestsPerSec: number;
  cpuUsPerRequest: number;
  p99Ms: number;
}

async function requestCost(name: string, directives: string[], backendPort: number): Promise<RequestCost> {
  const dir = createWorkDir('access-log');
  const port = await freePort();
  const daemon = await startMpmproxy({
    dir,
    port,
    children: 1,
    directives: ['MPM event', 'StartServers 1', 'MinSpareThreads 1', `ProxyPass / http://127.0.0.1:${backendPort}/`, ...directives.map((d) => d.replace('@DIR@', dir.path))],
  });
  try {
    const url = `http://127.0.0.1:${port}/index.html`;
    await runWrk({ ...LOAD, durationS: WARMUP_S, url });
    const [child] = (await daemon.status()).children.map((c) => c.pid);
    const before = (await sampleProcesses([child], port)).get(child)?.cpuMs ?? NaN;
    const r = await runWrk({ ...LOAD, url });
    const after = (await sampleProcesses([child], port)).get(child)?.cpuMs ?? NaN;
    return { name, requestsPerSec: r.requestsPerSec, cpuUsPerRequest: ((after - before) * 1000) / r.requests, p99Ms: r.latencyMs.p99 };
  } finally {
    await daemon.stop();
    dir.remove();
  }
}

async function main(): Promise<void> {
  const loadAtStart = os.loadavg()[0];
  const scratch = createWorkDir('access-log-lines');
  const lines: LineCost[] = [];
  try {
    for (const f of formats) lines.push(await lineCost(f, scratch.path));
  } finally {
    scratch.remove();
  }
  for (const l of lines) console.log(`${l.name}: format ${l.formatNs.toFixed(0)} ns, format + write ${l.totalNs.toFixed(0)} ns, ${l.bytes} bytes a line`);

  const site = createWorkDir('access-log-backend');
  const backendPort = await freePort();
  const backend = await startNodeBackend({ dir: site, port: backendPort, root: writeStaticSite(site).root });
  const scenarios = [
    { name: 'no access log', directives: [] as string[] },
    ...formats.map((f) => ({ name: `CustomLog file ${f.name}`, directives: [`CustomLog @DIR@/access.log ${f.directive}`] })),
  ];
  const runs: RequestCost[][] = scenarios.map(() => []);
  try {
    await sleep(200);
    // Rounds through every scenario, so a change in what else the machine runs touches them alike.
    for (let round = 0; round < ROUNDS; round++) {
      for (const [i, sc] of scenarios.entries()) runs[i].push(await requestCost(sc.name, sc.directives, backendPort));
    }
  } finally {
    await backend.stop();
    site.remove();
  }
  const mean = (xs: number[]) => xs.reduce((a, x) => a + x, 0) / xs.length;
  const requests: RequestCost[] = runs.map((rs) => ({
    name: rs[0].name,
    requestsPerSec: mean(rs.map((r) => r.requestsPerSec)),
    cpuUsPerRequest: mean(rs.map((r) => r.cpuUsPerRequest)),
    p99Ms: mean(rs.map((r) => r.p99Ms)),
  }));
  for (const r of requests) console.log(`${r.name}: ${r.requestsPerSec.toFixed(0)} req/s, ${r.cpuUsPerRequest.toFixed(1)} µs CPU a request, p99 ${r.p99Ms} ms`);

  const base = requests[0].cpuUsPerRequest;
  writeResultsSection(
    'access-log',
    [
      '## bench:access-log: what an access log costs a request',
      '',
      measuredLine(loadAtStart),
      '',
      `Formatting and writing ${LINES.toLocaleString('en')} lines in one process (CPU time a line, user + system, the thread pool's writes included):`,
      '',
      '| format | format only | format + buffered write | bytes a line |',
      '| --- | ---: | ---: | ---: |',
      ...lines.map((l) => `| ${l.name} | ${(l.formatNs / 1000).toFixed(2)} µs | ${(l.totalNs / 1000).toFixed(2)} µs | ${l.bytes} |`),
      '',
      `End to end: \`MPM event\`, one child, \`ProxyPass\` to a Node server of a 612-byte file; \`wrk -t${LOAD.threads} -c${LOAD.connections} -d${LOAD.durationS}s\` (keep-alive) after ${WARMUP_S} s of warm-up, ${ROUNDS} rounds through the four cases, means shown. CPU time of the child from /proc, per request:`,
      '',
      '| access log | requests/s | child CPU a request | added by the log | p99 latency |',
      '| --- | ---: | ---: | ---: | ---: |',
      ...requests.map(
        (r) =>
          `| ${r.name} | ${r.requestsPerSec.toFixed(0)} | ${r.cpuUsPerRequest.toFixed(1)} µs | ${r === requests[0] ? '' : `${(r.cpuUsPerRequest - base).toFixed(1)} µs`} | ${r.p99Ms.toFixed(2)} ms |`,
      ),
    ].join('\n'),
  );
  console.log(`results written to ${resultsFile}`);
}

void main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
