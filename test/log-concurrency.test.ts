// Children sharing an access log under load: a few thousand concurrent requests spread over
// two children (and over the worker threads of two children), and every line in the file is whole, once, and
// exactly as the request that made it.
import assert from 'node:assert/strict';
import http from 'node:http';
import path from 'node:path';
import { test } from 'node:test';
import { waitFor } from './helpers/daemon';
import { launch } from './helpers/mpm';
import { inParallel, logLines } from './helpers/access-log';

const REQUESTS = 3000;
const CLIENTS = 64;
const ROUNDS = 4;
const statusLocation = '<Location /server-status>\n  SetHandler server-status\n</Location>';

/** A filler whose length depends on the request, so a torn or merged line cannot pass. */
const fill = (i: number): string => String.fromCharCode(97 + (i % 26)).repeat(50 + ((i * 7919) % 700));

async function load(port: number, first: number): Promise<void> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: CLIENTS });
  try {
    await inParallel(REQUESTS, CLIENTS, async (n) => {
      const i = first + n;
      const status = await new Promise<number>((resolve, reject) => {
        http
          .get({ host: '127.0.0.1', port, path: `/r/${i}`, agent, headers: { 'x-fill': fill(i) } }, (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode ?? 0));
          })
          .on('error', reject);
      });
      assert.equal(status, 404);
    });
  } finally {
    agent.destroy();
  }
}

for (const mpm of [
  ['MPM event', 'StartServers 2'],
  // Threads of a child share its descriptor; a thread holds its connection, so no keep-alive.
  ['MPM worker', 'StartServers 2', 'ThreadsPerChild 4', 'KeepAlive Off'],
]) {
  test(`${mpm.join(', ')}: ${REQUESTS} concurrent requests, every line whole and once`, async (t) => {
    const children = Number(mpm[1].split(' ')[1]);
    const daemon = await launch(t, {
      config: [...mpm, 'CustomLog @DIR@/access.log "%P %U %{X-Fill}i %>s"', statusLocation].join('\n'),
      waitChildren: children,
    });
    const file = path.join(daemon.dir, 'access.log');
    // A loaded machine may let one child take every connection of a round: rounds go on (a few
    // at most) until lines of two children are in the file.
    const seen = new Set<number>();
    const pids = new Set<number>();
    for (let round = 0; round < ROUNDS && pids.size < 2; round++) {
      await load(daemon.port, round * REQUESTS);
      const total = (round + 1) * REQUESTS;
      const lines = await waitFor(`${total} lines`, () => {
        const l = logLines(file).filter((line) => !line.includes('/server-status'));
        return l.length >= total ? l : null;
      });
      assert.equal(lines.length, total);
      for (const line of lines.slice(round * REQUESTS)) {
        const m = /^(\d+) \/r\/(\d+) ([a-z]+) 404$/.exec(line);
        assert.ok(m, `a torn or foreign line: ${line.slice(0, 120)}`);
        const i = Number(m[2]);
        assert.equal(m[3], fill(i), `line of request ${i}`);
        assert.ok(!seen.has(i), `request ${i} logged twice`);
        seen.add(i);
        pids.add(Number(m[1]));
      }
    }
    assert.ok(pids.size >= 2, `lines from ${pids.size} children`);
  });
}
