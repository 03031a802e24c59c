// Core directives: files and includes, containers, names, timeouts and keep-alive, handlers.
import fs from 'node:fs';
import path from 'node:path';
import {
  aliasName,
  condition,
  everywhere,
  hostAndPort,
  integer,
  nonEmpty,
  one,
  oneOrMore,
  seconds,
  serverName,
  serverOnly,
  serverOrHost,
  table,
  urlPath,
  type UseContext,
} from '../directive-spec';
import { parseFlag, ValueError } from '../values';

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

export const coreDirectives = table({
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
});
