// The health table: whether each backend member may take requests, shared by every child so that
// a member refused in one child is out in all of them (retry=) and so that one process, not each
// child, runs each health probe (mod_proxy_hcheck). The master creates it and gives each member
// of the configuration a record, found by the member's key; records of members that a reload
// keeps keep their state.
//
// Byte layout, little-endian, offsets in bytes. Times are ticks of 100 ms on CLOCK_MONOTONIC
// (system-wide on Linux, so the same in every process) counted from the header's epoch: an int32
// lasts 6.8 years of master life, and Atomics.compareExchange works on it. A test checks these
// tables against the code.
//
//   Header: 64 bytes at 0.
//   | off | type      | field              | notes                                  |
//   |   0 | i32       | magic              | 'MPHC'; written last by create         |
//   |   4 | i32       | version            | layout version                         |
//   |   8 | i32       | capacity           | member records                         |
//   |  12 | i32       | epoch              | CLOCK_MONOTONIC seconds at creation    |
//
//   Member record: 128 bytes, capacity of them at 64.
//   | off | type      | field              | notes                                  |
//   |   0 | i32       | keyHash            | FNV-1a of the key; 0 = never assigned  |
//   |   4 | i32       | flags              | IN_ERROR 1, HC_FAILED 2; 0 = usable    |
//   |   8 | i32       | retryAt            | tick after which IN_ERROR may be tried |
//   |  12 | i32       | probeDue           | tick of the next probe; claimed by CAS |
//   |  16 | i32       | goodProbes         | consecutive passed probes              |
//   |  20 | i32       | badProbes          | consecutive failed probes              |
//   |  24 | utf8[104] | key                | the member's key, NUL-padded           |
//
// Every int32 goes through Atomics. Flags change with Atomics.or/and, whose old value tells the
// one process that changed a flag, and only it, to log the change. A retry after retry= and a
// probe are claimed by compareExchange on retryAt and probeDue: the process that moves the time
// forward is the one that retries or probes, so one probe runs per interval whichever children
// live, and a child that dies mid-probe only costs that interval. The key is written by the
// master alone, before the children that look it up start.

import { SharedMemoryError } from '../errors';
import { attachHeader, defineLayout, elementIndexes, i32, initSegment, readFixedUtf8, utf8, writeFixedUtf8 } from './layout';

/** 'MPHC' read as a little-endian int32. */
export const HEALTH_MAGIC = 0x4348504d;
export const HEALTH_VERSION = 1;
/** Members across every balancer and ProxyPass backend; the configuration checks it. */
export const HEALTH_CAPACITY = 1024;
export const KEY_BYTES = 104;

export const IN_ERROR = 1;
export const HC_FAILED = 2;

export const TICK_MS = 100;

export const healthHeaderLayout = defineLayout({ magic: i32, version: i32, capacity: i32, epoch: i32 }, 64);

export const memberLayout = defineLayout({
  keyHash: i32,
  flags: i32,
  retryAt: i32,
  probeDue: i32,
  goodProbes: i32,
  badProbes: i32,
  key: utf8(KEY_BYTES),
});

const H = elementIndexes(healthHeaderLayout, 4);
const M = elementIndexes(memberLayout, 4);
const RECORD_WORDS = memberLayout.size >> 2;

/** What the master tells the table about each member of a configuration. */
export interface MemberKey {
  key: string;
  /** Has health checks: without them a HC_FAILED flag left by an older configuration goes. */
  checked: boolean;
}

/** Process-wide offset from performance.now() to CLOCK_MONOTONIC, so reading the clock
 * allocates nothing (process.hrtime() returns a new array). */
const monotonicBase = (() => {
  const [s, ns] = process.hrtime();
  return s * 1000 + ns / 1e6 - performance.now();
})();

function monotonicMs(): number {
  return monotonicBase + performance.now();
}

export function keyHash(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  return h === 0 ? 1 : h;
}

