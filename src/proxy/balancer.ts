// A balancer://name target (mod_proxy_balancer). Each request goes to the member its sticky
// session names when that member is usable; otherwise lbmethod chooses among the usable members,
// then among the hot standbys (status=+H) when no other is usable. A member whose retry= time has
// come after a connection failure takes the next request as its trial.
//
// byrequests is Apache's weighted round robin: every usable member gains its loadfactor, the one
// with most credit is chosen and pays the total, so members are chosen in proportion to
// loadfactor, evenly interleaved. bybusyness chooses the member with fewest requests in flight
// from this event loop, ties broken the byrequests way.
import type http from 'node:http';
import type { BalancerSpec } from '../config/upstreams';
import { sessionMember } from './balancer-sticky';
import type { Outcome, Upstream, UpstreamMember } from './upstream';
import { OUT, TRIAL } from './upstream-member';
import type { Member } from './upstream-member';

export class Balancer implements Upstream {
  /** Members lbmethod may choose: not stopped, not standby, not draining. */
  private readonly regular: Member[];
  private readonly standby: Member[];
  /** Members a sticky session may name (draining ones included). */
  private readonly routed: Member[];
  private readonly byBusyness: boolean;

  constructor(
    private readonly spec: BalancerSpec,
    members: readonly Member[],
  ) {
    const live = members.filter((m) => !m.spec.status.stopped);
    this.regular = live.filter((m) => !m.spec.status.standby && !m.spec.status.drain);
    this.standby = live.filter((m) => m.spec.status.standby && !m.spec.status.drain);
    this.routed = live.filter((m) => m.spec.route !== '');
    this.byBusyness = spec.lbmethod === 'bybusyness';
  }

  pick(req: http.IncomingMessage): UpstreamMember | null {
    const sticky = this.spec.sticky;
    if (sticky !== null) {
      const named = sessionMember(req, sticky, this.spec.stickySeparator, this.routed);
      if (named !== null) {
        if (named.state() !== OUT) return named.take();
        if (this.spec.noFailover) return null;
      }
    }
    return this.best(this.regular) ?? this.best(this.standby);
  }

  done(member: UpstreamMember, outcome: Outcome): void {
    (member as Member).settle(outcome);
  }

  private best(members: readonly Member[]): Member | null {
    let chosen: Member | null = null;
    let total = 0;
    for (const m of members) {
      const state = m.state();
      if (state === OUT) continue;
      if (state === TRIAL) {
        // Credit handed out so far this round goes back, keeping the sum of lbstatus at zero.
        m.lbstatus -= total;
        return m.take();
      }
      m.lbstatus += m.spec.loadFactor;
      total += m.spec.loadFactor;
      if (chosen === null || this.before(m, chosen)) chosen = m;
    }
    if (chosen === null) return null;
    chosen.lbstatus -= total;
    return chosen.take();
  }

  private before(a: Member, b: Member): boolean {
    if (this.byBusyness && a.busy !== b.busy) return a.busy < b.busy;
    return a.lbstatus > b.lbstatus;
  }
}
