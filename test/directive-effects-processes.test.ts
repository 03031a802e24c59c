// The process directives on a running daemon: how many children and request slots there are,
// what happens when they are all taken, and how children are retired and drained.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { childPids, request, sleep, waitFor } from './helpers/daemon';
import type { Daemon, LogLine } from './helpers/daemon';
import { RawConnection, daemonFor, dripBackendFor, statusLocation, timed, waitGone } from './helpers/cli';
import { launchGate } from './helpers/mpm';

/** One spare slot (or child) is enough: the default spares (a whole child's worth of slots)
 * make the maintenance pass start another child whenever it sees a request in flight, which a
 * test counting children must not meet. Tests about spares write their own, later, which wins. */
const fewSpares = [
  '<IfModule mpm_prefork_module>\n MinSpareServers 1\n</IfModule>',
  '<IfModule !mpm_prefork_module>\n MinSpareThreads 1\n</IfModule>',
];

const config = (...lines: string[]) => [...fewSpares, ...lines, statusLocation].join('\n');

/** Request slots of live children: scoreboard characters other than '.' (an open slot). */
const liveSlots = (scoreboard: string) => scoreboard.replaceAll('.', '').length;

async function pidsServing(d: Daemon): Promise<number[]> {
  return (await d.status()).processes.map((p) => p.pid);
}

const fromPid = (pid: number, msg: string) => (l: LogLine) => l.pid === pid && l.msg === msg;

for (const [mpm, slotsPerChild] of [
  ['prefork', 1],
  ['worker', 3],
  ['event', 3],
] as const) {
  test(`MPM ${mpm}: server-status says ServerMPM: ${mpm} and each child has ${slotsPerChild} slot(s)`, async (t) => {
    const d = await daemonFor(t, {
      config: config(
        `MPM ${mpm}`,
        'StartServers 2',
        'ServerLimit 4',
        `<IfModule !mpm_prefork_module>\n ThreadLimit 4\n ThreadsPerChild ${slotsPerChild}\n</IfModule>`,
      ),
      waitChildren: 2,
    });
    const s = await d.status();
    assert.equal(s.fields.ServerMPM, mpm);
    // The map covers ServerLimit × ThreadsPerChild slots (docs/server-status.md).
    assert.equal(s.fields.Scoreboard.length, 4 * slotsPerChild);
    assert.equal(liveSlots(s.fields.Scoreboard), 2 * slotsPerChild);
  });
}

test('StartServers 3 starts three children and the maintenance pass keeps them', async (t) => {
  const d = await daemonFor(t, { config: config('StartServers 3', 'ThreadsPerChild 4'), waitChildren: 3 });
  assert.equal(childPids(d.pid).length, 3);
  await sleep(1300); // one maintenance pass
  const s = await d.status();
  assert.equal(s.fields.Processes, '3');
  assert.equal(childPids(d.pid).length, 3);
  assert.deepEqual(new Set(s.processes.map((p) => p.pid)), new Set(childPids(d.pid)));
});

test('ServerLimit: never more children than it, and a log line when the scoreboard is full', async (t) => {
  const gate = await launchGate(t);
  const d = await daemonFor(t, {
    config: config('StartServers 2', 'ServerLimit 2', 'ThreadsPerChild 1', 'MinSpareThreads 2', `ProxyPass /b/ ${gate.url}/`),
    waitChildren: 2,
  });
  let most = 0;
  const sampler = setInterval(() => (most = Math.max(most, childPids(d.pid).length)), 20);
  t.after(() => clearInterval(sampler));
  // A held request keeps one child of generation 0 (and its scoreboard slot) after the restart.
  const held = request(d.port, '/b/held');
  await waitFor('the backend request', () => gate.inFlight === 1);
  d.signal('SIGUSR1');
  const full = await d.waitLog('scoreboard is full', (l) => l.msg === 'scoreboard is full, not at MaxRequestWorkers; raise ServerLimit');
  assert.equal(full.serverLimit, 2);
  assert.equal(full.level, 'warn');
  gate.open();
  assert.equal((await held).status, 200);
  clearInterval(sampler);
  assert.equal(most, 2);
});

test('ThreadLimit: a larger ThreadsPerChild is lowered to it with a warning at start', async (t) => {
  const d = await daemonFor(t, {
    config: config('StartServers 1', 'ServerLimit 2', 'ThreadLimit 4', 'ThreadsPerChild 8'),
    waitChildren: 1,
  });
  const warning = await d.waitLog('the adjustment', (l) => l.module === 'config');
  assert.equal(warning.level, 'warn');
  assert.match(warning.msg, /^\/.*mpmproxy\.conf:\d+: ThreadsPerChild: 8 exceeds ThreadLimit of 4; lowered to 4$/);
  const s = await d.status();
  assert.equal(s.fields.Scoreboard.length, 2 * 4);
  assert.equal(liveSlots(s.fields.Scoreboard), 4);
  assert.equal(Number(s.fields.BusyWorkers) + Number(s.fields.IdleWorkers), 4);
});

