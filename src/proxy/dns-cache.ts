// Backend host names resolved once and reused (nevisProxy's DNSCache.ttl, Apache's addressttl=):
// without it every new backend connection waits for a lookup. An answer older than its TTL is
// still used while a new lookup runs in the background; a lookup that fails keeps the old
// answer, so a DNS outage does not take backends down with it.
import dns from 'node:dns';
import type { LookupFunction } from 'node:net';
import { log } from '../log/logger';

type Resolve = (hostname: string, callback: (err: NodeJS.ErrnoException | null, addresses: dns.LookupAddress[]) => void) => void;

type Callback = Parameters<LookupFunction>[2];

interface Entry {
  addresses: dns.LookupAddress[];
  /** When the answer was received (0 while the first lookup runs), or last failed to refresh. */
  at: number;
  refreshing: boolean;
  /** Connections waiting for the first answer. */
  waiting: Array<{ options: dns.LookupOptions; callback: Callback }>;
}

/** After a failed refresh the old answer is kept, and the lookup retried no sooner than this. */
const RETRY_FAILED_MS = 10_000;

const systemResolve: Resolve = (hostname, callback) => dns.lookup(hostname, { all: true }, callback);

export class DnsCache {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly resolve: Resolve = systemResolve) {}

  /** A `lookup` for net.connect whose answers live `ttlMs` (0: resolve every time). */
  lookupFor(ttlMs: number): LookupFunction {
    if (ttlMs === 0) return dns.lookup as LookupFunction;
    return (hostname, options, callback) => this.lookup(hostname, options, callback, ttlMs);
  }

  private lookup(hostname: string, options: dns.LookupOptions, callback: Callback, ttlMs: number): void {
    const entry = this.entries.get(hostname);
    if (entry === undefined) {
      const fresh: Entry = { addresses: [], at: 0, refreshing: true, waiting: [{ options, callback }] };
      this.entries.set(hostname, fresh);
      this.refresh(hostname, fresh, ttlMs);
      return;
    }
    if (entry.at === 0) {
      entry.waiting.push({ options, callback });
      return;
    }
    if (!entry.refreshing && Date.now() - entry.at >= ttlMs) {
      entry.refreshing = true;
      this.refresh(hostname, entry, ttlMs);
    }
    answer(entry.addresses, options, callback);
  }

  private refresh(hostname: string, entry: Entry, ttlMs: number): void {
    this.resolve(hostname, (err, addresses) => {
      entry.refreshing = false;
      const waiting = entry.waiting;
      entry.waiting = [];
      if (err || addresses.length === 0) {
        if (entry.at === 0) {
          // Never resolved: the connections fail, and the next one asks again.
          this.entries.delete(hostname);
          const failure = err ?? Object.assign(new Error(`${hostname} has no address`), { code: 'ENOTFOUND' });
          for (const w of waiting) w.callback(failure, '', 0);
          return;
        }
        log('proxy').warn(
          { host: hostname, err: err?.code ?? 'no address', keep: entry.addresses.map((a) => a.address) },
          'refreshing a backend host name failed; keeping the addresses it had',
        );
        entry.at = Date.now() - ttlMs + Math.min(ttlMs, RETRY_FAILED_MS);
        return;
      }
      entry.addresses = addresses;
      entry.at = Date.now();
      log('proxy').debug({ host: hostname, addresses: addresses.map((a) => a.address), ttl: ttlMs / 1000 }, 'resolved backend host name');
      for (const w of waiting) answer(addresses, w.options, w.callback);
    });
  }
}

/** net.connect asks for every address when it tries families in turn (autoSelectFamily), for
 * one otherwise. */
function answer(addresses: dns.LookupAddress[], options: dns.LookupOptions, callback: Callback): void {
  const family = options.family === 'IPv4' ? 4 : options.family === 'IPv6' ? 6 : options.family;
  const usable = family ? addresses.filter((a) => a.family === family) : addresses;
  if (usable.length === 0) {
    callback(Object.assign(new Error(`no IPv${family} address`), { code: 'ENOTFOUND' }), '', 0);
  } else if (options.all) {
    callback(null, usable);
  } else {
    callback(null, usable[0].address, usable[0].family);
  }
}
