// User/Group: a master started as root stays root and starts its children as User:Group; the
// children still map the scoreboard, log, and serve.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { freePort, request } from './helpers/daemon';
import { childPidsOf, launchProxy, pidsOf, procIds, scoreboardFile, statusNow } from './helpers/mpm';

const isRoot = process.getuid?.() === 0;

function accountId(db: 'passwd' | 'group', name: string): number {
  return Number(execFileSync('getent', [db, name], { encoding: 'utf8' }).split(':')[2]);
}

test('children run as User/Group, the master stays root', { skip: !isRoot && 'needs root' }, async (t) => {
  const uid = accountId('passwd', 'nobody');
  const gid = accountId('group', 'nogroup');
  const closedPort = await freePort();
  const { daemon } = await launchProxy(
    t,
    ['StartServers 2', 'User nobody', 'Group nogroup', `ProxyPass /dead/ http://127.0.0.1:${closedPort}/`],
    { waitChildren: 2 },
  );

  assert.deepEqual(procIds(daemon.pid), { uid: 0, gid: 0 });
  // What the children must write is theirs; the ErrorLog stays root's.
  for (const file of [scoreboardFile(daemon.pid), path.join(daemon.dir, 'run')]) {
    const st = fs.statSync(file);
    assert.deepEqual({ uid: st.uid, gid: st.gid }, { uid, gid }, file);
  }
  assert.equal(fs.statSync(daemon.errorLog).uid, 0);
  const children = childPidsOf(daemon);
  assert.equal(children.length, 2);
  for (const pid of children) assert.deepEqual(procIds(pid), { uid, gid }, `child ${pid}`);
  const answer = await request(daemon.port, '/b/echo');
  assert.equal(answer.status, 200);
  assert.equal(JSON.parse(answer.body.toString()).url, '/echo');
  // The children write the scoreboard: the request is counted.
  const status = await statusNow(daemon);
  assert.ok(status.processes.reduce((n, p) => n + p.requests, 0) >= 1);
  assert.deepEqual(pidsOf(status.processes), [...children].sort((a, b) => a - b));
  // And they write the error log, which the master opened: the test's directory is root's, 0700.
  assert.equal((await request(daemon.port, '/dead/')).status, 502);
  const line = await daemon.waitLog('a proxy error logged by a child', (l) => l.module === 'proxy' && l.status === 502);
  assert.ok(children.includes(line.pid));
});
