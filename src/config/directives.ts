// The one table of directives, joined from one file per family (src/config/directives/). The
// parser validates against it, `mpmproxy -L` lists it and docs/directives.md is generated from
// it: a new directive is one entry in its family's file (plus whatever reads its value in
// settings.ts).

import { balancerDirectives } from './directives/balancer';
import { coreDirectives } from './directives/core';
import { limitDirectives } from './directives/limits';
import { logDirectives } from './directives/log';
import { mpmDirectives } from './directives/mpm';
import { processLimitDirectives } from './directives/process-limits';
import { protocolDirectives } from './directives/protocols';
import { proxyDirectives } from './directives/proxy';
import { stateAwareDirectives } from './directives/stateaware';
import { sessionDirectives } from './directives/session';
import { statusDirectives } from './directives/status';
import { tlsDirectives } from './directives/tls';
import type { DirectiveSpec, UseContext } from './directive-spec';
import { nearest } from './suggest';
import type { ContextName, DirectiveUse, Section } from './types';
import { ValueError } from './values';

export type { DirectiveModule, DirectiveSpec, UseContext, Condition } from './directive-spec';
export type { ProxyPassValue } from './directives/proxy';

export const directives = {
  ...coreDirectives,
  ...mpmDirectives,
  ...processLimitDirectives,
  ...logDirectives,
  ...statusDirectives,
  ...proxyDirectives,
  ...balancerDirectives,
  ...stateAwareDirectives,
  ...limitDirectives,
  ...sessionDirectives,
  ...tlsDirectives,
  ...protocolDirectives,
};

export const directiveList: readonly DirectiveSpec[] = Object.values(directives);

const byName = new Map<string, { spec: DirectiveSpec; spelling: string }>();
for (const spec of directiveList) {
  for (const spelling of [spec.name, ...spec.aliases]) byName.set(spelling.toLowerCase(), { spec, spelling });
}

/** Looks a name up as Apache does, ignoring case; `spelling` is the table's spelling of the
 * name used (an alias stays an alias), for messages. */
export function findDirective(name: string): { spec: DirectiveSpec; spelling: string } | undefined {
  return byName.get(name.toLowerCase());
}

/** `<Location>` for containers, the name otherwise. */
export function displayName(spec: DirectiveSpec, name = spec.name): string {
  return spec.opens ? `<${name}>` : name;
}

/** How messages name what a line starts with: as the table spells it (an alias stays an
 * alias) when known, else as written. */
export function directiveLabel(written: string, container: boolean): string {
  const found = findDirective(written);
  if (found) return displayName(found.spec, found.spelling);
  return container ? `<${written}>` : written;
}

export function unknownDirectiveMessage(name: string): string {
  const guess = nearest(name, byName.keys());
  const found = guess === undefined ? undefined : byName.get(guess);
  if (found === undefined) return 'unknown directive (mpmproxy -L lists them all)';
  return `unknown directive, did you mean ${displayName(found.spec, found.spelling)}?`;
}

const contextLabels: Record<ContextName, string> = {
  server: 'server config',
  virtualhost: '<VirtualHost>',
  location: '<Location>',
  proxy: '<Proxy>',
};

export function contextLabel(context: ContextName): string {
  return contextLabels[context];
}

/** Checks the argument count, then parses. */
export function parseUse<V>(spec: DirectiveSpec<V>, args: readonly string[], use: UseContext): V {
  const [min, max] = spec.arity;
  if (args.length < min || args.length > max) throw new ValueError(`${arityText(min, max)}: ${spec.syntax}`);
  return spec.parse(args, use);
}

const count = (n: number): string => ['no', 'one', 'two'][n] ?? String(n);

function arityText(min: number, max: number): string {
  if (min === max) return `takes ${count(min)} argument${min === 1 ? '' : 's'}`;
  if (max === Infinity) return `takes at least ${count(min)} argument${min === 1 ? '' : 's'}`;
  return `takes ${count(min)} or ${count(max)} arguments`;
}

/** Parses for a decision taken while reading (ServerRoot, MPM); a bad value is left for the
 * parser to report where it checks every directive. */
export function parseOrSkip<V>(spec: DirectiveSpec<V>, args: readonly string[], use: UseContext): V | undefined {
  try {
    return parseUse(spec, args, use);
  } catch (err) {
    if (err instanceof ValueError) return undefined;
    throw err;
  }
}

/** Every use of `spec` written directly in this section, in order. */
export function usesOf<V>(section: Section, spec: DirectiveSpec<V>): Array<DirectiveUse & { value: V }> {
  // The parser stores spec.parse's result under spec.name, which is what makes this a guard.
  return section.directives.filter((d): d is DirectiveUse & { value: V } => d.name === spec.name);
}

/** The value in force: single-valued directives are last-wins, as in Apache. */
export function lastValue<V>(section: Section, spec: DirectiveSpec<V>): V | undefined {
  return usesOf(section, spec).at(-1)?.value;
}
