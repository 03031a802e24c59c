// `npm start` on a fresh checkout: the embedded configuration on port 8080 in front of the demo
// backend on 8081, both stopped by one SIGTERM.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { test } from 'node:test';
import { repoRoot, request, waitFor } from './helpers/daemon';

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

test('npm start serves the default page, server-status and the demo backend through /demo/', async (t) => {
  if (!(await portFree(8080)) || !(await portFree(8081))) {
    t.skip('ports 8080/8081 are in use on this machine');
    return;
  }
  const proc = spawn(process.execPath, [path.join(repoRoot, 'dist', 'scripts', 'start.js')], { stdio: 'ignore' });
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  try {
    const demo = await waitFor('the demo backend through the proxy', async () => {
      const r = await request(8080, '/demo/');
      return r.status === 200 ? r : null;
    });
    const body = demo.body.toString();
    assert.match(body, /Hello from the demo backend/);
    assert.match(body, /x-forwarded-for<\/td><td>127\.0\.0\.1/);
    assert.match((await request(8080, '/')).body.toString(), /It works: mpmproxy/);
    assert.match((await request(8080, '/server-status?auto')).body.toString(), /^ServerMPM: event$/m);
  } finally {
    proc.kill('SIGTERM');
    assert.equal(await exited, 0);
  }
  assert.equal(await portFree(8080), true);
  assert.equal(await portFree(8081), true);
});
