// The session key in the owner table: the session's id, as the session layer knows it
// (src/session/), hashed so that the table never holds an id itself.
import { createHash } from 'node:crypto';
import type { OwnerKey } from '../shm/owners';

/** 128 bits of SHA-256 of the session id. */
export function ownerKey(id: string): OwnerKey {
  const digest = createHash('sha256').update(id).digest();
  return new Int32Array(digest.buffer, digest.byteOffset, 4).slice();
}

/** A name for a session in log lines that does not give its id away. */
export function sessionLabel(key: OwnerKey): string {
  return (key[0] >>> 0).toString(16).padStart(8, '0');
}
