// Which route a request takes, as httpd chooses: first the virtual hosts whose <VirtualHost>
// address matches the address and port the connection arrived on (an exact IP before `*`);
// among them the first whose ServerName or ServerAlias (wildcards * and ?) matches the Host
// header, else the first of them; the main server when no virtual host has the address.
// Then the longest matching path prefix. A prefix matches whole path segments: `/app` takes
// `/app` and `/app/x`, never `/apple`, which is what operators mean by it in httpd and nginx.
import type { Route, Settings, VirtualHostSpec } from '../config/types';

interface HostAddress {
  ip: string | null; // null for '*' / '_default_'
  port: number | null; // null for any port
}

interface CompiledHost {
  addresses: HostAddress[];
  names: RegExp[];
  routes: Route[];
}

interface Compiled {
  hosts: CompiledHost[];
  server: Route[];
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

function compileHost(vh: VirtualHostSpec): CompiledHost {
  const names = [vh.serverName, ...vh.serverAliases].filter((n): n is string => !!n);
  return {
    addresses: vh.addresses.map(parseAddress),
    names: names.map((n) => namePattern(n.replace(/^https?:\/\//, '').replace(/:\d+$/, ''))),
    routes: vh.routes,
  };
}

function compiled(settings: Settings): Compiled {
  let c = compiledBySettings.get(settings);
  if (!c) {
    c = { hosts: settings.virtualHosts.map(compileHost), server: settings.routes };
    compiledBySettings.set(settings, c);
  }
  return c;
}

/** An IPv4 address arrives as ::ffff:a.b.c.d on a dual-stack socket. */
function plainIp(ip: string): string {
  return ip.startsWith('::ffff:') ? ip.slice(7) : ip;
}

export function routesFor(
  settings: Settings,
  localAddress: string | undefined,
  localPort: number | undefined,
  host: string | undefined,
): Route[] {
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
    for (const h of candidates) if (h.names.some((re) => re.test(name))) return h.routes;
  }
  return candidates[0].routes;
}

/** Routes are sorted longest prefix first by the configuration loader. */
export function matchRoute(routes: Route[], path: string): Route | null {
  for (const r of routes) {
    const p = r.prefix;
    if (p === '/' || path === p || (path.startsWith(p) && (p.endsWith('/') || path.charCodeAt(p.length) === 47))) {
      return r;
    }
  }
  return null;
}
