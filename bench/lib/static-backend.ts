// A static backend in Node, for when nginx is not installed: one process, every file of its
// root read into memory at start, so what it measures is HTTP handling and not the disk.
// Run as `node dist/bench/lib/static-backend.js <port> <root>`, or started by startNodeBackend.
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { LOOPBACK, waitForPort } from './ports';
import { deathOf, startProcess } from './processes';
import type { RunningProcess } from './processes';
import type { WorkDir } from './work-dir';

function readTree(root: string, prefix = ''): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  for (const entry of fs.readdirSync(path.join(root, prefix), { withFileTypes: true })) {
    const rel = `${prefix}/${entry.name}`;
    if (entry.isDirectory()) for (const [k, v] of readTree(root, rel)) files.set(k, v);
    else files.set(rel, fs.readFileSync(path.join(root, rel)));
  }
  return files;
}

function serve(port: number, root: string): void {
  const files = readTree(root);
  const server = http.createServer((req, res) => {
    const body = files.get((req.url ?? '/').split('?')[0]);
    if (!body) {
      res.writeHead(404, { 'content-length': 0 });
      res.end();
      return;
    }
    res.writeHead(200, { 'content-type': 'text/html', 'content-length': body.length });
    res.end(req.method === 'HEAD' ? undefined : body);
  });
  // A proxy keeps its pooled connections to the backend open between loads.
  server.keepAliveTimeout = 60_000;
  server.maxRequestsPerSocket = 0;
  server.listen(port, LOOPBACK);
}

export interface NodeBackendOptions {
  dir: WorkDir;
  port: number;
  root: string;
}

export async function startNodeBackend(o: NodeBackendOptions): Promise<RunningProcess> {
  const p = startProcess({
    name: 'node static backend',
    command: process.execPath,
    args: [__filename, String(o.port), o.root],
    logFile: o.dir.file('node-backend.log'),
  });
  await waitForPort(o.port, { failIf: () => deathOf(p) });
  return p;
}

if (require.main === module) serve(Number(process.argv[2]), process.argv[3]);
