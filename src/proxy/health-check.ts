// Active health checks (mod_proxy_hcheck). Every serving event loop looks at the shared health
// table a few times per interval; the one that finds a member's probe due claims it (see
// src/shm/health.ts), so one probe runs per hcinterval across all children, and probing goes on
// whichever children come and go. Only the status code of the answer counts, as with
// nevisProxy's IsAliveURI. hcfails failed probes in a row take a member out, hcpasses good ones
// bring it back, and a good probe also ends a retry= wait.
import type { Dispatcher } from 'undici';
import type { HealthCheckSpec } from '../config/upstreams';
import { log } from '../log/logger';
import type { HealthTable } from '../shm/health';
import type { DnsCache } from './dns-cache';
import { backendDispatcher, tcpConnector } from './upstream-dispatcher';
import { ticks } from './upstream-member';
import type { Member } from './upstream-member';

/** How often each loop looks, bounded so that short intervals stay punctual and long ones cheap. */
const MIN_TICK_MS = 100;
const MAX_TICK_MS = 1000;

interface Checked {
  member: Member;
  hc: HealthCheckSpec;
  intervalTicks: number;
  /** The probe of the last claim has not finished. */
  running: boolean;
  /** Made at the first probe: hcmethod=TCP connects, the others request. */
  connect: ReturnType<typeof tcpConnector> | null;
  dispatcher: Dispatcher | null;
}

export class HealthChecker {
  private readonly checked: Checked[];
  private timer: NodeJS.Timeout | null = null;

  constructor(
    members: readonly Member[],
    private readonly health: HealthTable,
    private readonly dns: DnsCache,
  ) {
    this.checked = members.flatMap((member) => {
      const hc = member.spec.health;
      if (hc === null || member.spec.status.stopped) return [];
      return [{ member, hc, intervalTicks: ticks(hc.interval), running: false, connect: null, dispatcher: null }];
    });
  }

  start(): void {
    if (this.checked.length === 0) return;
    const shortest = Math.min(...this.checked.map((c) => c.hc.interval));
    const every = Math.min(MAX_TICK_MS, Math.max(MIN_TICK_MS, Math.floor(shortest / 10)));
    this.timer = setInterval(() => this.look(), every).unref();
    this.look();
  }

  /** A probe in flight is abandoned: a loop that is ending has no use for its answer. */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await Promise.all(this.checked.map((c) => c.dispatcher?.destroy()));
  }

  private look(): void {
    for (const c of this.checked) {
      if (!c.running && this.health.claimProbe(c.member.healthSlot, c.intervalTicks)) this.probe(c);
    }
  }

  private probe(c: Checked): void {
    c.running = true;
    const { hc, member } = c;
    const limit = Math.min(hc.interval, member.spec.timeout);
    const finish = (failure: string | null) => {
      c.running = false;
      if (this.timer !== null) this.record(c, failure);
    };
    if (hc.method === 'TCP') {
      c.connect ??= tcpConnector(member.spec, this.dns);
      c.connect((err) => finish(err ? (err as Error & { code?: string }).code ?? err.message : null));
      return;
    }
    c.dispatcher ??= backendDispatcher(member.spec, this.dns, { probe: true });
    c.dispatcher
      .request({
        method: hc.method,
        path: hc.uri,
        headers: { host: member.host, 'user-agent': 'mpmproxy-hcheck' },
        headersTimeout: limit,
        bodyTimeout: limit,
        signal: AbortSignal.timeout(limit),
      })
      .then(async (res) => {
        await res.body.dump();
        const ok = hc.expect.some(([low, high]) => res.statusCode >= low && res.statusCode <= high);
        finish(ok ? null : `status ${res.statusCode}`);
      })
      .catch((err: Error & { code?: string }) => finish(err.code ?? err.message));
  }

  private record(c: Checked, failure: string | null): void {
    const { member, hc } = c;
    const slot = member.healthSlot;
    const fields = { backend: member.name, balancer: member.balancer, probe: `${hc.method} ${hc.uri}` };
    if (failure === null) {
      log('proxy').debug(fields, 'health check passed');
      if (this.health.probePassed(slot, hc.passes)) log('proxy').notice(fields, `member back in: ${member.name}: health check passed`);
      return;
    }
    log('proxy').debug({ ...fields, failure }, 'health check failed');
    if (this.health.probeFailed(slot, hc.fails)) {
      log('proxy').error({ ...fields, failure }, `member out: ${member.name}: ${hc.fails} health check(s) in a row failed (${failure})`);
    }
  }
}
