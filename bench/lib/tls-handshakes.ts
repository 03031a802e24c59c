// The TLS load generator of bench/tls.bench.ts: a Node client keeping `concurrency` connections
// in their handshake at once for a while, each ended as soon as its handshake is done, either
// always full or always resuming the session of one earlier connection. Ended, not destroyed:
// the client's handshake is done before its last flight (its Finished message) has left, and a
// connection destroyed then never lets the server finish its side, so it would measure a server
// that never completes a handshake.
import tls from 'node:tls';
import { LOOPBACK } from './ports';

export interface HandshakeLoad {
  port: number;
  version: 'TLSv1.2' | 'TLSv1.3';
  resume: boolean;
  concurrency: number;
  durationS: number;
}

export interface HandshakeResult {
  handshakes: number;
  perSec: number;
  /** Of the handshakes, the share that resumed (1 for a resuming run that worked, 0 for full). */
  resumedShare: number;
  errors: number;
}

function handshake(port: number, version: HandshakeLoad['version'], session: Buffer | undefined, wantSession = false): Promise<{ reused: boolean; session?: Buffer }> {
  return new Promise((resolve, reject) => {
    let latest: Buffer | undefined;
    const socket = tls.connect({ host: LOOPBACK, port, servername: 'localhost', rejectUnauthorized: false, session, minVersion: version, maxVersion: version });
    socket.on('session', (s: Buffer) => (latest = s));
    socket.once('secureConnect', () => {
      const reused = socket.isSessionReused();
      // TLS 1.3 tickets come after the handshake: wait for one when this connection is the
      // one whose session the run reuses.
      if (!wantSession || version === 'TLSv1.2' || latest !== undefined) {
        const s = latest ?? socket.getSession();
        socket.end();
        resolve({ reused, session: s });
      } else {
        socket.once('session', (s: Buffer) => {
          socket.end();
          resolve({ reused, session: s });
        });
      }
    });
    socket.on('error', reject);
  });
}

export async function runHandshakes(o: HandshakeLoad): Promise<HandshakeResult> {
  const first = o.resume ? await handshake(o.port, o.version, undefined, true) : null;
  const session = first?.session;
  if (o.resume && session === undefined) throw new Error(`${o.version}: the server gave no session to resume`);
  let handshakes = 0;
  let resumed = 0;
  let errors = 0;
  const started = process.hrtime.bigint();
  const until = Date.now() + o.durationS * 1000;
  const worker = async (): Promise<void> => {
    while (Date.now() < until) {
      try {
        const h = await handshake(o.port, o.version, session);
        handshakes++;
        if (h.reused) resumed++;
      } catch {
        errors++;
      }
    }
  };
  await Promise.all(Array.from({ length: o.concurrency }, worker));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return { handshakes, perSec: handshakes / seconds, resumedShare: handshakes === 0 ? 0 : resumed / handshakes, errors };
}
