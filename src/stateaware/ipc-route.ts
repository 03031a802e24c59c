// The relaying side of a state-aware route: a child that receives a request of a session another
// loop owns sends it to the owner's IPC socket and relays the answer to its client, streaming
// both ways (the client's body is the IPC request's body; the owner's answer is written as it
// comes, the owner paused while the client cannot take more). It keeps a few connections to
// each owner open between requests. When the owner cannot be reached the client gets 502 at
// once, with the reason, and never waits for a dead process.
import type http from 'node:http';
import { Pool, type Dispatcher } from 'undici';
import { log, logs } from '../log/logger';
import { answerPlain } from '../proxy/plain-answer';
import { relayedRequestHeaders, relayedResponseHeaders } from './wire';

/** Connections kept to one owner: requests beyond them wait for one. */
const CONNECTIONS_PER_OWNER = 32;
const IDLE_MS = 30_000;

/** Connection errors that mean nobody listens at the path any more. */
const unreachable = new Set(['ECONNREFUSED', 'ENOENT', 'EACCES', 'ENOTSOCK']);

export interface RouteTarget {
  ownerPid: number;
  path: string;
  session: string;
  /** The owner is gone: forget its session here (it leaves state-aware mode). */
  forget(): void;
}

const clientGone = new Error('the client closed the connection');

/** One relayed request: the undici handler that writes the owner's answer to the client. */
class Relay implements Dispatcher.DispatchHandler {
  private abort: ((err?: Error) => void) | null = null;
  private resume: (() => void) | null = null;
  private done = false;

  constructor(
    private readonly req: http.IncomingMessage,
    private readonly res: http.ServerResponse,
    private readonly target: RouteTarget,
    private readonly onUnreachable: (path: string) => void,
  ) {
    res.once('close', () => {
      if (!this.done) this.abort?.(clientGone);
    });
  }

  onConnect(abort: (err?: Error) => void): void {
    this.abort = abort;
  }

  onHeaders(statusCode: number, headers: Buffer[], resume: () => void, statusText: string): boolean {
    // 1xx from the owner were answered (or dropped) for the IPC hop alone.
    if (statusCode < 200) return true;
    this.resume = resume;
    this.res.writeHead(statusCode, statusText || undefined, relayedResponseHeaders(headers));
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (this.res.write(chunk)) return true;
    this.res.once('drain', () => this.resume?.());
    return false;
  }

  onComplete(): void {
    this.done = true;
    this.res.end();
  }

  onError(err: Error & { code?: string }): void {
    this.done = true;
    const { res, target } = this;
    if (err === clientGone || res.destroyed) return;
    const code = err.code ?? err.name;
    const fields = { session: target.session, pid: process.pid, owner: target.ownerPid, path: target.path, err: err.message, code };
    if (res.headersSent) {
      log('proxy').error(fields, `state-aware route to pid ${target.ownerPid}: the answer broke off (${err.message}); client connection cut`);
      res.destroy();
      return;
    }
    if (unreachable.has(code)) {
      log('proxy').error(fields, `state-aware route: cannot connect to pid ${target.ownerPid} at ${target.path}: ${err.message}; session ${target.session} leaves state-aware mode; answering 502`);
      target.forget();
      this.onUnreachable(target.path);
    } else {
      log('proxy').error(fields, `state-aware route: cannot send request to pid ${target.ownerPid}: ${err.message}; answering 502`);
    }
    if (!this.req.complete) res.shouldKeepAlive = false;
    answerPlain(res, 502);
  }
}

export class IpcRoutes {
  private readonly pools = new Map<string, Pool>();

  /** `timeoutMs`: how long to wait for the owner's answer (0: no bound). */
  route(req: http.IncomingMessage, res: http.ServerResponse, target: RouteTarget, timeoutMs: number | undefined): void {
    if (logs('proxy', 'debug')) {
      log('proxy').debug(
        { session: target.session, pid: process.pid, owner: target.ownerPid },
        `route request over IPC to another process: session=${target.session}; pid_self=${process.pid}; ipc_to_pid=${target.ownerPid}`,
      );
    }
    const length = req.headers['content-length'];
    const hasBody = req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
    // The client's 100-continue is answered here: the owner sends the body on as it comes.
    if (req.headers.expect?.toLowerCase().includes('100-continue')) res.writeContinue();
    const wait = timeoutMs === undefined ? 0 : timeoutMs + 1000;
    this.poolFor(target.path).dispatch(
      {
        method: req.method as Dispatcher.HttpMethod,
        path: req.url ?? '/',
        headers: relayedRequestHeaders(req),
        body: hasBody ? req : null,
        headersTimeout: wait,
        bodyTimeout: wait,
      },
      new Relay(req, res, target, (path) => this.drop(path)),
    );
  }

  close(): Promise<void> {
    const pools = [...this.pools.values()];
    this.pools.clear();
    return Promise.all(pools.map((p) => p.destroy())).then(() => undefined);
  }

  /** A dead owner's pool goes; its path is never reused (it names the pid). */
  drop(path: string): void {
    const pool = this.pools.get(path);
    if (pool === undefined) return;
    this.pools.delete(path);
    void pool.destroy();
  }

  private poolFor(path: string): Pool {
    let pool = this.pools.get(path);
    if (pool === undefined) {
      pool = new Pool('http://localhost', {
        socketPath: path,
        connections: CONNECTIONS_PER_OWNER,
        keepAliveTimeout: IDLE_MS,
        connect: { timeout: 1000 },
      });
      this.pools.set(path, pool);
    }
    return pool;
  }
}

