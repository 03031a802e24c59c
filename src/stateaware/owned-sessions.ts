// The state-aware sessions one serving event loop owns: each one's private connection, its entry
// in the shared owner table (so other children route its requests here) and its count in the
// scoreboard. A session ends when the backend says X-StateAware: off, when the backend closes
// the private connection, when it has been idle StateAwareSessionTimeout, or when its owner
// retires and the grace it has for its sessions runs out.
import type http from 'node:http';
import { log, logs } from '../log/logger';
import type { Outcome, Upstream, UpstreamMember } from '../proxy/upstream';
import { ALREADY_OWNED, TABLE_FULL, type OwnerKey, type OwnerTable } from '../shm/owners';
import type { Scoreboard } from '../shm/scoreboard';
import type { LeasedMember } from './leases';
import { sessionLabel } from './session-key';

/** One owned session; it is also the Upstream its requests use, with the one member it has. */
export class OwnedSession implements Upstream {
  lastUsed = Date.now();
  inFlight = 0;
  /** The backend said X-StateAware: off: the session ends after the response in flight. */
  ending = false;
  label: string;

  constructor(
    /** The session id. */
    public key: string,
    public ownerKey: OwnerKey,
    readonly member: LeasedMember,
    private readonly owner: OwnedSessions,
  ) {
    this.label = sessionLabel(ownerKey);
  }

  pick(): UpstreamMember {
    this.inFlight++;
    this.lastUsed = Date.now();
    return this.member;
  }

  done(_member: UpstreamMember, _outcome: Outcome): void {
    this.inFlight--;
    this.lastUsed = Date.now();
    if (this.ending && this.inFlight === 0) this.owner.end(this, 'the backend ended state-aware mode (X-StateAware: off)');
  }
}

export interface OwnerIdentity {
  pid: number;
  /** Scoreboard process slot. */
  slot: number;
  /** Worker-MPM thread, 0 for a child with one event loop. */
  thread: number;
}

export class OwnedSessions {
  private readonly byKey = new Map<string, OwnedSession>();
  private sweep: NodeJS.Timeout | null = null;
  private retiring: { deadline: number; resolve: () => void; othersGone: boolean } | null = null;

  constructor(
    private readonly owners: OwnerTable,
    private readonly scoreboard: Scoreboard,
    private readonly me: OwnerIdentity,
    private readonly timeoutMs: number,
    /** Called before the first session is owned: the IPC server must listen by then. */
    private readonly beforeFirst: () => void,
  ) {}

  get count(): number {
    return this.byKey.size;
  }

  get(key: string): OwnedSession | undefined {
    return this.byKey.get(key);
  }

  /**
   * Makes the session state-aware here, on the leased connection `member`. Null when another
   * loop owns it already or the owner table is full; the lease then goes back as usual.
   */
  adopt(key: string, ownerKey: OwnerKey, member: LeasedMember, req: http.IncomingMessage): OwnedSession | null {
    const existing = this.byKey.get(key);
    if (existing !== undefined) return existing;
    this.beforeFirst();
    const me = this.me;
    const at = this.owners.insert(ownerKey, me.pid, me.slot, me.thread);
    const label = sessionLabel(ownerKey);
    if (at === TABLE_FULL) {
      log('proxy').warn({ session: label, limit: this.owners.limit }, `StateAwareSessionLimit ${this.owners.limit} reached: session ${label} stays an ordinary one`);
      return null;
    }
    if (at === ALREADY_OWNED) {
      log('proxy').info({ session: label }, `session ${label} became state-aware in another child first; this one keeps routing to it`);
      return null;
    }
    member.adopted = true;
    const session = new OwnedSession(key, ownerKey, member, this);
    this.byKey.set(key, session);
    this.scoreboard.addStateAwareSessions(me.slot, 1);
    member.dispatcher.on('disconnect', onDisconnect.bind(session, this));
    this.sweep ??= setInterval(() => this.expire(), Math.min(1000, Math.max(50, this.timeoutMs / 4))).unref();
    log('proxy').info(
      { session: label, pid: me.pid, thread: me.thread, backend: member.name, url: req.url },
      `session ${label} is state-aware: its requests go to ${member.name} over one private connection held by pid ${me.pid}`,
    );
    return session;
  }

