// Connections a request holds alone. A backend binds a session's state to the connection that
// carried the request it answered with X-StateAware: on (or with an NTLM challenge), so such a
// request must travel on a connection the proxy can name and keep: one dispatcher of one
// connection, leased for the request. When the response makes the session state-aware the lease
// is adopted and becomes the session's private connection; otherwise it goes back for the next
// request. A pool's connections could not be told apart.
import type http from 'node:http';
import type { Dispatcher } from 'undici';
import type { Outcome, Upstream, UpstreamMember } from '../proxy/upstream';

/** A member as one request sees it: the member's facts, a connection of its own. */
export class LeasedMember implements UpstreamMember {
  /** The session took the connection: it does not go back. */
  adopted = false;

  constructor(
    readonly inner: UpstreamMember,
    readonly dispatcher: Dispatcher,
  ) {}

  get name(): string {
    return this.inner.name;
  }
  get origin(): string {
    return this.inner.origin;
  }
  get host(): string {
    return this.inner.host;
  }
  /** Only a session's own connection: a lease still goes back to be leased again, and a
   * connection whose answer was never seen must not. */
  get keepsConnection(): boolean {
    return this.adopted;
  }
  privateDispatcher(idleMs: number): Dispatcher {
    return this.inner.privateDispatcher(idleMs);
  }
}

export class Leases {
  private readonly idle = new Map<UpstreamMember, Dispatcher[]>();

  /** `idleMs`: how long a connection may wait for its session's next request. `keepIdle`: idle
   * connections kept per member, as many as the loop serves requests at once, so that a steady
   * load never closes and reopens backend connections; more are closed when given back. */
  constructor(
    private readonly idleMs: number,
    private readonly keepIdle: number,
  ) {}

  take(member: UpstreamMember): Dispatcher {
    return this.idle.get(member)?.pop() ?? member.privateDispatcher(this.idleMs);
  }

  giveBack(member: UpstreamMember, dispatcher: Dispatcher): void {
    let list = this.idle.get(member);
    if (list === undefined) this.idle.set(member, (list = []));
    if (list.length < this.keepIdle) list.push(dispatcher);
    else void dispatcher.close();
  }

  close(): Promise<void> {
    const all = [...this.idle.values()].flat();
    this.idle.clear();
    return Promise.all(all.map((d) => d.close())).then(() => undefined);
  }
}

/** A route's upstream whose members come with a leased connection each. */
export class LeasedUpstream implements Upstream {
  constructor(
    private readonly inner: Upstream,
    private readonly leases: Leases,
  ) {}

  pick(req: http.IncomingMessage): LeasedMember | null {
    const member = this.inner.pick(req);
    return member === null ? null : new LeasedMember(member, this.leases.take(member));
  }

  done(member: UpstreamMember, outcome: Outcome): void {
    const leased = member as LeasedMember;
    this.inner.done(leased.inner, outcome);
    if (!leased.adopted) this.leases.giveBack(leased.inner, leased.dispatcher);
  }
}
