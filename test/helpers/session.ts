// A backend that drives sessions through the response headers the proxy consumes, and a client
// that keeps the session cookie as a browser does.
//   /login?user=U[&ms=N]   X-Session-Authenticated: U (after N ms)
//   /set?k=v[&k2=v2]       X-Session-Set-k: v for each pair
//   /logout                X-Session-Invalidate: 1
//   anything else          echoes what it saw (method, url, headers) as JSON, after ?ms=N
import type http from 'node:http';
import type { TestContext } from 'node:test';
import { request, type HttpResult } from './daemon';
import { httpBackend, type TestBackend } from './proxy';

export function sessionBackend(t: TestContext): Promise<TestBackend> {
  return httpBackend(t, (req, res) => {
    const url = new URL(req.url ?? '/', 'http://backend');
    const headers: http.OutgoingHttpHeaders = { 'content-type': 'application/json' };
    const end = url.pathname.split('/').pop();
    if (end === 'login') headers['X-Session-Authenticated'] = url.searchParams.get('user') ?? 'someone';
    if (end === 'set') for (const [k, v] of url.searchParams) if (k !== 'ms') headers[`X-Session-Set-${k}`] = v;
    if (end === 'logout') headers['X-Session-Invalidate'] = '1';
    const ms = Number(url.searchParams.get('ms') ?? '0');
    const body = JSON.stringify({ method: req.method, url: req.url, headers: req.headers });
    setTimeout(() => {
      res.writeHead(200, headers);
      res.end(body);
    }, ms);
  });
}

export interface Seen {
  status: number;
  /** The session cookie value the answer set ('' when it cleared it), undefined when none. */
  cookie: string | undefined;
  setCookie: string[];
  headers: http.IncomingHttpHeaders;
  /** What the backend saw, when it answered. */
  backend: { url: string; headers: Record<string, string> } | null;
}

export const COOKIE = 'mpmproxy_session';

export function cookieOf(r: HttpResult, name = COOKIE): string | undefined {
  let value: string | undefined;
  for (const line of r.headers['set-cookie'] ?? []) {
    const m = new RegExp(`^${name}=([^;]*)`).exec(line);
    if (m) value = m[1];
  }
  return value;
}

/** One request on a fresh connection with the session cookie `id` (none when undefined). */
export async function visit(port: number, path: string, id?: string, o: { method?: string; headers?: http.OutgoingHttpHeaders } = {}): Promise<Seen> {
  const headers: http.OutgoingHttpHeaders = { ...o.headers };
  if (id !== undefined) headers.cookie = `other=1; ${COOKIE}=${id}; last=2`;
  const r = await request(port, path, { method: o.method, headers });
  let backend: Seen['backend'] = null;
  if (r.status === 200 && r.headers['content-type'] === 'application/json') backend = JSON.parse(r.body.toString()) as Seen['backend'];
  return { status: r.status, cookie: cookieOf(r), setCookie: r.headers['set-cookie'] ?? [], headers: r.headers, backend };
}
