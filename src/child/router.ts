// Which route a request takes, as httpd chooses: first the virtual hosts whose <VirtualHost>
// address matches the address and port the connection arrived on (an exact IP before `*`);
// among them the first whose ServerName or ServerAlias (wildcards * and ?) matches the Host
// header, else the first of them; the main server when no virtual host has the address.
// Then the longest matching path prefix. A prefix matches whole path segments: `/app` takes
// `/app` and `/app/x`, never `/apple`, which is what operators mean by it in httpd and nginx.
import type { ProxyRoute, Route, Settings, VirtualHostSpec } from '../config/types';
import { ProxyPlan, trustList, type HostFacts } from '../proxy/route-plan';
import { ClientCertHeaderNames } from '../tls/client-cert';

/** A route as served: a proxied one carries what its requests need, computed once. */
export type ServedRoute = Exclude<Route, ProxyRoute> | ProxyPlan;

interface HostAddress {
  ip: string | null; // null for '*' / '_default_'
  port: number | null; // null for any port
}

interface CompiledHost {
  /** 0 for the main server, i + 1 for settings.virtualHosts[i]. */
  index: number;
  addresses: HostAddress[];
  names: RegExp[];
  /** As configured: the identity of a virtual host for those that keep per-host state. */
  routes: Route[];
  served: ServedRoute[];
}

interface Compiled {
  hosts: CompiledHost[];
  server: CompiledHost;
}

const compiledBySettings = new WeakMap<Settings, Compiled>();

function parseAddress(text: string): HostAddress {
  const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+|\*))?$/.exec(text);
  const host = m ? m[1].replace(/^\[|\]$/g, '') : text;
  const port = m?.[2] && m[2] !== '*' ? Number(m[2]) : null;
  return { ip: host === '*' || host === '_default_' ? null : host, port };
}

