// The Node reverse proxies users would pick instead of mpmproxy, each run the way Node users
// scale one over the cores: `cluster`, its primary forking one worker per process and handing
// them the connections (its default scheduling on Linux). Backend connections are kept alive:
// @fastify/http-proxy pools them in undici by default, http-proxy through a keep-alive Agent.
// Run as `node dist/bench/lib/node-proxy.js <kind> <port> <backendPort> <workers>`, or started
// by startNodeProxy.
import cluster from 'node:cluster';
import http from 'node:http';
import fastifyHttpProxy from '@fastify/http-proxy';
import fastify from 'fastify';
import httpProxy from 'http-proxy';
import { LOOPBACK, waitForPort } from './ports';
import { deathOf, startProcess } from './processes';
import type { RunningProcess } from './processes';
import type { WorkDir } from './work-dir';

export type NodeProxyKind = 'fastify-http-proxy' | 'http-proxy';

export const nodeProxyKinds: readonly NodeProxyKind[] = ['fastify-http-proxy', 'http-proxy'];

// A load generator's connections stay open for the whole run, as the other peers keep them.
const CLIENT_KEEP_ALIVE_MS = 60_000;

async function serveFastify(port: number, backendPort: number): Promise<void> {
  const app = fastify({ logger: false, keepAliveTimeout: CLIENT_KEEP_ALIVE_MS });
  await app.register(fastifyHttpProxy, { upstream: `http://${LOOPBACK}:${backendPort}` });
  await app.listen({ port, host: LOOPBACK });
}

function serveHttpProxy(port: number, backendPort: number): void {
  const proxy = httpProxy.createProxyServer({
    target: `http://${LOOPBACK}:${backendPort}`,
    agent: new http.Agent({ keepAlive: true }),
  });
  proxy.on('error', (_err, _req, res) => {
    // The answer to the client of a request the backend failed; a socket (upgrades) is just cut.
    if (res instanceof http.ServerResponse && !res.headersSent) res.writeHead(502).end();
    else res.destroy();
  });
  const server = http.createServer((req, res) => proxy.web(req, res));
  server.keepAliveTimeout = CLIENT_KEEP_ALIVE_MS;
  server.listen(port, LOOPBACK);
}

function runPrimary(workers: number): void {
  for (let i = 0; i < workers; i++) cluster.fork();
  // Stopped by its pid: the workers go with it.
  process.once('SIGTERM', () => {
    for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGKILL');
    process.exit(0);
  });
}

function main(argv: string[]): void {
  const [kind, port, backendPort, workers] = argv;
  if (cluster.isPrimary) {
    runPrimary(Number(workers));
    return;
  }
  if (kind === 'fastify-http-proxy') void serveFastify(Number(port), Number(backendPort));
  else if (kind === 'http-proxy') serveHttpProxy(Number(port), Number(backendPort));
  else throw new Error(`unknown Node proxy ${kind}`);
}

export interface NodeProxyOptions {
  dir: WorkDir;
  kind: NodeProxyKind;
  port: number;
  backendPort: number;
  workers: number;
}

export async function startNodeProxy(o: NodeProxyOptions): Promise<RunningProcess> {
  const p = startProcess({
    name: o.kind,
    command: process.execPath,
    args: [__filename, o.kind, String(o.port), String(o.backendPort), String(o.workers)],
    logFile: o.dir.file(`${o.kind}.log`),
  });
  await waitForPort(o.port, { failIf: () => deathOf(p) });
  return p;
}

if (require.main === module) main(process.argv.slice(2));
