// Which route a request takes: the virtual host by Host header (ServerName/ServerAlias), then
// the longest matching path prefix. A prefix matches whole path segments: `/app` takes `/app`
// and `/app/x`, never `/apple`, which is what operators mean by it in both httpd and nginx.
import type { Route, Settings } from '../config/types';

export function routesForHost(settings: Settings, host: string | undefined): Route[] {
  if (host && settings.virtualHosts.length > 0) {
    const name = host.replace(/:\d+$/, '').toLowerCase();
    for (const vh of settings.virtualHosts) {
      if (vh.serverName?.toLowerCase() === name || vh.serverAliases.some((a) => a.toLowerCase() === name)) {
        return vh.routes;
      }
    }
  }
  return settings.routes;
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
