// The limits segment: the server-wide counters that LimitConnections, LimitClients,
// LimitConnectionsPerClient and LimitRequestsPerClient need, shared by every child and thread,
// and how often each limit refused something. The master creates it; every serving loop maps it.
//
// Byte layout, little-endian, offsets in bytes. A test checks these tables against the code.
//
//   Header: 64 bytes at 0.
//   | off | type      | field              | notes                                  |
//   |   0 | i32       | magic              | 'MPLM'; written last by create         |
//   |   4 | i32       | version            | layout version                         |
//   |   8 | i32       | serverLimit        | process records                        |
//   |  12 | i32       | clientSlots        | client entries, a power of two         |
//   |  16 | i32       | clients            | entries with a connection now          |
//   |  20 | i32       | insertLock         | 0, or process slot + 1 of the holder   |
//
//   Rejections: REJECTION_COUNTERS u64 at 64, one per limit (src/limits/limit-names.ts order).
//
//   Process record: 64 bytes, serverLimit of them at 192, each on its own cache line.
//   | off | type      | field              | notes                                  |
//   |   0 | i32       | connections        | the child's open connections           |
//
//   Client entry: 32 bytes, clientSlots of them at 192 + serverLimit × 64; an open-addressing
//   hash table of client IP addresses, linear probing.
//   | off | type      | field              | notes                                  |
//   |   0 | i32       | tag                | state, connections, version (below)    |
//   |   4 | i32       | requests           | requests in progress now               |
//   |   8 | i32       | hash               | of the address                         |
//   |  12 | i32[4]    | address            | IPv6 words; IPv4 as ::ffff:a.b.c.d     |
//
//   Shares: serverLimit × clientSlots i32 after the entries, row p for process slot p: what
//   that child holds of each entry, connections in the low 16 bits, requests in the high 16.
//
// The tag packs, so that one compare-and-swap decides a connection: bits 0-1 the state (empty,
// writing, live, tombstone), bits 2-21 the open connections, bits 22-31 a version bumped each
// time the entry is given to another address, so that a swap prepared on the old address fails.
// Connections and requests are counted with Atomics only. An entry with no connection stays in
// place (dormant) and is handed to a new address by an insert, which holds insertLock so that
// one address never gets two entries. A child killed with SIGKILL leaves its shares behind: the
// master subtracts them (reclaim). The one thing a kill can leave wrong is a count moved by one
// between a child's two updates of one connection; counts never go below zero, so such an
// error is always one too few and ends once that address has no connection left.

import { SharedMemoryError } from '../errors';
import { addU64, defineLayout, elementIndexes, i32, i32x4, loadU64 } from './layout';

/** 'MPLM' read as a little-endian int32. */
export const LIMITS_MAGIC = 0x4d4c504d;
export const LIMITS_VERSION = 1;
export const REJECTION_COUNTERS = 16;
export const MAX_CLIENT_SLOTS = 1 << 20;

export const limitsHeaderLayout = defineLayout(
  { magic: i32, version: i32, serverLimit: i32, clientSlots: i32, clients: i32, insertLock: i32 },
  64,
);
export const limitsProcessLayout = defineLayout({ connections: i32 }, 64);
export const clientEntryLayout = defineLayout({ tag: i32, requests: i32, hash: i32, address: i32x4 }, 32);

const REJECTIONS_AT = limitsHeaderLayout.size;
const PROCESSES_AT = REJECTIONS_AT + REJECTION_COUNTERS * 8;

const H = elementIndexes(limitsHeaderLayout, 4);
const E = elementIndexes(clientEntryLayout, 4);
const PROCESS_WORDS = limitsProcessLayout.size >> 2;
const ENTRY_WORDS = clientEntryLayout.size >> 2;

const EMPTY = 0;
const WRITING = 1;
const LIVE = 2;
const TOMBSTONE = 3;
const STATE = 3;
const CONNECTION = 1 << 2;
const MAX_CONNECTIONS = (1 << 20) - 1;
const VERSION_SHIFT = 22;
const REQUEST_SHARE = 1 << 16;

