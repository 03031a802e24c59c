// The shapes the configuration parser produces. The parser (src/config/parser.ts) builds a
// tree of sections; src/config/settings.ts resolves it into the typed Settings that the
// master, the MPMs and the children read.

export type ContextName = 'server' | 'virtualhost' | 'location' | 'proxy';

/** One directive as written: its arguments already split and unquoted. */
export interface DirectiveUse {
  name: string; // canonical name from the table (aliases resolved)
  args: string[];
  file: string;
  line: number;
  value: unknown; // the value parsed by the table's type (number, boolean, string, ...)
}

export interface Section {
  context: ContextName;
  /** The container argument: `<Location /status>` -> '/status'; '' for the server. */
  arg: string;
  file: string;
  line: number;
  directives: DirectiveUse[];
  sections: Section[];
}

export interface ParsedConfig {
  root: Section;
  /** Every file read, main file first (Include order). */
  files: string[];
  defines: string[];
}

export type MpmName = 'prefork' | 'worker' | 'event';
export type LogLevelName =
  | 'emerg' | 'alert' | 'crit' | 'error' | 'warn' | 'notice' | 'info' | 'debug' | 'trace1';

export interface ListenSpec {
  host: string; // '0.0.0.0', '::', '127.0.0.1', ...
  port: number;
  protocol: 'http' | 'https';
  /** As written, for messages. */
  text: string;
}

/** What a request path maps to. Routes are matched longest prefix first. */
export type Route =
  | { prefix: string; kind: 'status' }
  | { prefix: string; kind: 'page' }
  | { prefix: string; kind: 'proxy'; target: string }
  | { prefix: string; kind: 'exclude' };

export interface Settings {
  /** Absolute path of the main configuration file, or '(embedded)'. */
  configFile: string;
  serverRoot: string;
  mpm: MpmName;
  startServers: number;
  /** prefork only; the threaded MPMs keep the defaults and read the *SpareThreads fields. */
  minSpareServers: number;
  maxSpareServers: number;
  /** Idle request slots server-wide; under prefork (one slot a child) these equal the
   * *SpareServers fields, so the maintenance loop can read them for every MPM. */
  minSpareThreads: number;
  maxSpareThreads: number;
  serverLimit: number;
  threadLimit: number;
  threadsPerChild: number;
  maxRequestWorkers: number;
  /** 0 = unlimited */
  maxConnectionsPerChild: number;
  asyncRequestWorkerFactor: number;
  /** milliseconds; always bounded: Apache's 0 (wait for ever) is replaced by 30 s with a warning */
  gracefulShutdownTimeout: number;
  /** milliseconds */
  timeout: number;
  keepAlive: boolean;
  /** milliseconds */
  keepAliveTimeout: number;
  /** 0 = unlimited */
  maxKeepAliveRequests: number;
  listen: ListenSpec[];
  listenBacklog: number;
  user: string | null;
  group: string | null;
  pidFile: string;
  /** Directory for sockets and other runtime files (DefaultRuntimeDir). */
  runtimeDir: string;
  /** The main server's ServerName, as written; always set by resolveSettings. */
  serverName?: string | null;
  errorLog: string; // a path, 'stderr', or 'syslog'
  logLevel: { level: LogLevelName; modules: Record<string, LogLevelName> };
  /** Server-level routes (top-level ProxyPass and <Location> sections). */
  routes: Route[];
  virtualHosts: VirtualHostSpec[];
  /** Adjustments made while resolving (Apache-style: "ThreadsPerChild lowered to ThreadLimit"),
   * logged at start-up and by -t. */
  warnings: string[];
}

export interface VirtualHostSpec {
  /** As written in <VirtualHost ...>: '*:8080', '127.0.0.1:80', '*'. */
  addresses: string[];
  serverName: string | null;
  serverAliases: string[];
  routes: Route[];
}
