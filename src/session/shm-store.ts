// The shm store: sessions as items of kind SESSION in the cache segment (src/shm/cache.ts),
// shared by every child and thread of one server, kept across graceful restarts and child
// crashes, gone with the master. SessionMemorySize bounds the bytes its sessions may fill, with
// the thresholds of seed 001's local session store: at 70% a notice, at 90% a critical line and
// no new session, at 95% an emergency line and no change at all. Each crossing is logged once,
// by the process whose write crossed it (the segment's level word decides which one).
import { log } from '../log/logger';
import { SESSION, type CacheTable, type PlacedItem, type PutResult } from '../shm/cache';
import { decodeRecord, encodeRecord, storedForm, type SessionRecord } from './record';
import type { ReapResult, SessionStore, WriteResult } from './store';

export const NOTICE_AT = 0.7;
export const CRITICAL_AT = 0.9;
export const EMERGENCY_AT = 0.95;

const LEVELS = [
  { at: 0, name: 'normal' },
  { at: NOTICE_AT, name: 'notice' },
  { at: CRITICAL_AT, name: 'crit' },
  { at: EMERGENCY_AT, name: 'emerg' },
] as const;

function levelOf(used: number, size: number): number {
  let level = 0;
  for (let i = 1; i < LEVELS.length; i++) if (used >= size * LEVELS[i].at) level = i;
  return level;
}

const seconds = (ms: number): number => Math.ceil(ms / 1000);

/** Sessions whose decoded record a store keeps, the oldest kept going first (cheaper than
 * ordering by use: a miss costs one read and decode). Each keeps its copy of the item, which
 * may hold a slab of Node's Buffer pool (8 KiB): a few MiB at most per event loop. */
const DECODED_MAX = 1024;

/** A session as this process last read it: the segment's bytes, and what they decode to. */
interface Decoded {
  placed: PlacedItem;
  record: SessionRecord | null;
}

export class ShmSessionStore implements SessionStore {
  readonly name = 'shm' as const;
  /** Every request of a session reads it; while its bytes in the segment stay the same (checked
   * exactly, see CacheTable.isCurrent), the record decoded last time is the answer. */
  private readonly decoded = new Map<string, Decoded>();

  constructor(
    private readonly cache: CacheTable,
    /** SessionMemorySize */
    private readonly memorySize: number,
    /** LimitSessions; 0 = unlimited */
    private readonly limit: number,
  ) {}

  get(id: string): SessionRecord | null {
    const known = this.decoded.get(id);
    if (known !== undefined && this.cache.isCurrent(known.placed)) return known.record;
    const placed = this.cache.getPlaced(id);
    if (placed === null || placed.item.kind !== SESSION) {
      if (known !== undefined) this.decoded.delete(id);
      return null;
    }
    return this.remember(id, placed, decodeRecord(placed.item.value.toString('utf8')));
  }

  /** Records handed out from the memo are shared by every request that reads the session (the
   * store interface lets callers change only copies; freezing them costs more than a decode). */
  private remember(id: string, placed: PlacedItem | null, record: SessionRecord | null): SessionRecord | null {
    if (placed === null) return record;
    if (this.decoded.size >= DECODED_MAX && !this.decoded.has(id)) this.decoded.delete(this.decoded.keys().next().value as string);
    this.decoded.set(id, { placed, record });
    return record;
  }

  create(id: string, r: SessionRecord, expiresAt: number): WriteResult {
    return this.write(id, r, expiresAt, 'create');
  }

  update(id: string, r: SessionRecord, expiresAt: number): WriteResult {
    return this.write(id, r, expiresAt, 'replace');
  }

  renew(oldId: string, newId: string, r: SessionRecord, expiresAt: number, keepUntil: number): WriteResult {
    const made = this.write(newId, r, expiresAt, 'create');
    if (made !== 'ok') return made;
    const pointer: SessionRecord = { ...r, attributes: {}, principal: null, authenticated: false, renewedTo: newId, renewedUntil: keepUntil };
    // The old id may have no record (a renewal of a session made in the same request).
    this.write(oldId, pointer, keepUntil, 'upsert', true);
    return 'ok';
  }

  remove(id: string): void {
    this.decoded.delete(id);
    this.cache.delete(id);
    this.checkLevel();
  }

  reap(now: number): ReapResult {
    const due = Math.floor(now / 1000);
    let removed = 0;
    let remaining = 0;
    for (const e of this.cache.entries()) {
      if (e.kind !== SESSION) continue;
      // Checked again under the lock: a request may have extended it since.
      if (e.expiresAt !== 0 && e.expiresAt <= due && this.cache.delete(e.key, (item) => item.expiresAt !== 0 && item.expiresAt <= due)) removed++;
      else remaining++;
    }
    this.checkLevel();
    return { removed, remaining };
  }

  close(): void {}

  /** Bytes the sessions hold now, and the share of SessionMemorySize. */
  usage(): { bytes: number; items: number; share: number } {
    const s = this.cache.stats();
    return { bytes: s.bytes[SESSION], items: s.items[SESSION], share: s.bytes[SESSION] / this.memorySize };
  }

  private write(id: string, r: SessionRecord, expiresAt: number, mode: 'create' | 'replace' | 'upsert', pointer = false): WriteResult {
    let refusal: WriteResult = 'ok';
    const result: PutResult | 'refused' = this.cache.put(id, SESSION, Buffer.from(encodeRecord(r)), seconds(expiresAt), mode, (bytes, items) => {
      const level = levelOf(this.cache.kindBytes(SESSION), this.memorySize);
      // A renewal's pointer is part of a change already let in.
      if (pointer) return true;
      if (level >= 3) refusal = 'frozen';
      else if (mode === 'create' && (level >= 2 || levelOf(bytes, this.memorySize) >= 3)) refusal = 'full';
      else if (mode === 'create' && this.limit > 0 && items > this.limit) refusal = 'full';
      else if (bytes > this.memorySize) refusal = mode === 'create' ? 'full' : 'frozen';
      return refusal === 'ok';
    });
    this.checkLevel();
    switch (result) {
      case 'ok':
        // The next request of the session (in this process) reads what was just written.
        this.remember(id, this.cache.takeWritten(), storedForm(r));
        return 'ok';
      case 'refused':
        return refusal;
      case 'too-large':
        return 'too-large';
      case 'missing':
        return 'missing';
      case 'exists':
        // 144 random bits do not collide; a repeated id is a caller's bug, refused as full.
        return 'full';
      case 'no-space':
        return mode === 'create' ? 'full' : 'frozen';
    }
  }

  /** Logs the threshold the sessions' memory crossed, up or down, once across the server. */
  private checkLevel(): void {
    const now = levelOf(this.cache.kindBytes(SESSION), this.memorySize);
    const was = this.cache.level;
    if (now === was || !this.cache.setLevel(was, now)) return;
    const u = this.usage();
    const fields = { used: u.bytes, size: this.memorySize, percent: Math.round(u.share * 100), sessions: u.items };
    const l = log('session');
    if (now < was) l.notice(fields, `shm session store back under ${Math.round(LEVELS[was].at * 100)}% of SessionMemorySize (${fields.percent}%)`);
    else if (now === 1) l.notice(fields, `shm session store uses ${fields.percent}% of SessionMemorySize (70% reached)`);
    else if (now === 2) l.crit(fields, `shm session store uses ${fields.percent}% of SessionMemorySize (90% reached): no new sessions are created`);
    else l.emerg(fields, `shm session store uses ${fields.percent}% of SessionMemorySize (95% reached): no session is created or changed`);
  }
}
