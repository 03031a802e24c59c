// One backend as one serving event loop sees it: its pool, its requests in flight here, its
// balancing weight, and its record in the shared health table, which decides whether it may
// take requests. pick and done run for every request: nothing here allocates on that path.
import type { Dispatcher } from 'undici';
import type { BackendSpec } from '../config/upstreams';
import { log } from '../log/logger';
import { IN_ERROR, TICK_MS } from '../shm/health';
import type { HealthTable } from '../shm/health';
import type { DnsCache } from './dns-cache';
import type { Outcome, UpstreamMember } from './upstream';
import { backendDispatcher } from './upstream-dispatcher';

export const USABLE = 0;
/** In error, and this call claimed the retry: the request it is picked for is the trial. */
export const TRIAL = 1;
export const OUT = 2;
export type MemberState = typeof USABLE | typeof TRIAL | typeof OUT;

export function ticks(ms: number): number {
  return Math.max(1, Math.ceil(ms / TICK_MS));
}

export class Member implements UpstreamMember {
  readonly name: string;
  readonly origin: string;
  readonly host: string;
  readonly dispatcher: Dispatcher;
  /** Requests this loop has in flight to it (lbmethod=bybusyness). */
  busy = 0;
  /** Apache's lbstatus: weighted round robin credit. */
  lbstatus = 0;
  private readonly slot: number;
  private readonly retryTicks: number;
  /** Connection failures put it out (not retry=0, not status=+I). */
  private readonly outOnFailure: boolean;
  /** This loop sent the trial request of a retry and has not heard how it went. */
  private trial = false;

  constructor(
    readonly spec: BackendSpec,
    private readonly health: HealthTable,
    private readonly dns: DnsCache,
    /** For logs: the balancer it belongs to. */
    readonly balancer: string | null,
  ) {
    const url = new URL(spec.origin);
    this.name = spec.name;
    this.origin = spec.origin;
    this.host = url.host;
    this.dispatcher = backendDispatcher(spec, dns);
    this.slot = health.find(spec.key);
    if (this.slot < 0) throw new Error(`${spec.key} has no record in the health table`);
    this.retryTicks = ticks(spec.retry);
    this.outOnFailure = spec.retry > 0 && !spec.status.ignoreErrors;
  }

  privateDispatcher(idleMs: number): Dispatcher {
    return backendDispatcher(this.spec, this.dns, { privateIdleMs: idleMs });
  }

  get healthSlot(): number {
    return this.slot;
  }

  /** Whether it may take a request now; TRIAL obliges the caller to send it this one. */
  state(): MemberState {
    const flags = this.health.flags(this.slot);
    if (flags === 0) return USABLE;
    if (flags !== IN_ERROR || !this.health.claimRetry(this.slot, this.retryTicks)) return OUT;
    this.trial = true;
    return TRIAL;
  }

  take(): this {
    this.busy++;
    return this;
  }

  settle(outcome: Outcome): void {
    this.busy--;
    if (outcome === 'connect-failure') {
      this.trial = false;
      if (this.outOnFailure && this.health.markError(this.slot, this.retryTicks)) {
        log('proxy').error(
          { backend: this.name, balancer: this.balancer, retry: this.spec.retry / 1000 },
          `member out: ${this.name}: connecting failed; tried again after retry=${this.spec.retry / 1000}s`,
        );
      }
    } else if (this.trial) {
      // Connected: whatever the answer, the backend takes connections again.
      this.trial = false;
      if (this.health.clearError(this.slot)) {
        log('proxy').notice({ backend: this.name, balancer: this.balancer }, `member back in: ${this.name}: it took the request tried after retry=`);
      }
    }
  }
}
