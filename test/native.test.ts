import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { NativeAddonError } from '../src/errors';
import { loadNativeFrom, native, nativeAddonPath } from '../src/native';
import type { RlimitResource } from '../src/native';

const execFileAsync = promisify(execFile);
/** Child processes require the compiled loader, as the daemon's children do. */
const loaderPath = path.join(__dirname, '..', 'src', 'native', 'index.js');
const tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mpmproxy-native-'));
const segments: string[] = [];

after(() => {
  for (const name of segments) native.shmUnlink(name);
  fs.rmSync(tmpDir, { recursive: true, force: true });
});

function segmentName(label: string): string {
  const name = `/mpmproxy-test-${process.pid}-${label}`;
  segments.push(name);
  return name;
}

/** Runs `code` in a new node process whose process.argv[1] is the loader's path. */
async function runNode(code: string, ...args: string[]): Promise<string> {
  const { stdout } = await execFileAsync(process.execPath, ['-e', code, loaderPath, ...args], {
    timeout: 30_000,
  });
  return stdout;
}

function assertNativeError(fn: () => unknown, errno: string, message: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof NativeAddonError);
    assert.equal(err.code, 'MPM_ERR_NATIVE_ADDON');
    assert.equal(err.errno, errno);
    assert.match(err.message, message);
    return true;
  });
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

describe('shared memory', () => {
  test('a segment written here is read and written by another process', async () => {
    const name = segmentName('share');
    const cells = new Int32Array(native.shmOpen(name, 4096, true));
    Atomics.store(cells, 0, 0x12345678);
    Atomics.store(cells, 1023, -7);
    const out = await runNode(
      `const { native } = require(process.argv[1]);
       const cells = new Int32Array(native.shmOpen(process.argv[2], 0, false));
       Atomics.store(cells, 1, 42);
       const seen = [cells.byteLength, Atomics.load(cells, 0), Atomics.load(cells, 1023)];
       console.log(JSON.stringify(seen));`,
      name,
    );
    assert.deepEqual(JSON.parse(out), [4096, 0x12345678, -7]);
    assert.equal(Atomics.load(cells, 1), 42);
  });

  test('Atomics.add is atomic across processes: 4 × 200,000 increments', async () => {
    const name = segmentName('atomic');
    // [0] the counter, [1] children ready, [2] start flag: all children add at once.
    const cells = new Int32Array(native.shmOpen(name, 12, true));
    const children = Array.from({ length: 4 }, () =>
      runNode(
        `const { native } = require(process.argv[1]);
         const cells = new Int32Array(native.shmOpen(process.argv[2], 12, false));
         Atomics.add(cells, 1, 1);
         while (Atomics.load(cells, 2) === 0);
         for (let i = 0; i < 200000; i++) Atomics.add(cells, 0, 1);`,
        name,
      ),
    );
    const deadline = Date.now() + 20_000;
    while (Atomics.load(cells, 1) < 4 && Date.now() < deadline) await sleep(5);
    Atomics.store(cells, 2, 1);
    await Promise.all(children);
    assert.equal(Atomics.load(cells, 0), 800_000);
  });

  test('a segment is created for its owner only; creating it again fails with EEXIST', () => {
    const name = segmentName('exists');
    native.shmOpen(name, 64, true);
    assert.equal(fs.statSync(`/dev/shm${name}`).mode & 0o777, 0o600);
    assertNativeError(
      () => native.shmOpen(name, 64, true),
      'EEXIST',
      new RegExp(`^shm_open ${escape(name)}: File exists$`),
    );
  });

  test('opening an unlinked segment fails with ENOENT; unlinking twice is fine', () => {
    const name = segmentName('unlinked');
    native.shmOpen(name, 64, true);
    native.shmUnlink(name);
    native.shmUnlink(name);
    assertNativeError(
      () => native.shmOpen(name, 0, false),
      'ENOENT',
      new RegExp(`^shm_open ${escape(name)}: No such file or directory$`),
    );
  });

  test('a new segment is zero-filled, even where an unlinked one held data', () => {
    const name = segmentName('zero');
    new Uint8Array(native.shmOpen(name, 1 << 20, true)).fill(0xa5);
    native.shmUnlink(name);
    const bytes = new Uint8Array(native.shmOpen(name, 1 << 20, true));
    assert.equal(bytes.byteLength, 1 << 20);
    assert.equal(bytes.findIndex((b) => b !== 0), -1);
  });

  test('an existing segment maps whole, or its first `size` bytes, never more', () => {
    const name = segmentName('sizes');
    native.shmOpen(name, 8192, true);
    assert.equal(native.shmOpen(name, 0, false).byteLength, 8192);
    assert.equal(native.shmOpen(name, 100, false).byteLength, 100);
    assertNativeError(
      () => native.shmOpen(name, 8193, false),
      'EINVAL',
      /^shmOpen: .* has 8192 bytes, fewer than the 8193 asked for$/,
    );
  });

  test('names must start with a slash and sizes be whole numbers', () => {
    assertNativeError(
      () => native.shmOpen('no-slash', 64, true),
      'EINVAL',
      /^shmOpen: name must start with '\/'$/,
    );
    assertNativeError(
      () => native.shmOpen(segmentName('fraction'), 1.5, true),
      'EINVAL',
      /^shmOpen: size must be an integer/,
    );
  });

  test('mappings are unmapped when their ArrayBuffers are collected', async () => {
    const name = segmentName('collected');
    native.shmOpen(name, 65536, true);
    const { stdout } = await execFileAsync(
      process.execPath,
      [
        '--expose-gc',
        '-e',
        `const { native } = require(process.argv[1]);
         const fs = require('node:fs');
         const name = process.argv[2];
         const mapped = () =>
           fs.readFileSync('/proc/self/maps', 'utf8').split('\\n')
             .filter((line) => line.includes(name)).length;
         (async () => {
           for (let i = 0; i < 500; i++) native.shmOpen(name, 0, false);
           const before = mapped();
           for (let i = 0; i < 3; i++) {
             global.gc();
             await new Promise((resolve) => setImmediate(resolve));
           }
           console.log(JSON.stringify([before, mapped()]));
         })();`,
        loaderPath,
        name,
      ],
      { timeout: 30_000 },
    );
    assert.deepEqual(JSON.parse(stdout), [500, 0]);
  });
});

