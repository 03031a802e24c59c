// Loopback ports for the servers a benchmark starts, and waiting until one answers.
import net from 'node:net';

export const LOOPBACK = '127.0.0.1';

/** A port that was free a moment ago (the kernel picks it; the caller binds it next). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, LOOPBACK, () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function tryConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: LOOPBACK, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export interface WaitForPortOptions {
  timeoutMs?: number;
  /** Checked between attempts, so a server that died says why instead of timing out. */
  failIf?: () => Error | null;
}

/** Resolves once a TCP connection to the port succeeds. */
export async function waitForPort(port: number, o: WaitForPortOptions = {}): Promise<void> {
  const until = Date.now() + (o.timeoutMs ?? 15_000);
  for (;;) {
    const failure = o.failIf?.();
    if (failure) throw failure;
    if (await tryConnect(port)) return;
    if (Date.now() > until) throw new Error(`nothing answered on ${LOOPBACK}:${port} within ${o.timeoutMs ?? 15_000} ms`);
    await sleep(50);
  }
}
