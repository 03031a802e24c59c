// The session key in the owner table: the session's id, as the session layer knows it
// (src/session/), hashed so that the table never holds an id itself.
import { createHash } from 'node:crypto';
import type { OwnerKey } from '../shm/owners';

/** Keys of the session ids seen lately: every request of a session needs its key. */
const recent = new Map<string, OwnerKey>();
const RECENT_MAX = 4096;

/** 128 bits of SHA-256 of the session id. */
export function ownerKey(id: string): OwnerKey {
  let key = recent.get(id);
  if (key === undefined) {
    const digest = createHash('sha256').update(id).digest();
    key = new Int32Array(digest.buffer, digest.byteOffset, 4).slice();
    // Emptied when full: cheaper than ordering by use, and a miss costs only one hash.
    if (recent.size >= RECENT_MAX) recent.clear();
    recent.set(id, key);
  }
  return key;
}

/** A name for a session in log lines that does not give its id away. */
export function sessionLabel(key: OwnerKey): string {
  return (key[0] >>> 0).toString(16).padStart(8, '0');
}
