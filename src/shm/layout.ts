// Building blocks for the fixed byte layouts of shared-memory segments. A segment is a
// plain ArrayBuffer mapped into several processes: Atomics on an Int32Array over it are
// atomic across processes, but BigInt64 Atomics would allocate a BigInt on every call, so
// 64-bit counters are kept as two int32 words instead.

import { SharedMemoryError } from '../errors';

/** How a field is stored: its size and the alignment its typed-array view needs. */
export interface FieldType {
  readonly size: number;
  readonly align: number;
}

export const i32: FieldType = { size: 4, align: 4 };
/** Four int32 words read as one field (a 128-bit key or hash). */
export const i32x4: FieldType = { size: 16, align: 4 };
export const f64: FieldType = { size: 8, align: 8 };
/** A counter of up to 2^53 kept as (low, high) int32 words; see addU64/loadU64. */
export const u64: FieldType = { size: 8, align: 8 };

/** A UTF-8 string of at most `size` bytes, NUL-padded. */
export function utf8(size: number): FieldType {
  return { size, align: 1 };
}

export interface Layout<K extends string> {
  /** Byte offset of each field from the start of the record. */
  readonly offsets: Readonly<Record<K, number>>;
  /** The record's size, padded to `recordAlign`. */
  readonly size: number;
}

/**
 * Lays fields out in the order given, each at its natural alignment. The record is padded
 * to `recordAlign` (8 by default) so that arrays of records keep every f64 and u64 aligned.
 */
export function defineLayout<K extends string>(
  fields: Record<K, FieldType>,
  recordAlign = 8,
): Layout<K> {
  const offsets = {} as Record<K, number>;
  let at = 0;
  for (const name of Object.keys(fields) as K[]) {
    const type = fields[name];
    at = alignUp(at, type.align);
    offsets[name] = at;
    at += type.size;
  }
  return { offsets, size: alignUp(at, recordAlign) };
}

/**
 * Each field's index in a typed array with `bytesPerElement`-byte elements laid over the
 * record (Int32Array: 4, Float64Array: 8). Meaningful only for fields of that width.
 */
export function elementIndexes<K extends string>(layout: Layout<K>, bytesPerElement: 4 | 8): Readonly<Record<K, number>> {
  const indexes = {} as Record<K, number>;
  for (const name of Object.keys(layout.offsets) as K[]) indexes[name] = layout.offsets[name] / bytesPerElement;
  return indexes;
}

export function alignUp(n: number, to: number): number {
  return Math.ceil(n / to) * to;
}

/**
 * Starts a segment's life: checks that `buffer` holds `needed` bytes, zeroes them and stores the
 * header's int32 words, given as [index, value], then the magic at word 0 last, so that a process
 * attaching mid-create sees no magic rather than half a header.
 */
export function initSegment(
  buffer: ArrayBufferLike,
  needed: number,
  what: string,
  magic: number,
  header: ReadonlyArray<readonly [number, number]>,
): void {
  if (buffer.byteLength < needed) {
    throw new SharedMemoryError(`${what} needs ${needed} bytes, the segment has ${buffer.byteLength}`);
  }
  new Uint8Array(buffer, 0, needed).fill(0);
  const words = new Int32Array(buffer, 0, needed >> 2);
  for (const [index, value] of header) Atomics.store(words, index, value);
  Atomics.store(words, 0, magic);
}

/**
 * The header words of a segment another process created with initSegment, once its magic (word
 * 0) and layout version (word 1) are the ones this build writes.
 */
