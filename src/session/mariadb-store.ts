// The mariadb store: sessions in one InnoDB table that several mpmproxy instances share, each
// serving event loop with a pool of SessionDBPoolSize connections. Statements are server-side
// prepared and cached per connection; there are STATEMENTS of them, so one connection holds at
// most that many, and MariaDB's max_prepared_stmt_count must be at least
//   instances × children × event loops per child × SessionDBPoolSize × STATEMENTS + instances × STATEMENTS (reapers).
// A write that meets a lock-wait timeout (1205) or a deadlock (1213) is retried
// SessionDBRetriesOnLockWaitTimeout times; each wait is bounded by innodb_lock_wait_timeout,
// set per connection from SessionDBTimeout. A database that cannot be reached fails the
// request (SessionStoreError, 503) within SessionDBTimeout; the pool reconnects by itself.
import type { EventEmitter } from 'node:events';
import { createPool, type Pool, type PoolConfig, type PoolConnection } from 'mariadb';
import { SessionStoreError } from '../errors';
import { TABLE, checkSchema } from './mariadb-schema';
import { decodeRecord, encodeRecord, type SessionRecord } from './record';
import type { ReapResult, SessionStore, WriteResult } from './store';

const SQL = {
  get: `SELECT data FROM ${TABLE} WHERE id = ?`,
  insert: `INSERT IGNORE INTO ${TABLE} (id, expires, data) VALUES (?, ?, ?)`,
  update: `UPDATE ${TABLE} SET expires = ?, data = ? WHERE id = ?`,
  upsert: `INSERT INTO ${TABLE} (id, expires, data) VALUES (?, ?, ?) ON DUPLICATE KEY UPDATE expires = VALUES(expires), data = VALUES(data)`,
  remove: `DELETE FROM ${TABLE} WHERE id = ?`,
  reap: `DELETE FROM ${TABLE} WHERE expires <= ?`,
  count: `SELECT COUNT(*) AS n FROM ${TABLE} WHERE expires > ?`,
} as const;

/** Prepared statements one connection can hold: the ones above. */
export const STATEMENTS = Object.keys(SQL).length;

const LOCK_WAIT_TIMEOUT = 1205;
const DEADLOCK = 1213;

/** Pool options from a SessionDBConnect URL and the session settings. */
export function connectionOptions(url: string, o: { poolSize: number; timeoutMs: number }): PoolConfig {
  const u = new URL(url);
  const lockWait = Math.max(1, Math.round(o.timeoutMs / 1000));
  return {
    host: u.hostname || 'localhost',
    port: u.port === '' ? 3306 : Number(u.port),
    user: decodeURIComponent(u.username),
    password: decodeURIComponent(u.password),
    database: decodeURIComponent(u.pathname.slice(1)),
    socketPath: u.searchParams.get('socketPath') ?? undefined,
    connectionLimit: o.poolSize,
    acquireTimeout: o.timeoutMs,
    connectTimeout: o.timeoutMs,
    // A statement past this is a hung server, not a lock wait (which ends at innodb_lock_wait_timeout).
    queryTimeout: o.timeoutMs * 2,
    initializationTimeout: o.timeoutMs,
    prepareCacheLength: STATEMENTS,
    initSql: [`SET SESSION innodb_lock_wait_timeout = ${lockWait}`, "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED"],
  };
}

type Conn = PoolConnection;

/** The connector's own errors (45000 and up) and system errors mean the server is not there;
 * MariaDB's SQL errors mean it is. */
function unreachable(err: unknown): boolean {
  const errno = (err as { errno?: number }).errno;
  return errno === undefined || errno >= 45000 || errno < 1000;
}

/** After an outage the pool retries with a back-off of up to 10 s; a fresh pool connects at once. */
const POOL_RENEW_MS = 2000;

export class MariadbSessionStore implements SessionStore {
  readonly name = 'mariadb' as const;
  private pool: Pool;
  private poolMade = Date.now();

  constructor(
    private readonly url: string,
    private readonly o: { poolSize: number; timeoutMs: number; retries: number; limit: number },
  ) {
    this.pool = this.newPool();
  }

  private newPool(): Pool {
    const pool = createPool(connectionOptions(this.url, this.o));
    // Failed background connects are what an outage looks like; requests report it themselves.
    (pool as unknown as EventEmitter).on('error', () => undefined);
    return pool;
  }

