// Stores sessions into a TLS cache segment as fast as it can, until killed: the torn-write test
// kills two of these at once, at random points of a store. Without arguments (node --test runs
// every file under test/) it does nothing.
import crypto from 'node:crypto';
import { native } from '../../src/native';
import { TlsCache } from '../../src/shm/tls-cache';

export const sessionId = (n: number): Buffer => crypto.createHash('sha256').update(`session ${n}`).digest();

/** The data session `n` is stored with: its length and bytes follow from n, so a reader can
 * tell a whole entry from a torn one. */
export function sessionData(n: number): Buffer {
  const seed = crypto.createHash('sha256').update(`data ${n}`).digest();
  const out = Buffer.alloc(100 + (n % 1500));
  for (let i = 0; i < out.length; i += seed.length) seed.copy(out, i);
  return out;
}

const [segment, offset] = process.argv.slice(2);
if (segment !== undefined) {
  const cache = TlsCache.attach(native.shmOpen(segment, 0, false));
  // Both writers walk the same ids, so they land on the same slots.
  for (let n = Number(offset); ; n = (n + 1) % 20_000) {
    cache.store(sessionId(n), sessionData(n), 2 ** 31 - 1);
  }
}
