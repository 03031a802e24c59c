// Member health shared by the children of a running daemon: retry= after a refused connection,
// and active health checks of which one process runs each, whichever children live.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import type net from 'node:net';
import { test } from 'node:test';
import { request, sleep, waitFor } from './helpers/daemon';
import { childPidsOf, launch, logText, logsMatching, stopDaemon } from './helpers/mpm';
import { namedBackend, refusedPort, tally } from './helpers/upstream';
import { closeServer } from './helpers/close-server';

const statusPage = '<Location /server-status>\n SetHandler server-status\n</Location>';

test('retry=: a refused member is out in every child, tried again once per retry time, back when it answers', async (t) => {
  const live = await namedBackend(t, 'live');
  const port = await refusedPort();
  const daemon = await launch(t, {
    config: [
      'StartServers 2',
      statusPage,
      '<Proxy balancer://pair>',
      ` BalancerMember http://127.0.0.1:${port} retry=2`,
      ` BalancerMember ${live.url}`,
      '</Proxy>',
      'ProxyPass /pair/ balancer://pair/',
    ].join('\n'),
    waitChildren: 2,
  });
  const out = () => logsMatching(daemon, new RegExp(`^member out: http://127\\.0\\.0\\.1:${port}:`));

  // Whichever child meets the refusal first, the other never tries the member.
  const first = await tally(daemon, '/pair/', 20);
  assert.deepEqual([first.get('HTTP_502'), first.get('live')], [1, 19], JSON.stringify([...first]));
  assert.equal(out().length, 1, logText(daemon));

  // After retry=2 one request (in one child) tries it again, and finds it still refused.
  await sleep(2200);
  const second = await tally(daemon, '/pair/', 10);
  assert.deepEqual([second.get('HTTP_502'), second.get('live')], [1, 9], JSON.stringify([...second]));
  assert.equal(out().length, 1, 'still out: no new line');

  // Now it listens: the next trial brings it back, and it takes its share again.
  const revived = http.createServer((_req, res) => res.end('revived'));
  const sockets = new Set<net.Socket>();
  revived.on('connection', (s: net.Socket) => {
    sockets.add(s);
  });
  await new Promise<void>((resolve) => revived.listen(port, '127.0.0.1', resolve));
  t.after(() => closeServer(revived, sockets));
  await sleep(2200);
  const third = await tally(daemon, '/pair/', 10);
  assert.ok((third.get('revived') ?? 0) >= 4 && third.get('HTTP_502') === undefined, JSON.stringify([...third]));
  const back = logsMatching(daemon, new RegExp(`^member back in: http://127\\.0\\.0\\.1:${port}:`));
  assert.equal(back.length, 1, logText(daemon));
});

test('health checks: one probe per interval across children, hcfails takes a member out, hcpasses brings it back', async (t) => {
  const a = await namedBackend(t, 'a');
  const b = await namedBackend(t, 'b');
  const daemon = await launch(t, {
    config: [
      'StartServers 2',
      'LogLevel info proxy:debug',
      statusPage,
      '<Proxy balancer://checked>',
      ' ProxySet hcmethod=GET hcuri=/health hcinterval=1 hcfails=2 hcpasses=2 hcexpect=200-299',
      ` BalancerMember ${a.url}`,
      ` BalancerMember ${b.url}`,
      '</Proxy>',
      'ProxyPass /checked/ balancer://checked/',
    ].join('\n'),
    waitChildren: 2,
  });
  await waitFor('probes to start', () => a.probes >= 1 && b.probes >= 1);

  await t.test('each interval has one probe, from whichever child claims it', async () => {
    const from = a.probeTimes.length;
    await sleep(5000);
    const times = a.probeTimes.slice(from);
    const gaps = times.slice(1).map((at, i) => at - times[i]);
    // About 5; two children each probing would make about 10. (A probe slowed on its way can
    // arrive close to the next one, so the count is what tells, not each gap.)
    assert.ok(times.length >= 3 && times.length <= 7, `${times.length} probes: gaps ${gaps.join(', ')}`);
    const probers = new Set(logsMatching(daemon, /^health check passed$/).map((l) => l.pid));
    const children = childPidsOf(daemon);
    assert.ok([...probers].every((pid) => children.includes(pid)), `probers ${[...probers]} children ${children}`);
  });

  await t.test('probing goes on when the child that probed dies', async () => {
    const last = logsMatching(daemon, /^health check passed$/).at(-1);
    assert.ok(last);
    process.kill(last.pid, 'SIGKILL');
    const from = a.probeTimes.length;
    await sleep(2500);
    assert.ok(a.probeTimes.length - from >= 2, `${a.probeTimes.length - from} probes after the kill`);
  });

  await t.test('hcfails failed probes take the member out, once in the log, and only b answers', async () => {
    a.healthStatus = 503;
    const line = await daemon.waitLog('a out', (l) => l.msg.startsWith(`member out: ${a.url}: 2 health check(s) in a row failed`), 6000);
    assert.equal(line.level, 'error');
    assert.deepEqual([...(await tally(daemon, '/checked/', 10))], [['b', 10]]);
    await sleep(1200);
    assert.equal(logsMatching(daemon, /^member out:/).length, 1, logText(daemon));
  });

  await t.test('hcpasses good probes bring it back, once in the log', async () => {
    a.healthStatus = 200;
    await daemon.waitLog('a back', (l) => l.msg === `member back in: ${a.url}: health check passed`, 6000);
    const counts = await tally(daemon, '/checked/', 10);
    assert.ok((counts.get('a') ?? 0) >= 3 && (counts.get('b') ?? 0) >= 3, JSON.stringify([...counts]));
    await sleep(1200);
    assert.equal(logsMatching(daemon, /^member back in:/).length, 1, logText(daemon));
    assert.equal((await request(daemon.port, '/checked/')).status, 200);
  });

  await t.test('the master created the shared segment and removes it when it stops', async () => {
    const segment = `/dev/shm/mpmproxy.${daemon.pid}.health`;
    assert.ok(fs.existsSync(segment));
    await stopDaemon(daemon);
    assert.equal(fs.existsSync(segment), false);
  });
});
