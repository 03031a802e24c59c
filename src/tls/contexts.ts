// The secure contexts of one serving event loop, built once from the settings: per host, the
// context SNI switches to (certificate, CA, protocols, ciphers), and per host and ticket key the
// context a handshake starts with, whose ticket key seals and opens the session tickets.
// `secureContextOptions` is the one place a host's settings become Node's options, for any
// server that terminates TLS (HTTP/1.1 here, an HTTP/2 secure server alike).
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

export class ServerContexts {
  private readonly byHost = new Map<number, tls.SecureContext>();
  /** `${host}:${key name}` → context sealing tickets with that key. */
  private readonly byKey = new Map<string, tls.SecureContext>();
  private keys: TicketKeys | null = null;

  constructor(
    private readonly t: TlsSettings,
    /** Null: tickets (if on) are sealed with a key of this process's own. */
    private readonly cache: TlsCache | null,
  ) {}

  host(index: number): tls.SecureContext {
    let ctx = this.byHost.get(index);
    if (ctx === undefined) {
      ctx = tls.createSecureContext(secureContextOptions(this.tlsHost(index), this.t));
      this.byHost.set(index, ctx);
    }
    return ctx;
  }

  /** The context a handshake on host `index` starts with, given the key name of the ticket the
   * client offers (null: none): the previous key's when the ticket was sealed with it. */
  initial(index: number, ticketKey: Buffer | null): tls.SecureContext {
    if (!this.t.sessionTickets || this.cache === null) return this.host(index);
    const keys = this.currentKeys();
    if (keys === null) return this.host(index);
    const key = ticketKey !== null && keys.previous !== null && named(keys.previous, ticketKey) ? keys.previous : keys.current;
    const id = `${index}:${key.toString('hex', 0, 16)}`;
    let ctx = this.byKey.get(id);
    if (ctx === undefined) {
      ctx = tls.createSecureContext({ ...secureContextOptions(this.tlsHost(index), this.t), ticketKeys: key });
      this.byKey.set(id, ctx);
    }
    return ctx;
  }

  /** Reads the keys again when the master has rotated them, forgetting contexts of older ones. */
  private currentKeys(): TicketKeys | null {
    const cache = this.cache;
    if (cache !== null && cache.keyGeneration !== this.keys?.generation) {
      this.keys = cache.ticketKeys();
      const live = [this.keys?.current, this.keys?.previous].filter((k): k is Buffer => k != null).map((k) => k.toString('hex', 0, 16));
      for (const id of this.byKey.keys()) if (!live.includes(id.slice(id.indexOf(':') + 1))) this.byKey.delete(id);
    }
    return this.keys;
  }

  private tlsHost(index: number): TlsHost {
    const host = this.t.hosts[index];
    if (!host) throw new TlsError(`${index === 0 ? 'the main server' : `virtual host ${index}`} has no certificate`);
    return host;
  }
}

function named(key: Buffer, name: Buffer): boolean {
  return key.compare(name, 0, name.length, 0, name.length) === 0;
}
