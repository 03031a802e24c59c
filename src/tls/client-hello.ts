// Reads, from the first bytes of a connection, the name of the key that sealed the session
// ticket the client offers (TLS 1.2's session_ticket extension, TLS 1.3's pre_shared_key
// identity; OpenSSL starts every ticket with the 16-byte key name). Node lets a context hold one
// ticket key, and decrypts tickets with the context the handshake starts with, so the name
// decides which context a connection starts with: the current key's or the previous key's.

const HANDSHAKE = 0x16;
const CLIENT_HELLO = 0x01;
const SESSION_TICKET = 35;
const PRE_SHARED_KEY = 41;
const RECORD_HEADER = 5;
const MAX_RECORD = 16384;
export const KEY_NAME_BYTES = 16;

/** Not enough bytes yet to know. */
export const NEED_MORE = Symbol('need more');

/**
 * The ticket's key name, null when the client offers no ticket (or sends something this does not
 * read: the handshake then decides), or NEED_MORE until the first record is whole.
 */
export function ticketKeyName(data: Buffer): Buffer | null | typeof NEED_MORE {
  if (data.length < RECORD_HEADER) return data.length > 0 && data[0] !== HANDSHAKE ? null : NEED_MORE;
  if (data[0] !== HANDSHAKE) return null;
  const recordLength = data.readUInt16BE(3);
  if (recordLength > MAX_RECORD) return null;
  if (data.length < RECORD_HEADER + recordLength) return NEED_MORE;
  try {
    return fromClientHello(data.subarray(RECORD_HEADER, RECORD_HEADER + recordLength));
  } catch (err) {
    if (err instanceof RangeError) return null;
    throw err;
  }
}

function fromClientHello(hs: Buffer): Buffer | null {
  if (hs[0] !== CLIENT_HELLO) return null;
  // type(1) length(3) version(2) random(32)
  let at = 4 + 2 + 32;
  at += 1 + hs.readUInt8(at); // session ID
  at += 2 + hs.readUInt16BE(at); // cipher suites
  at += 1 + hs.readUInt8(at); // compression methods
  const end = Math.min(hs.length, at + 2 + hs.readUInt16BE(at));
  at += 2;
  while (at + 4 <= end) {
    const type = hs.readUInt16BE(at);
    const length = hs.readUInt16BE(at + 2);
    const body = hs.subarray(at + 4, at + 4 + length);
    if (type === SESSION_TICKET && body.length >= KEY_NAME_BYTES) return body.subarray(0, KEY_NAME_BYTES);
    // identities<7..2^16-1>: the first identity's opaque<1..2^16-1>.
    if (type === PRE_SHARED_KEY && body.length >= 4 + KEY_NAME_BYTES && body.readUInt16BE(2) >= KEY_NAME_BYTES) {
      return body.subarray(4, 4 + KEY_NAME_BYTES);
    }
    at += 4 + length;
  }
  return null;
}