/** What admitClient answers besides a handle (handles are ≥ 0). */
export const UNTRACKED = -1;
export const REFUSED_CLIENTS = -2;
export const REFUSED_PER_CLIENT = -3;
const FOUND = -4;
const RETRY = -5;

/** How long an insert spins for the lock (a holder is a few hundred instructions from letting
 * go, unless it was killed and the master has not reclaimed its slot yet). */
const LOCK_SPINS = 1 << 20;
const ADMIT_ATTEMPTS = 8;

const connectionsOf = (tag: number): number => (tag >>> 2) & MAX_CONNECTIONS;
const versionOf = (tag: number): number => tag >>> VERSION_SHIFT;

function checkCount(name: string, value: number, max: number): void {
  if (!Number.isInteger(value) || value < 1 || value > max) {
    throw new RangeError(`${name} must be an integer from 1 to ${max}, got ${value}`);
  }
}

export class LimitCounters {
  readonly serverLimit: number;
  readonly clientSlots: number;
  private readonly words: Int32Array;
  private readonly entriesAt: number;
  private readonly sharesAt: number;
  private readonly mask: number;
  /** The tag probe() saw on the entry it returned. */
  private probed = 0;

  static byteLength(serverLimit: number, clientSlots: number): number {
    checkCount('serverLimit', serverLimit, 1 << 16);
    checkCount('clientSlots', clientSlots, MAX_CLIENT_SLOTS);
    if ((clientSlots & (clientSlots - 1)) !== 0) throw new RangeError(`clientSlots must be a power of two, got ${clientSlots}`);
    return PROCESSES_AT + serverLimit * limitsProcessLayout.size + clientSlots * (clientEntryLayout.size + serverLimit * 4);
  }

  /** Initialises the segment over `buffer`, zeroing it. */
  static create(buffer: ArrayBufferLike, serverLimit: number, clientSlots: number): LimitCounters {
    const needed = LimitCounters.byteLength(serverLimit, clientSlots);
    if (buffer.byteLength < needed) {
      throw new SharedMemoryError(`limits segment needs ${needed} bytes, the segment has ${buffer.byteLength}`);
    }
    new Uint8Array(buffer, 0, needed).fill(0);
    const words = new Int32Array(buffer, 0, limitsHeaderLayout.size >> 2);
    Atomics.store(words, H.version, LIMITS_VERSION);
    Atomics.store(words, H.serverLimit, serverLimit);
    Atomics.store(words, H.clientSlots, clientSlots);
    Atomics.store(words, H.magic, LIMITS_MAGIC);
    return new LimitCounters(buffer, serverLimit, clientSlots);
  }

  static attach(buffer: ArrayBufferLike): LimitCounters {
    if (buffer.byteLength < limitsHeaderLayout.size) {
      throw new SharedMemoryError(`segment of ${buffer.byteLength} bytes is too small to hold a limits header`);
    }
    const words = new Int32Array(buffer, 0, limitsHeaderLayout.size >> 2);
    const magic = Atomics.load(words, H.magic);
    if (magic !== LIMITS_MAGIC) {
      throw new SharedMemoryError(`segment is not a limits segment: magic 0x${(magic >>> 0).toString(16)}`);
    }
    const version = Atomics.load(words, H.version);
    if (version !== LIMITS_VERSION) {
      throw new SharedMemoryError(`limits layout version ${version} is not the version ${LIMITS_VERSION} this build uses`);
    }
    const serverLimit = Atomics.load(words, H.serverLimit);
    const clientSlots = Atomics.load(words, H.clientSlots);
    const needed = LimitCounters.byteLength(serverLimit, clientSlots);
    if (buffer.byteLength < needed) {
      throw new SharedMemoryError(`limits header says ${needed} bytes, the segment has only ${buffer.byteLength}`);
    }
    return new LimitCounters(buffer, serverLimit, clientSlots);
  }

