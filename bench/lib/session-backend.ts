// The backend of the session benchmark, in its own process: a small answer everywhere, and on a
// path ending in /write the X-Session-Set header that makes the proxy write the session.
// Run as `node dist/bench/lib/session-backend.js <port>`, or started by startSessionBackend.
import http from 'node:http';
import { LOOPBACK, waitForPort } from './ports';
import { deathOf, startProcess, type RunningProcess } from './processes';
import type { WorkDir } from './work-dir';

const BODY = Buffer.from('session benchmark answer\n');

function serve(port: number): void {
  let n = 0;
  const server = http.createServer((req, res) => {
    const headers: http.OutgoingHttpHeaders = { 'content-type': 'text/plain', 'content-length': BODY.length };
    if (req.url?.endsWith('/write')) headers['X-Session-Set-counter'] = String(++n);
    res.writeHead(200, headers);
    res.end(BODY);
  });
  server.keepAliveTimeout = 60_000;
  server.maxRequestsPerSocket = 0;
  server.listen(port, LOOPBACK);
}

export async function startSessionBackend(dir: WorkDir, port: number): Promise<RunningProcess> {
  const p = startProcess({ name: 'session backend', command: process.execPath, args: [__filename, String(port)], logFile: dir.file('session-backend.log') });
  await waitForPort(port, { failIf: () => deathOf(p) });
  return p;
}

if (require.main === module) serve(Number(process.argv[2]));
