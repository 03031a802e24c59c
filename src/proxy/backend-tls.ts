// TLS to https backends as mod_ssl's SSLProxy* directives set it. A failed handshake fails the
// request through undici, with OpenSSL's reason in the error.
import tls from 'node:tls';
import type { BackendTlsSpec } from '../config/upstreams';

const anyName = (): undefined => undefined;

export function backendTlsOptions(spec: BackendTlsSpec): tls.ConnectionOptions {
  return {
    ...(spec.ca !== null && { ca: spec.ca }),
    ...(spec.cert !== null && spec.key !== null && { cert: spec.cert, key: spec.key }),
    rejectUnauthorized: spec.verify,
    checkServerIdentity: spec.checkPeerName ? tls.checkServerIdentity : anyName,
  };
}
