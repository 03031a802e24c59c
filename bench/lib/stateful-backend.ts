// The backend of the state-aware benchmark: /login makes the session authenticated and
// state-aware (X-Session-Authenticated, X-StateAware: on); every other path answers a short body.
// Run as `node dist/bench/lib/stateful-backend.js <port>`, or started by startStatefulBackend.
import http from 'node:http';
import { LOOPBACK, waitForPort } from './ports';
import { deathOf, startProcess } from './processes';
import type { RunningProcess } from './processes';
import type { WorkDir } from './work-dir';

const body = Buffer.from('state-aware backend ok\n');

function serve(port: number): void {
  const server = http.createServer((req, res) => {
    if (req.url?.startsWith('/login')) {
      res.writeHead(200, { 'content-length': body.length, 'x-session-authenticated': 'bench', 'x-stateaware': 'on' });
    } else {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length });
    }
    res.end(body);
  });
  // Private connections live as long as their sessions.
  server.keepAliveTimeout = 600_000;
  server.maxRequestsPerSocket = 0;
  server.listen(port, LOOPBACK);
}

export async function startStatefulBackend(dir: WorkDir, port: number): Promise<RunningProcess> {
  const p = startProcess({ name: 'stateful backend', command: process.execPath, args: [__filename, String(port)], logFile: dir.file('backend.log') });
  await waitForPort(port, { failIf: () => deathOf(p) });
  return p;
}

if (require.main === module) serve(Number(process.argv[2]));