describe('resource limits', () => {
  const procLabels: Record<RlimitResource, string> = {
    nofile: 'Max open files',
    core: 'Max core file size',
    nproc: 'Max processes',
    as: 'Max address space',
    stack: 'Max stack size',
  };

  function procLimit(resource: RlimitResource): { soft: number; hard: number } {
    const line = fs
      .readFileSync('/proc/self/limits', 'utf8')
      .split('\n')
      .find((l) => l.startsWith(procLabels[resource]));
    assert.ok(line, `no ${procLabels[resource]} in /proc/self/limits`);
    const [soft, hard] = line
      .slice(procLabels[resource].length)
      .trim()
      .split(/\s+/)
      .map((v) => (v === 'unlimited' ? Infinity : Number(v)));
    return { soft, hard };
  }

  test('getrlimit agrees with /proc/self/limits, unlimited as Infinity', () => {
    for (const resource of Object.keys(procLabels) as RlimitResource[]) {
      assert.deepEqual(native.getrlimit(resource), procLimit(resource), resource);
    }
  });

  test('setrlimit lowers the soft nofile limit and raises it back', () => {
    const before = native.getrlimit('nofile');
    const lowered = Math.min(before.soft, 4096) - 1;
    try {
      native.setrlimit('nofile', lowered, before.hard);
      assert.deepEqual(procLimit('nofile'), { soft: lowered, hard: before.hard });
    } finally {
      native.setrlimit('nofile', before.soft, before.hard);
    }
    assert.deepEqual(procLimit('nofile'), before);
  });

  test('setrlimit sets the core size to 0 and back', () => {
    const before = native.getrlimit('core');
    try {
      native.setrlimit('core', 0, before.hard);
      assert.deepEqual(native.getrlimit('core'), { soft: 0, hard: before.hard });
    } finally {
      native.setrlimit('core', before.soft, before.hard);
    }
    assert.deepEqual(procLimit('core'), before);
  });

  test('a soft limit above the hard one fails with EINVAL', () => {
    const { hard } = native.getrlimit('nofile');
    assertNativeError(
      () => native.setrlimit('nofile', hard + 1, hard),
      'EINVAL',
      /^setrlimit nofile: Invalid argument$/,
    );
  });

  test('unknown resources are refused', () => {
    assertNativeError(
      () => native.getrlimit('cpu' as RlimitResource),
      'EINVAL',
      /^getrlimit: resource must be one of nofile, core, nproc, as, stack$/,
    );
  });
});

