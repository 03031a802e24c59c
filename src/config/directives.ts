// The one table of directives. The parser validates against it, `mpmproxy -L` lists it and
// docs/directives.md is generated from it: a new directive is one entry here (plus whatever
// reads its value in settings.ts).

import fs from 'node:fs';
import path from 'node:path';
import { parseLogLevel } from './log-level';
import { nearest } from './suggest';
import type { ContextName, DirectiveUse, MpmName, Section } from './types';
import {
  parseDuration,
  parseEnum,
  parseFlag,
  parseInteger,
  parseListen,
  parsePositiveNumber,
  ValueError,
  type IntegerRange,
} from './values';

export type DirectiveModule = 'core' | 'mpm' | 'proxy' | 'status' | 'log';

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
function table<T extends Record<string, Entry<unknown>>>(entries: T): Table<T> {
  const specs: Record<string, DirectiveSpec> = {};
  for (const [name, entry] of Object.entries(entries)) specs[name] = { ...entry, name, aliases: entry.aliases ?? [] };
  return specs as Table<T>;
}

const one = [1, 1] as const;
const oneOrMore = [1, Infinity] as const;
const serverOnly: readonly ContextName[] = ['server'];
const serverOrHost: readonly ContextName[] = ['server', 'virtualhost'];
const everywhere: readonly ContextName[] = ['server', 'virtualhost', 'location', 'proxy'];
const threaded: readonly MpmName[] = ['worker', 'event'];
const mpmNames: readonly MpmName[] = ['prefork', 'worker', 'event'];

const integer = (range: IntegerRange) => (args: readonly string[]) => parseInteger(args[0], range);
const seconds = (opts: { positive?: boolean } = {}) => (args: readonly string[]) => parseDuration(args[0], opts);

function nonEmpty(args: readonly string[]): string {
  if (args[0] === '') throw new ValueError('must not be empty');
  return args[0];
}

function matching(pattern: RegExp, what: string): (text: string) => string {
  return (text) => {
    if (pattern.test(text)) return text;
    throw new ValueError(`must be ${what} (got ${JSON.stringify(text)})`);
  };
}