export class HealthTable {
  readonly capacity: number;
  private readonly words: Int32Array;
  private readonly bytes: Uint8Array;
  private readonly epochTicks: number;
  private readonly scratch = new Uint8Array(KEY_BYTES);

  static byteLength(capacity = HEALTH_CAPACITY): number {
    return healthHeaderLayout.size + capacity * memberLayout.size;
  }

  /** Initialises a table over `buffer` (zeroed: no member assigned). */
  static create(buffer: ArrayBufferLike, capacity = HEALTH_CAPACITY): HealthTable {
    initSegment(buffer, HealthTable.byteLength(capacity), 'health table', HEALTH_MAGIC, [
      [H.version, HEALTH_VERSION],
      [H.capacity, capacity],
      [H.epoch, Math.floor(monotonicMs() / 1000)],
    ]);
    return new HealthTable(buffer);
  }

  /** Opens a table another process created, checking that it is one of this layout. */
  static attach(buffer: ArrayBufferLike): HealthTable {
    const header = attachHeader(buffer, healthHeaderLayout.size, 'health table', HEALTH_MAGIC, HEALTH_VERSION);
    if (buffer.byteLength < HealthTable.byteLength(Atomics.load(header, H.capacity))) {
      throw new SharedMemoryError('health table is larger than its segment');
    }
    return new HealthTable(buffer);
  }

  private constructor(buffer: ArrayBufferLike) {
    const header = new Int32Array(buffer, 0, healthHeaderLayout.size >> 2);
    this.capacity = Atomics.load(header, H.capacity);
    const length = HealthTable.byteLength(this.capacity);
    this.words = new Int32Array(buffer, 0, length >> 2);
    this.bytes = new Uint8Array(buffer, 0, length);
    this.epochTicks = Atomics.load(header, H.epoch) * (1000 / TICK_MS);
  }

  /** Ticks since the epoch; allocation-free, for the request path. */
  now(): number {
    return Math.floor(monotonicMs() / TICK_MS) - this.epochTicks;
  }

  /**
   * Gives every member of a configuration a record (the master does this, and only it). A key
   * already present keeps its record and state; a new key takes a never-used record, or when
   * none is left the record of a key this configuration no longer has. Probes are due at once,
   * so a changed hcinterval applies from the reload on.
   */
  assign(members: readonly MemberKey[]): void {
    if (members.length > this.capacity) {
      throw new SharedMemoryError(`${members.length} backend members do not fit the health table (${this.capacity})`);
    }
    const wanted = new Set(members.map((m) => this.identityOf(m.key)));
    const kept = new Map<string, number>();
    const reusable: number[] = [];
    for (let slot = 0; slot < this.capacity; slot++) {
      const identity = this.identityAt(slot);
      if (identity !== null && wanted.has(identity)) kept.set(identity, slot);
      else if (identity !== null) reusable.push(slot);
    }
    let fresh = 0;
    const nextFree = (): number => {
      while (fresh < this.capacity && this.identityAt(fresh) !== null) fresh++;
      if (fresh < this.capacity) return fresh++;
      return reusable.shift() as number;
    };
    for (const m of members) {
      const identity = this.identityOf(m.key);
      let slot = kept.get(identity);
      if (slot === undefined) {
        slot = nextFree();
        kept.set(identity, slot);
        this.reset(slot, m.key);
      }
      const r = this.word(slot);
      if (!m.checked) {
        Atomics.and(this.words, r + M.flags, ~HC_FAILED);
        Atomics.store(this.words, r + M.goodProbes, 0);
        Atomics.store(this.words, r + M.badProbes, 0);
      }
      Atomics.store(this.words, r + M.probeDue, 0);
    }
  }

  /** The record of `key`, or -1. Called once per member when a serving loop starts. */
  find(key: string): number {
    const identity = this.identityOf(key);
    for (let slot = 0; slot < this.capacity; slot++) {
      if (this.identityAt(slot) === identity) return slot;
    }
    return -1;
  }

  flags(slot: number): number {
    return Atomics.load(this.words, this.word(slot) + M.flags);
  }

