// The owner table of state-aware sessions: which serving event loop (child pid, its process slot
// and thread) holds the private backend connection of each state-aware session, so that a child
// that receives a request for a session it does not own finds the owner's IPC socket with one
// lookup in shared memory, without asking the master. The master creates it, marks a dead
// child's entries orphaned when it exits (the next request of such a session learns the owner
// died), and removes it on stop.
//
// Byte layout, little-endian, offsets in bytes. A test checks these tables against the code.
//
//   Header: 64 bytes at 0.
//   | off | type      | field              | notes                                  |
//   |   0 | i32       | magic              | 'MPSA'; written last by create         |
//   |   4 | i32       | version            | layout version                         |
//   |   8 | i32       | capacity           | entries, a power of two                |
//   |  12 | i32       | limit              | live entries allowed                   |
//   |  16 | i32       | live               | entries LIVE or ORPHAN now             |
//   |  20 | i32       | insertLock         | 0, or the holder's pid                 |
//
//   Entry: 32 bytes, capacity of them at 64; an open-addressing hash table of session keys,
//   linear probing.
//   | off | type      | field              | notes                                  |
//   |   0 | i32       | tag                | state (bits 0-2), version (bits 3-31)  |
//   |   4 | i32       | pid                | the owner's pid                        |
//   |   8 | i32       | slot               | the owner's scoreboard process slot    |
//   |  12 | i32       | thread             | the owner's thread (worker MPM), or 0  |
//   |  16 | i32[4]    | key                | first 128 bits of SHA-256 of the key   |
//
// An entry is written only by the owner that inserts it (state WRITING while it fills the fields,
// under insertLock so that one session never gets two entries), then made LIVE by one store of
// its tag. Readers take the tag, the fields, then the tag again: a changed tag means the entry
// was removed or reused while they read, and they look again. Every state change is a
// compare-and-swap of the tag that bumps its version, so a removal prepared on an entry that was
// since given to another session fails. A removed entry becomes a TOMBSTONE, which keeps probe
// chains intact and is reused by the next insert. The lock holder's pid lets an insert take the
// lock of a holder that died (a SIGKILL between lock and unlock).

import { SharedMemoryError } from '../errors';
import { attachHeader, defineLayout, elementIndexes, i32, i32x4, initSegment } from './layout';

/** 'MPSA' read as a little-endian int32. */
export const OWNERS_MAGIC = 0x4153504d;
export const OWNERS_VERSION = 1;
export const MAX_OWNER_ENTRIES = 1 << 20;

export const ownersHeaderLayout = defineLayout(
  { magic: i32, version: i32, capacity: i32, limit: i32, live: i32, insertLock: i32 },
  64,
);
export const ownerEntryLayout = defineLayout({ tag: i32, pid: i32, slot: i32, thread: i32, key: i32x4 }, 32);

const H = elementIndexes(ownersHeaderLayout, 4);
const E = elementIndexes(ownerEntryLayout, 4);
const ENTRY_WORDS = ownerEntryLayout.size >> 2;
const ENTRIES_AT = ownersHeaderLayout.size >> 2;

export const EMPTY = 0;
const WRITING = 1;
export const LIVE = 2;
/** Its owner died: the next request of the session is told so, then the entry goes. */
export const ORPHAN = 3;
const TOMBSTONE = 4;
const STATE = 7;
const VERSION = 8;

const stateOf = (tag: number): number => tag & STATE;
const bumped = (tag: number, state: number): number => ((tag & ~STATE) + VERSION) | state;

/** A session key as the table stores it: 128 bits of its SHA-256. */
export type OwnerKey = Int32Array;

/** An entry as a reader saw it; `tag` lets the reader remove exactly what it saw. */
export interface OwnerEntry {
  index: number;
  tag: number;
  state: typeof LIVE | typeof ORPHAN;
  pid: number;
  slot: number;
  thread: number;
}

/** What insert answers besides the entry index it wrote (≥ 0). */
export const TABLE_FULL = -1;
export const ALREADY_OWNED = -2;

