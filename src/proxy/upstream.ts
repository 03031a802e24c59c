// Where a proxied request goes. A route's target (a backend URL or a balancer://) is an
// Upstream; it picks the member that takes each request and hears how the request went, which
// is what balancing, retry timeouts and busyness counting need. One registry per serving event
// loop: undici pools are per thread. Whether a member may take requests lives in the health
// table that every child shares (src/shm/health.ts).
import type http from 'node:http';
import type { Dispatcher } from 'undici';
import type { Settings } from '../config/types';
import { balancerName, memberKeys } from '../config/upstreams';
import { log } from '../log/logger';
import type { HealthTable } from '../shm/health';
import { sharedHealth } from '../shm/health-segment';
import { Balancer } from './balancer';
import { DnsCache } from './dns-cache';
import { HealthChecker } from './health-check';
import { Member, OUT } from './upstream-member';

export interface UpstreamMember {
  /** For logs: the backend as configured. */
  readonly name: string;
  /** scheme://host:port */
  readonly origin: string;
  /** host[:port], the Host header the backend gets (unless ProxyPreserveHost). */
  readonly host: string;
  readonly dispatcher: Dispatcher;
  /** A new dispatcher of one connection to this member, for one state-aware session alone;
   * idle up to `idleMs` before it closes. */
  privateDispatcher(idleMs: number): Dispatcher;
  /** Its connection carries state the backend bound to it (a state-aware session's own): a
   * request the client abandons after it went out whole has its answer drained, not its
   * connection closed (src/proxy/keep-on-abandon.ts). */
  readonly keepsConnection?: boolean;
}

export type Outcome = 'ok' | 'connect-failure' | 'failure';

export interface Upstream {
  /** The member for this request, or null when none may take it now (the caller answers 503). */
  pick(req: http.IncomingMessage): UpstreamMember | null;
  /** The backend answered (or failed to); every pick is followed by exactly one done. */
  done(member: UpstreamMember, outcome: Outcome): void;
}

export interface Upstreams {
  /** The upstream for a route target, as written in ProxyPass. */
  get(target: string): Upstream;
  close(): Promise<void>;
}

/** A ProxyPass URL: one backend, tried unless it is out. */
class SingleBackend implements Upstream {
  constructor(private readonly member: Member) {}

  pick(): UpstreamMember | null {
    return this.member.state() === OUT ? null : this.member.take();
  }

  done(member: UpstreamMember, outcome: Outcome): void {
    (member as Member).settle(outcome);
  }
}

/** A target no configuration names (routes and upstreams come from one Settings, so only a
 * caller building its own would meet one): answered 503, and said once. */
class Unknown implements Upstream {
  constructor(target: string) {
    log('proxy').error({ backend: target }, 'no backend or balancer is configured for this target');
  }

  pick(): null {
    return null;
  }

  done(): void {}
}

/** `health` is the table this event loop shares with the server unless a caller brings its own. */
export function createUpstreams(settings: Settings, health: HealthTable = sharedHealth(memberKeys(settings.upstreams))): Upstreams {
  const u = settings.upstreams;
  const dns = new DnsCache();
  const members: Member[] = [];
  const member = (spec: Member['spec'], balancer: string | null): Member => {
    const m = new Member(spec, health, dns, balancer);
    members.push(m);
    return m;
  };
  const byOrigin = new Map(u.backends.map((b) => [b.origin, new SingleBackend(member(b, null))]));
  const byBalancer = new Map(u.balancers.map((b) => [b.name, new Balancer(b, b.members.map((m) => member(m, b.name)))]));
  const checker = new HealthChecker(members, health, dns);
  checker.start();
  // Targets as the request path writes them; each is parsed once.
  const byTarget = new Map<string, Upstream>();
  const find = (target: string): Upstream => {
    const url = new URL(target);
    const found = url.protocol === 'balancer:' ? byBalancer.get(balancerName(target)) : byOrigin.get(url.origin);
    return found ?? new Unknown(target);
  };
  return {
    get(target: string): Upstream {
      let upstream = byTarget.get(target);
      if (upstream === undefined) {
        upstream = find(target);
        byTarget.set(target, upstream);
      }
      return upstream;
    },
    close: async () => {
      await checker.close();
      await Promise.all(members.map((m) => m.dispatcher.close()));
    },
  };
}