export function attachHeader(buffer: ArrayBufferLike, headerSize: number, what: string, magic: number, version: number): Int32Array {
  if (buffer.byteLength < headerSize) {
    throw new SharedMemoryError(`segment of ${buffer.byteLength} bytes is too small to hold a ${what} header`);
  }
  const words = new Int32Array(buffer, 0, headerSize >> 2);
  const found = Atomics.load(words, 0);
  if (found !== magic) {
    throw new SharedMemoryError(`segment is not a ${what}: magic 0x${(found >>> 0).toString(16)}, expected 0x${magic.toString(16)}`);
  }
  const written = Atomics.load(words, 1);
  if (written !== version) {
    throw new SharedMemoryError(
      `${what} layout version ${written} is not the version ${version} this build uses; stop every mpmproxy process using it and start again`,
    );
  }
  return words;
}

const TWO_32 = 0x1_0000_0000;

/**
 * Atomically adds `n` (a non-negative safe integer) to the u64 counter whose low word is
 * words[index]. The carry into the high word is a second atomic add, so a reader racing
 * the instant between the two can see the value 2^32 short; no increment is ever lost.
 */
export function addU64(words: Int32Array, index: number, n: number): void {
  const low = n % TWO_32;
  let high = (n - low) / TWO_32;
  const before = Atomics.add(words, index, low | 0) >>> 0;
  if (before + low >= TWO_32) high += 1;
  if (high !== 0) Atomics.add(words, index + 1, high);
}

export function loadU64(words: Int32Array, index: number): number {
  // Re-read until the high word is stable, so a carry landing mid-read is not half-seen.
  for (;;) {
    const high = Atomics.load(words, index + 1) >>> 0;
    const low = Atomics.load(words, index) >>> 0;
    if (Atomics.load(words, index + 1) >>> 0 === high) return high * TWO_32 + low;
  }
}

export function storeU64(words: Int32Array, index: number, value: number): void {
  const low = value % TWO_32;
  Atomics.store(words, index, low | 0);
  Atomics.store(words, index + 1, (value - low) / TWO_32);
}

const REPLACEMENT_CHAR = 0xfffd;

/**
 * Encodes `value` as UTF-8 into bytes[offset, offset + size), cutting before the first
 * character that does not fit whole, and NUL-fills the rest. Lone surrogates become
 * U+FFFD. Allocates nothing, so the request path can call it for every request.
 * Returns the number of bytes written before the padding.
 */
export function writeFixedUtf8(bytes: Uint8Array, offset: number, size: number, value: string): number {
  const end = offset + size;
  let at = offset;
  for (let i = 0; i < value.length; i++) {
    let cp = value.charCodeAt(i);
    if (cp >= 0xd800 && cp <= 0xdfff) {
      const next = i + 1 < value.length ? value.charCodeAt(i + 1) : 0;
      if (cp <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
        cp = 0x10000 + ((cp - 0xd800) << 10) + (next - 0xdc00);
        i++;
      } else {
        cp = REPLACEMENT_CHAR;
      }
    }
    const length = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    if (at + length > end) break;
    if (length === 1) {
      bytes[at++] = cp;
    } else if (length === 2) {
      bytes[at++] = 0xc0 | (cp >> 6);
      bytes[at++] = 0x80 | (cp & 0x3f);
    } else if (length === 3) {
      bytes[at++] = 0xe0 | (cp >> 12);
      bytes[at++] = 0x80 | ((cp >> 6) & 0x3f);
      bytes[at++] = 0x80 | (cp & 0x3f);
    } else {
      bytes[at++] = 0xf0 | (cp >> 18);
      bytes[at++] = 0x80 | ((cp >> 12) & 0x3f);
      bytes[at++] = 0x80 | ((cp >> 6) & 0x3f);
      bytes[at++] = 0x80 | (cp & 0x3f);
    }
  }
  const written = at - offset;
  bytes.fill(0, at, end);
  return written;
}

const decoder = new TextDecoder('utf-8');

/** The string up to the first NUL; bytes torn by a concurrent writer decode as U+FFFD. */
export function readFixedUtf8(bytes: Uint8Array, offset: number, size: number): string {
  let end = offset;
  const limit = offset + size;
  while (end < limit && bytes[end] !== 0) end++;
  return decoder.decode(bytes.subarray(offset, end));
}