function namePattern(name: string): RegExp {
  const body = name
    .toLowerCase()
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${body}$`);
}

function served(routes: Route[], facts: HostFacts): ServedRoute[] {
  return routes.map((r) => (r.kind === 'proxy' ? new ProxyPlan(r, facts) : r));
}

function compileHost(vh: VirtualHostSpec, i: number, settings: Settings): CompiledHost {
  const names = [vh.serverName, ...vh.serverAliases].filter((n): n is string => !!n);
  return {
    index: i + 1,
    addresses: vh.addresses.map(parseAddress),
    names: names.map((n) => namePattern(n.replace(/^https?:\/\//, '').replace(/:\d+$/, ''))),
    routes: vh.routes,
    served: served(vh.routes, {
      serverName: vh.serverName ?? settings.serverName,
      trusted: trustList(vh.trustedAddresses),
      clientCert: ClientCertHeaderNames.of(vh.clientCertHeaders),
    }),
  };
}

function compiled(settings: Settings): Compiled {
  let c = compiledBySettings.get(settings);
  if (!c) {
    c = {
      hosts: settings.virtualHosts.map((vh, i) => compileHost(vh, i, settings)),
      server: {
        index: 0,
        addresses: [],
        names: [],
        routes: settings.routes,
        served: served(settings.routes, {
          serverName: settings.serverName,
          trusted: trustList(settings.trustedAddresses),
          clientCert: ClientCertHeaderNames.of(settings.clientCertHeaders),
        }),
      },
    };
    compiledBySettings.set(settings, c);
  }
  return c;
}

/** An IPv4 address arrives as ::ffff:a.b.c.d on a dual-stack socket. */
function plainIp(ip: string): string {
  return ip.startsWith('::ffff:') ? ip.slice(7) : ip;
}

function hostFor(settings: Settings, localAddress: string | undefined, localPort: number | undefined, host: string | undefined): CompiledHost {
  const c = compiled(settings);
  if (c.hosts.length === 0) return c.server;
  const ip = localAddress ? plainIp(localAddress) : '';
  const exact: CompiledHost[] = [];
  const wildcard: CompiledHost[] = [];
  for (const h of c.hosts) {
    for (const a of h.addresses) {
      if (a.port !== null && a.port !== localPort) continue;
      if (a.ip === null) wildcard.push(h);
      else if (a.ip === ip) exact.push(h);
      else continue;
      break;
    }
  }
  const candidates = exact.length > 0 ? exact : wildcard;
  if (candidates.length === 0) return c.server;
  if (host) {
    const name = host.replace(/:\d+$/, '').replace(/^\[|\]$/g, '').toLowerCase();
    for (const h of candidates) if (h.names.some((re) => re.test(name))) return h;
  }
  return candidates[0];
}

/** Which server a request is for: 0 for the main server, i + 1 for settings.virtualHosts[i]. */
export function hostIndexFor(
  settings: Settings,
  localAddress: string | undefined,
  localPort: number | undefined,
  host: string | undefined,
): number {
  return hostFor(settings, localAddress, localPort, host).index;
}

/** The routes of the server or virtual host a request is for, as configured. */
export function routesFor(settings: Settings, localAddress: string | undefined, localPort: number | undefined, host: string | undefined): Route[] {
  return hostFor(settings, localAddress, localPort, host).routes;
}

/** The main server's routes as served when no virtual host is configured (every request takes
 * them, so its addresses and Host need not be read), else null. */
export function onlyServedRoutes(settings: Settings): ServedRoute[] | null {
  const c = compiled(settings);
  return c.hosts.length === 0 ? c.server.served : null;
}

/** The same routes as served. */
export function servedRoutesFor(
  settings: Settings,
  localAddress: string | undefined,
  localPort: number | undefined,
  host: string | undefined,
): ServedRoute[] {
  return hostFor(settings, localAddress, localPort, host).served;
}

/** Routes are sorted longest prefix first by the configuration loader; `url` is origin-form. */
export function matchRoute(routes: ServedRoute[], url: string): ServedRoute | null {
  const q = url.indexOf('?');
  const end = q < 0 ? url.length : q;
  for (const r of routes) {
    const p = r.prefix;
    const n = p.length;
    if (p === '/' || (n <= end && url.startsWith(p) && (n === end || p.charCodeAt(n - 1) === 0x2f || url.charCodeAt(n) === 0x2f))) {
      return r;
    }
  }
  return null;
}

// `..`, `.` and `%2e` segments are rare in real traffic; finding one sends the target through
// the slow path below.
function isPlain(url: string, end: number): boolean {
  const dot = url.indexOf('/.');
  if (dot >= 0 && dot < end) return false;
  const slashes = url.indexOf('//');
  if (slashes >= 0 && slashes < end) return false;
  for (let pct = url.indexOf('%'); pct >= 0 && pct < end; pct = url.indexOf('%', pct + 1)) {
    if (url.charCodeAt(pct + 1) === 0x32 && (url.charCodeAt(pct + 2) | 0x20) === 0x65) return false;
  }
  return true;
}

const absoluteForm = /^https?:\/\/[^/?#]*/i;
const encodedDot = /%2e/gi;

/**
 * The request target that routes are matched against and backends receive: origin-form
 * (`/path?query`), `.` and `..` segments (also written %2e) resolved and `//` merged, as httpd
 * normalizes a path before it matches <Location> and ProxyPass. Otherwise `/app/x/../static/`
 * and `/app//static/` would get past `ProxyPass /app/static/ !`. Null for a target that is not
 * a path, or that climbs above the root.
 */
export function routingTarget(url: string): string | null {
  const q = url.indexOf('?');
  const end = q < 0 ? url.length : q;
  if (url.charCodeAt(0) === 0x2f && isPlain(url, end)) return url;
  let path = url.slice(0, end);
  if (path.charCodeAt(0) !== 0x2f) {
    // absolute-form (RFC 9112 §3.2.2): the path is what counts.
    const scheme = absoluteForm.exec(path);
    if (scheme === null) return null;
    path = `/${path.slice(scheme[0].length).replace(/^\//, '')}`;
  }
  const segments = path.replace(encodedDot, '.').split('/');
  const out: string[] = [];
  for (let i = 1; i < segments.length; i++) {
    const s = segments[i];
    const last = i === segments.length - 1;
    if (s === '..') {
      if (out.length === 0) return null;
      out.pop();
    }
    if (s === '.' || s === '..' || (s === '' && !last)) {
      if (last) out.push('');
      continue;
    }
    out.push(s);
  }
  return `/${out.join('/')}${url.slice(end)}`;
}