  private constructor(buffer: ArrayBufferLike, serverLimit: number, clientSlots: number) {
    this.serverLimit = serverLimit;
    this.clientSlots = clientSlots;
    this.mask = clientSlots - 1;
    this.words = new Int32Array(buffer, 0, LimitCounters.byteLength(serverLimit, clientSlots) >> 2);
    this.entriesAt = (PROCESSES_AT + serverLimit * limitsProcessLayout.size) >> 2;
    this.sharesAt = this.entriesAt + clientSlots * ENTRY_WORDS;
  }

  // Rejections

  countRejection(limit: number): void {
    addU64(this.words, (REJECTIONS_AT >> 2) + 2 * this.checkLimit(limit), 1);
  }

  rejections(limit: number): number {
    return loadU64(this.words, (REJECTIONS_AT >> 2) + 2 * this.checkLimit(limit));
  }

  // LimitConnections: each child counts its own, the server's count is their sum, so a dead
  // child's connections leave with its record.

  /** Counts one more connection of process `slot`; returns the server's count with it. */
  addConnection(slot: number): number {
    Atomics.add(this.words, this.processWord(slot), 1);
    return this.connections();
  }

  removeConnection(slot: number): void {
    Atomics.sub(this.words, this.processWord(slot), 1);
  }

  connections(): number {
    let sum = 0;
    const end = (PROCESSES_AT >> 2) + this.serverLimit * PROCESS_WORDS;
    for (let at = PROCESSES_AT >> 2; at < end; at += PROCESS_WORDS) sum += Atomics.load(this.words, at);
    return sum;
  }

  // Clients

  clients(): number {
    return Atomics.load(this.words, H.clients);
  }

  /**
   * Counts a connection from `address` (4 words, see client-address.ts) held by process `slot`.
   * Returns a handle for releaseClient and the request calls, or REFUSED_CLIENTS (a new
   * address past `maxClients`), REFUSED_PER_CLIENT (`perClient` connections open already), or
   * UNTRACKED (the table is full or its lock is stuck: the connection goes uncounted). A limit
   * of 0 is no limit.
   */
  admitClient(address: Int32Array, hash: number, slot: number, perClient: number, maxClients: number): number {
    for (let attempt = 0; attempt < ADMIT_ATTEMPTS; attempt++) {
      const e = this.probe(address, hash);
      const r = e >= 0 ? this.join(e, slot, perClient, maxClients) : this.insert(address, hash, slot, maxClients);
      if (r !== FOUND && r !== RETRY) return r;
    }
    return UNTRACKED;
  }

  releaseClient(handle: number, slot: number): void {
    const e = handle & this.mask;
    const tag = this.entryWord(e);
    for (;;) {
      const t = Atomics.load(this.words, tag);
      // A version moved on means the entry went to another address after a reclaim made it
      // look idle: the count was already taken off.
      if ((t & STATE) !== LIVE || versionOf(t) !== handle >>> 20 || connectionsOf(t) === 0) break;
      if (Atomics.compareExchange(this.words, tag, t, t - CONNECTION) === t) {
        if (connectionsOf(t) === 1) Atomics.sub(this.words, H.clients, 1);
        break;
      }
    }
    Atomics.sub(this.words, this.shareWord(slot, e), 1);
  }

  /** Counts a request from the client of `handle`; false, counting nothing, past `limit`. */
  enterRequest(handle: number, slot: number, limit: number): boolean {
    const e = handle & this.mask;
    const share = this.shareWord(slot, e);
    Atomics.add(this.words, share, REQUEST_SHARE);
    const requests = this.entryWord(e) + E.requests;
    if (Atomics.add(this.words, requests, 1) < limit) return true;
    Atomics.sub(this.words, requests, 1);
    Atomics.sub(this.words, share, REQUEST_SHARE);
    return false;
  }

  leaveRequest(handle: number, slot: number): void {
    const e = handle & this.mask;
    this.decrementToZero(this.entryWord(e) + E.requests, 1);
    Atomics.sub(this.words, this.shareWord(slot, e), REQUEST_SHARE);
  }

