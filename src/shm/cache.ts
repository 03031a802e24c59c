// The cache segment: a key/value table in shared memory that every child and thread reads and
// writes, sized by LimitCache, each item bounded by LimitCacheItem. The shm session store keeps
// its sessions here (kind SESSION); response caching is meant to be another kind. The master
// creates it; it lives across graceful restarts and child crashes and goes when the master stops.
//
// Byte layout, little-endian, offsets in bytes. A test checks these tables against the code.
//
//   Header: 128 bytes at 0.
//   | off | type      | field              | notes                                  |
//   |   0 | i32       | magic              | 'MPCA'; written last by create         |
//   |   4 | i32       | version            | layout version                         |
//   |   8 | i32       | capacity           | index entries, a power of two          |
//   |  12 | i32       | blocks             | data blocks of BLOCK_SIZE bytes        |
//   |  16 | i32       | itemMax            | LimitCacheItem, bytes of one item      |
//   |  20 | i32       | lock               | writer token (thread << 22 | pid), 0   |
//   |  24 | i32       | usedBlocks         | blocks held by items                   |
//   |  28 | i32       | cursor             | where the next block search starts     |
//   |  32 | i32       | recoveries         | locks taken over from dead writers     |
//   |  36 | i32       | level              | highest threshold logged (see stores)  |
//   |  40 | i32[4]    | kindItems          | items of each kind                     |
//   |  56 | i32[4]    | kindBytes          | bytes (whole blocks) of each kind      |
//
//   Index entry: 8 bytes, capacity of them at 128; open addressing, linear probing.
//   | off | type      | field              | notes                                  |
//   |   0 | i32       | hash               | FNV-1a of the key                      |
//   |   4 | i32       | ptr                | first block + 1; 0 empty; -1 deleted   |
//
//   Block bitmap: ceil(blocks / 32) i32 after the index, bit set = block in use.
//   Data: blocks × BLOCK_SIZE bytes after the bitmap (8-aligned). An item is a run of
//   contiguous blocks starting with its header:
//
//   Item header: 24 bytes, then the key's bytes, then the value's.
//   | off | type      | field              | notes                                  |
//   |   0 | i32       | checksum           | FNV-1a of bytes 4 .. length            |
//   |   4 | i32       | length             | header + key + value bytes             |
//   |   8 | i32       | kind               | SESSION = 1                            |
//   |  12 | i32       | expiresAt          | seconds since 1970 (unsigned); 0 never |
//   |  16 | i32       | keyLength          | bytes of the key                       |
//   |  20 | i32       | reserved           | 0                                      |
//
// Why it survives a SIGKILL mid-write: writers take the lock (a compare-and-swap of their
// token), write a changed item into blocks nobody points at, and only then publish it with one
// Atomics.store of the index entry's ptr; the old blocks are freed after. A reader copies the
// item its entry points at, without any lock, and accepts the copy only when its checksum holds
// and the entry still points there, else reads again: it sees the old value or the new, never a
// mix. A writer killed while it holds the lock leaves it taken: the next writer that finds the
// holder's process gone takes the lock over and rebuilds the bitmap and counters from the index
// (blocks written but never published become free again). Atomics.wait cannot sleep on this
// memory, so the lock spins; it is held for one copy of one item.

import { readFileSync } from 'node:fs';
import { threadId } from 'node:worker_threads';
import { SharedMemoryError } from '../errors';
import { attachHeader, defineLayout, elementIndexes, i32, i32x4, initSegment } from './layout';

/** 'MPCA' read as a little-endian int32. */
export const CACHE_MAGIC = 0x4143504d;
export const CACHE_VERSION = 1;
export const BLOCK_SIZE = 256;
export const KINDS = 4;
export const SESSION = 1;

export const cacheHeaderLayout = defineLayout(
  {
    magic: i32, version: i32, capacity: i32, blocks: i32, itemMax: i32, lock: i32, usedBlocks: i32,
    cursor: i32, recoveries: i32, level: i32, kindItems: i32x4, kindBytes: i32x4,
  },
  128,
);
export const indexEntryLayout = defineLayout({ hash: i32, ptr: i32 }, 8);
export const itemHeaderLayout = defineLayout({ checksum: i32, length: i32, kind: i32, expiresAt: i32, keyLength: i32, reserved: i32 }, 8);

