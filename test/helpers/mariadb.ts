// A throwaway MariaDB server for a test file: its own data directory and socket in a temporary
// directory, its own port, run as the current user, stopped by pid. It never touches a
// system-wide server. Stop and start it again to play a database outage.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { promisify } from 'node:util';
import { createConnection, type Connection } from 'mariadb';
import { freePort, tempDir, waitFor } from './daemon';

const run = promisify(execFile);

export class TestMariadb {
  readonly dir = tempDir('mpmproxy-mariadb-');
  readonly socket = path.join(this.dir, 'sock');
  port = 0;
  private proc: ChildProcess | null = null;
  private exited: Promise<void> = Promise.resolve();

  /** A SessionDBConnect URL for database `db`, as root over the socket. */
  url(db: string): string {
    return `mariadb://root@localhost/${db}?socketPath=${encodeURIComponent(this.socket)}`;
  }

  async install(): Promise<void> {
    this.port = await freePort();
    const user = process.getuid?.() === 0 ? ['--user=root'] : [];
    await run('mariadb-install-db', ['--no-defaults', `--datadir=${path.join(this.dir, 'data')}`, '--auth-root-authentication-method=normal', '--skip-test-db', ...user], { timeout: 120_000 });
  }

  async start(): Promise<void> {
    const user = process.getuid?.() === 0 ? ['--user=root'] : [];
    const proc = spawn(
      '/usr/sbin/mariadbd',
      [
        '--no-defaults',
        `--datadir=${path.join(this.dir, 'data')}`,
        `--socket=${this.socket}`,
        `--port=${this.port}`,
        '--bind-address=127.0.0.1',
        `--pid-file=${path.join(this.dir, 'mariadbd.pid')}`,
        '--skip-log-bin',
        '--innodb-buffer-pool-size=32M',
        '--max-connections=500',
        ...user,
      ],
      { stdio: ['ignore', 'ignore', fs.openSync(path.join(this.dir, 'mariadbd.log'), 'a')] },
    );
    this.proc = proc;
    this.exited = new Promise((resolve) => proc.once('exit', () => resolve()));
    await waitFor('mariadbd to accept connections', async () => {
      if (proc.exitCode !== null) throw new Error(`mariadbd exited: ${fs.readFileSync(path.join(this.dir, 'mariadbd.log'), 'utf8').slice(-2000)}`);
      const c = await this.connect();
      await c.end();
      return true;
    }, 60_000, 200);
  }

  connect(db?: string): Promise<Connection> {
    return createConnection({ socketPath: this.socket, user: 'root', database: db, connectTimeout: 2000 });
  }

  async query(sql: string, db?: string): Promise<unknown> {
    const c = await this.connect(db);
    try {
      return await c.query(sql);
    } finally {
      await c.end();
    }
  }

  /** A clean shutdown (SIGTERM): what was committed is on disk. */
  async stop(): Promise<void> {
    if (this.proc === null || this.proc.exitCode !== null) return;
    this.proc.kill('SIGTERM');
    await this.exited;
    this.proc = null;
  }
}

/** One server for the whole test file: installed and started now, stopped and removed after. */
export async function startMariadb(t: TestContext | { after(fn: () => Promise<void> | void): void }): Promise<TestMariadb> {
  const db = new TestMariadb();
  t.after(async () => {
    await db.stop();
    fs.rmSync(db.dir, { recursive: true, force: true });
  });
  await db.install();
  await db.start();
  return db;
}
