// The sqlite store: one SQLite file in WAL mode that every child opens, kept across stops. WAL
// lets readers go on while one writer writes; writers of different processes take turns on the
// file lock, waiting up to busy_timeout.
//
// better-sqlite3 is synchronous: a statement runs on the event loop that issues it. That is
// accepted here because every statement is one indexed row (or, for LimitSessions, one count
// over the primary key), well under a millisecond on a local file, which costs less than a hop
// to a worker thread and back; the reaper's larger DELETE runs in the master, never in a child.
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { SessionStoreError } from '../errors';
import { decodeRecord, encodeRecord, type SessionRecord } from './record';
import type { ReapResult, SessionStore, WriteResult } from './store';

const SCHEMA = [
  'CREATE TABLE IF NOT EXISTS sessions (id TEXT PRIMARY KEY, data TEXT NOT NULL, expires INTEGER NOT NULL) WITHOUT ROWID',
  'CREATE INDEX IF NOT EXISTS sessions_expires ON sessions (expires)',
];

export class SqliteSessionStore implements SessionStore {
  readonly name = 'sqlite' as const;
  private readonly db: Database.Database;
  private readonly select: Database.Statement<[string], { data: string }>;
  private readonly insert: Database.Statement<[string, string, number]>;
  private readonly change: Database.Statement<[string, number, string]>;
  private readonly upsert: Database.Statement<[string, string, number]>;
  private readonly drop: Database.Statement<[string]>;
  private readonly expire: Database.Statement<[number]>;
  private readonly count: Database.Statement<[], { n: number }>;
  private readonly renewal: Database.Transaction<(oldId: string, newId: string, data: string, pointer: string, expiresAt: number, keepUntil: number) => WriteResult>;

  constructor(
    file: string,
    /** LimitSessions; 0 = unlimited */
    private readonly limit: number,
    busyTimeoutMs: number,
  ) {
    try {
      fs.mkdirSync(path.dirname(file), { recursive: true });
      this.db = new Database(file, { timeout: busyTimeoutMs });
      this.db.pragma('journal_mode = WAL');
      // With WAL, NORMAL loses at most the last transactions on a power cut, never on a crash.
      this.db.pragma('synchronous = NORMAL');
      for (const sql of SCHEMA) this.db.exec(sql);
    } catch (err) {
      throw new SessionStoreError(`cannot open the SQLite session store ${file}: ${(err as Error).message}`, { cause: err });
    }
    this.select = this.db.prepare('SELECT data FROM sessions WHERE id = ?');
    this.insert = this.db.prepare('INSERT INTO sessions (id, data, expires) VALUES (?, ?, ?) ON CONFLICT (id) DO NOTHING');
    this.change = this.db.prepare('UPDATE sessions SET data = ?, expires = ? WHERE id = ?');
    this.upsert = this.db.prepare('INSERT INTO sessions (id, data, expires) VALUES (?, ?, ?) ON CONFLICT (id) DO UPDATE SET data = excluded.data, expires = excluded.expires');
    this.drop = this.db.prepare('DELETE FROM sessions WHERE id = ?');
    this.expire = this.db.prepare('DELETE FROM sessions WHERE expires <= ?');
    this.count = this.db.prepare('SELECT COUNT(*) AS n FROM sessions');
    this.renewal = this.db.transaction((oldId: string, newId: string, data: string, pointer: string, expiresAt: number, keepUntil: number): WriteResult => {
      if (this.full()) return 'full';
      if (this.insert.run(newId, data, expiresAt).changes === 0) return 'full';
      this.upsert.run(oldId, pointer, keepUntil);
      return 'ok';
    });
  }

  get(id: string): SessionRecord | null {
    const row = this.run(() => this.select.get(id));
    return row === undefined ? null : decodeRecord(row.data);
  }

  create(id: string, r: SessionRecord, expiresAt: number): WriteResult {
    return this.run(() => {
      if (this.full()) return 'full';
      return this.insert.run(id, encodeRecord(r), expiresAt).changes === 1 ? 'ok' : 'full';
    });
  }

  update(id: string, r: SessionRecord, expiresAt: number): WriteResult {
    return this.run(() => (this.change.run(encodeRecord(r), expiresAt, id).changes === 1 ? 'ok' : 'missing'));
  }

  renew(oldId: string, newId: string, r: SessionRecord, expiresAt: number, keepUntil: number): WriteResult {
    const pointer = encodeRecord({ ...r, attributes: {}, principal: null, authenticated: false, renewedTo: newId, renewedUntil: keepUntil });
    return this.run(() => this.renewal.immediate(oldId, newId, encodeRecord(r), pointer, expiresAt, keepUntil));
  }

  remove(id: string): void {
    this.run(() => this.drop.run(id));
  }

  reap(now: number): ReapResult {
    return this.run(() => {
      const removed = this.expire.run(now).changes;
      return { removed, remaining: this.count.get()?.n ?? 0 };
    });
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  private full(): boolean {
    return this.limit > 0 && (this.count.get()?.n ?? 0) >= this.limit;
  }

  /** SQLITE_BUSY past busy_timeout, a full disk, a removed file: the request fails, not the child. */
  private run<T>(f: () => T): T {
    try {
      return f();
    } catch (err) {
      throw new SessionStoreError(`SQLite session store: ${(err as Error).message}`, { cause: err });
    }
  }
}