const H = elementIndexes(cacheHeaderLayout, 4);
const E = elementIndexes(indexEntryLayout, 4);
const I = elementIndexes(itemHeaderLayout, 4);
const ITEM_HEADER = itemHeaderLayout.size;
const ENTRY_WORDS = indexEntryLayout.size >> 2;
const EMPTY = 0;
const DELETED = -1;
/** Largest segment the int32 fields can describe. */
export const MAX_CACHE_BYTES = 2 ** 30;
/** Spins between looks at whether the lock's holder still lives. */
const SPINS_PER_CHECK = 4096;
/** A lock held longer than this by a live process is a bug, not contention: fail, never hang. */
const LOCK_WAIT_MS = 2000;

export type PutResult = 'ok' | 'exists' | 'missing' | 'too-large' | 'no-space';

export interface CachedItem {
  value: Buffer;
  kind: number;
  /** seconds since 1970; 0 never */
  expiresAt: number;
}

/** An item with where its copy came from and the whole copy (header, key, value): what
 * isCurrent compares. */
export interface PlacedItem {
  readonly item: CachedItem;
  readonly entry: number;
  readonly ptr: number;
  readonly raw: Buffer;
}

export interface CacheStats {
  blocks: number;
  usedBlocks: number;
  items: number[];
  bytes: number[];
  recoveries: number;
}

function fnv(bytes: Uint8Array, from: number, to: number): number {
  let h = 0x811c9dc5;
  for (let i = from; i < to; i++) h = Math.imul(h ^ bytes[i], 0x01000193);
  return h | 0;
}

function keyHash(key: Buffer): number {
  const h = fnv(key, 0, key.length);
  // 0 marks an entry never hashed; any other value is a possible key.
  return h === 0 ? 1 : h;
}

/** An item as it is stored (header, key, value), checksum included: put() copies it into the
 * segment in one go and keeps it for takeWritten(). */
function itemImage(key: Buffer, kind: number, value: Uint8Array, expiresAt: number, length: number): Buffer {
  const b = Buffer.allocUnsafe(length);
  b.writeInt32LE(length, 4);
  b.writeInt32LE(kind, 8);
  b.writeUInt32LE(expiresAt >>> 0, 12);
  b.writeInt32LE(key.length, 16);
  b.writeInt32LE(0, 20);
  key.copy(b, ITEM_HEADER);
  b.set(value, ITEM_HEADER + key.length);
  b.writeInt32LE(fnv(b, 4, length), 0);
  return b;
}

function nextPowerOfTwo(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

function geometry(dataBytes: number): { capacity: number; blocks: number } {
  const blocks = Math.max(1, Math.floor(dataBytes / BLOCK_SIZE));
  // Every item holds a block at least: twice as many entries keeps probe runs short.
  return { capacity: nextPowerOfTwo(blocks * 2), blocks };
}

/** Whether `pid` still runs: a killed process its parent has not reaped yet (a zombie) does not. */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.charAt(stat.lastIndexOf(')') + 2) !== 'Z';
  } catch {
    return false;
  }
}

export class CacheTable {
  readonly capacity: number;
  readonly blocks: number;
  readonly itemMax: number;
  private readonly words: Int32Array;
  private readonly bytes: Buffer;
  private readonly indexWord: number;
  private readonly bitmapWord: number;
  private readonly dataOffset: number;
  private readonly token: number;
  /** The item the last successful put() of this table wrote, as getPlaced() would return it. */
  private written: PlacedItem | null = null;

  /** Bytes of a segment whose data area holds `dataBytes`: header, index and bitmap come on top. */
  static byteLength(dataBytes: number): number {
    const { capacity, blocks } = geometry(dataBytes);
    const bitmap = Math.ceil(blocks / 32) * 4;
    const data = Math.ceil((cacheHeaderLayout.size + capacity * indexEntryLayout.size + bitmap) / 8) * 8;
    return data + blocks * BLOCK_SIZE;
  }

