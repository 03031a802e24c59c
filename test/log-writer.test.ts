// The access log's buffered writer and body counting, without a daemon: whole lines in every
// write (pieces of at most PIPE_BUF to a pipe), nothing lost at close or at exit, and %b's
// count of body bytes as Node sends them.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { test } from 'node:test';
import { CountedResponse } from '../src/log/counted-response';
import { LogWriter } from '../src/log/log-writer';
import { flushLogs } from '../src/log/logger';
import { testDir } from './helpers/cli';

/** Lines of varied lengths, each naming its number. */
const lines = (n: number): string[] => Array.from({ length: n }, (_, i) => `line ${i} ${'x'.repeat((i * 37) % 300)}\n`);

/** Records the buffers the writer hands to fs.write. */
function recordWrites(t: { after(fn: () => void): void }): Buffer[] {
  const writes: Buffer[] = [];
  const write = fs.write;
  t.after(() => {
    fs.write = write;
  });
  fs.write = ((fd: number, data: Buffer, ...rest: unknown[]) => {
    writes.push(Buffer.from(data));
    return (write as (...a: unknown[]) => void)(fd, data, ...rest);
  }) as typeof fs.write;
  return writes;
}

test('to a file: few large writes of whole lines, all of them there once close() resolves', async (t) => {
  const file = path.join(testDir(t), 'access.log');
  const fd = fs.openSync(file, 'a');
  t.after(() => fs.closeSync(fd));
  const writes = recordWrites(t);
  const writer = new LogWriter(fd, file);
  const all = lines(5000);
  for (const l of all) writer.write(l);
  await writer.close();
  assert.equal(fs.readFileSync(file, 'utf8'), all.join(''));
  assert.ok(writes.length >= 2 && writes.length < 40, `${writes.length} writes`);
  for (const w of writes) assert.equal(w.at(-1), 0x0a);
});

test('to a pipe: pieces of whole lines of at most PIPE_BUF bytes', async (t) => {
  const fifo = path.join(testDir(t), 'fifo');
  execFileSync('mkfifo', [fifo]);
  const cat = spawn('cat', [fifo], { stdio: ['ignore', 'pipe', 'inherit'] });
  const received: Buffer[] = [];
  cat.stdout.on('data', (c: Buffer) => received.push(c));
  const ended = new Promise((resolve) => cat.once('close', resolve));
  // Blocks until cat has the other end open.
  const fd = fs.openSync(fifo, 'w');
  const writes = recordWrites(t);
  const writer = new LogWriter(fd, 'stderr');
  const all = lines(2000);
  for (const l of all) writer.write(l);
  await writer.close();
  fs.closeSync(fd);
  await ended;
  assert.ok(writes.length >= Buffer.byteLength(all.join('')) / 4096, `${writes.length} writes`);
  for (const w of writes) {
    assert.ok(w.length <= 4096, `a write of ${w.length} bytes`);
    assert.equal(w.at(-1), 0x0a);
  }
  assert.equal(Buffer.concat(received).toString(), all.join(''));
});

test('flushLogs() writes what is buffered synchronously, for a process about to exit', (t) => {
  const file = path.join(testDir(t), 'access.log');
  const fd = fs.openSync(file, 'a');
  t.after(() => fs.closeSync(fd));
  const writer = new LogWriter(fd, file);
  writer.write('one\n');
  writer.write('two\n');
  flushLogs();
  assert.equal(fs.readFileSync(file, 'utf8'), 'one\ntwo\n');
});

test('CountedResponse counts the body bytes Node sends: none for HEAD, 204 and 304', async (t) => {
  const server = http.createServer({ ServerResponse: CountedResponse }, (req, res) => {
    const r = res as CountedResponse;
    res.on('finish', () => counts.push([req.method as string, req.url as string, r.bodyBytes]));
    if (req.url === '/304') res.writeHead(304).end();
    else if (req.url === '/204') res.writeHead(204).end('ignored');
    else {
      res.write('héllo ');
      res.write(Buffer.alloc(1000));
      res.write('00ff', 'hex');
      res.end(new Uint8Array(3));
    }
  });
  const counts: Array<[string, string, number]> = [];
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => server.close());
  const port = (server.address() as AddressInfo).port;
  const ask = (method: string, p: string) =>
    new Promise<void>((resolve, reject) => {
      http.request({ port, path: p, method, agent: false }, (res) => res.resume().on('end', resolve)).on('error', reject).end();
    });
  for (const [method, p] of [['GET', '/'], ['HEAD', '/'], ['GET', '/204'], ['GET', '/304']]) await ask(method, p);
  assert.deepEqual(counts, [
    ['GET', '/', 7 + 1000 + 2 + 3],
    ['HEAD', '/', 0],
    ['GET', '/204', 0],
    ['GET', '/304', 0],
  ]);
});