/** A read that met an entry changing under it: look again. */
const RETRY_PROBE = Symbol('retry');

/** A lock holder is a few hundred instructions from letting go, unless it died. */
const LOCK_SPINS = 1 << 16;

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Entries for `limit` live sessions, at most half full so that probe chains stay short. */
export function ownerCapacityFor(limit: number): number {
  let capacity = 16;
  while (capacity < limit * 2) capacity *= 2;
  return Math.min(capacity, MAX_OWNER_ENTRIES);
}

export class OwnerTable {
  readonly capacity: number;
  readonly limit: number;
  private readonly words: Int32Array;
  private readonly mask: number;

  static byteLength(capacity: number): number {
    if (!Number.isInteger(capacity) || capacity < 1 || capacity > MAX_OWNER_ENTRIES || (capacity & (capacity - 1)) !== 0) {
      throw new RangeError(`capacity must be a power of two from 1 to ${MAX_OWNER_ENTRIES}, got ${capacity}`);
    }
    return ownersHeaderLayout.size + capacity * ownerEntryLayout.size;
  }

  /** Initialises the table over `buffer`, zeroing it: every entry EMPTY. */
  static create(buffer: ArrayBufferLike, limit: number): OwnerTable {
    const capacity = ownerCapacityFor(limit);
    initSegment(buffer, OwnerTable.byteLength(capacity), 'owner table', OWNERS_MAGIC, [
      [H.version, OWNERS_VERSION],
      [H.capacity, capacity],
      [H.limit, limit],
    ]);
    return new OwnerTable(buffer);
  }

  static attach(buffer: ArrayBufferLike): OwnerTable {
    const words = attachHeader(buffer, ownersHeaderLayout.size, 'owner table', OWNERS_MAGIC, OWNERS_VERSION);
    const needed = OwnerTable.byteLength(Atomics.load(words, H.capacity));
    if (buffer.byteLength < needed) {
      throw new SharedMemoryError(`owner table needs ${needed} bytes, the segment has ${buffer.byteLength}`);
    }
    return new OwnerTable(buffer);
  }

  private constructor(buffer: ArrayBufferLike) {
    const header = new Int32Array(buffer, 0, ownersHeaderLayout.size >> 2);
    this.capacity = Atomics.load(header, H.capacity);
    this.limit = Atomics.load(header, H.limit);
    this.words = new Int32Array(buffer, 0, OwnerTable.byteLength(this.capacity) >> 2);
    this.mask = this.capacity - 1;
  }

  /** Entries LIVE or ORPHAN now. */
  get live(): number {
    return Atomics.load(this.words, H.live);
  }

  /** The session's entry, or null when it has none (it is not state-aware). */
  find(key: OwnerKey): OwnerEntry | null {
    for (let attempt = 0; attempt < 4; attempt++) {
      const found = this.probe(key);
      if (found !== RETRY_PROBE) return found;
    }
    return null;
  }

  /**
   * Makes (pid, slot, thread) the owner of the session. Returns the entry's index, ALREADY_OWNED
   * when another owner got there first (two children that made one session state-aware at
   * once: the first keeps it), or TABLE_FULL at the limit.
   */
  insert(key: OwnerKey, pid: number, slot: number, thread: number): number {
    const w = this.words;
    this.lock(pid);
    try {
      if (this.find(key) !== null) return ALREADY_OWNED;
      if (Atomics.load(w, H.live) >= this.limit) return TABLE_FULL;
      let at = key[0] & this.mask;
      for (let n = 0; n < this.capacity; n++, at = (at + 1) & this.mask) {
        const e = ENTRIES_AT + at * ENTRY_WORDS;
        const tag = Atomics.load(w, e + E.tag);
        const state = stateOf(tag);
        if (state !== EMPTY && state !== TOMBSTONE) continue;
        const writing = bumped(tag, WRITING);
        if (Atomics.compareExchange(w, e + E.tag, tag, writing) !== tag) continue;
        Atomics.store(w, e + E.pid, pid);
        Atomics.store(w, e + E.slot, slot);
        Atomics.store(w, e + E.thread, thread);
        for (let i = 0; i < 4; i++) Atomics.store(w, e + E.key + i, key[i]);
        Atomics.add(w, H.live, 1);
        Atomics.store(w, e + E.tag, bumped(writing, LIVE));
        return at;
      }
      return TABLE_FULL;
    } finally {
      this.unlock(pid);
    }
  }

