// What a session is, as every store keeps it: its times, whether it is authenticated and as
// whom, its attributes, and, once a renewal replaced its id, where the session went.
import crypto from 'node:crypto';

export interface SessionRecord {
  /** ms since 1970 */
  created: number;
  /** ms since 1970, written back at most every SessionExpiryUpdateInterval */
  touched: number;
  authenticated: boolean;
  principal: string | null;
  attributes: Record<string, string>;
  /** Set on an id a renewal replaced: the new id, valid through this id until `renewedUntil`. */
  renewedTo?: string;
  renewedUntil?: number;
}

/** 18 random bytes: 144 bits from the CSPRNG, 24 base64url characters. */
export const ID_BYTES = 18;
const ID_PATTERN = /^[A-Za-z0-9_-]{24}$/;

export function newSessionId(): string {
  return crypto.randomBytes(ID_BYTES).toString('base64url');
}

/** Whether `text` can be an id at all; anything else is never looked up. */
export function isSessionId(text: string): boolean {
  return ID_PATTERN.test(text);
}

interface Stored {
  c: number;
  t: number;
  a?: 1;
  p?: string;
  v?: Record<string, string>;
  r?: string;
  u?: number;
}

export function encodeRecord(r: SessionRecord): string {
  const s: Stored = { c: r.created, t: r.touched };
  if (r.authenticated) s.a = 1;
  if (r.principal !== null) s.p = r.principal;
  if (Object.keys(r.attributes).length > 0) s.v = r.attributes;
  if (r.renewedTo !== undefined) {
    s.r = r.renewedTo;
    s.u = r.renewedUntil;
  }
  return JSON.stringify(s);
}

export function decodeRecord(text: string): SessionRecord | null {
  let s: Stored;
  try {
    s = JSON.parse(text) as Stored;
  } catch {
    return null;
  }
  if (typeof s !== 'object' || s === null || typeof s.c !== 'number' || typeof s.t !== 'number') return null;
  const r: SessionRecord = {
    created: s.c,
    touched: s.t,
    authenticated: s.a === 1,
    principal: typeof s.p === 'string' ? s.p : null,
    attributes: typeof s.v === 'object' && s.v !== null ? s.v : {},
  };
  if (typeof s.r === 'string') {
    r.renewedTo = s.r;
    r.renewedUntil = typeof s.u === 'number' ? s.u : 0;
  }
  return r;
}

/** The record as decodeRecord(encodeRecord(r)) gives it back, without the trip through text:
 * what a store that keeps decoded records keeps of one it has just written. */
export function storedForm(r: SessionRecord): SessionRecord {
  const copy: SessionRecord = {
    created: r.created,
    touched: r.touched,
    authenticated: r.authenticated,
    principal: r.principal,
    attributes: { ...r.attributes },
  };
  if (r.renewedTo !== undefined) {
    copy.renewedTo = r.renewedTo;
    copy.renewedUntil = r.renewedUntil ?? 0;
  }
  return copy;
}

/** When a session ends, in ms since 1970: idle or absolute timeout, whichever comes first; a
 * renewed id ends when its grace does. */
export function expiryOf(r: SessionRecord, maxIdle: number, maxLifetime: number): number {
  if (r.renewedTo !== undefined) return r.renewedUntil ?? 0;
  const idle = r.touched + maxIdle;
  return maxLifetime > 0 ? Math.min(idle, r.created + maxLifetime) : idle;
}
