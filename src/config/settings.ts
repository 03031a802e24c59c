// Resolves a parsed configuration into the Settings every other part reads: the values in
// force, Node-friendly defaults with Apache's meaning, and Apache's start-up adjustments,
// each reported in `warnings` as "file:line: Directive: what changed".

import os from 'node:os';
import path from 'node:path';
import { directives, findDirective, lastValue, usesOf, type DirectiveSpec } from './directives';
import { resolveAccessLogs, type AccessLogs } from './access-logs';
import { configDirectory } from './embedded';
import { requestsPerConnection, resolveLimitSettings } from '../limits/settings';
import { resolveProcessLimits } from './process-limits';
import { resolveProtocols } from '../http2/settings';
import { resolveRoutes, trustedAddresses } from './routes';
import { resolveSandbox } from './sandbox';
import { cacheSegmentSize, resolveSessionSettings } from './session';
import { proxyPasses, resolveUpstreams } from './upstreams';
import { resolveTls } from '../tls/settings';
import type { DirectiveUse, LogLevelName, ParsedConfig, Route, Section, Settings, VirtualHostSpec } from './types';

export interface ResolveOptions {
  /** Default StartServers; os.availableParallelism() when absent. */
  cpus?: number;
  /** Decides the default DefaultRuntimeDir; process.getuid() when absent. */
  uid?: number;
}

/** Draining is always bounded here; this replaces Apache's "wait for ever". */
const boundedShutdownMs = 30_000;