  /** Removes the entry a reader saw, unless it changed since; true when this call removed it. */
  remove(entry: Pick<OwnerEntry, 'index' | 'tag'>): boolean {
    const e = ENTRIES_AT + entry.index * ENTRY_WORDS;
    const state = stateOf(entry.tag);
    if (state !== LIVE && state !== ORPHAN) return false;
    if (Atomics.compareExchange(this.words, e + E.tag, entry.tag, bumped(entry.tag, TOMBSTONE)) !== entry.tag) return false;
    Atomics.sub(this.words, H.live, 1);
    return true;
  }

  /** The master, when a child exited: its LIVE entries become ORPHAN. Returns how many. */
  orphan(pid: number): number {
    const w = this.words;
    let count = 0;
    for (let at = 0; at < this.capacity; at++) {
      const e = ENTRIES_AT + at * ENTRY_WORDS;
      const tag = Atomics.load(w, e + E.tag);
      if (stateOf(tag) !== LIVE || Atomics.load(w, e + E.pid) !== pid) continue;
      if (Atomics.compareExchange(w, e + E.tag, tag, bumped(tag, ORPHAN)) === tag) count++;
    }
    // A child killed holding the insert lock would hold every insert up until the next spin-out.
    Atomics.compareExchange(w, H.insertLock, pid, 0);
    return count;
  }

  /** Every LIVE or ORPHAN entry, for server-status and tests. */
  entries(): OwnerEntry[] {
    const out: OwnerEntry[] = [];
    for (let at = 0; at < this.capacity; at++) {
      const entry = this.read(at);
      if (entry !== null && entry !== RETRY_PROBE) out.push(entry);
    }
    return out;
  }

  private probe(key: OwnerKey): OwnerEntry | null | typeof RETRY_PROBE {
    const w = this.words;
    let at = key[0] & this.mask;
    for (let n = 0; n < this.capacity; n++, at = (at + 1) & this.mask) {
      const e = ENTRIES_AT + at * ENTRY_WORDS;
      const tag = Atomics.load(w, e + E.tag);
      const state = stateOf(tag);
      if (state === EMPTY) return null;
      if (state === TOMBSTONE) continue;
      if (state === WRITING) {
        // Its key is not readable yet; the writer holds the lock for microseconds.
        return RETRY_PROBE;
      }
      let same = true;
      for (let i = 0; i < 4 && same; i++) same = Atomics.load(w, e + E.key + i) === key[i];
      if (!same) continue;
      const entry = this.read(at);
      if (entry === null) continue;
      return entry;
    }
    return null;
  }

  private read(at: number): OwnerEntry | null | typeof RETRY_PROBE {
    const w = this.words;
    const e = ENTRIES_AT + at * ENTRY_WORDS;
    const tag = Atomics.load(w, e + E.tag);
    const state = stateOf(tag);
    if (state !== LIVE && state !== ORPHAN) return null;
    const pid = Atomics.load(w, e + E.pid);
    const slot = Atomics.load(w, e + E.slot);
    const thread = Atomics.load(w, e + E.thread);
    if (Atomics.load(w, e + E.tag) !== tag) return RETRY_PROBE;
    return { index: at, tag, state, pid, slot, thread };
  }

  private lock(pid: number): void {
    const w = this.words;
    for (let spins = 0; ; spins++) {
      const holder = Atomics.compareExchange(w, H.insertLock, 0, pid);
      if (holder === 0) return;
      if (spins >= LOCK_SPINS && !isAlive(holder)) {
        Atomics.compareExchange(w, H.insertLock, holder, 0);
        spins = 0;
      }
    }
  }

  private unlock(pid: number): void {
    Atomics.compareExchange(this.words, H.insertLock, pid, 0);
  }
}