  static create(buffer: ArrayBufferLike, dataBytes: number, itemMax: number): CacheTable {
    if (dataBytes > MAX_CACHE_BYTES) throw new SharedMemoryError(`a cache of ${dataBytes} bytes is over the ${MAX_CACHE_BYTES}-byte maximum`);
    const { capacity, blocks } = geometry(dataBytes);
    initSegment(buffer, CacheTable.byteLength(dataBytes), 'cache segment', CACHE_MAGIC, [
      [H.version, CACHE_VERSION],
      [H.capacity, capacity],
      [H.blocks, blocks],
      [H.itemMax, Math.min(itemMax, blocks * BLOCK_SIZE)],
    ]);
    return new CacheTable(buffer);
  }

  static attach(buffer: ArrayBufferLike): CacheTable {
    attachHeader(buffer, cacheHeaderLayout.size, 'cache segment', CACHE_MAGIC, CACHE_VERSION);
    return new CacheTable(buffer);
  }

  private constructor(buffer: ArrayBufferLike) {
    const header = new Int32Array(buffer, 0, cacheHeaderLayout.size >> 2);
    this.capacity = Atomics.load(header, H.capacity);
    this.blocks = Atomics.load(header, H.blocks);
    this.itemMax = Atomics.load(header, H.itemMax);
    const bitmapWords = Math.ceil(this.blocks / 32);
    this.indexWord = cacheHeaderLayout.size >> 2;
    this.bitmapWord = this.indexWord + this.capacity * ENTRY_WORDS;
    this.dataOffset = Math.ceil(((this.bitmapWord + bitmapWords) * 4) / 8) * 8;
    const length = this.dataOffset + this.blocks * BLOCK_SIZE;
    if (buffer.byteLength < length) throw new SharedMemoryError('cache segment is larger than its mapping');
    this.words = new Int32Array(buffer, 0, length >> 2);
    this.bytes = Buffer.from(buffer as ArrayBuffer, 0, length);
    this.token = ((threadId & 0x1ff) << 22) | process.pid;
  }

  /** The item under `key`, copied out; null when there is none. Takes no lock. */
  get(key: string): CachedItem | null {
    return this.getPlaced(key)?.item ?? null;
  }

  /** As get(), with what isCurrent needs to tell later whether the item is still the same. */
  getPlaced(key: string): PlacedItem | null {
    const k = Buffer.from(key, 'utf8');
    const hash = keyHash(k);
    for (let attempt = 0; ; attempt++) {
      const entry = this.findEntry(k, hash);
      if (entry < 0) return null;
      const ptr = Atomics.load(this.words, entry + E.ptr);
      if (ptr <= 0) continue;
      const item = this.copyItem(entry, ptr, k);
      if (item !== null && Atomics.load(this.words, entry + E.ptr) === ptr) return item;
      // A writer replaced it while we copied: read again.
      if (attempt > 1000) throw new SharedMemoryError('cache item kept changing under a reader');
    }
  }

  /**
   * Whether `placed`, a copy getPlaced() returned, is still its key's item: its index entry points at
   * the same blocks and they hold the same bytes. No copy and no checksum: a reader that keeps
   * what it made of an item (a decoded session) asks this instead of reading it again. Exact,
   * not a guess from a sequence number: another process's write publishes new blocks, and a
   * block reused for another item holds other bytes (its key or its checksum differ).
   */
  isCurrent(placed: PlacedItem): boolean {
    const ptr = placed.ptr;
    if (Atomics.load(this.words, placed.entry + E.ptr) !== ptr) return false;
    const start = this.dataOffset + (ptr - 1) * BLOCK_SIZE;
    const raw = placed.raw;
    if (this.bytes.compare(raw, 0, raw.length, start, start + raw.length) !== 0) return false;
    // As in get(): blocks freed and reused while we compared fail here.
    return Atomics.load(this.words, placed.entry + E.ptr) === ptr;
  }

  /** The item the last put() that returned 'ok' wrote (as getPlaced() would find it), taken
   * once: a writer that keeps what it made of its items (a decoded session) need not read back. */
  takeWritten(): PlacedItem | null {
    const w = this.written;
    this.written = null;
    return w;
  }