export function resolveSettings(parsed: ParsedConfig, opts: ResolveOptions = {}): Settings {
  const { root } = parsed;
  const warnings: string[] = [];
  const located = (use: DirectiveUse, message: string): string => `${use.file}:${use.line}: ${use.name}: ${message}`;
  // Only values written are adjusted, so the directive always has a use to point at.
  const warn = (directive: string, message: string): void => {
    const use = root.directives.filter((d) => d.name === directive).at(-1);
    warnings.push(use ? located(use, message) : `${directive}: ${message}`);
  };
  const value = <V>(spec: DirectiveSpec<V>): V | undefined => lastValue(root, spec);

  const mpm = value(directives.MPM) ?? 'event';
  for (const use of root.directives) {
    const mpms = findDirective(use.name)?.spec.mpms;
    if (mpms && !mpms.includes(mpm)) warnings.push(located(use, `ignored by the ${mpm} MPM`));
  }
  const cpus = opts.cpus ?? os.availableParallelism();
  const limits = resolveProcessLimits(
    mpm,
    {
      startServers: value(directives.StartServers),
      minSpareServers: value(directives.MinSpareServers),
      maxSpareServers: value(directives.MaxSpareServers),
      minSpareThreads: value(directives.MinSpareThreads),
      maxSpareThreads: value(directives.MaxSpareThreads),
      serverLimit: value(directives.ServerLimit),
      threadLimit: value(directives.ThreadLimit),
      threadsPerChild: value(directives.ThreadsPerChild),
      maxRequestWorkers: value(directives.MaxRequestWorkers),
    },
    cpus,
    warn,
  );

  let gracefulShutdownTimeout = value(directives.GracefulShutdownTimeout) ?? boundedShutdownMs;
  if (gracefulShutdownTimeout === 0) {
    warn('GracefulShutdownTimeout', `0 (wait for ever) is not supported: draining stops after ${boundedShutdownMs / 1000}s`);
    gracefulShutdownTimeout = boundedShutdownMs;
  }

  const serverRoot = value(directives.ServerRoot) ?? configDirectory(root.file);
  const fromRoot = (p: string): string => path.resolve(serverRoot, p);
  const uid = opts.uid ?? process.getuid?.() ?? 0;
  const runtimeDir = fromRoot(
    value(directives.DefaultRuntimeDir) ?? (uid === 0 ? '/run/mpmproxy' : path.join(os.tmpdir(), `mpmproxy-${uid}`)),
  );
  const errorLog = value(directives.ErrorLog) ?? 'stderr';
  const accessLogs = resolveAccessLogs(root, fromRoot);
  const timeout = value(directives.Timeout) ?? 60_000;
  const clientLimits = resolveLimitSettings(value);
  const routes = resolveRoutes(root, null, timeout);
  const trusted = trustedAddresses(root) ?? [];
  const tls = resolveTls(root, usesOf(root, directives.Listen).map((use) => use.value), fromRoot, warnings);
  const virtualHosts = root.sections
    .filter((s) => s.context === 'virtualhost')
    .map((host, i) => ({
      ...virtualHost(host, resolveRoutes(root, host, timeout), trusted, accessLogs),
      clientCertHeaders: tls.clientCertHeaders[i + 1],
    }));
  const session = resolveSessionSettings(root, value, {
    runtimeDir,
    fromRoot,
    limitCache: clientLimits.cache,
    limitSessions: clientLimits.sessions,
    used: [routes, ...virtualHosts.map((h) => h.routes)].some((rs) => rs.some((r) => r.kind === 'proxy' && r.proxy.session.enabled)),
  });

  return {
    configFile: root.file,
    serverRoot,
    mpm,
    ...limits,
    maxConnectionsPerChild: value(directives.MaxConnectionsPerChild) ?? 0,
    asyncRequestWorkerFactor: value(directives.AsyncRequestWorkerFactor) ?? 2,
    gracefulShutdownTimeout,
    ...resolveSandbox({ value, gracefulShutdownTimeout, startServers: limits.startServers, cpus, fromRoot, warn }),
    timeout,
    keepAlive: value(directives.KeepAlive) ?? true,
    keepAliveTimeout: value(directives.KeepAliveTimeout) ?? 5_000,
    maxKeepAliveRequests: requestsPerConnection(value(directives.MaxKeepAliveRequests) ?? 100, clientLimits.keepAlive),
    listen: tls.listen,
    listenBacklog: value(directives.ListenBacklog) ?? 511,
    user: value(directives.User) ?? null,
    group: value(directives.Group) ?? null,
    pidFile: fromRoot(value(directives.PidFile) ?? path.join(runtimeDir, 'mpmproxy.pid')),
    runtimeDir,
    serverName: value(directives.ServerName) ?? null,
    errorLog: errorLog === 'stderr' || errorLog === 'syslog' ? errorLog : fromRoot(errorLog),
    logLevel: logLevel(root),
    accessLogs: accessLogs.server,
    routes,
    trustedAddresses: trusted,
    clientCertHeaders: tls.clientCertHeaders[0],
    virtualHosts,
    tls: tls.tls,
    upstreams: resolveUpstreams(root, proxyPasses(root), {
      // mod_proxy's timeout= defaults to ProxyTimeout, which defaults to Timeout.
      timeout: value(directives.ProxyTimeout) ?? timeout,
      slotsPerLoop: mpm === 'event' ? limits.threadsPerChild : 1,
      fromRoot,
    }),
    limits: clientLimits,
    stateAware: {
      sessionTimeout: value(directives.StateAwareSessionTimeout) ?? 300_000,
      sessionLimit: value(directives.StateAwareSessionLimit) ?? 1024,
    },
    session,
    cacheSize: cacheSegmentSize(clientLimits.cache, session),
    protocols: resolveProtocols(value, timeout),
    warnings,
  };
}

/** Applies the LogLevel lines in order; a plain level resets the per-module ones, as in Apache. */
function logLevel(root: Section): Settings['logLevel'] {
  let level: LogLevelName = 'warn';
  let modules: Record<string, LogLevelName> = {};
  for (const { value } of usesOf(root, directives.LogLevel)) {
    if (value.level !== null) {
      level = value.level;
      modules = {};
    }
    Object.assign(modules, value.modules);
  }
  return { level, modules };
}

function virtualHost(host: Section, routes: Route[], serverTrusted: string[], accessLogs: AccessLogs): Omit<VirtualHostSpec, 'clientCertHeaders'> {
  return {
    addresses: host.arg.split(' '),
    serverName: lastValue(host, directives.ServerName) ?? null,
    serverAliases: usesOf(host, directives.ServerAlias).flatMap((use) => use.value),
    routes,
    trustedAddresses: trustedAddresses(host) ?? serverTrusted,
    accessLogs: accessLogs.forHost(host),
  };
}
