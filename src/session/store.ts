// The one interface every session store implements (shm, sqlite, mariadb). A store keeps
// encoded records under ids with their expiry; the request path (session-layer.ts) decides
// what to write. Results may come back at once (shm, sqlite) or later (mariadb): the request
// path waits only when it must.
import type { SessionRecord } from './record';

export type Maybe<T> = T | Promise<T>;

/** Why a write did not happen. 'ok' it did; 'full' no new session may be made (LimitSessions,
 * or the shm store past 90%); 'frozen' no session may change (the shm store past 95%);
 * 'too-large' the record is over LimitCacheItem; 'missing' a replaced session is gone. */
export type WriteResult = 'ok' | 'full' | 'frozen' | 'too-large' | 'missing';

export interface ReapResult {
  removed: number;
  remaining: number;
}

export interface SessionStore {
  readonly name: 'shm' | 'sqlite' | 'mariadb';
  /** The record under `id`, expired or not (the caller decides, and tells subscribers), or
   * null. Throws SessionStoreError (or rejects with it) when the store cannot answer. The
   * record may be shared with other requests of the session (the shm store keeps it): a change
   * is made on a copy, never in place. */
  get(id: string): Maybe<SessionRecord | null>;
  /** A new session; `expiresAt` in ms since 1970. */
  create(id: string, r: SessionRecord, expiresAt: number): Maybe<WriteResult>;
  /** Replaces a live session's record. */
  update(id: string, r: SessionRecord, expiresAt: number): Maybe<WriteResult>;
  /**
   * Renewal: `newId` gets `r`, and `oldId` becomes a pointer to it until `keepUntil` (ms), in
   * one step where the store can (one transaction), so no request sees neither.
   */
  renew(oldId: string, newId: string, r: SessionRecord, expiresAt: number, keepUntil: number): Maybe<WriteResult>;
  remove(id: string): Maybe<void>;
  /** Removes what expired by `now`. */
  reap(now: number): Maybe<ReapResult>;
  close(): Maybe<void>;
}

/** Runs `f` on a value that may still be coming, without a promise when it is already here. */
export function andThen<T, U>(v: Maybe<T>, f: (v: T) => Maybe<U>): Maybe<U> {
  return v instanceof Promise ? v.then(f) : f(v);
}
