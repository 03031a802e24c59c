// The TLS cache: the session ticket keys and the session cache every child shares, so that a
// client resumes its TLS session on whichever child accepts its next connection. The master
// creates it, writes the ticket keys (it alone) and keeps it across graceful restarts; the
// children store and look up sessions.
//
// Byte layout, little-endian, offsets in bytes. Times are Unix seconds.
//
//   Header: 64 bytes at 0.
//   | off | type | field          | notes                                           |
//   |   0 | i32  | magic          | 'MPTL'; written last by create                  |
//   |   4 | i32  | version        | layout version                                  |
//   |   8 | i32  | subcaches      | session subcaches; 0 = no session cache         |
//   |  12 | i32  | slotsPerSub    | slots in each subcache                          |
//   |  16 | i32  | keyGeneration  | number of the current ticket key; 0 = none yet  |
//   |  20 | i32  | keyRotatedAt   | when it became current                          |
//   |  24 | i32  | stores         | sessions stored                                 |
//   |  28 | i32  | hits           | lookups that found a session                    |
//   |  32 | i32  | misses         | lookups that found none                         |
//   |  36 | i32  | tooLarge       | sessions too large for a slot, not stored       |
//
//   Ticket keys: 3 slots of 64 bytes at 64; key generation g lives in slot g % 3 (48 bytes:
//   Node's ticketKeys, 16-byte name, 16-byte HMAC secret, 16-byte AES key).
//
//   Subcache cursors: subcaches × i32 at 256, padded to 8: the next slot each writes to.
//
//   Session slot: 2048 bytes each, slotsPerSub of them per subcache, after the cursors.
//   | off | type      | field      | notes                                           |
//   |   0 | i32       | seq        | even: stable; odd: being written; 0: never used |
//   |   4 | i32       | checksum   | FNV-1a of expires, lengths, id and data          |
//   |   8 | i32       | expires    | the session may not be resumed after this       |
//   |  12 | i32       | idLength   | session ID bytes, at most 32                     |
//   |  16 | i32       | dataLength | serialized session bytes, at most 1992           |
//   |  24 | u8[32]    | id         |                                                  |
//   |  56 | u8[1992]  | data       | the session as OpenSSL serializes it             |
//
// A session ID picks its subcache (FNV-1a of the ID); each subcache is a ring written in turn,
// so when it is full the oldest entry is the one overwritten, as in mod_socache_shmcb. A writer
// marks its slot odd, writes, and marks it even again; a reader copies the slot and keeps it only
// if the mark was even and unchanged and the checksum holds. A writer killed mid-write leaves
// the slot odd (unread) until the ring comes round to it again; two writers on one slot (a ring
// lapped between two stores) cannot produce an entry whose checksum holds.

import { attachHeader, defineLayout, elementIndexes, i32, initSegment } from './layout';
import { SharedMemoryError } from '../errors';

/** 'MPTL' read as a little-endian int32. */
export const TLS_CACHE_MAGIC = 0x4c54504d;
export const TLS_CACHE_VERSION = 1;
export const TICKET_KEY_BYTES = 48;
const KEY_SLOT_BYTES = 64;
const KEY_SLOTS = 3;
const KEYS_AT = 64;
const CURSORS_AT = KEYS_AT + KEY_SLOTS * KEY_SLOT_BYTES;
export const SLOT_BYTES = 2048;
export const MAX_ID_BYTES = 32;
/** Sessions per subcache the sizing aims at: few enough to scan on every lookup. */
const SLOTS_PER_SUBCACHE = 32;
const MAX_SUBCACHES = 256;

export const tlsHeaderLayout = defineLayout(
  { magic: i32, version: i32, subcaches: i32, slotsPerSub: i32, keyGeneration: i32, keyRotatedAt: i32, stores: i32, hits: i32, misses: i32, tooLarge: i32 },
  64,
);
export const sessionSlotLayout = defineLayout({ seq: i32, checksum: i32, expires: i32, idLength: i32, dataLength: i32 }, 8);
const ID_AT = 24;
const DATA_AT = 56;
export const MAX_DATA_BYTES = SLOT_BYTES - DATA_AT;

const H = elementIndexes(tlsHeaderLayout, 4);
const S = elementIndexes(sessionSlotLayout, 4);

/** How a cache of `bytes` is cut: subcaches of about 32 slots, as many as fit. */
export function cacheGeometry(bytes: number): { subcaches: number; slotsPerSub: number } {
  const slots = Math.max(0, Math.floor((bytes - CURSORS_AT - MAX_SUBCACHES * 4) / SLOT_BYTES));
  if (slots === 0) return { subcaches: 0, slotsPerSub: 0 };
  const subcaches = Math.max(1, Math.min(MAX_SUBCACHES, Math.floor(slots / SLOTS_PER_SUBCACHE)));
  return { subcaches, slotsPerSub: Math.floor(slots / subcaches) };
}

