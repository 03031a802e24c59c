// The shapes the configuration parser produces. The parser (src/config/parser.ts) builds a
// tree of sections; src/config/settings.ts resolves it into the typed Settings that the
// master, the MPMs and the children read.

import type { CrashRecoveryStrategy, MemoryPolicy } from './directives/process-limits';
import type { StateAwareMode } from './directives/stateaware';
import type { RouteSession, SessionSettings } from './session';
import type { UpstreamSettings } from './upstreams';
import type { ClientCertHeaders } from './directives/tls';
import type { TlsSettings } from '../tls/settings';

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
  | ProxyRoute
  | { prefix: string; kind: 'exclude' };

/** A path that ProxyPass sends to a backend. */
export interface ProxyRoute {
  prefix: string;
  kind: 'proxy';
  /** The http://, https:// or balancer:// URL as written. A <Location> that only sets proxy
   * options below a ProxyPass path gets a route of its own, its path appended to the target. */
  target: string;
  /** ProxyPass `key=value` worker parameters, values as written, keys in lower case (Apache
   * matches them without regard to case); the upstreams give them their meaning. */
  params: Record<string, string>;
  /** Where the ProxyPass was written, for messages about its parameters. */
  file: string;
  line: number;
  proxy: ProxyOptions;
}

/** How requests on one proxied path are sent and their answers relayed: the server's values,
 * overridden by the virtual host's, then by each <Location> that covers the path. */
export interface ProxyOptions {
  preserveHost: boolean;
  addHeaders: boolean;
  /** milliseconds: the virtual host's ProxyTimeout, else the server's, else Timeout */
  timeout: number;
  /** ProxyPassReverse rules in force, in the order Apache tries them (server, virtual host, then
   * <Location>s); the first that matches a header wins. */
  reverse: ReverseRule[];
  /** StateAware in force on the path (docs/state-aware.md). */
  stateAware: StateAwareMode;
  /** What the path does with sessions (docs/sessions.md). */
  session: RouteSession;
}

/** `ProxyPassReverse path url`: a response header value starting with `url` gets `path` in place
 * of it, under the scheme and host the client used. */
export interface ReverseRule {
  path: string;
  url: string;
}

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
  /** milliseconds: the bound on every drain (graceful restart, memory restart, graceful stop,
   * retirement), the smaller of ExitTimeout and GracefulShutdownTimeout where both are written */
  exitTimeout: number;
  /** bytes of RSS per child (LimitMemory); 0 = unlimited */
  limitMemory: number;
  /** bytes, master and children together (LimitMemoryServer); 0 = unlimited */
  limitMemoryServer: number;
  memoryPolicy: MemoryPolicy;
  crashRecoveryStrategy: CrashRecoveryStrategy;
  /** Absolute; the children's working directory when MemoryPolicy is abort. */
  coreDumpDirectory: string;
  /** Children of every generation at once; 0 = only ServerLimit bounds them. */
  limitProcesses: number;
  /** RLIMIT_NOFILE of every process; 0 = the hard limit. */
  limitFiles: number;
  /** The worker pool of each child (MinWorkers, LimitWorkers); threadStack in bytes, 0 = Node's default. */
  minWorkers: number;
  limitWorkers: number;
  threadStack: number;
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
  /** The main server's CustomLog and TransferLog lines, in order. */
  accessLogs: AccessLogSpec[];
  /** In a child: the descriptor of each CustomLog file (by path, and 'stderr' for the master's
   * stderr) that the master opened and handed down, so children running as User/Group need no
   * right to the file. */
  accessLogFiles?: Record<string, number>;
  /** Server-level routes (top-level ProxyPass and <Location> sections). */
  routes: Route[];
  /** ProxyTrustedAddresses: clients whose X-Forwarded-* headers are believed (IPs and CIDRs). */
  trustedAddresses: string[];
  /** SSLClientCertHeaders of the main server: the headers that carry the client certificate. */
  clientCertHeaders: ClientCertHeaders;
  virtualHosts: VirtualHostSpec[];
  /** TLS on the front end: each host's certificates, the session cache and ticket keys. */
  tls: TlsSettings;
  /** Backends, balancers and how they are reached. */
  upstreams: UpstreamSettings;
  /** State-aware sessions (docs/state-aware.md). */
  stateAware: StateAwareSettings;
  /** The sandbox limits on what clients send and hold (docs/limits.md). */
  limits: LimitSettings;
  /** Sessions: cookie, lifetimes, store (docs/sessions.md). */
  session: SessionSettings;
  /** Bytes of the shared cache segment (LimitCache, or the shm session store's size); 0: none. */
  cacheSize: number;
  /** HTTP/2 and WebSockets on the front end (docs/http2.md, docs/websockets.md). */
  protocols: ProtocolSettings;
  /** Adjustments made while resolving (Apache-style: "ThreadsPerChild lowered to ThreadLimit"),
   * logged at start-up and by -t. */
  warnings: string[];
}

