// What a directive entry is, and the argument checks entries share. The entries live in
// src/config/directives/*.ts, one file per family; src/config/directives.ts joins them into the
// one table that drives the parser, `mpmproxy -L` and docs/directives.md.

import type { ContextName, MpmName } from './types';
import { parseDuration, parseInteger, ValueError, type IntegerRange } from './values';

export type DirectiveModule = 'core' | 'mpm' | 'proxy' | 'status' | 'log' | 'limits' | 'session' | 'ssl' | 'http2' | 'proxy_wstunnel';

/** Where a directive is written, for the few whose value depends on it. */
export interface UseContext {
  context: ContextName;
  /** The enclosing container's argument ('/status' inside <Location /status>); '' at server level. */
  sectionArg: string;
  /** Directory of the main configuration file: where a relative ServerRoot starts. */
  configDir: string;
}

export interface DirectiveSpec<V = unknown> {
  name: string;
  aliases: readonly string[];
  /** Where it may be written. */
  contexts: readonly ContextName[];
  syntax: string;
  /** For people: the value in force when the directive is absent. */
  default: string;
  module: DirectiveModule;
  /** One line, with Apache's meaning where Apache has the directive. */
  summary: string;
  /** The MPMs that read it; absent when every MPM does. */
  mpms?: readonly MpmName[];
  /** For containers: the context of their body, or 'conditional' when the body stays in the
   * enclosing context (<IfDefine>, <IfModule>). */
  opens?: ContextName | 'conditional';
  /** Fewest and most arguments. */
  arity: readonly [number, number];
  /** Turns the arguments into the value settings.ts reads; throws ValueError. */
  parse(args: readonly string[], use: UseContext): V;
}

type Entry<V> = Omit<DirectiveSpec<V>, 'name' | 'aliases'> & { aliases?: readonly string[] };

type Table<T extends Record<string, Entry<unknown>>> = { [K in keyof T]: DirectiveSpec<ReturnType<T[K]['parse']>> };

/** Names each entry by its key, keeping each parser's value type for settings.ts. */
export function table<T extends Record<string, Entry<unknown>>>(entries: T): Table<T> {
  const specs: Record<string, DirectiveSpec> = {};
  for (const [name, entry] of Object.entries(entries)) specs[name] = { ...entry, name, aliases: entry.aliases ?? [] };
  return specs as Table<T>;
}

export const one = [1, 1] as const;
export const oneOrMore = [1, Infinity] as const;
export const serverOnly: readonly ContextName[] = ['server'];
export const serverOrHost: readonly ContextName[] = ['server', 'virtualhost'];
export const everywhere: readonly ContextName[] = ['server', 'virtualhost', 'location', 'proxy'];
export const threaded: readonly MpmName[] = ['worker', 'event'];
export const mpmNames: readonly MpmName[] = ['prefork', 'worker', 'event'];

export const integer = (range: IntegerRange) => (args: readonly string[]) => parseInteger(args[0], range);
export const seconds = (opts: { positive?: boolean } = {}) => (args: readonly string[]) => parseDuration(args[0], opts);

export function nonEmpty(args: readonly string[]): string {
  if (args[0] === '') throw new ValueError('must not be empty');
  return args[0];
}

export function matching(pattern: RegExp, what: string): (text: string) => string {
  return (text) => {
    if (pattern.test(text)) return text;
    throw new ValueError(`must be ${what} (got ${JSON.stringify(text)})`);
  };
}

export const hostAndPort = matching(
  /^(\*|_default_|\[[0-9a-fA-F:.]+\]|[A-Za-z0-9_.-]+)(:(\d{1,5}|\*))?$/,
  'address[:port] such as *:8080, 127.0.0.1:80 or [::1]:80',
);
export const serverName = matching(
  /^(https?:\/\/)?([A-Za-z0-9_.-]+|\[[0-9a-fA-F:.]+\])(:\d{1,5})?$/,
  'a host name such as www.example.com, with an optional scheme and port',
);
export const aliasName = matching(/^[A-Za-z0-9_.*?-]+$/, 'a host name, wildcards * and ? allowed');
export const account = /^(#\d+|[A-Za-z_][A-Za-z0-9_.-]*\$?)$/;
export const userName = matching(account, 'a user name or #uid');
export const groupName = matching(account, 'a group name or #gid');
export const proxyUrl = matching(/^(\*|(https?|balancer):\/\/\S*)$/, 'an http://, https:// or balancer:// URL, or *');

/** `[!]name`, the argument of <IfDefine> and <IfModule>. */
export interface Condition {
  name: string;
  negate: boolean;
}

export function condition(args: readonly string[]): Condition {
  const negate = args[0].startsWith('!');
  const name = negate ? args[0].slice(1) : args[0];
  if (name === '') throw new ValueError('needs a name after !');
  return { name, negate };
}

export function urlPath(text: string): string {
  if (text.startsWith('/')) return text;
  throw new ValueError(`must be a URL path starting with / (got ${JSON.stringify(text)})`);
}
