// Reads, from the first bytes of a connection, what decides which server a TLS handshake starts
// on (see terminator.ts):
//  - the name of the key that sealed the session ticket the client offers (TLS 1.2's
//    session_ticket extension, TLS 1.3's pre_shared_key identity; OpenSSL starts every ticket
//    with the 16-byte key name). Node lets a context hold one ticket key, and decrypts tickets with
//    the context the handshake starts with, so the name picks the current key's or the previous
//    key's;
//  - whether the client offers TLS 1.3 (supported_versions): such a handshake never resumes
//    through the shared session cache, so it starts on a server that does not ask the cache.

const HANDSHAKE = 0x16;
const CLIENT_HELLO = 0x01;
const SESSION_TICKET = 35;
const PRE_SHARED_KEY = 41;
const SUPPORTED_VERSIONS = 43;
const TLS_1_3 = 0x0304;
const RECORD_HEADER = 5;
const MAX_RECORD = 16384;
export const KEY_NAME_BYTES = 16;

/** Not enough bytes yet to know. */
export const NEED_MORE = Symbol('need more');

export interface HelloFacts {
  /** The offered ticket's key name; null when the client offers none. */
  ticketKey: Buffer | null;
  /** The client offers TLS 1.3. */
  tls13: boolean;
}

/** What a ClientHello this does not read says: nothing (the handshake then decides). */
const UNREAD: HelloFacts = { ticketKey: null, tls13: false };

/** Bytes of a connection's start that hold its first TLS record: its length, NEED_MORE while
 * its header has not come, or 0 when the bytes are no TLS handshake record this reads. */
export function firstRecordBytes(data: Buffer): number | typeof NEED_MORE {
  if (data.length < RECORD_HEADER) return data.length > 0 && data[0] !== HANDSHAKE ? 0 : NEED_MORE;
  if (data[0] !== HANDSHAKE) return 0;
  const recordLength = data.readUInt16BE(3);
  return recordLength > MAX_RECORD ? 0 : RECORD_HEADER + recordLength;
}

/** What the ClientHello at the start of `data` says, or NEED_MORE until its record is whole. */
export function readClientHello(data: Buffer): HelloFacts | typeof NEED_MORE {
  const length = firstRecordBytes(data);
  if (length === 0) return UNREAD;
  if (length === NEED_MORE || data.length < length) return NEED_MORE;
  try {
    return fromClientHello(data.subarray(RECORD_HEADER, length));
  } catch (err) {
    if (err instanceof RangeError) return UNREAD;
    throw err;
  }
}

function fromClientHello(hs: Buffer): HelloFacts {
  if (hs[0] !== CLIENT_HELLO) return UNREAD;
  // type(1) length(3) version(2) random(32)
  let at = 4 + 2 + 32;
  at += 1 + hs.readUInt8(at); // session ID
  at += 2 + hs.readUInt16BE(at); // cipher suites
  at += 1 + hs.readUInt8(at); // compression methods
  const end = Math.min(hs.length, at + 2 + hs.readUInt16BE(at));
  at += 2;
  const facts: HelloFacts = { ticketKey: null, tls13: false };
  while (at + 4 <= end) {
    const type = hs.readUInt16BE(at);
    const length = hs.readUInt16BE(at + 2);
    const body = hs.subarray(at + 4, at + 4 + length);
    if (type === SESSION_TICKET && body.length >= KEY_NAME_BYTES) facts.ticketKey = body.subarray(0, KEY_NAME_BYTES);
    // identities<7..2^16-1>: the first identity's opaque<1..2^16-1>.
    if (type === PRE_SHARED_KEY && body.length >= 4 + KEY_NAME_BYTES && body.readUInt16BE(2) >= KEY_NAME_BYTES) {
      facts.ticketKey = body.subarray(4, 4 + KEY_NAME_BYTES);
    }
    // versions<2..254>.
    if (type === SUPPORTED_VERSIONS) {
      for (let v = 1; v + 1 < body.length && v < 1 + body[0]; v += 2) if (body.readUInt16BE(v) === TLS_1_3) facts.tls13 = true;
    }
    at += 4 + length;
  }
  return facts;
}