describe('sdNotify', () => {
  test('sends one datagram to a socket path', () => {
    const address = path.join(tmpDir, 'notify.sock');
    const fd = native.dgramBind(address);
    try {
      native.sdNotify(address, 'READY=1\nSTATUS=serving');
      assert.equal(native.dgramRecv(fd, 1000), 'READY=1\nSTATUS=serving');
      assert.equal(native.dgramRecv(fd, 20), null);
    } finally {
      native.close(fd);
    }
  });

  test("sends to the abstract namespace for '@name', without trailing NULs", () => {
    const address = `@mpmproxy-test-${process.pid}-notify`;
    const fd = native.dgramBind(address);
    try {
      // The kernel lists abstract names with '@' for the NUL and every byte of their length.
      const names = fs
        .readFileSync('/proc/net/unix', 'utf8')
        .split('\n')
        .map((l) => l.trim().split(/\s+/)[7]);
      assert.ok(names.includes(address), `${address} not in /proc/net/unix`);
      native.sdNotify(address, 'WATCHDOG=1');
      assert.equal(native.dgramRecv(fd, 1000), 'WATCHDOG=1');
    } finally {
      native.close(fd);
    }
  });

  test('reports an address nobody listens on', () => {
    const missing = path.join(tmpDir, 'missing.sock');
    assertNativeError(
      () => native.sdNotify(missing, 'READY=1'),
      'ENOENT',
      new RegExp(`^sendto ${escape(missing)}: No such file or directory$`),
    );
    assertNativeError(
      () => native.sdNotify(`@mpmproxy-test-${process.pid}-nobody`, 'READY=1'),
      'ECONNREFUSED',
      /^sendto @mpmproxy-test-\d+-nobody: Connection refused$/,
    );
  });
});

