// What a host's TLS settings become in Node: `secureContextOptions` is the one place they turn
// into Node's options, for any server that terminates TLS (HTTP/1.1 here, an HTTP/2 secure server
// alike); the contexts SNI switches to; and the choice of ticket key a handshake starts with.
import crypto from 'node:crypto';
import tls from 'node:tls';
import { TlsError } from '../errors';
import type { TlsCache, TicketKeys } from '../shm/tls-cache';
import type { TlsHost, TlsSettings } from './settings';

/** One for every host, child and generation: a session resumes on any child after any reload,
 * and on whichever virtual host SNI names (SSLVerifyClient is checked again on each connection,
 * see terminator.ts, so a session cannot carry a client past a stricter host). */
const SESSION_ID_CONTEXT = 'mpmproxy';

export function secureContextOptions(host: TlsHost, t: TlsSettings): tls.SecureContextOptions {
  return {
    cert: host.certificates.map((c) => c.cert),
    key: host.certificates.map((c) => c.key),
    ...(host.ca !== null && { ca: host.ca }),
    minVersion: host.protocols.min,
    maxVersion: host.protocols.max,
    ciphers: host.ciphers,
    honorCipherOrder: host.honorCipherOrder,
    sessionIdContext: SESSION_ID_CONTEXT,
    sessionTimeout: Math.ceil(t.sessionTimeout / 1000),
    // TLS 1.3 then issues stateful tickets, which only this child's own cache can resume.
    ...(!t.sessionTickets && { secureOptions: crypto.constants.SSL_OP_NO_TICKET }),
  };
}

/** The contexts SNI switches to, one per host, built when first asked for. */
export class HostContexts {
  private readonly byHost = new Map<number, tls.SecureContext>();

  constructor(private readonly t: TlsSettings) {}

  get(index: number): tls.SecureContext {
    let ctx = this.byHost.get(index);
    if (ctx === undefined) {
      ctx = tls.createSecureContext(secureContextOptions(tlsHost(this.t, index), this.t));
      this.byHost.set(index, ctx);
    }
    return ctx;
  }
}

export function tlsHost(t: TlsSettings, index: number): TlsHost {
  const host = t.hosts[index];
  if (!host) throw new TlsError(`${index === 0 ? 'the main server' : `virtual host ${index}`} has no certificate`);
  return host;
}

/** Picks, from the keys in the shared cache, the one a handshake starts with: the previous key
 * for a ticket sealed with it, else the current one. Reads the keys again after a rotation. */
export class TicketKeyChoice {
  private keys: TicketKeys | null = null;

  constructor(private readonly cache: TlsCache) {}

  /** Null before the master wrote a key. */
  choose(ticketKey: Buffer | null): Buffer | null {
    if (this.cache.keyGeneration !== this.keys?.generation) this.keys = this.cache.ticketKeys();
    const keys = this.keys;
    if (keys === null) return null;
    return ticketKey !== null && keys.previous !== null && named(keys.previous, ticketKey) ? keys.previous : keys.current;
  }

  /** Whether `key` is still the current or the previous key. */
  live(key: Buffer): boolean {
    return this.keys !== null && (key.equals(this.keys.current) || (this.keys.previous !== null && key.equals(this.keys.previous)));
  }
}

function named(key: Buffer, name: Buffer): boolean {
  return key.compare(name, 0, name.length, 0, name.length) === 0;
}
