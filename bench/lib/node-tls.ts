// The floor Node's own TLS stack sets for bench/tls.bench.ts: a bare `tls.createServer` on the
// same certificate, one process, with the least a server needs to resume: with tickets off,
// sessions in a Map through newSession/resumeSession, answered at once (TLS 1.2 by session ID);
// with tickets on, tickets sealed with one ticketKeys key and no session callbacks (TLS 1.3 by
// ticket). Nothing is served on a connection: the client closes it after its handshake. Whatever
// mpmproxy spends per handshake above this is its own.
// Run as `node dist/bench/lib/node-tls.js <port> <cert> <key> <tickets on|off>`, or started by
// startNodeTls.
import crypto from 'node:crypto';
import fs from 'node:fs';
import tls from 'node:tls';
import { LOOPBACK, waitForPort } from './ports';
import { deathOf, startProcess } from './processes';
import type { RunningProcess } from './processes';
import type { WorkDir } from './work-dir';

function serve(port: number, cert: string, key: string, tickets: boolean): void {
  const server = tls.createServer({
    cert: fs.readFileSync(cert),
    key: fs.readFileSync(key),
    sessionIdContext: 'bench',
    ticketKeys: crypto.randomBytes(48),
    ...(!tickets && { secureOptions: crypto.constants.SSL_OP_NO_TICKET }),
  });
  if (!tickets) {
    const sessions = new Map<string, Buffer>();
    server.on('newSession', (id: Buffer, data: Buffer, done: () => void) => {
      sessions.set(id.toString('hex'), data);
      done();
    });
    server.on('resumeSession', (id: Buffer, done: (err: Error | null, data: Buffer | null) => void) => {
      done(null, sessions.get(id.toString('hex')) ?? null);
    });
  }
  // The client closes right after its handshake; the server has nothing to say.
  server.on('secureConnection', (socket) => socket.on('error', () => undefined));
  server.on('tlsClientError', () => undefined);
  server.listen(port, LOOPBACK);
}

export interface NodeTls {
  process: RunningProcess;
  stop(): Promise<void>;
}

export async function startNodeTls(o: { dir: WorkDir; port: number; cert: string; key: string; tickets: boolean }): Promise<NodeTls> {
  const p = startProcess({
    name: 'node-tls',
    command: process.execPath,
    args: [__filename, String(o.port), o.cert, o.key, o.tickets ? 'on' : 'off'],
    logFile: o.dir.file('node-tls.out'),
  });
  await waitForPort(o.port, { failIf: () => deathOf(p) });
  return { process: p, stop: () => p.stop('SIGTERM', 5000) };
}

if (require.main === module) {
  const [port, cert, key, tickets] = process.argv.slice(2);
  serve(Number(port), cert, key, tickets === 'on');
}