  /**
   * Puts the member in error until `retryTicks` from now. True when this call took it from
   * usable to out (and so is the one to log it).
   */
  markError(slot: number, retryTicks: number): boolean {
    const r = this.word(slot);
    Atomics.store(this.words, r + M.retryAt, this.now() + retryTicks);
    return Atomics.or(this.words, r + M.flags, IN_ERROR) === 0;
  }

  /**
   * For a member in error whose retry time has come: true for the one caller that moves the
   * retry time `retryTicks` on, which then sends it a request as a trial.
   */
  claimRetry(slot: number, retryTicks: number): boolean {
    const at = this.word(slot) + M.retryAt;
    const due = Atomics.load(this.words, at);
    const now = this.now();
    return now >= due && Atomics.compareExchange(this.words, at, due, now + retryTicks) === due;
  }

  /** The member took a connection again: true when this call made it usable (and so logs it). */
  clearError(slot: number): boolean {
    return Atomics.and(this.words, this.word(slot) + M.flags, ~IN_ERROR) === IN_ERROR;
  }

  /** True for the one caller that finds the member's probe due and moves it an interval on. */
  claimProbe(slot: number, intervalTicks: number): boolean {
    const at = this.word(slot) + M.probeDue;
    const due = Atomics.load(this.words, at);
    const now = this.now();
    return now >= due && Atomics.compareExchange(this.words, at, due, now + intervalTicks) === due;
  }

  /**
   * Counts a passed probe, which clears HC_FAILED after `passes` in a row, and IN_ERROR at once
   * since the member answers. True when this call made the member usable.
   */
  probePassed(slot: number, passes: number): boolean {
    const r = this.word(slot);
    Atomics.store(this.words, r + M.badProbes, 0);
    const good = Atomics.add(this.words, r + M.goodProbes, 1) + 1;
    const clear = good >= passes ? HC_FAILED | IN_ERROR : IN_ERROR;
    const before = Atomics.and(this.words, r + M.flags, ~clear);
    return before !== 0 && (before & ~clear) === 0;
  }

  /** Counts a failed probe; `fails` in a row set HC_FAILED. True when this call took the member
   * from usable to out. */
  probeFailed(slot: number, fails: number): boolean {
    const r = this.word(slot);
    Atomics.store(this.words, r + M.goodProbes, 0);
    const bad = Atomics.add(this.words, r + M.badProbes, 1) + 1;
    return bad >= fails && Atomics.or(this.words, r + M.flags, HC_FAILED) === 0;
  }

  /** A record's hash and stored key, null when never assigned. */
  private identityAt(slot: number): string | null {
    const hash = Atomics.load(this.words, this.word(slot) + M.keyHash);
    if (hash === 0) return null;
    return `${hash}|${readFixedUtf8(this.bytes, (this.word(slot) << 2) + memberLayout.offsets.key, KEY_BYTES)}`;
  }

  /** What identityAt reads for `key` once stored: a key longer than the field is cut, and the
   * hash of the whole key still tells such keys apart. */
  private identityOf(key: string): string {
    writeFixedUtf8(this.scratch, 0, KEY_BYTES, key);
    return `${keyHash(key)}|${readFixedUtf8(this.scratch, 0, KEY_BYTES)}`;
  }

  private reset(slot: number, key: string): void {
    const r = this.word(slot);
    Atomics.store(this.words, r + M.keyHash, 0);
    for (const field of [M.flags, M.retryAt, M.probeDue, M.goodProbes, M.badProbes]) Atomics.store(this.words, r + field, 0);
    writeFixedUtf8(this.bytes, (r << 2) + memberLayout.offsets.key, KEY_BYTES, key);
    Atomics.store(this.words, r + M.keyHash, keyHash(key));
  }

  private word(slot: number): number {
    if (slot >>> 0 !== slot || slot >= this.capacity) {
      throw new RangeError(`health record ${slot} is outside 0..${this.capacity - 1}`);
    }
    return (healthHeaderLayout.size >> 2) + slot * RECORD_WORDS;
  }
}