  /** Replaces a pool that keeps failing to connect, at most every POOL_RENEW_MS. */
  private renewPool(): void {
    const now = Date.now();
    if (now - this.poolMade < POOL_RENEW_MS) return;
    const old = this.pool;
    this.pool = this.newPool();
    this.poolMade = now;
    void old.end().catch(() => undefined);
  }

  get(id: string): Promise<SessionRecord | null> {
    return this.run('read', async (c) => {
      const rows = (await c.execute(SQL.get, [id])) as Array<{ data: string }>;
      return rows.length === 0 ? null : decodeRecord(rows[0].data);
    });
  }

  create(id: string, r: SessionRecord, expiresAt: number): Promise<WriteResult> {
    return this.run('write', async (c) => {
      if (await this.full(c, Date.now())) return 'full';
      const result = (await c.execute(SQL.insert, [id, expiresAt, encodeRecord(r)])) as { affectedRows: number };
      return result.affectedRows === 1 ? 'ok' : 'full';
    });
  }

  update(id: string, r: SessionRecord, expiresAt: number): Promise<WriteResult> {
    return this.run('write', async (c) => {
      const result = (await c.execute(SQL.update, [expiresAt, encodeRecord(r), id])) as { affectedRows: number };
      return result.affectedRows === 1 ? 'ok' : 'missing';
    });
  }

  renew(oldId: string, newId: string, r: SessionRecord, expiresAt: number, keepUntil: number): Promise<WriteResult> {
    const pointer = encodeRecord({ ...r, attributes: {}, principal: null, authenticated: false, renewedTo: newId, renewedUntil: keepUntil });
    return this.run('write', async (c) => {
      await c.beginTransaction();
      try {
        if (await this.full(c, Date.now())) {
          await c.rollback();
          return 'full';
        }
        const made = (await c.execute(SQL.insert, [newId, expiresAt, encodeRecord(r)])) as { affectedRows: number };
        if (made.affectedRows !== 1) {
          await c.rollback();
          return 'full';
        }
        await c.execute(SQL.upsert, [oldId, keepUntil, pointer]);
        await c.commit();
        return 'ok';
      } catch (err) {
        await c.rollback().catch(() => undefined);
        throw err;
      }
    });
  }

  async remove(id: string): Promise<void> {
    await this.run('write', (c) => c.execute(SQL.remove, [id]));
  }

  reap(now: number): Promise<ReapResult> {
    return this.run('write', async (c) => {
      const removed = ((await c.execute(SQL.reap, [now])) as { affectedRows: number }).affectedRows;
      const [{ n }] = (await c.execute(SQL.count, [now])) as Array<{ n: bigint | number }>;
      return { removed, remaining: Number(n) };
    });
  }

  /** Start-up: the schema must be this build's. Throws SessionSchemaError, or SessionStoreError
   * when the database cannot be reached. */
  async check(): Promise<void> {
    let c: Conn;
    try {
      c = await this.pool.getConnection();
    } catch (err) {
      this.renewPool();
      throw this.storeError(err);
    }
    try {
      await checkSchema(c);
    } finally {
      await c.release();
    }
  }

  close(): Promise<void> {
    return this.pool.end().catch(() => undefined);
  }

  private async full(c: Conn, now: number): Promise<boolean> {
    if (this.o.limit === 0) return false;
    const [{ n }] = (await c.execute(SQL.count, [now])) as Array<{ n: bigint | number }>;
    return Number(n) >= this.o.limit;
  }

  /** Runs `f` on a pooled connection; a write that hit a lock wait or deadlock runs again. */
  private async run<T>(kind: 'read' | 'write', f: (c: Conn) => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      let c: Conn | undefined;
      try {
        c = await this.pool.getConnection();
        return await f(c);
      } catch (err) {
        const errno = (err as { errno?: number }).errno;
        const retry = kind === 'write' && (errno === LOCK_WAIT_TIMEOUT || errno === DEADLOCK);
        if (retry && attempt < this.o.retries) continue;
        if (retry) {
          throw new SessionStoreError(`lock-wait timeout on ${TABLE}, ${this.o.retries} retries spent (SessionDBRetriesOnLockWaitTimeout)`, { cause: err });
        }
        if (unreachable(err)) this.renewPool();
        throw this.storeError(err);
      } finally {
        await c?.release().catch(() => undefined);
      }
    }
  }

  private storeError(err: unknown): SessionStoreError {
    const e = err as { message?: string; code?: string };
    return new SessionStoreError(`MariaDB: ${e.code ? `${e.code}: ` : ''}${(e.message ?? String(err)).split('\n')[0]}`, { cause: err });
  }
}
