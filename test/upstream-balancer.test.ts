// <Proxy balancer://...> through a running daemon of two children: how requests spread over
// members by lbmethod and loadfactor, hot standbys, and sticky sessions.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { request } from './helpers/daemon';
import { launch, logText } from './helpers/mpm';
import { answerOf, namedBackend, tally } from './helpers/upstream';

const statusPage = '<Location /server-status>\n SetHandler server-status\n</Location>';

function balancer(name: string, members: string[], set = ''): string {
  return [`<Proxy balancer://${name}>`, set && ` ProxySet ${set}`, ...members.map((m) => ` BalancerMember ${m}`), '</Proxy>', `ProxyPass /${name}/ balancer://${name}/`]
    .filter(Boolean)
    .join('\n');
}

test('balancers in a daemon of two children', async (t) => {
  const [a, b, w3, w1, slow, fast, main, spare, s1, s2] = await Promise.all(
    ['a', 'b', 'w3', 'w1', 'slow', 'fast', 'main', 'spare', 's1', 's2'].map((n) => namedBackend(t, n)),
  );
  slow.delayMs = 300;
  const daemon = await launch(t, {
    config: [
      'StartServers 2',
      'MinSpareThreads 1',
      statusPage,
      balancer('even', [a.url, b.url]),
      balancer('weighted', [`${w3.url} loadfactor=3`, `${w1.url} loadfactor=1`]),
      balancer('busy', [slow.url, fast.url], 'lbmethod=bybusyness'),
      balancer('standby', [main.url, `${spare.url} status=+H`]),
      balancer('sticky', [`${s1.url} route=r1`, `${s2.url} route=r2`], 'stickysession=JSESSIONID|jsessionid'),
    ].join('\n'),
    waitChildren: 2,
  });

  await t.test('byrequests without weights takes turns', async () => {
    const counts = await tally(daemon, '/even/', 40);
    // Each child takes turns on its own; two children can each be one ahead.
    assert.ok(Math.abs((counts.get('a') ?? 0) - 20) <= 2, JSON.stringify([...counts]));
    assert.equal((counts.get('a') ?? 0) + (counts.get('b') ?? 0), 40);
  });

  await t.test('byrequests follows loadfactor', async () => {
    const counts = await tally(daemon, '/weighted/', 40);
    assert.ok(Math.abs((counts.get('w3') ?? 0) - 30) <= 2, JSON.stringify([...counts]));
    assert.equal((counts.get('w3') ?? 0) + (counts.get('w1') ?? 0), 40);
  });

  await t.test('bybusyness gives the slow member fewer requests', async () => {
    // Six clients back to back for 1.5 s over two children: in each child the slow member is busy
    // nearly all the time, so it gets about one request per 300 ms; byrequests would give it half.
    const until = Date.now() + 1500;
    const clients = Array.from({ length: 6 }, async () => {
      while (Date.now() < until) assert.equal((await request(daemon.port, '/busy/')).status, 200);
    });
    await Promise.all(clients);
    assert.ok(fast.requests >= 30, `slow ${slow.requests}, fast ${fast.requests}`);
    assert.ok(slow.requests * 4 <= fast.requests, `slow ${slow.requests}, fast ${fast.requests}`);
  });

  await t.test('a hot standby takes requests only when no other member is usable', async () => {
    assert.deepEqual([...(await tally(daemon, '/standby/', 10))], [['main', 10]]);
    await main.close();
    const counts = await tally(daemon, '/standby/', 10);
    // The request that finds main refused fails; the member is then out in both children.
    assert.ok((counts.get('HTTP_502') ?? 0) <= 1, JSON.stringify([...counts]));
    assert.ok((counts.get('spare') ?? 0) >= 9, JSON.stringify([...counts]));
    await daemon.waitLog('main out', (l) => l.msg.startsWith(`member out: ${main.url}`));
    assert.equal(daemon.log().filter((l) => l.msg.startsWith('member out:')).length, 1, logText(daemon));
  });

  await t.test('a sticky session goes to the member its route names, by cookie or URL parameter', async () => {
    assert.deepEqual([...(await tally(daemon, '/sticky/', 10, { cookie: 'JSESSIONID=abc.r2' }))], [['s2', 10]]);
    assert.deepEqual([...(await tally(daemon, '/sticky/;jsessionid=abc.r1', 10, { cookie: 'JSESSIONID=abc.r2' }))], [['s1', 10]]);
    const unknown = await tally(daemon, '/sticky/', 10, { cookie: 'other=1; JSESSIONID=abc.r9' });
    assert.deepEqual([unknown.get('s1') !== undefined, unknown.get('s2') !== undefined], [true, true]);
    assert.equal(answerOf(await request(daemon.port, '/sticky/?jsessionid=x.r2')), 's2');
  });
});
