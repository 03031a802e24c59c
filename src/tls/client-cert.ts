// What backends learn of a client certificate (SSLClientCertHeaders), in mod_ssl's forms:
// distinguished names as RFC 2253 strings (SSL_CLIENT_S_DN, SSL_CLIENT_I_DN), the serial in hex
// (SSL_CLIENT_M_SERIAL), and SSL_CLIENT_VERIFY's SUCCESS, GENEROUS (optional_no_ca let an
// unverified one in) or NONE.
import { X509Certificate } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import type { ClientCertField, ClientCertHeaders } from '../config/directives/tls';

export type ClientCertValues = Partial<Record<ClientCertField, string>>;

/** Computed once a connection, on its first proxied request. */
const byConnection = new WeakMap<TLSSocket, ClientCertValues>();

const NOT_ASKED: ClientCertValues = { verify: 'NONE' };

/** For a host with SSLVerifyClient none: what a client sent anyway (one handshake serves every
 * host of an address) is not passed on, as mod_ssl would not have asked for it. */
export function ignoreClientCertificate(socket: TLSSocket): void {
  byConnection.set(socket, NOT_ASKED);
}

/** Node writes a DN one attribute a line, most significant first; RFC 2253 reverses it. */
function rfc2253(dn: string): string {
  return dn.split('\n').reverse().join(',');
}

export function clientCertValues(socket: TLSSocket): ClientCertValues {
  let values = byConnection.get(socket);
  if (values === undefined) {
    const peer = socket.getPeerCertificate();
    if (peer === null || peer.raw === undefined) {
      values = NOT_ASKED;
    } else {
      const x509 = new X509Certificate(peer.raw);
      values = {
        subject: rfc2253(x509.subject),
        issuer: rfc2253(x509.issuer),
        serial: x509.serialNumber.toUpperCase(),
        verify: socket.authorized ? 'SUCCESS' : 'GENEROUS',
      };
    }
    byConnection.set(socket, values);
  }
  return values;
}

/** The configured header names as [field, name] pairs, and in lower case for stripping. */
export class ClientCertHeaderNames {
  readonly pairs: ReadonlyArray<readonly [ClientCertField, string]>;
  readonly lower: ReadonlySet<string>;

  constructor(headers: ClientCertHeaders) {
    this.pairs = (Object.entries(headers) as Array<[ClientCertField, string]>).map(([f, n]) => [f, n] as const);
    this.lower = new Set(this.pairs.map(([, n]) => n.toLowerCase()));
  }

  static of(headers: ClientCertHeaders): ClientCertHeaderNames | null {
    return Object.keys(headers).length === 0 ? null : new ClientCertHeaderNames(headers);
  }

  /** Appends each header that has a value for this connection (none for plain HTTP). */
  append(out: string[], socket: TLSSocket | null): void {
    if (socket === null) return;
    const values = clientCertValues(socket);
    for (const [field, name] of this.pairs) {
      const v = values[field];
      if (v !== undefined) out.push(name, v);
    }
  }
}
