// Builds what one serving event loop (a child's main thread, or one of its worker threads) needs:
// the request handler with its backend pools and the server-status page, the access log, the
// WebSocket tunnels, and the connection server around them.
import type { Settings } from '../config/types';
import { LoopLimits } from '../limits/loop-limits';
import { AccessLog } from '../log/access-log';
import { Forwarder } from '../proxy/forward';
import type { ProxyForwarder } from '../proxy/forward';
import { createUpstreams } from '../proxy/upstream';
import { openSessionStore } from '../session/open-store';
import { SessionLayer } from '../session/session-layer';
import { sharedOwners } from '../shm/owners-segment';
import { ConnectionHandoff } from '../stateaware/connection-handoff';
import { StateAwareForwarder } from '../stateaware/forwarder';
import { attachLimitCounters, limitsSegmentName } from '../shm/limits-segment';
import type { Scoreboard } from '../shm/scoreboard';
import { createStatusHandler } from '../status/handler';
import { sharedTlsCache } from '../shm/tls-cache-segment';
import { TlsTerminator } from '../tls/terminator';
import { WebSocketTunnels } from '../websocket/tunnels';
import { ConnectionServer } from './connection-server';
import type { ConnectionServerOptions, InheritedListener } from './connection-server';
import type { ConnectionBudget } from './connection-budget';
import { createHandler } from './handler';

export interface ServeOptions {
  settings: Settings;
  listeners: InheritedListener[];
  scoreboard: Scoreboard;
  processSlot: number;
  mode: ConnectionServerOptions['mode'];
  workerSlots: number[];
  budget: ConnectionBudget;
  mayAccept: ConnectionServerOptions['mayAccept'];
  onRetired: () => void;
  /** The budget is spent but the loop keeps state-aware sessions: it no longer counts as serving. */
  onHoldingSessions: () => void;
}

export interface Serving {
  server: ConnectionServer;
  /** Releases backend pools and writes out the access log once the server has drained. */
  close(): Promise<void>;
  /** Resolves once the state-aware sessions this loop owns have ended (see
   * StateAwareForwarder.retire); at once when it owns none. */
  retireSessions(graceMs: number | null): Promise<void>;
}

/** The state-aware layer, when some path has sessions (docs/state-aware.md). */
function stateAwareLayer(o: ServeOptions, forwarder: Forwarder): { layer: StateAwareForwarder; handoff: ConnectionHandoff } | null {
  const s = o.settings;
  const owners = sharedOwners();
  if (!s.session.used || owners === null) return null;
  // A worker-MPM thread drives one worker slot, numbered as its thread; other loops are thread 0.
  const me = { pid: process.pid, slot: o.processSlot, thread: o.mode === 'connection' ? o.workerSlots[0] : 0 };
  const layer = new StateAwareForwarder(forwarder, {
    sessionTimeout: s.stateAware.sessionTimeout,
    runtimeDir: s.runtimeDir,
    headersTimeout: s.timeout,
    owners,
    scoreboard: o.scoreboard,
    me,
    concurrency: o.mode === 'request' ? o.workerSlots.length : 1,
  });
  const handoff = new ConnectionHandoff({
    owners,
    scoreboard: o.scoreboard,
    me,
    runtimeDir: s.runtimeDir,
    cookieName: s.session.cookieName,
    headerLimit: s.limits.requestHeader,
    timeout: s.timeout,
  });
  return { layer, handoff };
}

export function serve(o: ServeOptions): Serving {
  const limits = new LoopLimits(o.settings, attachLimitCounters(limitsSegmentName(o.scoreboard.masterPid)), o.processSlot);
  const tunnels = new WebSocketTunnels({
    limits: o.settings.limits,
    idleTimeout: o.settings.protocols.webSocketIdleTimeout,
    loopLimits: limits,
    scoreboard: o.scoreboard,
    processSlot: o.processSlot,
    onOpen: (client) => server.leftHttp1(client),
  });
  const plain = new Forwarder(createUpstreams(o.settings), tunnels);
  const layers = stateAwareLayer(o, plain);
  const stateAware = layers?.layer ?? null;
  const forwarder: ProxyForwarder = stateAware ?? plain;
  const sessions = o.settings.session.used ? new SessionLayer(o.settings.session, openSessionStore(o.settings, o.scoreboard.masterPid)) : null;
  const inner = createHandler({
    settings: o.settings,
    forwarder,
    serveStatus: createStatusHandler(o.settings, o.scoreboard, limits),
    sessions,
  });
  stateAware?.serveRelayedWith(inner);
  const handler = limits.guard(inner);
  const accessLog = AccessLog.create(o.settings);
  // Connections handed over for those sessions are the loop's own: the last answers on them go
  // out before the loop ends (each closes after its answer, the server being drained).
  const retireSessions = (graceMs: number | null) =>
    stateAware === null ? Promise.resolve() : stateAware.retire(graceMs).then(() => server.graceful());
  // A retiring loop is about to end with its process (or thread): its last lines go out first,
  // and the state-aware sessions it owns end before it does (StateAwareSessionTimeout at most).
  const onRetired = () => {
    if (stateAware !== null && stateAware.ownedSessions > 0) o.onHoldingSessions();
    void Promise.resolve(accessLog?.close())
      .then(() => retireSessions(o.settings.stateAware.sessionTimeout))
      .then(o.onRetired);
  };
  const tls = o.listeners.some((l) => l.spec.protocol === 'https')
    ? new TlsTerminator({
        settings: o.settings,
        cache: sharedTlsCache(),
        // Protocols h2: ALPN offers HTTP/2 first, as httpd does.
        alpn: o.settings.protocols.h2 ? ['h2', 'http/1.1'] : undefined,
        onSecure: (secure) => server.onSecure(secure),
      })
    : null;
  const handoff = layers?.handoff ?? null;
  const holdsSessions = () => stateAware !== null && stateAware.ownedSessions > 0;
  const server: ConnectionServer = new ConnectionServer({ ...o, handler, accessLog, onRetired, limits, tls, tunnels, handoff, holdsSessions });
  stateAware?.adoptConnectionsWith((fd, head) => server.adopt(fd, head));
  server.start();
  return {
    server,
    retireSessions,
    close: () => Promise.all([handoff?.close(), forwarder.close(), accessLog?.close(), limits.close(), sessions?.store.close()]).then(() => undefined),
  };
}