export interface StateAwareSettings {
  /** milliseconds: idle time that ends a session, and how long a retiring owner keeps its sessions */
  sessionTimeout: number;
  /** Sessions the owner table holds (fixed for the master's life, like ServerLimit). */
  sessionLimit: number;
}

export interface ProtocolSettings {
  /** HTTP/2 over TLS, chosen by ALPN (Protocols h2). */
  h2: boolean;
  /** HTTP/2 over cleartext, by prior knowledge or Upgrade: h2c (Protocols h2c). */
  h2c: boolean;
  /** H2MaxResets: client stream resets allowed per connection within intervalMs. */
  maxResets: number;
  resetIntervalMs: number;
  /** milliseconds (ProxyWebsocketIdleTimeout) */
  webSocketIdleTimeout: number;
}

export interface VirtualHostSpec {
  /** As written in <VirtualHost ...>: '*:8080', '127.0.0.1:80', '*'. */
  addresses: string[];
  serverName: string | null;
  serverAliases: string[];
  routes: Route[];
  /** Its own ProxyTrustedAddresses, or the main server's when it has none. */
  trustedAddresses: string[];
  /** Its own CustomLog and TransferLog lines, or the main server's when it has none. */
  accessLogs: AccessLogSpec[];
  /** Its own SSLClientCertHeaders, or the main server's. */
  clientCertHeaders: ClientCertHeaders;
}

/** A LogFormat string, or the built-in JSON format (`CustomLog file json`). */
export type AccessLogFormat = { kind: 'text'; text: string } | { kind: 'json' };

/** One CustomLog (or TransferLog) in force. */
export interface AccessLogSpec {
  /** An absolute path, or 'stderr'. */
  target: string;
  format: AccessLogFormat;
}

/** One stage of RequestReadTimeout, in milliseconds and bytes a second. */
export interface ReadTimeoutStage {
  /** Time allowed at first. */
  timeout: number;
  /** How far MinRate may stretch it; 0 = no bound. */
  max: number;
  /** Each this many bytes received add a second; 0 = no stretching. */
  minRate: number;
}

/** RequestReadTimeout as written: a stage absent keeps its default, null turns it off. */
export interface ReadTimeout {
  header?: ReadTimeoutStage | null;
  body?: ReadTimeoutStage | null;
}

/** Sizes in bytes; 0 = unlimited (or, for LimitPacket and LimitCache, not set). */
export interface LimitSettings {
  clients: number;
  connections: number;
  connectionsPerClient: number;
  requestsPerClient: number;
  requestBody: number;
  requestForm: number;
  upload: number;
  requestHeader: number;
  requestHeaderLines: number;
  uri: number;
  /** LimitKeepAlive as written; Settings.maxKeepAliveRequests already holds the smaller of it and MaxKeepAliveRequests. */
  keepAlive: number;
  responseBody: number;
  chunk: number;
  packet: number;
  sessions: number;
  streams: number;
  webSocketsMessage: number;
  webSocketsPacket: number;
  webSocketsFrame: number;
  cache: number;
  cacheItem: number;
  readTimeout: { header: ReadTimeoutStage | null; body: ReadTimeoutStage | null };
}
