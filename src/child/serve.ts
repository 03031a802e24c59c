// Builds what one serving event loop (a child's main thread, or one of its worker threads) needs:
// the request handler with its backend pools and the server-status page, the access log, the
// WebSocket tunnels, and the connection server around them.
import type { Settings } from '../config/types';
import { LoopLimits } from '../limits/loop-limits';
import { AccessLog } from '../log/access-log';
import { Forwarder } from '../proxy/forward';
import { createUpstreams } from '../proxy/upstream';
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
}

export interface Serving {
  server: ConnectionServer;
  /** Releases backend pools and writes out the access log once the server has drained. */
  close(): Promise<void>;
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
  const forwarder = new Forwarder(createUpstreams(o.settings), tunnels);
  const handler = limits.guard(
    createHandler({
      settings: o.settings,
      forwarder,
      serveStatus: createStatusHandler(o.settings, o.scoreboard, limits),
    }),
  );
  const accessLog = AccessLog.create(o.settings);
  // A retiring loop is about to end with its process (or thread): its last lines go out first.
  const onRetired = () => void Promise.resolve(accessLog?.close()).then(o.onRetired);
  const tls = o.listeners.some((l) => l.spec.protocol === 'https')
    ? new TlsTerminator({
        settings: o.settings,
        cache: sharedTlsCache(),
        // Protocols h2: ALPN offers HTTP/2 first, as httpd does.
        alpn: o.settings.protocols.h2 ? ['h2', 'http/1.1'] : undefined,
        onSecure: (secure) => server.onSecure(secure),
      })
    : null;
  const server: ConnectionServer = new ConnectionServer({ ...o, handler, accessLog, onRetired, limits, tls, tunnels });
  server.start();
  return { server, close: () => Promise.all([forwarder.close(), accessLog?.close(), limits.close()]).then(() => undefined) };
}