  /**
   * Stores `value` under `key`: `mode` 'create' only when absent, 'replace' only when present,
   * 'upsert' either way. `allow(kind bytes after, items after)` may veto a write that would grow
   * its kind (the stores' thresholds); it runs under the lock, so the counts are exact.
   */
  put(
    key: string,
    kind: number,
    value: Uint8Array,
    expiresAt: number,
    mode: 'create' | 'replace' | 'upsert',
    allow?: (bytesAfter: number, itemsAfter: number) => boolean,
  ): PutResult | 'refused' {
    const k = Buffer.from(key, 'utf8');
    const length = ITEM_HEADER + k.length + value.length;
    if (length > this.itemMax) return 'too-large';
    const hash = keyHash(k);
    const need = Math.ceil(length / BLOCK_SIZE);
    this.written = null;
    this.lock();
    try {
      const entry = this.findEntry(k, hash);
      const old = entry < 0 ? 0 : Atomics.load(this.words, entry + E.ptr);
      if (mode === 'create' && old > 0) return 'exists';
      if (mode === 'replace' && old <= 0) return 'missing';
      const oldBlocks = old > 0 ? this.blocksOf(old - 1) : 0;
      const oldKind = old > 0 ? this.words[this.itemWord(old - 1) + I.kind] : kind;
      if (allow !== undefined) {
        const bytes = Atomics.load(this.words, H.kindBytes + kind) + (need - (oldKind === kind ? oldBlocks : 0)) * BLOCK_SIZE;
        const items = Atomics.load(this.words, H.kindItems + kind) + (old > 0 && oldKind === kind ? 0 : 1);
        if (!allow(bytes, items)) return 'refused';
      }
      const block = this.allocate(need);
      if (block < 0) return 'no-space';
      const image = itemImage(k, kind, value, expiresAt, length);
      this.bytes.set(image, this.dataOffset + block * BLOCK_SIZE);
      const slot = entry >= 0 ? entry : this.freeEntry(hash);
      if (slot < 0) {
        this.release(block, need);
        return 'no-space';
      }
      Atomics.store(this.words, slot + E.hash, hash);
      Atomics.store(this.words, slot + E.ptr, block + 1);
      if (old > 0) this.forget(old - 1, oldKind, oldBlocks);
      Atomics.add(this.words, H.kindItems + kind, 1);
      Atomics.add(this.words, H.kindBytes + kind, need * BLOCK_SIZE);
      this.written = { item: { value: image.subarray(ITEM_HEADER + k.length), kind, expiresAt: expiresAt >>> 0 }, entry: slot, ptr: block + 1, raw: image };
      return 'ok';
    } finally {
      this.unlock();
    }
  }

  /** Removes `key`; true when it was there. */
  delete(key: string, onlyIf?: (item: CachedItem) => boolean): boolean {
    const k = Buffer.from(key, 'utf8');
    const hash = keyHash(k);
    this.lock();
    try {
      const entry = this.findEntry(k, hash);
      if (entry < 0) return false;
      const ptr = Atomics.load(this.words, entry + E.ptr);
      if (ptr <= 0) return false;
      if (onlyIf !== undefined) {
        const copy = this.copyItem(entry, ptr, k);
        if (copy === null || !onlyIf(copy.item)) return false;
      }
      const block = ptr - 1;
      const kind = this.words[this.itemWord(block) + I.kind];
      this.unlink(entry);
      this.forget(block, kind, this.blocksOf(block));
      return true;
    } finally {
      this.unlock();
    }
  }

  /** Every live item's key and expiry, for the reaper; taken without the lock, so a racing
   * write may be missed until the next pass. */
  *entries(): Generator<{ key: string; kind: number; expiresAt: number }> {
    for (let e = 0; e < this.capacity; e++) {
      const at = this.indexWord + e * ENTRY_WORDS;
      const ptr = Atomics.load(this.words, at + E.ptr);
      if (ptr <= 0) continue;
      const w = this.itemWord(ptr - 1);
      const keyLength = this.words[w + I.keyLength];
      const start = (w << 2) + ITEM_HEADER;
      if (keyLength < 0 || start + keyLength > this.bytes.length) continue;
      yield { key: this.bytes.toString('utf8', start, start + keyLength), kind: this.words[w + I.kind], expiresAt: this.words[w + I.expiresAt] >>> 0 };
    }
  }