test('ThreadsPerChild 2 (event): a third concurrent request waits Timeout for a slot, then 503 with Retry-After', async (t) => {
  const drip = await dripBackendFor(t);
  const d = await daemonFor(t, {
    config: config(
      'MPM event',
      'ThreadsPerChild 2',
      'ThreadLimit 4',
      'StartServers 1',
      'MaxRequestWorkers 2',
      'ServerLimit 1',
      'Timeout 1',
      `ProxyPass /drip ${drip.url}/`,
    ),
    waitChildren: 1,
  });
  const s = await d.status();
  // ServerLimit 1 × ThreadsPerChild 2; this status request holds one slot while it renders.
  assert.equal(s.fields.Scoreboard, 'W_');
  // Three keep-alive connections, open while the slots are free.
  const conns = await Promise.all([0, 1, 2].map(() => RawConnection.open(d.port)));
  t.after(() => conns.forEach((c) => c.close()));
  for (const c of conns) assert.equal((await c.get('/server-status?auto')).status, 200);
  conns[0].send('/drip?ms=2500');
  conns[1].send('/drip?ms=2500');
  await waitFor('both slots busy', () => drip.inFlight() === 2);
  const third = await timed(conns[2].get('/server-status?auto'));
  assert.equal(third.value.status, 503);
  assert.equal(third.value.headers['retry-after'], '1');
  assert.ok(third.ms >= 900 && third.ms < 2400, `answered after ${third.ms} ms`);
  const line = await d.waitLog('the 503 line', (l) => l.msg.startsWith('request waited longer than Timeout'));
  assert.equal(line.msg, 'request waited longer than Timeout for a free request slot (ThreadsPerChild); answering 503');
  assert.deepEqual([line.module, line.level, line.timeout], ['mpm', 'error', 1000]);
  // The two that held the slots finish normally.
  for (const c of conns.slice(0, 2)) {
    const r = await c.response();
    assert.equal(r.status, 200);
    assert.ok(r.body.endsWith('done\n'));
  }
});

for (const name of ['MaxRequestWorkers', 'MaxClients'] as const) {
  test(`${name} caps the children the maintenance pass starts, and says so once`, async (t) => {
    const limits =
      name === 'MaxRequestWorkers'
        ? ['MPM event', 'ThreadsPerChild 2', 'MaxRequestWorkers 4', 'MinSpareThreads 8']
        : ['MPM prefork', 'MaxClients 2', 'MinSpareServers 4'];
    const d = await daemonFor(t, { config: config('StartServers 1', ...limits), waitChildren: 1 });
    const reached = await d.waitLog('the MaxRequestWorkers line', (l) => l.msg.startsWith('server reached MaxRequestWorkers'), 8000);
    assert.equal(reached.msg, 'server reached MaxRequestWorkers setting, consider raising the MaxRequestWorkers setting');
    assert.equal(reached.children, 2);
    await sleep(1200); // another pass: no more children, no second line
    assert.equal(childPids(d.pid).length, 2);
    assert.equal((await d.status()).fields.Processes, '2');
    assert.equal(d.log().filter((l) => l.msg.startsWith('server reached MaxRequestWorkers')).length, 1);
  });
}

for (const [name, mpm] of [
  ['MaxConnectionsPerChild', 'event'],
  ['MaxRequestsPerChild', 'prefork'],
] as const) {
  test(`${name} 2 (${mpm}): the child is replaced after its second connection`, async (t) => {
    const d = await daemonFor(t, { config: config(`MPM ${mpm}`, 'StartServers 1', `${name} 2`) });
    // Each status request is one connection (the helper does not keep connections alive).
    const first = await d.status();
    const second = await d.status();
    assert.equal(first.processes.length, 1);
    const [old] = first.processes;
    assert.deepEqual(second.processes.map((p) => [p.pid, p.connsTotal]), [[old.pid, 2]]);
    const retired = await d.waitLog('the retirement', fromPid(old.pid, 'MaxConnectionsPerChild reached; child exits'));
    assert.equal(retired.connections, 2);
    await waitGone(old.pid);
    const third = await d.status();
    assert.equal(third.processes.length, 1);
    assert.notEqual(third.processes[0].pid, old.pid);
    assert.equal(third.processes[0].connsTotal, 1);
  });
}