  /** Connections open now from the client of `handle`. */
  clientConnections(handle: number): number {
    return connectionsOf(Atomics.load(this.words, this.entryWord(handle & this.mask)));
  }

  clientRequests(handle: number): number {
    return Atomics.load(this.words, this.entryWord(handle & this.mask) + E.requests);
  }

  /**
   * The master, once the child of process `slot` has exited: takes off every count it held
   * and frees the insert lock if it died holding it. Safe to repeat.
   */
  reclaim(slot: number): void {
    const w = this.words;
    Atomics.store(w, this.processWord(slot), 0);
    const row = this.shareWord(slot, 0);
    for (let e = 0; e < this.clientSlots; e++) {
      const share = Atomics.exchange(w, row + e, 0);
      if (share <= 0) continue;
      const requests = share >>> 16;
      const connections = share & 0xffff;
      if (requests !== 0) this.decrementToZero(this.entryWord(e) + E.requests, requests);
      if (connections !== 0) this.takeConnections(e, connections);
    }
    if (Atomics.load(w, H.insertLock) === slot + 1) {
      for (let e = 0; e < this.clientSlots; e++) {
        const tag = this.entryWord(e);
        const t = Atomics.load(w, tag);
        if ((t & STATE) === WRITING) Atomics.store(w, tag, (t & ~STATE) | TOMBSTONE);
      }
      Atomics.compareExchange(w, H.insertLock, slot + 1, 0);
    }
  }

  /** The LIVE entry holding `address`, or -1 once probing meets an empty one. */
  private probe(address: Int32Array, hash: number): number {
    const w = this.words;
    for (let k = 0, e = hash & this.mask; k < this.clientSlots; k++, e = (e + 1) & this.mask) {
      const at = this.entryWord(e);
      const t = Atomics.load(w, at);
      const state = t & STATE;
      if (state === EMPTY) return -1;
      if (state === LIVE && this.holds(at, address, hash)) {
        this.probed = t;
        return e;
      }
    }
    return -1;
  }

  private holds(at: number, address: Int32Array, hash: number): boolean {
    const w = this.words;
    const a = at + E.address;
    return (
      Atomics.load(w, at + E.hash) === hash &&
      Atomics.load(w, a) === address[0] &&
      Atomics.load(w, a + 1) === address[1] &&
      Atomics.load(w, a + 2) === address[2] &&
      Atomics.load(w, a + 3) === address[3]
    );
  }

  /** One more connection on an entry probe() found. */
  private join(e: number, slot: number, perClient: number, maxClients: number): number {
    const w = this.words;
    const tag = this.entryWord(e);
    const version = versionOf(this.probed);
    const share = this.shareWord(slot, e);
    for (;;) {
      const t = Atomics.load(w, tag);
      if ((t & STATE) !== LIVE || versionOf(t) !== version) return RETRY;
      const n = connectionsOf(t);
      if ((perClient !== 0 && n >= perClient) || n === MAX_CONNECTIONS) return REFUSED_PER_CLIENT;
      if (n === 0 && !this.reserveClient(maxClients)) return REFUSED_CLIENTS;
      // The share first: a kill between the two updates then errs on the side of too few.
      Atomics.add(w, share, 1);
      if (Atomics.compareExchange(w, tag, t, t + CONNECTION) === t) return (version << 20) | e;
      Atomics.sub(w, share, 1);
      if (n === 0) Atomics.sub(w, H.clients, 1);
    }
  }