  stats(): CacheStats {
    const items: number[] = [];
    const bytes: number[] = [];
    for (let k = 0; k < KINDS; k++) {
      items.push(Atomics.load(this.words, H.kindItems + k));
      bytes.push(Atomics.load(this.words, H.kindBytes + k));
    }
    return { blocks: this.blocks, usedBlocks: Atomics.load(this.words, H.usedBlocks), items, bytes, recoveries: Atomics.load(this.words, H.recoveries) };
  }

  /** Bytes (whole blocks) items of `kind` hold now: stats() for one number, on every write. */
  kindBytes(kind: number): number {
    return Atomics.load(this.words, H.kindBytes + kind);
  }

  /** The threshold level last logged; `raiseLevel` returns true for the one caller that moved it. */
  get level(): number {
    return Atomics.load(this.words, H.level);
  }

  setLevel(from: number, to: number): boolean {
    return Atomics.compareExchange(this.words, H.level, from, to) === from;
  }

  private lock(): void {
    const started = Date.now();
    for (let spins = 0; ; spins++) {
      const holder = Atomics.compareExchange(this.words, H.lock, 0, this.token);
      if (holder === 0) return;
      if (spins % SPINS_PER_CHECK !== SPINS_PER_CHECK - 1) continue;
      if (!isAlive(holder & 0x3fffff)) {
        if (Atomics.compareExchange(this.words, H.lock, holder, this.token) === holder) {
          Atomics.add(this.words, H.recoveries, 1);
          this.rebuild();
          return;
        }
      } else if (Date.now() - started > LOCK_WAIT_MS) {
        throw new SharedMemoryError(`cache segment lock held by pid ${holder & 0x3fffff} for over ${LOCK_WAIT_MS} ms`);
      }
    }
  }

  private unlock(): void {
    Atomics.store(this.words, H.lock, 0);
  }

  /** After a writer died holding the lock: the index is the truth; bitmap and counts follow it. */
  private rebuild(): void {
    const bitmapWords = Math.ceil(this.blocks / 32);
    for (let i = 0; i < bitmapWords; i++) this.words[this.bitmapWord + i] = 0;
    let used = 0;
    const items = new Array<number>(KINDS).fill(0);
    const bytes = new Array<number>(KINDS).fill(0);
    for (let e = 0; e < this.capacity; e++) {
      const at = this.indexWord + e * ENTRY_WORDS;
      const ptr = this.words[at + E.ptr];
      if (ptr <= 0) continue;
      const block = ptr - 1;
      const n = this.blocksOf(block);
      const kind = this.words[this.itemWord(block) + I.kind];
      for (let b = block; b < block + n; b++) this.words[this.bitmapWord + (b >> 5)] |= 1 << (b & 31);
      used += n;
      if (kind >= 0 && kind < KINDS) {
        items[kind]++;
        bytes[kind] += n * BLOCK_SIZE;
      }
    }
    Atomics.store(this.words, H.usedBlocks, used);
    for (let k = 0; k < KINDS; k++) {
      Atomics.store(this.words, H.kindItems + k, items[k]);
      Atomics.store(this.words, H.kindBytes + k, bytes[k]);
    }
  }

  /** The index entry (its first word) holding `key`, or -1; stops at the first never-used entry. */
  private findEntry(key: Buffer, hash: number): number {
    const mask = this.capacity - 1;
    for (let i = 0, e = hash & mask; i < this.capacity; i++, e = (e + 1) & mask) {
      const at = this.indexWord + e * ENTRY_WORDS;
      for (;;) {
        const ptr = Atomics.load(this.words, at + E.ptr);
        if (ptr === EMPTY) return -1;
        if (ptr === DELETED || Atomics.load(this.words, at + E.hash) !== hash) break;
        if (this.keyAt(ptr - 1, key)) return at;
        // The blocks may have been reused while we compared: look at this entry again.
        if (Atomics.load(this.words, at + E.ptr) === ptr) break;
      }
    }
    return -1;
  }

  /** An entry for a new key: the first deleted or empty one on its probe run. */
  private freeEntry(hash: number): number {
    const mask = this.capacity - 1;
    for (let i = 0, e = hash & mask; i < this.capacity; i++, e = (e + 1) & mask) {
      const at = this.indexWord + e * ENTRY_WORDS;
      if (this.words[at + E.ptr] <= 0) return at;
    }
    return -1;
  }