describe('listening sockets', () => {
  function isCloseOnExec(fd: number): boolean {
    const flags = /^flags:\s+([0-7]+)$/m.exec(fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'));
    assert.ok(flags);
    return (parseInt(flags[1], 8) & 0o2000000) !== 0;
  }

  /** Serves on the descriptor, answering each connection with the client's address. */
  function serveOn(fd: number): Promise<net.Server> {
    const server = net.createServer((socket) => socket.end(socket.remoteAddress ?? ''));
    return new Promise((resolve) => server.listen({ fd }, () => resolve(server)));
  }

  function ask(host: string, port: number): Promise<string> {
    return new Promise((resolve, reject) => {
      let answer = '';
      net
        .connect({ host, port })
        .setEncoding('utf8')
        .on('data', (chunk: string) => (answer += chunk))
        .on('end', () => resolve(answer))
        .on('error', reject);
    });
  }

  function closeServer(server: net.Server): Promise<void> {
    return new Promise((resolve) => server.close(() => resolve()));
  }

  test('binds 127.0.0.1:0 close-on-exec, reports its port, and Node serves on it', async () => {
    const fd = native.listenSocket({ host: '127.0.0.1', port: 0, backlog: 16 });
    const port = native.localPort(fd);
    assert.ok(port > 0);
    assert.equal(isCloseOnExec(fd), true);
    const server = await serveOn(fd);
    try {
      assert.equal(await ask('127.0.0.1', port), '127.0.0.1');
    } finally {
      await closeServer(server);
    }
  });

  test('a child process serves on a listener handed over in its stdio', async () => {
    const fd = native.listenSocket({ host: '127.0.0.1', port: 0, backlog: 16 });
    const port = native.localPort(fd);
    const child = spawn(
      process.execPath,
      [
        '-e',
        `require('node:net')
           .createServer((socket) => socket.end('child'))
           .listen({ fd: 3 }, () => console.log('up'))`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit', fd] },
    );
    try {
      assert.ok(child.stdout);
      await once(child.stdout, 'data');
      native.close(fd);
      assert.equal(await ask('127.0.0.1', port), 'child');
    } finally {
      child.kill();
    }
  });

  test('a second bind without SO_REUSEPORT fails with EADDRINUSE', () => {
    const fd = native.listenSocket({ host: '127.0.0.1', port: 0, backlog: 16 });
    const port = native.localPort(fd);
    try {
      assertNativeError(
        () => native.listenSocket({ host: '127.0.0.1', port, backlog: 16 }),
        'EADDRINUSE',
        new RegExp(`^bind 127\\.0\\.0\\.1:${port}: Address already in use$`),
      );
    } finally {
      native.close(fd);
    }
  });

  test('two SO_REUSEPORT sockets share one port', () => {
    const first = native.listenSocket({ host: '127.0.0.1', port: 0, backlog: 16, reusePort: true });
    const port = native.localPort(first);
    const second = native.listenSocket({ host: '127.0.0.1', port, backlog: 16, reusePort: true });
    assert.equal(native.localPort(second), port);
    native.close(first);
    native.close(second);
  });

  test("'::' accepts IPv4 connections", async () => {
    const fd = native.listenSocket({ host: '::', port: 0, backlog: 16 });
    const server = await serveOn(fd);
    try {
      assert.equal(await ask('127.0.0.1', native.localPort(fd)), '::ffff:127.0.0.1');
    } finally {
      await closeServer(server);
    }
  });

  test('hosts must be address literals; errors name the address', () => {
    assertNativeError(
      () => native.listenSocket({ host: 'localhost', port: 80, backlog: 16 }),
      'EINVAL',
      /^listenSocket: host must be an IPv4 or IPv6 address literal$/,
    );
    assertNativeError(
      () => native.listenSocket({ host: '192.0.2.1', port: 8080, backlog: 16 }),
      'EADDRNOTAVAIL',
      /^bind 192\.0\.2\.1:8080: Cannot assign requested address$/,
    );
  });

  test('dup gives a close-on-exec copy; close twice fails with EBADF', () => {
    const fd = native.listenSocket({ host: '127.0.0.1', port: 0, backlog: 16 });
    const copy = native.dup(fd);
    assert.notEqual(copy, fd);
    assert.equal(isCloseOnExec(copy), true);
    assert.equal(native.localPort(copy), native.localPort(fd));
    native.close(copy);
    native.close(fd);
    const badFd = (call: string, n: number) => new RegExp(`^${call} ${n}: Bad file descriptor$`);
    assertNativeError(() => native.close(copy), 'EBADF', badFd('close', copy));
    assertNativeError(() => native.dup(fd), 'EBADF', badFd('dup', fd));
  });

  test('localPort refuses a socket that has no port', () => {
    const fd = native.dgramBind(path.join(tmpDir, 'portless.sock'));
    try {
      assertNativeError(() => native.localPort(fd), 'EAFNOSUPPORT', /^getsockname \d+: /);
    } finally {
      native.close(fd);
    }
  });
});

describe('setParentDeathSignal', () => {
  function isAlive(pid: number): boolean {
    try {
      // A zombie is dead too: whoever adopted it may not reap it at once.
      return !/^\d+ \(.*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
    } catch {
      return false;
    }
  }

  test('a process is signalled when its parent exits', async () => {
    // A go-between starts a process that asks for SIGTERM once orphaned, prints its pid, exits.
    const out = await runNode(
      `const { spawn } = require('node:child_process');
       const grandchild = spawn(process.execPath, ['-e', \`
         require(process.argv[1]).native.setParentDeathSignal(15);
         console.log('armed');
         setInterval(() => {}, 1000);\`, process.argv[1]], { stdio: ['ignore', 'pipe', 'ignore'] });
       grandchild.stdout.once('data', () => {
         console.log(grandchild.pid);
         process.exit(0);
       });`,
    );
    const pid = Number(out.trim());
    const deadline = Date.now() + 5000;
    while (isAlive(pid) && Date.now() < deadline) await sleep(20);
    const alive = isAlive(pid);
    if (alive) process.kill(pid, 'SIGKILL');
    assert.equal(alive, false);
  });

  test('the kernel judges the signal number', () => {
    assertNativeError(
      () => native.setParentDeathSignal(1000),
      'EINVAL',
      /^prctl PR_SET_PDEATHSIG: Invalid argument$/,
    );
  });
});

describe('loader', () => {
  const hint = 'run `npm run build:native` (needs python3, make, a C compiler)';

  test('loads the built addon from native/build/Release', () => {
    const built = path.join('native', 'build', 'Release', 'mpmproxy_native.node');
    assert.ok(nativeAddonPath.endsWith(built));
    assert.equal(typeof loadNativeFrom(nativeAddonPath).shmOpen, 'function');
  });

  test('names a missing addon file and how to build it', () => {
    const missing = path.join(tmpDir, 'absent', 'mpmproxy_native.node');
    assert.throws(
      () => loadNativeFrom(missing),
      (err: unknown) =>
        err instanceof NativeAddonError &&
        err.code === 'MPM_ERR_NATIVE_ADDON' &&
        err.errno === undefined &&
        err.message === `native addon ${missing} is missing: ${hint}`,
    );
  });

  test('names a file that is not a loadable addon', () => {
    const broken = path.join(tmpDir, 'broken.node');
    fs.writeFileSync(broken, 'not an ELF file');
    assert.throws(() => loadNativeFrom(broken), {
      name: 'NativeAddonError',
      message: new RegExp(
        `^native addon ${escape(broken)} failed to load \\(.+\\): ${escape(hint)}$`,
      ),
    });
  });

  test('names an out-of-date build that lacks a function', () => {
    const stale = path.join(tmpDir, 'stale.js');
    fs.writeFileSync(stale, 'exports.shmOpen = () => {};');
    assert.throws(() => loadNativeFrom(stale), {
      name: 'NativeAddonError',
      message: `native addon ${stale} has no function shmUnlink: ${hint}`,
    });
  });

  test('keeps the addon error as the cause', () => {
    assert.throws(
      () => native.close(-1),
      (err: unknown) =>
        err instanceof NativeAddonError && err.errno === 'EINVAL' && err.cause instanceof TypeError,
    );
  });
});

/** A connection from another process (so that it sends while this one waits) that connects,
 * waits 150 ms, sends `text` and ends. `look` runs on the accepted socket's descriptor within the
 * accept callback, so the event loop cannot read the socket meanwhile; the answer is what the
 * socket's own reads then get. */
function queuedConnection(text: string, look: (fd: number) => void): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const server = net.createServer((socket) => {
      server.close();
      look((socket as unknown as { _handle: { fd: number } })._handle.fd);
      let read = '';
      socket.on('data', (d: Buffer) => (read += d.toString()));
      socket.on('end', () => resolve(read));
    });
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port;
      const client = spawn(process.execPath, ['-e', `const s = require('net').connect(${port}, '127.0.0.1', () => setTimeout(() => s.end(${JSON.stringify(text)}), 150))`]);
      client.on('error', reject);
    });
  });
}

