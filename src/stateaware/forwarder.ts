// The state-aware layer in front of the Forwarder. For a request on a path where sessions may be
// state-aware, it finds the request's session and sends the request where the session's state
// is: over the session's private connection when this loop owns it, to the owner's IPC socket
// when another loop does (one lookup in the shared owner table), or, while the session is an
// ordinary one, over a leased connection that the response may turn into the session's private
// one. A session whose owner died gets 502 once, with the dead owner named, and is an ordinary
// session again from then on. Paths with StateAware off, and paths without sessions, take the
// Forwarder's path unchanged.
import type http from 'node:http';
import { log } from '../log/logger';
import { clientOriginOf } from '../proxy/client-origin';
import type { ResponseObserver } from '../proxy/exchange';
import type { Forwarder, ProxyForwarder } from '../proxy/forward';
import { answerPlain } from '../proxy/plain-answer';
import type { ProxyPlan } from '../proxy/route-plan';
import type { Outcome, Upstream, UpstreamMember } from '../proxy/upstream';
import { sessionEvents } from '../session/events';
import type { RequestSession } from '../session/request-session';
import { ORPHAN, type OwnerEntry, type OwnerKey, type OwnerTable } from '../shm/owners';
import type { Scoreboard } from '../shm/scoreboard';
import type { RequestHandler } from '../child/handler';
import { IpcRoutes } from './ipc-route';
import { HandoffReceiver, type AdoptConnection } from './handoff-receiver';
import { IpcServer } from './ipc-server';
import { LeasedUpstream, Leases, type LeasedMember } from './leases';
import { OwnedSessions, type OwnedSession, type OwnerIdentity } from './owned-sessions';
import { ownerKey, sessionLabel } from './session-key';
import { handoffSocketPath, ipcSocketPath } from './socket-path';
import { readTriggers } from './triggers';

/** How long a retiring owner waits for the answers it is relaying when its last session ends. */
const RELAY_DRAIN_MS = 5000;
const PRIVATE_IDLE_MARGIN_MS = 2000;

export interface StateAwareOptions {
  sessionTimeout: number;
  runtimeDir: string;
  /** Bounds the wait for a relayed request's headers on the IPC server. */
  headersTimeout: number;
  owners: OwnerTable;
  scoreboard: Scoreboard;
  me: OwnerIdentity;
  /** Requests the loop serves at once (its request slots). */
  concurrency: number;
}

/**
 * The upstream of one request sent on a leased connection. Its answer may ask for state-aware
 * mode (the observer side); the lease is adopted once the answer is complete, when the session
 * layer has given the session its final id (created, or renewed by a login).
 */
class RequestLease extends LeasedUpstream implements ResponseObserver {
  private last: LeasedMember | null = null;
  private wanted = false;

  constructor(
    inner: Upstream,
    leases: Leases,
    private readonly layer: StateAwareForwarder,
    private readonly req: http.IncomingMessage,
    private readonly plan: ProxyPlan,
    private readonly session: RequestSession,
  ) {
    super(inner, leases);
  }

  override pick(req: http.IncomingMessage): LeasedMember | null {
    this.last = super.pick(req);
    return this.last;
  }

  onResponse(statusCode: number, headers: Buffer[]): Buffer[] {
    const t = readTriggers(statusCode, headers);
    this.wanted = t.say === 'on' || t.handshake || (this.plan.stateAware === 'on' && t.say !== 'off');
    // A handshake may start before the client has a session: one is made for it now, so that
    // this answer carries its cookie and the next leg can be routed.
    if (this.wanted && this.session.id === null) void this.session.ensure();
    return headers;
  }

  override done(member: UpstreamMember, outcome: Outcome): void {
    if (this.wanted && outcome === 'ok' && this.last !== null) this.layer.adopt(this.session.id, this.req, this.last);
    super.done(member, outcome);
  }
}

/** Sees the answers on a session's private connection: the backend may end state-aware mode. */
class PrivateObserver implements ResponseObserver {
  constructor(private readonly session: OwnedSession) {}

  onResponse(statusCode: number, headers: Buffer[]): Buffer[] {
    if (readTriggers(statusCode, headers).say === 'off') this.session.ending = true;
    return headers;
  }
}

export class StateAwareForwarder implements ProxyForwarder {
  private readonly sessions: OwnedSessions;
  private readonly leases: Leases;
  private readonly routes = new IpcRoutes();
  private ipc: IpcServer | null = null;
  private receiver: HandoffReceiver | null = null;
  private handler: RequestHandler | null = null;
  private adoptConnection: AdoptConnection | null = null;

  constructor(
    private readonly inner: Forwarder,
    private readonly o: StateAwareOptions,
  ) {
    // undici's own idle timeout stays out of the way of the session's: the sweep ends an idle
    // session (and says why) before its connection would close under it.
    this.leases = new Leases(o.sessionTimeout + PRIVATE_IDLE_MARGIN_MS, o.concurrency);
    this.sessions = new OwnedSessions(o.owners, o.scoreboard, o.me, o.sessionTimeout, () => this.startIpc());
    sessionEvents.on('authenticated', this.onRenewed);
    sessionEvents.on('invalidated', this.onEnded);
    sessionEvents.on('expired', this.onEnded);
  }

