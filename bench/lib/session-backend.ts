// The backend of the session benchmark, in its own process: a small answer everywhere, and on a
// path ending in /write the X-Session-Set header that makes the proxy write the session.
// Run as `node dist/bench/lib/session-backend.js <port>`, or started by startSessionBackend;
// newSession makes a session through the proxy in front of it.
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

/** The session cookie (name=value) of a first request through the proxy on `port` to a
 * /write path, which makes the session. */
export function newSession(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: LOOPBACK, port, path: '/s/write', agent: false }, (res) => {
        res.resume();
        const cookie = (res.headers['set-cookie'] ?? [])[0]?.split(';')[0];
        if (res.statusCode !== 200 || !cookie) reject(new Error(`no session made: ${res.statusCode}`));
        else resolve(cookie);
      })
      .on('error', reject);
  });
}

export async function startSessionBackend(dir: WorkDir, port: number): Promise<RunningProcess> {
  const p = startProcess({ name: 'session backend', command: process.execPath, args: [__filename, String(port)], logFile: dir.file('session-backend.log') });
  await waitForPort(port, { failIf: () => deathOf(p) });
  return p;
}

if (require.main === module) serve(Number(process.argv[2]));