function slotsAt(subcaches: number): number {
  return Math.ceil((CURSORS_AT + subcaches * 4) / 8) * 8;
}

function fnv(h: number, bytes: Uint8Array, from: number, length: number): number {
  for (let i = from; i < from + length; i++) h = Math.imul(h ^ bytes[i], 0x01000193);
  return h;
}

function fnvWord(h: number, word: number): number {
  for (let shift = 0; shift < 32; shift += 8) h = Math.imul(h ^ ((word >>> shift) & 0xff), 0x01000193);
  return h;
}

const FNV_OFFSET = 0x811c9dc5 | 0;

function sumHead(expires: number, idLength: number, dataLength: number): number {
  return fnvWord(fnvWord(fnvWord(FNV_OFFSET, expires), idLength), dataLength);
}

export interface TicketKeys {
  generation: number;
  current: Buffer;
  /** The key before the current one; null until the first rotation. */
  previous: Buffer | null;
  rotatedAt: number;
}

export interface CacheCounters {
  sessions: number;
  stores: number;
  hits: number;
  misses: number;
  tooLarge: number;
}

export class TlsCache {
  readonly subcaches: number;
  readonly slotsPerSub: number;
  private readonly words: Int32Array;
  private readonly bytes: Uint8Array;
  private readonly slotsBase: number;

  static byteLength(cacheBytes: number): number {
    const g = cacheGeometry(cacheBytes);
    return slotsAt(g.subcaches) + g.subcaches * g.slotsPerSub * SLOT_BYTES;
  }

  /** Initialises a cache over `buffer`, of the size byteLength(cacheBytes) gives. */
  static create(buffer: ArrayBufferLike, cacheBytes: number): TlsCache {
    const g = cacheGeometry(cacheBytes);
    initSegment(buffer, TlsCache.byteLength(cacheBytes), 'TLS cache', TLS_CACHE_MAGIC, [
      [H.version, TLS_CACHE_VERSION],
      [H.subcaches, g.subcaches],
      [H.slotsPerSub, g.slotsPerSub],
    ]);
    return new TlsCache(buffer);
  }

  static attach(buffer: ArrayBufferLike): TlsCache {
    attachHeader(buffer, tlsHeaderLayout.size, 'TLS cache', TLS_CACHE_MAGIC, TLS_CACHE_VERSION);
    return new TlsCache(buffer);
  }

  private constructor(buffer: ArrayBufferLike) {
    const header = new Int32Array(buffer, 0, tlsHeaderLayout.size >> 2);
    this.subcaches = Atomics.load(header, H.subcaches);
    this.slotsPerSub = Atomics.load(header, H.slotsPerSub);
    const length = slotsAt(this.subcaches) + this.subcaches * this.slotsPerSub * SLOT_BYTES;
    if (buffer.byteLength < length) throw new SharedMemoryError('TLS cache is larger than its segment');
    this.words = new Int32Array(buffer, 0, length >> 2);
    this.bytes = new Uint8Array(buffer, 0, length);
    this.slotsBase = slotsAt(this.subcaches);
  }

  /** Sessions the cache holds when full. */
  get capacity(): number {
    return this.subcaches * this.slotsPerSub;
  }

  // Ticket keys: written by the master alone.

  /** Makes `key` the current ticket key; the one it replaces stays readable as the previous. */
  rotateKey(key: Uint8Array, nowSec: number): number {
    if (key.length !== TICKET_KEY_BYTES) throw new SharedMemoryError(`a ticket key is ${TICKET_KEY_BYTES} bytes`);
    const next = Atomics.load(this.words, H.keyGeneration) + 1;
    this.bytes.set(key, KEYS_AT + (next % KEY_SLOTS) * KEY_SLOT_BYTES);
    Atomics.store(this.words, H.keyRotatedAt, nowSec);
    // Published last: a reader that sees the new generation sees its key written.
    Atomics.store(this.words, H.keyGeneration, next);
    return next;
  }

  get keyGeneration(): number {
    return Atomics.load(this.words, H.keyGeneration);
  }

  /** The current and previous keys, or null before the master wrote the first. */
  ticketKeys(): TicketKeys | null {
    for (;;) {
      const generation = Atomics.load(this.words, H.keyGeneration);
      if (generation === 0) return null;
      const key = (g: number) => Buffer.from(this.bytes.slice(KEYS_AT + (g % KEY_SLOTS) * KEY_SLOT_BYTES, KEYS_AT + (g % KEY_SLOTS) * KEY_SLOT_BYTES + TICKET_KEY_BYTES));
      const keys = { generation, current: key(generation), previous: generation > 1 ? key(generation - 1) : null, rotatedAt: Atomics.load(this.words, H.keyRotatedAt) };
      // Two rotations during the copy would reuse a slot being read; read again.
      if (Atomics.load(this.words, H.keyGeneration) === generation) return keys;
    }
  }

