// What request paths map to, from a section's ProxyPass directives and <Location> sections.

import { ConfigError } from '../errors';
import { directives, lastValue, usesOf, type ProxyPassValue } from './directives';
import type { Route, Section } from './types';

/** The section's own routes, longest prefix first, and the conflicts among them. */
export function sectionRoutes(section: Section): { routes: Route[]; errors: ConfigError[] } {
  const routes: Route[] = [];
  const errors: ConfigError[] = [];
  const seen = new Map<string, string>();
  const add = (route: Route, file: string, line: number, label: string): void => {
    const earlier = seen.get(route.prefix);
    if (earlier === undefined) {
      seen.set(route.prefix, `${file}:${line}`);
      routes.push(route);
    } else {
      errors.push(new ConfigError(file, line, label, `${route.prefix} is already routed at ${earlier}`));
    }
  };
  for (const use of usesOf(section, directives.ProxyPass)) add(proxyRoute(use.value), use.file, use.line, 'ProxyPass');
  for (const location of section.sections.filter((s) => s.context === 'location')) {
    const pass = lastValue(location, directives.ProxyPass);
    const handler = lastValue(location, directives.SetHandler);
    if (pass && handler) {
      errors.push(new ConfigError(location.file, location.line, '<Location>', 'takes SetHandler or ProxyPass, not both'));
    } else if (pass) {
      add(proxyRoute(pass), location.file, location.line, '<Location>');
    } else if (handler) {
      const kind = handler === 'server-status' ? 'status' : 'page';
      add({ prefix: location.arg, kind }, location.file, location.line, '<Location>');
    }
  }
  return { routes: longestFirst(routes), errors };
}

function proxyRoute({ path, target }: ProxyPassValue): Route {
  return target === null ? { prefix: path, kind: 'exclude' } : { prefix: path, kind: 'proxy', target };
}

/** A virtual host's own routes, then the server's for every prefix it does not route itself,
 * as Apache merges the main server's ProxyPass and <Location> into each virtual host. */
export function inheritRoutes(own: Route[], server: Route[]): Route[] {
  const prefixes = new Set(own.map((r) => r.prefix));
  return longestFirst([...own, ...server.filter((r) => !prefixes.has(r.prefix))]);
}

/** Longest prefix first; equal lengths (which no path can both match) alphabetically, so
 * the order does not depend on where routes were written. */
function longestFirst(routes: Route[]): Route[] {
  return [...routes].sort((a, b) => b.prefix.length - a.prefix.length || (a.prefix < b.prefix ? -1 : 1));
}