const hostAndPort = matching(
  /^(\*|_default_|\[[0-9a-fA-F:.]+\]|[A-Za-z0-9_.-]+)(:(\d{1,5}|\*))?$/,
  'address[:port] such as *:8080, 127.0.0.1:80 or [::1]:80',
);
const serverName = matching(
  /^(https?:\/\/)?([A-Za-z0-9_.-]+|\[[0-9a-fA-F:.]+\])(:\d{1,5})?$/,
  'a host name such as www.example.com, with an optional scheme and port',
);
const aliasName = matching(/^[A-Za-z0-9_.*?-]+$/, 'a host name, wildcards * and ? allowed');
const account = /^(#\d+|[A-Za-z_][A-Za-z0-9_.-]*\$?)$/;
const userName = matching(account, 'a user name or #uid');
const groupName = matching(account, 'a group name or #gid');
const proxyUrl = matching(/^(\*|(https?|balancer):\/\/\S*)$/, 'an http://, https:// or balancer:// URL, or *');

/** `[!]name`, the argument of <IfDefine> and <IfModule>. */
export interface Condition {
  name: string;
  negate: boolean;
}

function condition(args: readonly string[]): Condition {
  const negate = args[0].startsWith('!');
  const name = negate ? args[0].slice(1) : args[0];
  if (name === '') throw new ValueError('needs a name after !');
  return { name, negate };
}

function urlPath(text: string): string {
  if (text.startsWith('/')) return text;
  throw new ValueError(`must be a URL path starting with / (got ${JSON.stringify(text)})`);
}

/** A ProxyPass target: the backend URL, or null for `!` (do not proxy this path). */
function proxyTarget(text: string): string | null {
  if (text === '!') return null;
  const url = URL.canParse(text) ? new URL(text) : undefined;
  if (url && (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '') return text;
  throw new ValueError(`must be an http:// or https:// URL, or ! (got ${JSON.stringify(text)})`);
}

export interface ProxyPassValue {
  path: string;
  target: string | null;
}

function proxyPass(args: readonly string[], use: UseContext): ProxyPassValue {
  // Inside <Location> the path is the Location's, as in Apache.
  if (use.context === 'location') {
    if (args.length !== 1) throw new ValueError('takes one argument inside <Location>: ProxyPass url|!');
    return { path: use.sectionArg, target: proxyTarget(args[0]) };
  }
  if (args.length !== 2) throw new ValueError('takes two arguments outside <Location>: ProxyPass path url|!');
  return { path: urlPath(args[0]), target: proxyTarget(args[1]) };
}

function errorLog(args: readonly string[]): string {
  const target = nonEmpty(args);
  const word = target.toLowerCase();
  if (word === 'stderr' || word === 'syslog') return word;
  if (target.startsWith('|')) throw new ValueError('piped logs are not supported; log to stderr or syslog');
  if (word.startsWith('syslog:')) throw new ValueError('syslog facilities are not supported; write syslog');
  return target;
}

function serverRoot(args: readonly string[], use: UseContext): string {
  const dir = path.resolve(use.configDir, nonEmpty(args));
  if (isDirectory(dir)) return dir;
  throw new ValueError(`must be a directory (got ${JSON.stringify(dir)})`);
}

function isDirectory(dir: string): boolean {
  try {
    return fs.statSync(dir).isDirectory();
  } catch {
    return false; // missing or unreadable: either way not a usable ServerRoot
  }
}

export const directives = table({
  ServerRoot: {
    module: 'core', contexts: serverOnly, arity: one,
    syntax: 'ServerRoot directory-path', default: 'directory of the main configuration file',
    summary: 'Base directory for relative paths; Include uses the ServerRoot set above it',
    parse: serverRoot,
  },
  DefaultRuntimeDir: {
    module: 'core', contexts: serverOnly, arity: one,
    syntax: 'DefaultRuntimeDir directory-path', default: '/run/mpmproxy as root, else $TMPDIR/mpmproxy-UID',
    summary: 'Base directory for the server run-time files (pid file, sockets)',
    parse: nonEmpty,
  },
  Include: {
    module: 'core', contexts: everywhere, arity: one,
    syntax: 'Include file-path|directory-path|wildcard', default: 'none',
    summary: 'Includes other configuration files; a missing file or a wildcard matching nothing is an error',
    parse: nonEmpty,
  },
  IncludeOptional: {
    module: 'core', contexts: everywhere, arity: one,
    syntax: 'IncludeOptional file-path|directory-path|wildcard', default: 'none',
    summary: 'Includes other configuration files, ignoring those that do not exist',
    parse: nonEmpty,
  },
  IfDefine: {
    module: 'core', contexts: everywhere, arity: one, opens: 'conditional',
    syntax: '<IfDefine [!]parameter-name>', default: 'none',
    summary: 'Encloses directives processed only if the name was (or with ! was not) given with -D',
    parse: condition,
  },
  IfModule: {
    module: 'core', contexts: everywhere, arity: one, opens: 'conditional',
    syntax: '<IfModule [!]module-file|module-identifier>', default: 'none',
    summary: 'Encloses directives processed only if the module is (or with ! is not) built in; of the MPMs only the selected one is',
    parse: condition,
  },
  VirtualHost: {
    module: 'core', contexts: serverOnly, arity: oneOrMore, opens: 'virtualhost',
    syntax: '<VirtualHost addr[:port] [addr[:port]] ...>', default: 'none',
    summary: 'Contains directives that apply only to a specific hostname or IP address',
    parse: (args) => args.map(hostAndPort),
  },
  Location: {
    module: 'core', contexts: serverOrHost, arity: one, opens: 'location',
    syntax: '<Location URL-path>', default: 'none',
    summary: 'Applies the enclosed directives only to URLs starting with URL-path',
    parse: (args) => urlPath(args[0]),
  },
  ServerName: {
    module: 'core', contexts: serverOrHost, arity: one,
    syntax: 'ServerName [scheme://]domain-name[:port]', default: 'none',
    summary: 'Hostname and port that the server uses to identify itself',
    parse: (args) => serverName(args[0]),
  },
  ServerAlias: {
    module: 'core', contexts: ['virtualhost'], arity: oneOrMore,
    syntax: 'ServerAlias hostname [hostname] ...', default: 'none',
    summary: 'Alternate names for a host used when matching requests to name-virtual hosts (wildcards * and ?)',
    parse: (args) => args.map(aliasName),
  },
  Timeout: {
    module: 'core', contexts: serverOnly, arity: one,
    syntax: 'Timeout duration', default: '60s',
    summary: 'Amount of time the server will wait for certain events before failing a request',
    parse: seconds({ positive: true }),
  },
  KeepAlive: {
    module: 'core', contexts: serverOnly, arity: one,
    syntax: 'KeepAlive On|Off', default: 'On',
    summary: 'Enables HTTP persistent connections',
    parse: (args) => parseFlag(args[0]),
  },
  KeepAliveTimeout: {
    module: 'core', contexts: serverOnly, arity: one,
    syntax: 'KeepAliveTimeout duration', default: '5s',
    summary: 'Amount of time the server will wait for subsequent requests on a persistent connection',
    parse: seconds(),
  },
  MaxKeepAliveRequests: {
    module: 'core', contexts: serverOnly, arity: one,
    syntax: 'MaxKeepAliveRequests number|unlimited', default: '100',
    summary: 'Number of requests allowed on a persistent connection (0 = unlimited)',
    parse: integer({ min: 0, unlimited: 0 }),
  },
  MPM: {
    module: 'mpm', contexts: serverOnly, arity: one,
    syntax: 'MPM prefork|worker|event', default: 'event',
    summary: 'Multi-processing module: how children and their request slots are organised',
    parse: (args) => parseEnum(args[0], mpmNames),
  },
  StartServers: {
    module: 'mpm', contexts: serverOnly, arity: one,
    syntax: 'StartServers number', default: 'number of CPUs',
    summary: 'Number of child server processes created at startup',
    parse: integer({ min: 1, max: 20000 }),
  },
  MinSpareServers: {
    module: 'mpm', contexts: serverOnly, arity: one, mpms: ['prefork'],
    syntax: 'MinSpareServers number', default: '2',
    summary: 'Minimum number of idle child server processes',
    parse: integer({ min: 1, max: 20000 }),
  },
  MaxSpareServers: {
    module: 'mpm', contexts: serverOnly, arity: one, mpms: ['prefork'],
    syntax: 'MaxSpareServers number', default: '8',
    summary: 'Maximum number of idle child server processes',
    parse: integer({ min: 1, max: 20000 }),
  },
  MinSpareThreads: {
    module: 'mpm', contexts: serverOnly, arity: one, mpms: threaded,
    syntax: 'MinSpareThreads number', default: 'ThreadsPerChild',
    summary: 'Minimum number of idle threads (request slots) available to handle request spikes',
    parse: integer({ min: 1 }),
  },
  MaxSpareThreads: {
    module: 'mpm', contexts: serverOnly, arity: one, mpms: threaded,
    syntax: 'MaxSpareThreads number', default: 'ThreadsPerChild × max(StartServers, 2)',
    summary: 'Maximum number of idle threads (request slots)',
    parse: integer({ min: 1 }),
  },
  ServerLimit: {
    module: 'mpm', contexts: serverOnly, arity: one,
    syntax: 'ServerLimit number', default: '256 (prefork), 16 (worker, event)',
    summary: 'Upper limit on configurable number of processes',
    parse: integer({ min: 1, max: 20000 }),
  },
  ThreadLimit: {
    module: 'mpm', contexts: serverOnly, arity: one, mpms: threaded,
    syntax: 'ThreadLimit number', default: '64 (worker), 256 (event)',
    summary: 'Upper limit on the configurable number of threads (request slots) per child process',
    parse: integer({ min: 1, max: 20000 }),
  },
  ThreadsPerChild: {
    module: 'mpm', contexts: serverOnly, arity: one, mpms: threaded,
    syntax: 'ThreadsPerChild number', default: '8 (worker), 64 (event)',
    summary: 'Number of threads (worker) or request slots (event) each child process has',
    parse: integer({ min: 1, max: 20000 }),
  },
  MaxRequestWorkers: {
    module: 'mpm', contexts: serverOnly, arity: one, aliases: ['MaxClients'],
    syntax: 'MaxRequestWorkers number', default: 'ServerLimit × ThreadsPerChild',
    summary: 'Maximum number of connections that will be processed simultaneously',
    parse: integer({ min: 1 }),
  },
  MaxConnectionsPerChild: {
    module: 'mpm', contexts: serverOnly, arity: one, aliases: ['MaxRequestsPerChild'],
    syntax: 'MaxConnectionsPerChild number|unlimited', default: '0 (unlimited)',
    summary: 'Limit on the number of connections that an individual child server will handle during its life',
    parse: integer({ min: 0, unlimited: 0 }),
  },
  AsyncRequestWorkerFactor: {
    module: 'mpm', contexts: serverOnly, arity: one, mpms: ['event'],
    syntax: 'AsyncRequestWorkerFactor factor', default: '2',
    summary: 'Limit concurrent connections per process: ThreadsPerChild + factor × idle slots',
    parse: (args) => parsePositiveNumber(args[0]),
  },
  GracefulShutdownTimeout: {
    module: 'mpm', contexts: serverOnly, arity: one,
    syntax: 'GracefulShutdownTimeout duration', default: '30s',
    summary: 'Timeout after which a gracefully stopped server exits (0 is replaced by 30s: draining is always bounded)',
    parse: seconds(),
  },
  Listen: {
    module: 'mpm', contexts: serverOnly, arity: [1, 2],
    syntax: 'Listen [IP-address:]port [http|https]', default: 'none: at least one is required',
    summary: 'IP addresses and ports that the server listens to (repeatable)',
    parse: (args) => parseListen(args[0], args[1]),
  },
  ListenBacklog: {
    module: 'mpm', contexts: serverOnly, arity: one,
    syntax: 'ListenBacklog backlog', default: '511',
    summary: 'Maximum length of the queue of pending connections',
    parse: integer({ min: 1, max: 65535 }),
  },
  User: {
    module: 'mpm', contexts: serverOnly, arity: one,
    syntax: 'User unix-userid', default: 'none (the user who started mpmproxy)',
    summary: 'The userid under which children answer requests when started as root',
    parse: (args) => userName(args[0]),
  },
  Group: {
    module: 'mpm', contexts: serverOnly, arity: one,
    syntax: 'Group unix-group', default: 'none (the group of the user who started mpmproxy)',
    summary: 'Group under which children answer requests when started as root',
    parse: (args) => groupName(args[0]),
  },
  PidFile: {
    module: 'mpm', contexts: serverOnly, arity: one,
    syntax: 'PidFile filename', default: 'DefaultRuntimeDir/mpmproxy.pid',
    summary: 'File where the server records the process ID of the master',
    parse: nonEmpty,
  },
  ErrorLog: {
    module: 'log', contexts: serverOnly, arity: one,
    syntax: 'ErrorLog file-path|stderr|syslog', default: 'stderr',
    summary: 'Location where the server will log errors',
    parse: errorLog,
  },
  LogLevel: {
    module: 'log', contexts: serverOnly, arity: oneOrMore,
    syntax: 'LogLevel level [module:level] ...', default: 'warn',
    summary: 'Controls the verbosity of the ErrorLog, for the whole server and per module',
    parse: parseLogLevel,
  },
  SetHandler: {
    module: 'status', contexts: ['location'], arity: one,
    syntax: 'SetHandler server-status|default-page', default: 'none',
    summary: 'Forces all matching requests to be processed by the handler: the status page or the default page',
    parse: (args) => parseEnum(args[0], ['server-status', 'default-page']),
  },
  Proxy: {
    module: 'proxy', contexts: serverOrHost, arity: one, opens: 'proxy',
    syntax: '<Proxy wildcard-url>', default: 'none',
    summary: 'Container for directives applied to proxied resources',
    parse: (args) => proxyUrl(args[0]),
  },
  ProxyPass: {
    module: 'proxy', contexts: [...serverOrHost, 'location'], arity: [1, 2],
    syntax: 'ProxyPass [path] url|!', default: 'none',
    summary: 'Maps a remote http:// or https:// server into the local URL space (inside <Location> without path); ! excludes a path',
    parse: proxyPass,
  },
});

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
