// A backend that keeps state on its TCP connections, as the backends state-aware sessions exist
// for: it reports the connection (the proxy's port) each request arrives on, binds a login to
// the connection that carried it, and runs an NTLM-style handshake that it accepts only when
// every leg comes on one connection. The proxy tells it the session's principal in X-Principal
// (SessionRequestHeader principal X-Principal).
//   /login?user     X-Session-Authenticated: user, X-StateAware: on; the connection is the user's
//   /whoami         the connection and the user bound to it
//   /logout         X-StateAware: off
//   /invalidate     X-Session-Invalidate: 1
//   /ntlm           401 NTLM, then a challenge bound to the connection, then 200 if answered on it
//   /upload         the SHA-256 and length of the body
//   /download?size  `size` deterministic bytes; x-sha256 has their digest
import crypto from 'node:crypto';
import http from 'node:http';
import type net from 'node:net';
import type { TestContext } from 'node:test';
import { digest } from './proxy';
import { closeServer } from './close-server';

export interface Arrival {
  path: string;
  /** The proxy's end of the backend connection: the connection's identity. */
  port: number;
  principal: string | null;
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
  challenge: string | null;
  /** Logged in on this connection (or NTLM-authenticated). */
  user: string | null;
  ntlm: boolean;
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
    const principal = (req.headers['x-principal'] as string | undefined) ?? null;
    state.arrivals.push({ path: url.pathname, port, principal });
    if (conn.user !== null && !conn.ntlm && principal !== conn.user && url.pathname !== '/login') {
      state.violations.push(`${req.url} of ${principal ?? 'no session'} on connection ${port} bound to ${conn.user}`);
    }
    switch (url.pathname) {
      case '/login': {
        const user = url.searchParams.get('user') ?? 'someone';
        conn.user = user;
        return reply(res, 200, { port, user }, { 'x-session-authenticated': user, 'x-stateaware': 'on' });
      }
      case '/whoami':
        return reply(res, 200, { port, user: conn.user });
      case '/logout':
        return reply(res, 200, { port, user: conn.user }, { 'x-stateaware': 'off' });
      case '/invalidate':
        return reply(res, 200, { port, user: conn.user }, { 'x-session-invalidate': '1' });
      case '/ntlm': {
        const auth = req.headers.authorization ?? '';
        if (conn.ntlm) return reply(res, 200, { port, user: conn.user });
        if (!auth.startsWith('NTLM ')) return reply(res, 401, { port, leg: 1 }, { 'www-authenticate': 'NTLM' });
        const token = auth.slice(5);
        if (token === 'TYPE1') {
          conn.challenge = crypto.randomBytes(8).toString('hex');
          return reply(res, 401, { port, leg: 2 }, { 'www-authenticate': `NTLM ${conn.challenge}` });
        }
        if (conn.challenge !== null && token === `TYPE3-${conn.challenge}`) {
          conn.user = 'ntlm-user';
          conn.ntlm = true;
          return reply(res, 200, { port, user: conn.user, leg: 3 });
        }
        return reply(res, 401, { port, leg: 'rejected', reason: conn.challenge === null ? 'no challenge on this connection' : 'wrong answer' }, { 'www-authenticate': 'NTLM' });
      }
      case '/upload':
        // A client that leaves mid-upload leaves nothing to answer.
        digest(req).then((d) => reply(res, 200, { port, ...d }), () => {});
        return;
      case '/slow': {
        const timer = setTimeout(() => reply(res, 200, { port, user: conn.user }), Number(url.searchParams.get('ms') ?? '0'));
        res.on('close', () => clearTimeout(timer));
        return;
      }
      case '/stream': {
        // An event stream that never ends on its own.
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        const beat = setInterval(() => res.write('data: beat\n\n'), 50);
        res.on('close', () => clearInterval(beat));
        return;
      }
      case '/download': {
        const bytes = downloadBytes(Number(url.searchParams.get('size') ?? '0'));
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': bytes.length, 'x-sha256': crypto.createHash('sha256').update(bytes).digest('hex') });
        res.end(bytes);
        return;
      }
      default:
        return reply(res, 200, { port, user: conn.user });
    }
  });
  // Connections live as long as the proxy keeps them: their state is what is being tested.
  server.keepAliveTimeout = 600_000;
  server.on('connection', (s: net.Socket) => {
    state.connections++;
    conns.set(s, { challenge: null, user: null, ntlm: false });
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.url = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  t.after(() => closeServer(server, sockets));
  return state;
}

/** The session cookie (SID) of a response, as the client sends it back. */
export function cookieOf(headers: http.IncomingHttpHeaders): string {
  const set = headers['set-cookie']?.find((c) => c.startsWith('SID=') && !c.startsWith('SID=;'));
  if (set === undefined) throw new Error(`no session cookie in the response: ${JSON.stringify(headers['set-cookie'])}`);
  return set.split(';')[0];
}

/** The session lines of a configuration with state-aware sessions. */
export const SESSION_LINES = ['Session On', 'SessionCookieName SID', 'SessionRequestHeader principal X-Principal'];

/** An event-MPM configuration proxying /app/ to `backend` with sessions, the proxy module's
 * debug lines (the state-aware routes) and server-status; `extra` adds or overrides. */
export function stateAwareConfig(backend: StatefulBackend, extra: string[] = []): string {
  return [
    'MPM event',
    'ThreadsPerChild 8',
    'MinSpareThreads 1',
    'MaxSpareThreads 64',
    ...SESSION_LINES,
    'LogLevel info proxy:debug',
    `ProxyPass /app/ ${backend.url}/`,
    '<Location /server-status>\n  SetHandler server-status\n</Location>',
    ...extra,
  ].join('\n');
}