test('AsyncRequestWorkerFactor 1: a child stops accepting at ThreadsPerChild + factor × idle slots', async (t) => {
  const d = await daemonFor(t, {
    config: config(
      'MPM event',
      'ThreadsPerChild 1',
      'AsyncRequestWorkerFactor 1',
      'StartServers 1',
      'ServerLimit 1',
      'MaxRequestWorkers 1',
      'KeepAliveTimeout 30',
    ),
    waitChildren: 1,
  });
  const idle = [await RawConnection.open(d.port), await RawConnection.open(d.port)];
  t.after(() => idle.forEach((c) => c.close()));
  for (const c of idle) assert.equal((await c.get('/server-status?auto')).status, 200);
  // 2 connections, 1 idle slot: 2 < 1 + 1 × 1 is false. The kernel completes the handshake
  // (the connection waits in the backlog) but nobody reads the request.
  const third = await RawConnection.open(d.port);
  t.after(() => third.close());
  third.send('/server-status?auto');
  await assert.rejects(third.response(800), /no response within 800 ms/);
  idle[0].close();
  const r = await third.response();
  assert.equal(r.status, 200);
  assert.match(r.body, /^Process: slot=0 pid=\d+ generation=0 accepting=0 stopping=0 conns=2 /m);
});

test('AsyncRequestWorkerFactor 2: the same three connections are all accepted', async (t) => {
  const d = await daemonFor(t, {
    config: config('MPM event', 'ThreadsPerChild 1', 'AsyncRequestWorkerFactor 2', 'StartServers 1', 'ServerLimit 1', 'MaxRequestWorkers 1'),
    waitChildren: 1,
  });
  const conns = await Promise.all([0, 1, 2].map(() => RawConnection.open(d.port)));
  t.after(() => conns.forEach((c) => c.close()));
  for (const c of conns) assert.equal((await c.get('/server-status?auto', {}, 2000)).status, 200);
});

test('GracefulShutdownTimeout: after USR1 an old child still serving a 10 s request is stopped at the timeout', async (t) => {
  const drip = await dripBackendFor(t);
  const d = await daemonFor(t, {
    config: config('StartServers 1', 'GracefulShutdownTimeout 1500ms', `ProxyPass /drip ${drip.url}/`),
    waitChildren: 1,
  });
  const [old] = await pidsServing(d);
  const conn = await RawConnection.open(d.port);
  t.after(() => conn.close());
  conn.send('/drip?ms=10000');
  await waitFor('the backend request', () => drip.inFlight() === 1);
  const restarted = Date.now();
  d.signal('SIGUSR1');
  const cut = (await conn.closed) - restarted;
  assert.ok(cut >= 1400 && cut < 3000, `cut after ${cut} ms`);
  await assert.rejects(conn.response(), /connection closed before a whole response/);
  await waitGone(old);
  const closing = await d.waitLog('the drain limit', fromPid(old, 'closing connections still open'));
  assert.equal(closing.reason, 'GracefulShutdownTimeout');
  const s = await d.waitAccepting(1, 1);
  assert.deepEqual(s.processes.map((p) => p.generation), [1]);
});

test('MaxSpareThreads 4: idle slots above it retire one event child a pass, down to 4 idle slots', async (t) => {
  const d = await daemonFor(t, {
    config: config('MPM event', 'StartServers 4', 'ThreadsPerChild 2', 'MinSpareThreads 1', 'MaxSpareThreads 4'),
  });
  const started = Date.now();
  const counts: number[] = [];
  await waitFor(
    'the children to settle at 2',
    async () => {
      const n = (await d.status()).processes.filter((p) => p.stopping === 0).length;
      if (counts.at(-1) !== n) counts.push(n);
      return n === 2;
    },
    15000,
    100,
  );
  // 8 idle slots > 4: one child retired a pass (never two at once), and none below 4 idle slots.
  assert.ok(Date.now() - started >= 1000, 'retirements wait for maintenance passes');
  for (let i = 1; i < counts.length; i++) assert.equal(counts[i - 1] - counts[i], 1, `counts went ${counts.join(' → ')}`);
  const retired = d.log().filter((l) => /retiring child pid \d+ gracefully/.test(l.msg));
  assert.equal(retired.length, 2);
  assert.match(retired[0].msg, /idle threads > MaxSpareThreads 4/);
  await sleep(1300); // another pass: 4 idle slots is not above the maximum
  assert.equal((await d.status()).processes.length, 2);
});
