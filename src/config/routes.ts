// What request paths map to, from a section's ProxyPass directives and <Location> sections, and
// the proxy options (ProxyPreserveHost, ProxyAddHeaders, ProxyTimeout, ProxyPassReverse) in
// force on each proxied path, merged as httpd merges them: server, virtual host, then every
// <Location> covering the path (the server's first), each overriding the one before.

import { ConfigError } from '../errors';
import { directives, lastValue, usesOf, type ProxyPassValue } from './directives';
import { mergeRouteSession, noRouteSession, routeSessionDirectives } from './session';
import type { ProxyOptions, ProxyRoute, Route, Section } from './types';

/** A route before the options of the host it is served in are known. */
export type RouteDraft = Exclude<Route, ProxyRoute> | Omit<ProxyRoute, 'proxy'>;

/** The section's own routes, longest prefix first, and the conflicts among them. */
export function sectionRoutes(section: Section): { routes: RouteDraft[]; errors: ConfigError[] } {
  const routes: RouteDraft[] = [];
  const errors: ConfigError[] = [];
  const seen = new Map<string, string>();
  const add = (route: RouteDraft, file: string, line: number, label: string): void => {
    const earlier = seen.get(route.prefix);
    if (earlier === undefined) {
      seen.set(route.prefix, `${file}:${line}`);
      routes.push(route);
    } else {
      errors.push(new ConfigError(file, line, label, `${route.prefix} is already routed at ${earlier}`));
    }
  };
  for (const use of usesOf(section, directives.ProxyPass)) add(proxyRoute(use), use.file, use.line, 'ProxyPass');
  for (const location of locationsOf(section)) {
    const pass = usesOf(location, directives.ProxyPass).at(-1);
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

function proxyRoute(use: { value: ProxyPassValue; file: string; line: number }): RouteDraft {
  const { path, target, params } = use.value;
  if (target === null) return { prefix: path, kind: 'exclude' };
  return { prefix: path, kind: 'proxy', target, params, file: use.file, line: use.line };
}

/**
 * The routes of the main server (`host` null) or of one virtual host, each proxied one with its
 * options. A virtual host has its own routes and the server's for every prefix it does not
 * route itself, as Apache merges the main server's ProxyPass and <Location> into each.
 */
export function resolveRoutes(root: Section, host: Section | null, timeout: number): Route[] {
  const own = sectionRoutes(host ?? root).routes;
  const sections = host ? [root, host] : [root];
  const locations = sections.flatMap(locationsOf);
  let drafts = own;
  if (host) {
    const prefixes = new Set(own.map((r) => r.prefix));
    drafts = longestFirst([...own, ...sectionRoutes(root).routes.filter((r) => !prefixes.has(r.prefix))]);
  }
  drafts = longestFirst([...drafts, ...optionRoutes(drafts, locations)]);
  return drafts.map((r) => (r.kind === 'proxy' ? { ...r, proxy: proxyOptions(r.prefix, sections, locations, timeout) } : r));
}

function locationsOf(section: Section): Section[] {
  return section.sections.filter((s) => s.context === 'location');
}

const optionNames = new Set([
  directives.ProxyPassReverse.name,
  directives.ProxyPreserveHost.name,
  directives.ProxyAddHeaders.name,
  directives.StateAware.name,
  ...routeSessionDirectives,
]);

/**
 * `routes` longest prefix first. A <Location> that only sets proxy options for a path deeper than the ProxyPass serving it
 * (`ProxyPass /app/ ...` and `<Location /app/admin>`) applies, in httpd, to the requests under
 * it alone: it becomes a route of its own, to the same backend with its path appended.
 */
function optionRoutes(routes: readonly RouteDraft[], locations: readonly Section[]): RouteDraft[] {
  const derived: RouteDraft[] = [];
  for (const location of locations) {
    if (!location.directives.some((d) => optionNames.has(d.name))) continue;
    const path = location.arg;
    const parent = routes.find((r) => covers(r.prefix, path));
    if (parent?.kind !== 'proxy' || parent.prefix === path || derived.some((r) => r.prefix === path)) continue;
    const rest = path.slice(parent.prefix.length);
    const target = parent.target.endsWith('/') && rest.startsWith('/') ? parent.target + rest.slice(1) : parent.target + rest;
    derived.push({ ...parent, prefix: path, target });
  }
  return derived;
}

/** Whether a route or <Location> at `prefix` takes `path`: whole path segments, as httpd matches. */
function covers(prefix: string, path: string): boolean {
  return prefix === '/' || path === prefix || (path.startsWith(prefix) && (prefix.endsWith('/') || path[prefix.length] === '/'));
}

function proxyOptions(prefix: string, sections: readonly Section[], locations: readonly Section[], timeout: number): ProxyOptions {
  const o: ProxyOptions = { preserveHost: false, addHeaders: true, timeout, reverse: [], session: noRouteSession, stateAware: 'auto' };
  for (const section of sections) {
    o.timeout = lastValue(section, directives.ProxyTimeout) ?? o.timeout;
    mergeOptions(o, section);
  }
  for (const location of locations) if (covers(location.arg, prefix)) mergeOptions(o, location);
  return o;
}

function mergeOptions(o: ProxyOptions, section: Section): void {
  o.preserveHost = lastValue(section, directives.ProxyPreserveHost) ?? o.preserveHost;
  o.addHeaders = lastValue(section, directives.ProxyAddHeaders) ?? o.addHeaders;
  o.stateAware = lastValue(section, directives.StateAware) ?? o.stateAware;
  for (const use of usesOf(section, directives.ProxyPassReverse)) o.reverse.push(use.value);
  o.session = mergeRouteSession(o.session, section);
}

/** Longest prefix first; equal lengths (which no path can both match) alphabetically, so
 * the order does not depend on where routes were written. */
function longestFirst<R extends { prefix: string }>(routes: R[]): R[] {
  return [...routes].sort((a, b) => b.prefix.length - a.prefix.length || (a.prefix < b.prefix ? -1 : 1));
}

/** The section's ProxyTrustedAddresses lines together; undefined when it has none. */
export function trustedAddresses(section: Section): string[] | undefined {
  const uses = usesOf(section, directives.ProxyTrustedAddresses);
  return uses.length === 0 ? undefined : uses.flatMap((use) => use.value);
}