  /** The session's id changed (renewal on login): other children find it by the new one now. */
  rekey(oldKey: string, newKey: string, newOwnerKey: OwnerKey): void {
    const session = this.byKey.get(oldKey);
    if (session === undefined) return;
    const me = this.me;
    if (this.owners.insert(newOwnerKey, me.pid, me.slot, me.thread) < 0) {
      this.end(session, 'its id was renewed and the new one could not be recorded');
      return;
    }
    const old = this.owners.find(session.ownerKey);
    if (old !== null && old.pid === me.pid && old.thread === me.thread) this.owners.remove(old);
    this.byKey.delete(oldKey);
    session.key = newKey;
    session.ownerKey = newOwnerKey;
    const label = sessionLabel(newOwnerKey);
    log('proxy').info({ session: label, was: session.label }, `state-aware session ${session.label} renewed its id: now ${label}`);
    session.label = label;
    this.byKey.set(newKey, session);
  }

  /** Ends the session: its private connection closes and other children stop routing it here. */
  end(session: OwnedSession, reason: string): void {
    if (this.byKey.get(session.key) !== session) return;
    this.byKey.delete(session.key);
    const entry = this.owners.find(session.ownerKey);
    if (entry !== null && entry.pid === this.me.pid && entry.thread === this.me.thread) this.owners.remove(entry);
    this.scoreboard.addStateAwareSessions(this.me.slot, -1);
    void session.member.dispatcher.close();
    log('proxy').info({ session: session.label, reason }, `state-aware session ${session.label} ended: ${reason}`);
    this.settleRetirement();
  }

  /**
   * The loop stopped accepting: resolves once every session has ended. `graceMs` bounds the wait
   * (StateAwareSessionTimeout when the child is recycled); null for a graceful stop, where the
   * sessions are kept only while another child may still route requests here (the master's
   * ExitTimeout bounds it).
   */
  retire(graceMs: number | null): Promise<void> {
    if (this.byKey.size === 0) return Promise.resolve();
    log('child').notice(
      { sessions: this.byKey.size, graceMs },
      `not accepting; keeping ${this.byKey.size} state-aware session(s) until they end${graceMs === null ? '' : ` or ${Math.round(graceMs / 1000)}s pass`}`,
    );
    return new Promise((resolve) => {
      this.retiring = { deadline: graceMs === null ? Infinity : Date.now() + graceMs, resolve, othersGone: graceMs === null };
      this.sweep ??= setInterval(() => this.expire(), 1000).unref();
    });
  }

  /** Ends every session now. */
  close(): void {
    for (const session of [...this.byKey.values()]) this.end(session, 'the child is stopping');
    if (this.sweep) clearInterval(this.sweep);
    this.sweep = null;
  }

  private expire(): void {
    const now = Date.now();
    const r = this.retiring;
    const cut = r !== null && (now >= r.deadline || (r.othersGone && !this.othersLive()));
    for (const session of [...this.byKey.values()]) {
      if (cut) this.end(session, now >= (r?.deadline ?? 0) ? 'its owner is retiring and StateAwareSessionTimeout passed' : 'no other child is left to route it');
      else if (session.inFlight === 0 && now - session.lastUsed >= this.timeoutMs) this.end(session, 'idle for StateAwareSessionTimeout');
    }
    if (logs('proxy', 'debug') && this.byKey.size > 0) log('proxy').debug({ sessions: this.byKey.size }, 'state-aware sessions owned');
  }

  /** Whether another child process is alive (a graceful stop drains every child at once). */
  private othersLive(): boolean {
    for (let slot = 0; slot < this.scoreboard.serverLimit; slot++) {
      const pid = this.scoreboard.pid(slot);
      if (pid !== 0 && pid !== this.me.pid) return true;
    }
    return false;
  }

  private settleRetirement(): void {
    if (this.retiring === null || this.byKey.size > 0) return;
    const { resolve } = this.retiring;
    this.retiring = null;
    resolve();
  }
}

function onDisconnect(this: OwnedSession, owner: OwnedSessions, _origin: unknown, _targets: unknown, err: Error | null): void {
  owner.end(this, `the backend closed the private connection${err ? ` (${err.message})` : ''}`);
}