  /** A login renewed the session's id: its state-aware mode follows it to the new one. */
  private readonly onRenewed = (e: { id: string; oldId: string }): void => {
    if (e.id !== e.oldId) this.sessions.rekey(e.oldId, e.id, ownerKey(e.id));
  };

  /** The session ended: so does its state-aware mode. */
  private readonly onEnded = (e: { id: string }): void => {
    const own = this.sessions.get(e.id);
    if (own !== undefined) this.sessions.end(own, 'the session ended');
  };

  /** The handler that serves requests relayed to this loop (the loop's own, without its limits,
   * which the relaying child applied). */
  serveRelayedWith(handler: RequestHandler): void {
    this.handler = handler;
  }

  /** Where connections handed over by other children go (ConnectionServer.adopt). */
  adoptConnectionsWith(adopt: AdoptConnection): void {
    this.adoptConnection = adopt;
  }

  /** State-aware sessions this loop owns now. */
  get ownedSessions(): number {
    return this.sessions.count;
  }

  /** The loop stopped accepting: resolves once its sessions have ended (OwnedSessions.retire)
   * and the answers its IPC server was relaying have gone out. */
  async retire(graceMs: number | null): Promise<void> {
    await this.sessions.retire(graceMs);
    this.receiver?.close();
    this.receiver = null;
    await this.ipc?.close(RELAY_DRAIN_MS);
    this.ipc = null;
  }

  forward(req: http.IncomingMessage, res: http.ServerResponse, plan: ProxyPlan, url: string, session: RequestSession | null): void {
    if (plan.stateAware === 'off' || session === null) return this.inner.forward(req, res, plan, url, session);
    const key = session.id;
    const relayed = clientOriginOf(req) !== undefined;
    if (key !== null) {
      const own = this.sessions.get(key);
      if (own !== undefined) return this.inner.send(req, res, plan, url, session, own, new PrivateObserver(own));
      // A relayed request whose session ended here meanwhile is an ordinary one now; it is
      // never relayed on.
      const okey = relayed ? null : ownerKey(key);
      const entry = okey === null ? null : this.o.owners.find(okey);
      if (entry !== null && okey !== null && this.routeToOwner(entry, okey, req, res, plan)) return;
    }
    const lease = new RequestLease(this.inner.upstreamFor(plan), this.leases, this, req, plan, session);
    this.inner.send(req, res, plan, url, session, lease, lease);
  }

  /** A leased connection's answer asked for state-aware mode: the session is owned here from now. */
  adopt(key: string | null, req: http.IncomingMessage, member: LeasedMember | null): void {
    if (member === null) return;
    if (key === null) {
      log('proxy').warn({ url: req.url }, 'the backend asked for state-aware mode, but the request has no session and none could be made; ignored');
      return;
    }
    this.sessions.adopt(key, ownerKey(key), member, req);
  }

  close(): Promise<void> {
    sessionEvents.off('authenticated', this.onRenewed);
    sessionEvents.off('invalidated', this.onEnded);
    sessionEvents.off('expired', this.onEnded);
    this.sessions.close();
    this.receiver?.close();
    this.receiver = null;
    return Promise.all([this.inner.close(), this.leases.close(), this.routes.close(), this.ipc?.close()]).then(() => undefined);
  }

  /** Whether the request went to the owner (or was answered for a dead one). */
  private routeToOwner(entry: OwnerEntry, okey: OwnerKey, req: http.IncomingMessage, res: http.ServerResponse, plan: ProxyPlan): boolean {
    const me = this.o.me;
    const session = sessionLabel(okey);
    const alive = entry.state !== ORPHAN && this.o.scoreboard.pid(entry.slot) === entry.pid;
    if (!alive) {
      if (this.o.owners.remove(entry)) {
        log('proxy').error(
          { session, owner: entry.pid, pid: me.pid },
          `state-aware session ${session}: its owner pid ${entry.pid} died and its private backend connection with it; the session leaves state-aware mode; answering 502`,
        );
      }
      if (!req.complete) res.shouldKeepAlive = false;
      answerPlain(res, 502);
      return true;
    }
    if (entry.pid === me.pid && entry.thread === me.thread) {
      // An entry of this loop that it no longer holds (cannot happen short of a bug): drop it.
      this.o.owners.remove(entry);
      return false;
    }
    const path = ipcSocketPath(this.o.runtimeDir, entry.pid, entry.thread);
    const owners = this.o.owners;
    this.routes.route(req, res, { ownerPid: entry.pid, path, session, forget: () => owners.remove(entry) }, plan.timeout);
    return true;
  }

  private startIpc(): void {
    if (this.ipc !== null || this.handler === null) return;
    const me = this.o.me;
    this.ipc = new IpcServer(ipcSocketPath(this.o.runtimeDir, me.pid, me.thread), this.handler, this.o.headersTimeout);
    this.ipc.listen();
    if (this.adoptConnection !== null) {
      this.receiver = new HandoffReceiver(handoffSocketPath(this.o.runtimeDir, me.pid, me.thread), this.adoptConnection);
      this.receiver.listen();
    }
  }
}