  /**
   * Marks the entry at `at` deleted, and turns it and the deleted entries before it back into
   * never-used ones when the entry after it is never-used: no probe run can pass through them
   * to a key beyond, so readers lose nothing, and misses stay short however many keys come and go.
   */
  private unlink(at: number): void {
    Atomics.store(this.words, at + E.ptr, DELETED);
    const mask = this.capacity - 1;
    const index = (w: number) => (w - this.indexWord) / ENTRY_WORDS;
    const wordOf = (e: number) => this.indexWord + (e & mask) * ENTRY_WORDS;
    if (this.words[wordOf(index(at) + 1) + E.ptr] !== EMPTY) return;
    for (let e = index(at), n = 0; n < this.capacity && this.words[wordOf(e) + E.ptr] === DELETED; e--, n++) {
      Atomics.store(this.words, wordOf(e) + E.ptr, EMPTY);
    }
  }

  private itemWord(block: number): number {
    return (this.dataOffset + block * BLOCK_SIZE) >> 2;
  }

  private blocksOf(block: number): number {
    const length = this.words[this.itemWord(block) + I.length];
    return Math.max(1, Math.min(this.blocks - block, Math.ceil(length / BLOCK_SIZE)));
  }

  private keyAt(block: number, key: Buffer): boolean {
    const w = this.itemWord(block);
    if (this.words[w + I.keyLength] !== key.length) return false;
    const start = (w << 2) + ITEM_HEADER;
    return this.bytes.compare(key, 0, key.length, start, start + key.length) === 0;
  }

  /** A whole, checked copy of the item `entry` points at (`ptr`) if it is `key`'s, else null. */
  private copyItem(entry: number, ptr: number, key: Buffer): PlacedItem | null {
    const start = this.dataOffset + (ptr - 1) * BLOCK_SIZE;
    const length = this.words[(start >> 2) + I.length];
    if (length < ITEM_HEADER || start + length > this.bytes.length) return null;
    const copy = Buffer.allocUnsafe(length);
    this.bytes.copy(copy, 0, start, start + length);
    if (fnv(copy, 4, length) !== copy.readInt32LE(0)) return null;
    const keyLength = copy.readInt32LE(16);
    if (keyLength !== key.length || copy.compare(key, 0, key.length, ITEM_HEADER, ITEM_HEADER + keyLength) !== 0) return null;
    const item = { value: copy.subarray(ITEM_HEADER + keyLength), kind: copy.readInt32LE(8), expiresAt: copy.readUInt32LE(12) };
    return { item, entry, ptr, raw: copy };
  }

  /** First fit of `n` contiguous free blocks from the cursor on; -1 when none. */
  private allocate(n: number): number {
    const total = this.blocks;
    const from = Atomics.load(this.words, H.cursor) % total;
    let run = 0;
    for (let i = 0; i < total + n; i++) {
      const b = (from + i) % total;
      if (b === 0) run = 0;
      const word = this.words[this.bitmapWord + (b >> 5)];
      if (word === -1 && (b & 31) === 0 && b + 32 <= total) {
        run = 0;
        i += 31;
        continue;
      }
      if ((word & (1 << (b & 31))) !== 0) {
        run = 0;
        continue;
      }
      if (++run === n) {
        const start = b - n + 1;
        for (let x = start; x <= b; x++) this.words[this.bitmapWord + (x >> 5)] |= 1 << (x & 31);
        Atomics.add(this.words, H.usedBlocks, n);
        Atomics.store(this.words, H.cursor, (b + 1) % total);
        return start;
      }
    }
    return -1;
  }

  private release(block: number, n: number): void {
    for (let x = block; x < block + n; x++) this.words[this.bitmapWord + (x >> 5)] &= ~(1 << (x & 31));
    Atomics.sub(this.words, H.usedBlocks, n);
  }

  private forget(block: number, kind: number, n: number): void {
    this.release(block, n);
    if (kind >= 0 && kind < KINDS) {
      Atomics.sub(this.words, H.kindItems + kind, 1);
      Atomics.sub(this.words, H.kindBytes + kind, n * BLOCK_SIZE);
    }
  }
}
