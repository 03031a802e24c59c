// The protocol version of a session as OpenSSL serializes it (i2d_SSL_SESSION: what Node's
// 'newSession' event gives): SEQUENCE { version INTEGER 1, sslVersion INTEGER, ... }.
const SEQUENCE = 0x30;
const INTEGER = 0x02;
const TLS_1_3 = 0x0304;

/** Whether the serialized session is a TLS 1.3 one: a client resumes it by a ticket only (its
 * session ID is a stand-in), so a session-ID cache has no use for it. */
export function isTls13Session(der: Uint8Array): boolean {
  if (der.length < 2 || der[0] !== SEQUENCE) return false;
  // The length: one byte, or 0x80 + the count of the bytes that follow and hold it.
  let at = 2 + (der[1] & 0x80 ? der[1] & 0x7f : 0);
  if (der[at] !== INTEGER || der[at + 1] !== 1) return false;
  at += 3;
  return der.length >= at + 4 && der[at] === INTEGER && der[at + 1] === 2 && ((der[at + 2] << 8) | der[at + 3]) === TLS_1_3;
}
