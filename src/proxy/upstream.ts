// Where a proxied request goes. A route's target (a backend URL, or later a balancer) is an
// Upstream; it picks the member that takes each request and hears how the request went, which
// is what balancing, retry timeouts and busyness counting need. One registry per serving event
// loop: undici pools are per thread.
import type http from 'node:http';
import { Pool } from 'undici';
import type { Dispatcher } from 'undici';

export interface UpstreamMember {
  /** For logs: the backend as configured. */
  readonly name: string;
  /** scheme://host:port */
  readonly origin: string;
  /** host[:port], the Host header the backend gets (unless ProxyPreserveHost). */
  readonly host: string;
  readonly dispatcher: Dispatcher;
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

export interface PoolOptions {
  /** Wait for response headers and between body chunks (Apache's Timeout). */
  timeout: number;
}

/** One backend URL: one keep-alive pool, always tried. */
class SingleBackend implements Upstream {
  readonly member: UpstreamMember;

  constructor(url: URL, o: PoolOptions) {
    this.member = {
      name: url.origin,
      origin: url.origin,
      host: url.host,
      dispatcher: new Pool(url.origin, {
        headersTimeout: o.timeout,
        bodyTimeout: o.timeout,
        keepAliveTimeout: 4000,
        pipelining: 1,
      }),
    };
  }

  pick(): UpstreamMember {
    return this.member;
  }

  done(): void {}
}

export function createUpstreams(o: PoolOptions): Upstreams {
  const byOrigin = new Map<string, SingleBackend>();
  return {
    get(target: string): Upstream {
      const url = new URL(target);
      let u = byOrigin.get(url.origin);
      if (!u) {
        u = new SingleBackend(url, o);
        byOrigin.set(url.origin, u);
      }
      return u;
    },
    close: () => Promise.all([...byOrigin.values()].map((u) => u.member.dispatcher.close())).then(() => undefined),
  };
}
