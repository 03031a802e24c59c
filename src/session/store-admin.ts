// The session store outside the request path: `mpmproxy session-store init`, and the check the
// server makes before it starts children.
import { createConnection } from 'mariadb';
import type { Settings } from '../config/types';
import { SessionSchemaError, SessionStoreError } from '../errors';
import { log } from '../log/logger';
import { TABLE, initSchema } from './mariadb-schema';
import { connectionOptions, MariadbSessionStore } from './mariadb-store';
import { SqliteSessionStore } from './sqlite-store';

/** Creates the store's schema; returns the line to print. */
export async function initSessionStore(s: Settings): Promise<string> {
  const session = s.session;
  switch (session.store) {
    case 'shm':
      return 'SessionStore shm lives in shared memory: nothing to create\n';
    case 'sqlite':
      new SqliteSessionStore(session.sqliteFile, 0, session.dbTimeout).close();
      return `session store ready in ${session.sqliteFile}\n`;
    case 'mariadb': {
      if (session.dbUrl === null) throw new SessionStoreError('SessionStore mariadb needs SessionDBConnect');
      const { connectionLimit: _limit, acquireTimeout: _acquire, initializationTimeout: _init, ...options } = connectionOptions(session.dbUrl, { poolSize: 1, timeoutMs: session.dbTimeout });
      let conn;
      try {
        conn = await createConnection(options);
      } catch (err) {
        throw new SessionStoreError(`cannot connect to ${new URL(session.dbUrl).host}: ${(err as Error).message}`, { cause: err });
      }
      try {
        const done = await initSchema(conn);
        return done === 'created' ? `table ${TABLE} created\n` : `table ${TABLE} is present and matches this build\n`;
      } finally {
        await conn.end();
      }
    }
  }
}

/**
 * Before the children start: a MariaDB schema that differs stops the server (SessionSchemaError);
 * a database that cannot be reached does not, as it may come back: session requests get 503
 * until it does.
 */
export async function checkSessionStore(s: Settings): Promise<void> {
  if (!s.session.used || s.session.store !== 'mariadb' || s.session.dbUrl === null) return;
  const store = new MariadbSessionStore(s.session.dbUrl, { poolSize: 1, timeoutMs: s.session.dbTimeout, retries: 0, limit: 0 });
  try {
    await store.check();
  } catch (err) {
    if (err instanceof SessionSchemaError) throw err;
    log('session').error({ err: (err as Error).message }, `session database cannot be reached at start-up (${(err as Error).message}); starting anyway, session requests get 503 until it answers`);
  } finally {
    await store.close();
  }
}