  /** Gives `address` an entry with this connection on it, under the insert lock. */
  private insert(address: Int32Array, hash: number, slot: number, maxClients: number): number {
    const w = this.words;
    if (!this.lock(slot)) return UNTRACKED;
    try {
      let free = -1;
      let freeTag = 0;
      for (let k = 0, e = hash & this.mask; k < this.clientSlots; k++, e = (e + 1) & this.mask) {
        const at = this.entryWord(e);
        const t = Atomics.load(w, at);
        const state = t & STATE;
        if (state === LIVE && this.holds(at, address, hash)) return FOUND;
        if (free < 0 && (state === EMPTY || state === TOMBSTONE || (state === LIVE && connectionsOf(t) === 0))) {
          free = e;
          freeTag = t;
        }
        if (state === EMPTY) break;
      }
      if (free < 0) return UNTRACKED;
      if (!this.reserveClient(maxClients)) return REFUSED_CLIENTS;
      const at = this.entryWord(free);
      const version = (versionOf(freeTag) + 1) & 0x3ff;
      const share = this.shareWord(slot, free);
      Atomics.add(w, share, 1);
      // A dormant entry may gain a connection from its old address meanwhile: then start over.
      if (Atomics.compareExchange(w, at, freeTag, (version << VERSION_SHIFT) | WRITING) !== freeTag) {
        Atomics.sub(w, share, 1);
        Atomics.sub(w, H.clients, 1);
        return RETRY;
      }
      Atomics.store(w, at + E.requests, 0);
      Atomics.store(w, at + E.hash, hash);
      for (let i = 0; i < 4; i++) Atomics.store(w, at + E.address + i, address[i]);
      Atomics.store(w, at, (version << VERSION_SHIFT) | CONNECTION | LIVE);
      return (version << 20) | free;
    } finally {
      Atomics.store(w, H.insertLock, 0);
    }
  }

  private lock(slot: number): boolean {
    for (let spin = 0; spin < LOCK_SPINS; spin++) {
      if (Atomics.compareExchange(this.words, H.insertLock, 0, slot + 1) === 0) return true;
    }
    return false;
  }

  private reserveClient(maxClients: number): boolean {
    const n = Atomics.add(this.words, H.clients, 1);
    if (maxClients === 0 || n < maxClients) return true;
    Atomics.sub(this.words, H.clients, 1);
    return false;
  }

  private takeConnections(e: number, count: number): void {
    const tag = this.entryWord(e);
    for (;;) {
      const t = Atomics.load(this.words, tag);
      const n = connectionsOf(t);
      if ((t & STATE) !== LIVE || n === 0) return;
      const taken = Math.min(n, count);
      if (Atomics.compareExchange(this.words, tag, t, t - taken * CONNECTION) === t) {
        if (taken === n) Atomics.sub(this.words, H.clients, 1);
        return;
      }
    }
  }

  private decrementToZero(index: number, count: number): void {
    for (;;) {
      const v = Atomics.load(this.words, index);
      if (v <= 0 || Atomics.compareExchange(this.words, index, v, Math.max(0, v - count)) === v) return;
    }
  }

  private checkLimit(limit: number): number {
    if (limit >>> 0 !== limit || limit >= REJECTION_COUNTERS) throw new RangeError(`limit ${limit} is outside 0..${REJECTION_COUNTERS - 1}`);
    return limit;
  }

  private processWord(slot: number): number {
    if (slot >>> 0 !== slot || slot >= this.serverLimit) {
      throw new RangeError(`process slot ${slot} is outside 0..${this.serverLimit - 1}`);
    }
    return (PROCESSES_AT >> 2) + slot * PROCESS_WORDS;
  }

  private entryWord(e: number): number {
    return this.entriesAt + e * ENTRY_WORDS;
  }

  private shareWord(slot: number, e: number): number {
    return this.sharesAt + slot * this.clientSlots + e;
  }
}

/**
 * Client entries for a server: twice the connections it can hold at once (so probes stay short
 * and a full table needs that many distinct addresses connected at once), within what a
 * segment of reasonable size holds. Fixed for the master's life, like the scoreboard.
 */
export function clientSlotsFor(serverLimit: number, threadLimit: number, factor: number): number {
  const connections = serverLimit * threadLimit * (1 + Math.ceil(factor));
  let slots = 1024;
  while (slots < 2 * connections && slots < MAX_CLIENT_SLOTS) slots *= 2;
  // The shares grow with serverLimit × slots: keep the segment within 64 MiB.
  while (slots > 1024 && serverLimit * slots * 4 > 64 * 2 ** 20) slots /= 2;
  return slots;
}