const pause = (ms: number): void => void Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

function errnoOf(call: () => unknown): string {
  try {
    call();
    return 'no error';
  } catch (err) {
    return (err as NativeAddonError).errno ?? '';
  }
}

describe('peek', () => {
  test('shows the bytes queued on a connection without taking them; nothing yet is an empty buffer', async () => {
    const seen: string[] = [];
    const read = await queuedConnection('PRI * HTTP/2.0 and more', (fd) => {
      seen.push(native.peek(fd, 24).toString());
      pause(500);
      seen.push(native.peek(fd, 14).toString(), native.peek(fd, 24).toString(), errnoOf(() => native.peek(fd, 16384 + 6)));
    });
    assert.equal(read, 'PRI * HTTP/2.0 and more', 'peeking took nothing');
    assert.deepEqual(seen, ['', 'PRI * HTTP/2.0', 'PRI * HTTP/2.0 and more', 'EINVAL']);
  });
});

/** The file status flags of one of this process's descriptors. */
function flagsOf(fd: number): number {
  const flags = /^flags:\s+([0-7]+)$/m.exec(fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'));
  assert.ok(flags);
  return parseInt(flags[1], 8);
}
const O_CLOEXEC = 0o2000000;
const O_NONBLOCK = 0o4000;

describe('acceptConnection', () => {
  test('accepts the next waiting connection with the bytes it has sent so far; none waiting is null', async () => {
    const listener = native.listenSocket({ host: '127.0.0.1', port: 0, backlog: 16 });
    const port = native.localPort(listener);
    const clients: net.Socket[] = [];
    try {
      assert.equal(flagsOf(listener) & O_NONBLOCK, O_NONBLOCK, 'listeners never make an accept wait');
      assert.equal(native.acceptConnection(listener, 1024), null);
      const talker = net.connect(port, '127.0.0.1', () => talker.write('GET / HTTP/1.1\r\n'));
      clients.push(talker);
      await sleep(200);
      const quiet = net.connect(port, '127.0.0.1');
      clients.push(quiet);
      await once(quiet, 'connect');
      await sleep(100);

      const first = native.acceptConnection(listener, 1024);
      assert.ok(first !== null);
      assert.equal(first.payload.toString(), 'GET / HTTP/1.1\r\n');
      assert.equal(flagsOf(first.fd) & (O_NONBLOCK | O_CLOEXEC), O_NONBLOCK | O_CLOEXEC);
      // The descriptor is the live connection: what was taken is not read again, what follows is.
      const served = new net.Socket({ fd: first.fd, readable: true, writable: true });
      let rest = '';
      served.on('data', (d: Buffer) => (rest += d.toString()));
      const answer = once(talker, 'data');
      served.write('hello');
      assert.equal(String((await answer)[0]), 'hello');
      talker.end('Host: x\r\n\r\n');
      await once(served, 'end');
      assert.equal(rest, 'Host: x\r\n\r\n');
      served.destroy();

      const second = native.acceptConnection(listener, 1024);
      assert.ok(second !== null);
      assert.equal(second.payload.length, 0, 'nothing sent yet');
      native.close(second.fd);
      assert.equal(native.acceptConnection(listener, 1024), null);
      assert.equal(errnoOf(() => native.acceptConnection(listener, 16 * 1024 + 1)), 'EINVAL');
      const notListening = native.dup(0);
      assert.notEqual(errnoOf(() => native.acceptConnection(notListening, 1024)), 'no error');
      native.close(notListening);
    } finally {
      for (const c of clients) c.destroy();
      native.close(listener);
    }
  });
});

describe('connection hand-off (SCM_RIGHTS over SOCK_SEQPACKET)', () => {

  /** A listening handoff socket, a connection to it, and its accepted end. */
  function pair(label: string): { path: string; listener: number; sender: number; receiver: number } {
    const p = path.join(tmpDir, `${label}.sock`);
    const listener = native.handoffListen(p);
    assert.equal(native.handoffAccept(listener), null);
    const sender = native.handoffConnect(p);
    const receiver = native.handoffAccept(listener);
    assert.ok(receiver !== null);
    return { path: p, listener, sender, receiver };
  }

  test('moves a live TCP connection and its first bytes to the receiver, which then owns it', async () => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const client = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
    const [accepted] = (await once(server, 'connection')) as [net.Socket];
    const { listener, sender, receiver } = pair('move');
    try {
      client.write('first bytes');
      const [first] = (await once(accepted, 'data')) as [Buffer];
      const fd = (accepted as unknown as { _handle: { fd: number } })._handle.fd;
      const watched = new Promise<string | null>((resolve) => {
        const watch = native.pollReadable(receiver, (error) => {
          native.pollStop(watch);
          resolve(error);
        });
      });
      assert.equal(native.sendFd(sender, fd, first), true);
      // The sender lets go of its descriptor only: the connection stays up.
      accepted.destroy();
      assert.equal(await watched, null);
      const got = native.recvFd(receiver);
      assert.ok(got !== null);
      assert.equal(got.payload.toString(), 'first bytes');
      assert.ok(got.fd >= 0);
      assert.ok((flagsOf(got.fd) & O_CLOEXEC) !== 0, 'received descriptor is close-on-exec');
      assert.equal(native.recvFd(receiver), null);
      const adopted = new net.Socket({ fd: got.fd, readable: true, writable: true });
      client.write('later bytes');
      const [later] = (await once(adopted, 'data')) as [Buffer];
      assert.equal(later.toString(), 'later bytes');
      adopted.end('answer');
      const [answer] = (await once(client, 'data')) as [Buffer];
      assert.equal(answer.toString(), 'answer');
      await once(client, 'end');
    } finally {
      client.destroy();
      server.close();
      for (const fd of [listener, sender, receiver]) native.close(fd);
    }
  });

  test('keeps each message whole and reports the peer closing', () => {
    const { listener, sender, receiver } = pair('whole');
    const big = Buffer.alloc(100_000, 'x');
    try {
      assert.equal(native.sendFd(sender, 0, big), true);
      assert.equal(native.sendFd(sender, 0, Buffer.from('second')), true);
      const a = native.recvFd(receiver);
      const b = native.recvFd(receiver);
      assert.ok(a !== null && b !== null);
      assert.equal(a.payload.length, big.length);
      assert.equal(b.payload.toString(), 'second');
      native.close(a.fd);
      native.close(b.fd);
      native.close(sender);
      assert.deepEqual(native.recvFd(receiver), { fd: -1, payload: Buffer.alloc(0) });
    } finally {
      native.close(listener);
      native.close(receiver);
    }
  });

  test('says when the receiver is full, and fails once it is gone', () => {
    const { listener, sender, receiver } = pair('full');
    const chunk = Buffer.alloc(60_000, 'y');
    let sent = 0;
    while (native.sendFd(sender, 0, chunk)) sent++;
    assert.ok(sent > 0, 'some messages fit before the buffer fills');
    native.close(receiver);
    native.close(listener);
    assertNativeError(() => native.sendFd(sender, 0, chunk), 'ECONNRESET', /^sendmsg handoff socket: Connection reset by peer$/);
    native.close(sender);
  });

  test('refuses bad arguments and missing peers', () => {
    const missing = path.join(tmpDir, 'nobody-handoff.sock');
    assertNativeError(() => native.handoffConnect(missing), 'ENOENT', new RegExp(`^connect ${escape(missing)}: No such file or directory$`));
    assertNativeError(() => native.handoffListen(''), 'EINVAL', /^handoffListen: path must not be empty$/);
    assertNativeError(() => native.sendFd(0, 0, Buffer.alloc(0)), 'EINVAL', /^sendFd: payload must not be empty$/);
    assertNativeError(() => native.sendFd(0, 0, 'text' as unknown as Buffer), 'EINVAL', /^sendFd: payload must be a Buffer$/);
    const file = fs.openSync(path.join(tmpDir, 'not-a-socket'), 'w');
    try {
      assertNativeError(() => native.recvFd(file), 'ENOTSOCK', /^recvmsg handoff socket: Socket operation on non-socket$/);
    } finally {
      fs.closeSync(file);
    }
  });

  test('a receiver shut for reading still gives what was queued, and its sender is told at once', () => {
    const { listener, sender, receiver } = pair('shut');
    try {
      assert.equal(native.sendFd(sender, 0, Buffer.from('queued before')), true);
      native.handoffShutdown(receiver);
      assertNativeError(() => native.sendFd(sender, 0, Buffer.from('sent after')), 'EPIPE', /^sendmsg handoff socket: Broken pipe$/);
      const got = native.recvFd(receiver);
      assert.ok(got !== null && got.fd >= 0);
      assert.equal(got.payload.toString(), 'queued before');
      native.close(got.fd);
      assert.deepEqual(native.recvFd(receiver), { fd: -1, payload: Buffer.alloc(0) });
    } finally {
      for (const fd of [listener, sender, receiver]) native.close(fd);
    }
  });

  test('refuses a message without a descriptor', () => {
    const { listener, sender, receiver } = pair('nofd');
    try {
      // A plain write on the handoff connection: no SCM_RIGHTS.
      fs.writeSync(sender, 'no descriptor');
      assertNativeError(() => native.recvFd(receiver), 'EPROTO', /^recvmsg handoff message without one descriptor, or cut: Protocol error$/);
    } finally {
      for (const fd of [listener, sender, receiver]) native.close(fd);
    }
  });
});
