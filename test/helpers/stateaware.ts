// A backend that keeps state on its TCP connections, as the backends state-aware sessions exist
// for: it reports the connection (the proxy's port) each request arrives on, binds a login to
// the connection that carried it, and runs an NTLM-style handshake that it accepts only when
// every leg comes on one connection.
//   /login          new session cookie SID, X-StateAware: on; the connection now belongs to it
//   /whoami         the connection and the session bound to it
//   /logout         X-StateAware: off
//   /ntlm           401 NTLM, then a challenge bound to the connection, then 200 if answered on it
//   /upload         the SHA-256 and length of the body
//   /download?size  `size` deterministic bytes; x-sha256 has their digest
import crypto from 'node:crypto';
import http from 'node:http';
import type net from 'node:net';
import type { TestContext } from 'node:test';
import { digest } from './proxy';

export interface Arrival {
  path: string;
  /** The proxy's end of the backend connection: the connection's identity. */
  port: number;
  sid: string | null;
}

export interface StatefulBackend {
  url: string;
  arrivals: Arrival[];
  /** Requests of a session that came on a connection bound to another one, or the reverse. */
  violations: string[];
  /** Connections ever opened to it. */
  connections: number;
}

interface ConnState {
  sid: string | null;
  challenge: string | null;
  user: string | null;
}

function sidOf(req: http.IncomingMessage): string | null {
  const m = /(?:^|;\s*)SID=([^;]+)/.exec(req.headers.cookie ?? '');
  return m ? m[1] : null;
}

export function downloadBytes(size: number): Buffer {
  const out = Buffer.alloc(size);
  let block = crypto.createHash('sha256').update('seed').digest();
  for (let at = 0; at < size; at += block.length) {
    block.copy(out, at);
    block = crypto.createHash('sha256').update(block).digest();
  }
  return out;
}

export async function statefulBackend(t: TestContext): Promise<StatefulBackend> {
  const state: StatefulBackend = { url: '', arrivals: [], violations: [], connections: 0 };
  const conns = new WeakMap<net.Socket, ConnState>();
  const sockets = new Set<net.Socket>();
  const reply = (res: http.ServerResponse, status: number, body: unknown, headers: http.OutgoingHttpHeaders = {}) => {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
    res.end(text);
  };
  const server = http.createServer((req, res) => {
    const socket = req.socket;
    const conn = conns.get(socket)!;
    const port = socket.remotePort ?? 0;
    const url = new URL(req.url ?? '/', 'http://backend');
    const sid = sidOf(req);
    state.arrivals.push({ path: url.pathname, port, sid });
    if (conn.sid !== null && sid !== conn.sid && url.pathname !== '/login' && url.pathname !== '/ntlm') {
      state.violations.push(`${req.url} of session ${sid} on connection ${port} bound to session ${conn.sid}`);
    }
    switch (url.pathname) {
      case '/login': {
        const fresh = crypto.randomBytes(12).toString('hex');
        conn.sid = fresh;
        conn.user = url.searchParams.get('user');
        return reply(res, 200, { port, sid: fresh }, { 'set-cookie': `SID=${fresh}; Path=/; HttpOnly`, 'x-stateaware': 'on' });
      }
      case '/whoami':
        if (sid !== null && conn.sid !== null && sid !== conn.sid) state.violations.push(`whoami of ${sid} on ${port}`);
        return reply(res, 200, { port, sid: conn.sid, user: conn.user });
      case '/logout':
        return reply(res, 200, { port, sid: conn.sid }, { 'x-stateaware': 'off' });
      case '/ntlm': {
        const auth = req.headers.authorization ?? '';
        if (conn.user !== null && conn.sid === sid) return reply(res, 200, { port, user: conn.user });
        if (!auth.startsWith('NTLM ')) {
          const fresh = sid ?? crypto.randomBytes(12).toString('hex');
          return reply(res, 401, { port, leg: 1 }, { 'www-authenticate': 'NTLM', ...(sid === null && { 'set-cookie': `SID=${fresh}; Path=/` }) });
        }
        const token = auth.slice(5);
        if (token === 'TYPE1') {
          conn.challenge = crypto.randomBytes(8).toString('hex');
          conn.sid = sid;
          return reply(res, 401, { port, leg: 2 }, { 'www-authenticate': `NTLM ${conn.challenge}` });
        }
        if (conn.challenge !== null && token === `TYPE3-${conn.challenge}`) {
          conn.user = 'ntlm-user';
          return reply(res, 200, { port, user: conn.user, leg: 3 });
        }
        return reply(res, 401, { port, leg: 'rejected', reason: conn.challenge === null ? 'no challenge on this connection' : 'wrong answer' }, { 'www-authenticate': 'NTLM' });
      }
      case '/upload':
        void digest(req).then((d) => reply(res, 200, { port, ...d }));
        return;
      case '/download': {
        const bytes = downloadBytes(Number(url.searchParams.get('size') ?? '0'));
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': bytes.length, 'x-sha256': crypto.createHash('sha256').update(bytes).digest('hex') });
        res.end(bytes);
        return;
      }
      default:
        return reply(res, 200, { port, sid: conn.sid });
    }
  });
  // Connections live as long as the proxy keeps them: their state is what is being tested.
  server.keepAliveTimeout = 600_000;
  server.on('connection', (s: net.Socket) => {
    state.connections++;
    conns.set(s, { sid: null, challenge: null, user: null });
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.url = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  t.after(
    () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  );
  return state;
}

/** The session cookie of a response, as the client sends it back. */
export function cookieOf(headers: http.IncomingHttpHeaders): string {
  const set = headers['set-cookie']?.[0];
  if (set === undefined) throw new Error('no Set-Cookie in the response');
  return set.split(';')[0];
}
