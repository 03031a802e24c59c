// The error log of a running daemon: `ErrorLog syslog` puts each line on stderr behind its
// syslog priority, from the master and the children alike; `LogLevel` per module holds in the
// children's worker threads as in the master.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RawConnection } from './helpers/cli';
import { freePort, request, waitFor } from './helpers/daemon';
import { launchProxy } from './helpers/mpm';

const priorities: Record<string, number> = { emerg: 0, alert: 1, crit: 2, error: 3, warn: 4, notice: 5, info: 6, debug: 7, trace1: 7 };

test('ErrorLog syslog: every line on stderr is <priority> then the JSON, from the master and the children', async (t) => {
  const closed = await freePort();
  const { daemon } = await launchProxy(t, ['ErrorLog syslog', 'StartServers 2', `ProxyPass /dead/ http://127.0.0.1:${closed}/`], {
    waitChildren: 2,
  });
  assert.equal((await request(daemon.port, '/dead/')).status, 502);
  const entries = await waitFor('a child’s error line on stderr', () => {
    const lines = daemon.stderr.split('\n').filter((l) => l !== '');
    const parsed = lines.map((line) => {
      const m = /^<(\d)>(\{.*\})$/.exec(line);
      assert.ok(m, `not <N>{json}: ${line}`);
      return { priority: Number(m[1]), entry: JSON.parse(m[2]) as { level: string; pid: number; module?: string } };
    });
    return parsed.some((p) => p.entry.module === 'proxy') ? parsed : null;
  });
  for (const { priority, entry } of entries) assert.equal(priority, priorities[entry.level], JSON.stringify(entry));
  assert.ok(entries.some((e) => e.entry.pid === daemon.pid && e.priority === 5), 'the master’s notice lines are <5>');
  const child = entries.find((e) => e.entry.module === 'proxy');
  assert.equal(child?.priority, 3);
  assert.notEqual(child?.entry.pid, daemon.pid);
  // A graceful restart reopens the log files; stderr stays as it is.
  daemon.signal('SIGUSR1');
  await waitFor('the restart on stderr', () => daemon.stderr.includes('<5>{"level":"notice"') && /Graceful restart requested/.test(daemon.stderr));
  await daemon.waitAccepting(2, 1);
  assert.ok(daemon.alive);
});

test('LogLevel per module applies in the worker threads of children', async (t) => {
  const { daemon } = await launchProxy(t, ['MPM worker', 'StartServers 1', 'ThreadsPerChild 2', 'LogLevel warn child:debug'], {
    waitChildren: 1,
  });
  // A request llhttp rejects: the thread that reads it answers 400 and logs at debug (module child).
  const conn = await RawConnection.open(daemon.port);
  t.after(() => conn.close());
  conn.socket.write('NOT HTTP AT ALL\r\n\r\n');
  assert.equal((await conn.response()).status, 400);
  const line = await daemon.waitLog('a debug line of module child', (l) => l.level === 'debug' && l.module === 'child');
  assert.notEqual(line.pid, daemon.pid);
  // Nothing below warn from the other modules: the master logs every child it starts at debug.
  const chatty = daemon.log().filter((l) => l.module !== 'child' && ['notice', 'info', 'debug'].includes(l.level));
  assert.deepEqual(chatty, []);
});
