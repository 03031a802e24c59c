// The scoreboard read into plain rows for server-status. Children keep writing while the
// rows are read, so, as in Apache, a page is a near snapshot, not an exact one.

import { type Scoreboard, WorkerState } from '../shm/scoreboard';

export interface ProcessRow {
  slot: number;
  pid: number;
  generation: number;
  accepting: boolean;
  quiescing: boolean;
  connections: number;
  connectionsTotal: number;
  requestsTotal: number;
  bytesTotal: number;
  keepAliveIdle: number;
  busy: number;
  /** State-aware sessions it owns. */
  stateAware: number;
  webSockets: number;
  startTime: number;
}

export interface WorkerRow {
  slot: number;
  thread: number;
  pid: number;
  state: WorkerState;
  accessCount: number;
  bytesServed: number;
  lastUsed: number;
  lastDurationUs: number;
  client: string;
  vhost: string;
  request: string;
}

/** Live processes (pid ≠ 0), in slot order. */
export function processRows(scoreboard: Scoreboard): ProcessRow[] {
  const rows: ProcessRow[] = [];
  for (let slot = 0; slot < scoreboard.serverLimit; slot++) {
    const pid = scoreboard.pid(slot);
    if (pid === 0) continue;
    rows.push({
      slot,
      pid,
      generation: scoreboard.processGeneration(slot),
      accepting: scoreboard.isAccepting(slot),
      quiescing: scoreboard.isQuiescing(slot),
      connections: scoreboard.connections(slot),
      connectionsTotal: scoreboard.connectionsTotal(slot),
      requestsTotal: scoreboard.requestsTotal(slot),
      bytesTotal: scoreboard.bytesTotal(slot),
      keepAliveIdle: scoreboard.keepAliveIdle(slot),
      busy: scoreboard.busy(slot),
      stateAware: scoreboard.stateAwareSessions(slot),
      webSockets: scoreboard.webSockets(slot),
      startTime: scoreboard.processStartTime(slot),
    });
  }
  return rows;
}

/**
 * The worker slots of live processes worth a detail row: like mod_status, a slot that
 * never served a request and sits READY or DEAD is left out.
 */
export function workerRows(scoreboard: Scoreboard, threadsPerChild: number): WorkerRow[] {
  const rows: WorkerRow[] = [];
  for (let slot = 0; slot < scoreboard.serverLimit; slot++) {
    const pid = scoreboard.pid(slot);
    if (pid === 0) continue;
    for (let thread = 0; thread < threadsPerChild; thread++) {
      const state = scoreboard.workerState(slot, thread);
      const accessCount = scoreboard.accessCount(slot, thread);
      if (accessCount === 0 && (state === WorkerState.READY || state === WorkerState.DEAD)) continue;
      rows.push({
        slot,
        thread,
        pid,
        state,
        accessCount,
        bytesServed: scoreboard.bytesServed(slot, thread),
        lastUsed: scoreboard.lastUsed(slot, thread),
        lastDurationUs: scoreboard.lastDurationUs(slot, thread),
        client: scoreboard.client(slot, thread),
        vhost: scoreboard.vhost(slot, thread),
        request: scoreboard.request(slot, thread),
      });
    }
  }
  return rows;
}
