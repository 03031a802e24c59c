// Builds what one serving event loop (a child's main thread, or one of its worker threads) needs:
// the request handler with its backend pools and the server-status page, and the connection
// server around it.
import type { Settings } from '../config/types';
import { Forwarder } from '../proxy/forward';
import { createUpstreams } from '../proxy/upstream';
import type { Scoreboard } from '../shm/scoreboard';
import { createStatusHandler } from '../status/handler';
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
  /** Releases backend pools once the server has drained. */
  close(): Promise<void>;
}

export function serve(o: ServeOptions): Serving {
  const forwarder = new Forwarder(createUpstreams({ timeout: o.settings.timeout }));
  const handler = createHandler({
    settings: o.settings,
    forwarder,
    serveStatus: createStatusHandler(o.settings, o.scoreboard),
  });
  const server = new ConnectionServer({ ...o, handler });
  server.start();
  return { server, close: () => forwarder.close() };
}
