// The log files as logrotate and User/Group see them: a graceful restart after a rename sends
// new lines to a new file at the old path while the old children finish on the renamed one,
// with no line lost; children running as `nobody` write a CustomLog that only root may open.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { request, waitFor } from './helpers/daemon';
import { daemonFor } from './helpers/cli';
import { childPidsOf, launch, procIds } from './helpers/mpm';
import { inParallel, logLines } from './helpers/access-log';

const statusLocation = '<Location /server-status>\n  SetHandler server-status\n</Location>';

/** `n` requests, 8 at a time, each on its own connection; resolves once all are answered. */
function requests(port: number, prefix: string, n: number): Promise<void> {
  return inParallel(n, 8, async (i) => {
    assert.equal((await request(port, `/${prefix}/${i}`)).status, 404);
  });
}

test('rename + USR1: new lines in a new file at the old path, the earlier ones in the renamed file, none lost', async (t) => {
  const daemon = await launch(t, {
    config: ['StartServers 2', 'CustomLog @DIR@/access.log "%P %U"', statusLocation].join('\n'),
    waitChildren: 2,
  });
  const log = path.join(daemon.dir, 'access.log');
  const rotated = `${log}.1`;
  await requests(daemon.port, 'before', 60);
  await waitFor('the first 60 lines', () => logLines(log).filter((l) => l.includes('/before/')).length === 60);
  const oldChildren = childPidsOf(daemon);
  fs.renameSync(log, rotated);
  // Still served by the old children, which write to the file they have: the renamed one.
  await requests(daemon.port, 'renamed', 40);
  daemon.signal('SIGUSR1');
  await daemon.waitAccepting(2, 1);
  await requests(daemon.port, 'after', 50);
  // The old children are gone once they have drained and written out their last lines.
  await waitFor('the old children to exit', () => !childPidsOf(daemon).some((pid) => oldChildren.includes(pid)));
  // waitAccepting's status requests are logged too.
  const requested = (lines: string[]) => lines.filter((l) => !l.endsWith('/server-status'));
  const fresh = requested(await waitFor('50 lines in the new file', () => (requested(logLines(log)).length >= 50 ? logLines(log) : null)));
  const old = requested(logLines(rotated));
  const paths = (lines: string[]) => lines.map((l) => l.split(' ')[1].split('/')[1]);
  assert.deepEqual(
    [...new Set(paths(old))].sort(),
    ['before', 'renamed'],
    'the renamed file has the lines of the old children, and only theirs',
  );
  assert.deepEqual([...new Set(paths(fresh))], ['after']);
  assert.equal(old.length, 100);
  assert.equal(fresh.length, 50);
  for (const line of fresh) assert.ok(!oldChildren.includes(Number(line.split(' ')[0])), line);
  assert.equal(new Set([...old, ...fresh].map((l) => l.split(' ')[1])).size, 150, 'no line is doubled');
});

test('children running as nobody write a CustomLog only root may open (the master hands it down)', { skip: process.getuid?.() !== 0 && 'needs root' }, async (t) => {
  const nobody = Number(execFileSync('getent', ['passwd', 'nobody'], { encoding: 'utf8' }).split(':')[2]);
  // A root-owned 0644 file in a directory only root may enter.
  const daemon = await daemonFor(
    t,
    { config: ['StartServers 1', 'User nobody', 'CustomLog @DIR@/private/access.log "%P %U"', statusLocation].join('\n'), waitChildren: 1 },
    (dir) => {
      fs.mkdirSync(path.join(dir, 'private'), { mode: 0o700 });
      fs.writeFileSync(path.join(dir, 'private', 'access.log'), '', { mode: 0o644 });
    },
  );
  const log = path.join(daemon.dir, 'private', 'access.log');
  assert.throws(() => execFileSync('setpriv', ['--reuid=nobody', '--regid=nogroup', '--clear-groups', 'sh', '-c', `: >> ${log}`], { stdio: 'ignore' }));
  const [child] = childPidsOf(daemon);
  assert.equal(procIds(child).uid, nobody);
  assert.equal((await request(daemon.port, '/as-nobody')).status, 404);
  await waitFor('the child’s line', () => logLines(log).includes(`${child} /as-nobody`));
  const st = fs.statSync(log);
  assert.deepEqual({ uid: st.uid, mode: st.mode & 0o777, dir: fs.statSync(path.dirname(log)).mode & 0o777 }, { uid: 0, mode: 0o644, dir: 0o700 });
});
