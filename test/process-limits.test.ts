// LimitFiles and LimitProcesses on a running daemon, read from /proc.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from './helpers/daemon';
import { procLimit } from './helpers/memory';
import { childPidsOf, launch, launchGate, waitFor } from './helpers/mpm';

const STATUS = '<Location /server-status>\n SetHandler server-status\n</Location>';
const OPEN_FILES = 'Max open files';

/** A child sets its limit as it starts, which may still be under way once it is in the scoreboard. */
async function limitsAre(pids: number[], want: { soft: string; hard: string }): Promise<void> {
  for (const pid of pids) {
    await waitFor(`pid ${pid} at ${want.soft}`, () => procLimit(pid, OPEN_FILES).soft === want.soft, 5000).catch(() => undefined);
    assert.deepEqual(procLimit(pid, OPEN_FILES), want, `pid ${pid}`);
  }
}

test('LimitFiles: the soft RLIMIT_NOFILE of the master and every child; 0 after a restart means the hard limit', async (t) => {
  const conf = (files: number) => ['StartServers 2', 'MinSpareThreads 1', `LimitFiles ${files}`, STATUS].join('\n');
  const daemon = await launch(t, { config: conf(1000), waitChildren: 2 });
  const hard = procLimit(process.pid, OPEN_FILES).hard;
  await limitsAre([daemon.pid, ...childPidsOf(daemon)], { soft: '1000', hard });

  daemon.writeConfig(conf(0));
  daemon.signal('SIGUSR1');
  const s = await daemon.waitAccepting(2, 1);
  const fresh = s.processes.filter((p) => p.generation === 1).map((p) => p.pid);
  await limitsAre([daemon.pid, ...fresh], { soft: hard, hard });
});

test('LimitProcesses: old children still draining count; a start past the limit is refused and logged', async (t) => {
  const gate = await launchGate(t);
  const daemon = await launch(t, {
    config: ['StartServers 2', 'ServerLimit 8', 'MinSpareThreads 1', 'LimitProcesses 3', `ProxyPass /gate/ ${gate.url}/`, STATUS].join('\n'),
    waitChildren: 2,
  });
  let most = 0;
  const sampler = setInterval(() => (most = Math.max(most, childPidsOf(daemon).length)), 10);
  t.after(() => clearInterval(sampler));
  // A held request keeps one child of generation 0 draining after the restart.
  const held = request(daemon.port, '/gate/held');
  await waitFor('the request at the backend', () => gate.inFlight === 1);
  daemon.signal('SIGUSR1');
  const refused = await daemon.waitLog('the refusal', (l) => l.msg.startsWith('LimitProcesses 3 reached'));
  assert.equal(refused.level, 'warn');
  assert.equal(refused.limitProcesses, 3);
  await daemon.waitAccepting(1, 1);
  gate.open();
  assert.equal((await held).status, 200);
  assert.equal((await request(daemon.port, '/server-status?auto')).status, 200);
  clearInterval(sampler);
  assert.ok(most <= 3, `at most 3 children (${most})`);
});

/** What a child needs of its own: its descriptors once started and idle. */
const openFiles = (pid: number) => fs.readdirSync(`/proc/${pid}/fd`).length;

test('LimitFiles reached by a child accepting in the addon (sessions on): logged once, the connections wait in the backlog, served once descriptors are free', async (t) => {
  const backend = await launchGate(t);
  const conf = (files: number) =>
    ['StartServers 1', 'MinSpareThreads 1', 'MaxSpareThreads 512', 'ThreadsPerChild 256', `LimitFiles ${files}`, 'Session On', `ProxyPass /gate/ ${backend.url}/`, STATUS].join('\n');
  const daemon = await launch(t, { config: conf(0), waitChildren: 1 });
  const headroom = 16;
  daemon.writeConfig(conf(openFiles(childPidsOf(daemon)[0]) + headroom));
  daemon.signal('SIGUSR1');
  await daemon.waitAccepting(1, 1);
  const held: net.Socket[] = [];
  const closedByServer = new Set<net.Socket>();
  t.after(() => held.forEach((s) => s.destroy()));
  for (let i = 0; i < headroom * 3; i++) {
    const s = net.connect(daemon.port, '127.0.0.1');
    s.on('error', () => closedByServer.add(s));
    s.on('end', () => closedByServer.add(s));
    held.push(s);
  }
  const failed = await daemon.waitLog('the failed accept', (l) => l.msg === 'accept failed; retrying in 100 ms');
  assert.match(String(failed.err), /EMFILE|Too many open files/);
  // It keeps failing every 100 ms while the descriptors are taken: one line says so.
  await sleep(1000);
  assert.equal(daemon.log().filter((l) => l.msg.startsWith('accept failed')).length, 1);
  assert.equal(closedByServer.size, 0, 'no connection is dropped: they wait in the listen backlog');
  // The waiting ones are served once some close: the first still queued gets its answer.
  const waiting = held.pop() as net.Socket;
  held.slice(0, headroom * 2).forEach((s) => s.destroy());
  waiting.write('GET /server-status?auto HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  let answer = '';
  waiting.on('data', (d: Buffer) => (answer += d.toString()));
  await waitFor('the queued connection served', () => answer.startsWith('HTTP/1.1 200') || null);
  const r = await waitFor('a new request served', async () => {
    const got = await request(daemon.port, '/server-status?auto').catch(() => null);
    return got?.status === 200 ? got : null;
  });
  assert.equal(r.status, 200);
});