  // Sessions: stored and looked up by every child.

  private subcacheOf(id: Uint8Array): number {
    return (fnv(FNV_OFFSET, id, 0, id.length) >>> 0) % this.subcaches;
  }

  private slotOffset(sub: number, index: number): number {
    return this.slotsBase + (sub * this.slotsPerSub + index) * SLOT_BYTES;
  }


  /** Stores a session; false when there is no cache or it does not fit a slot. */
  store(id: Uint8Array, data: Uint8Array, expires: number): boolean {
    if (this.subcaches === 0 || id.length === 0 || id.length > MAX_ID_BYTES) return false;
    if (data.length > MAX_DATA_BYTES) {
      Atomics.add(this.words, H.tooLarge, 1);
      return false;
    }
    const sub = this.subcacheOf(id);
    const index = (Atomics.add(this.words, (CURSORS_AT >> 2) + sub, 1) >>> 0) % this.slotsPerSub;
    const at = this.slotOffset(sub, index);
    const w = at >> 2;
    const writing = (Atomics.load(this.words, w + S.seq) + 1) | 1;
    Atomics.store(this.words, w + S.seq, writing);
    this.bytes.set(id, at + ID_AT);
    this.bytes.set(data, at + DATA_AT);
    Atomics.store(this.words, w + S.expires, expires);
    Atomics.store(this.words, w + S.idLength, id.length);
    Atomics.store(this.words, w + S.dataLength, data.length);
    Atomics.store(this.words, w + S.checksum, fnv(fnv(sumHead(expires, id.length, data.length), id, 0, id.length), data, 0, data.length));
    Atomics.store(this.words, w + S.seq, writing + 1);
    Atomics.add(this.words, H.stores, 1);
    return true;
  }

  /** The session stored under `id`, unexpired and whole, or null. Newest entries are tried first. */
  lookup(id: Uint8Array, nowSec: number): Buffer | null {
    if (this.subcaches === 0 || id.length === 0 || id.length > MAX_ID_BYTES) return null;
    const sub = this.subcacheOf(id);
    const newest = Atomics.load(this.words, (CURSORS_AT >> 2) + sub) >>> 0;
    for (let k = 1; k <= this.slotsPerSub; k++) {
      const index = (newest - k + this.slotsPerSub * 2) % this.slotsPerSub;
      const found = this.read(this.slotOffset(sub, index), id, nowSec);
      if (found !== null) {
        Atomics.add(this.words, H.hits, 1);
        return found;
      }
    }
    Atomics.add(this.words, H.misses, 1);
    return null;
  }

  private read(at: number, id: Uint8Array, nowSec: number): Buffer | null {
    const w = at >> 2;
    const before = Atomics.load(this.words, w + S.seq);
    if (before === 0 || (before & 1) === 1) return null;
    const idLength = Atomics.load(this.words, w + S.idLength);
    if (idLength !== id.length) return null;
    for (let i = 0; i < idLength; i++) if (this.bytes[at + ID_AT + i] !== id[i]) return null;
    const expires = Atomics.load(this.words, w + S.expires);
    const dataLength = Atomics.load(this.words, w + S.dataLength);
    if (expires <= nowSec || dataLength < 0 || dataLength > MAX_DATA_BYTES) return null;
    const data = Buffer.from(this.bytes.slice(at + DATA_AT, at + DATA_AT + dataLength));
    const sum = Atomics.load(this.words, w + S.checksum);
    if (Atomics.load(this.words, w + S.seq) !== before) return null;
    // Over the copy, so that what is returned is what the checksum vouches for.
    return fnv(fnv(sumHead(expires, idLength, dataLength), id, 0, idLength), data, 0, dataLength) === sum ? data : null;
  }

  counters(): CacheCounters {
    let sessions = 0;
    for (let sub = 0; sub < this.subcaches; sub++) {
      for (let i = 0; i < this.slotsPerSub; i++) {
        const seq = Atomics.load(this.words, (this.slotOffset(sub, i) >> 2) + S.seq);
        if (seq !== 0 && (seq & 1) === 0) sessions++;
      }
    }
    return {
      sessions,
      stores: Atomics.load(this.words, H.stores) >>> 0,
      hits: Atomics.load(this.words, H.hits) >>> 0,
      misses: Atomics.load(this.words, H.misses) >>> 0,
      tooLarge: Atomics.load(this.words, H.tooLarge) >>> 0,
    };
  }
}
