// The WebSocket connections of one serving loop once their backend has switched protocols: two
// sockets piped to each other, the client's frames read on the way (headers only) so that
// LimitWebSocketsFrame and LimitWebSocketsMessage hold, an idle timeout, and a close of our own
// (1009 too big, 1001 going away) written only between two frames of the backend's.
import type net from 'node:net';
import type { LimitSettings } from '../config/types';
import type { LoopLimits } from '../limits/loop-limits';
import { log } from '../log/logger';
import type { Scoreboard } from '../shm/scoreboard';
import { closeFrame, FrameScanner } from './frame-scanner';

/** RFC 6455 §7.4.1 */
export const GOING_AWAY = 1001;
export const MESSAGE_TOO_BIG = 1009;

/** How long the peers get to answer our close before their sockets are destroyed. */
const CLOSE_GRACE_MS = 1000;

export interface TunnelsOptions {
  limits: LimitSettings;
  idleTimeout: number;
  loopLimits: LoopLimits;
  scoreboard: Scoreboard;
  processSlot: number;
  /** A client connection became a tunnel (the connection server stops treating it as HTTP). */
  onOpen: (client: net.Socket) => void;
}

export class WebSocketTunnels {
  private readonly open = new Map<net.Socket, Tunnel>();

  constructor(private readonly o: TunnelsOptions) {}

  get size(): number {
    return this.open.size;
  }

  has(client: net.Socket): boolean {
    return this.open.has(client);
  }

  /** The backend answered 101: `head` (its response head) goes to the client, then bytes flow. */
  start(client: net.Socket, backend: net.Socket, head: Buffer): void {
    if (client.destroyed) {
      // The client left while the backend switched: there is nobody to tunnel to.
      backend.destroy();
      return;
    }
    const o = this.o;
    const tunnel = new Tunnel(client, backend, o.limits, o.loopLimits);
    this.open.set(client, tunnel);
    o.scoreboard.addWebSockets(o.processSlot, 1);
    o.onOpen(client);
    client.once('close', () => {
      this.open.delete(client);
      o.scoreboard.addWebSockets(o.processSlot, -1);
    });
    tunnel.run(head, o.idleTimeout);
  }

  /** Closes one tunnel with `code`; false when the socket is not a tunnel. */
  close(client: net.Socket, code: number, reason: string): boolean {
    const tunnel = this.open.get(client);
    if (tunnel === undefined) return false;
    tunnel.close(code, reason);
    return true;
  }
}

class Tunnel {
  private readonly fromClient: FrameScanner;
  /** No limits: it only tells where the backend's frames end. */
  private readonly fromBackend = new FrameScanner(0, 0);
  /** Our close frame for the client, waiting for the backend's frame in progress to end. */
  private pendingClose: Buffer | null = null;
  private closing = false;
  private readonly packet: number;

  constructor(
    private readonly client: net.Socket,
    private readonly backend: net.Socket,
    limits: LimitSettings,
    private readonly loopLimits: LoopLimits,
  ) {
    this.fromClient = new FrameScanner(limits.webSocketsFrame, limits.webSocketsMessage);
    this.packet = limits.webSocketsPacket;
  }

  run(head: Buffer, idleTimeout: number): void {
    const { client, backend } = this;
    client.setNoDelay(true);
    backend.setNoDelay(true);
    client.write(head);
    client.on('data', (chunk: Buffer) => this.fromClientData(chunk));
    backend.on('data', (chunk: Buffer) => this.fromBackendData(chunk));
    // Half-closes pass through; a socket that goes away takes the other with it.
    client.on('end', () => backend.end());
    backend.on('end', () => client.end());
    client.on('close', () => backend.destroy());
    backend.on('close', () => client.destroy());
    client.on('error', () => client.destroy());
    backend.on('error', () => backend.destroy());
    // A socket's timer restarts at every read and write on it, and the client socket sees both
    // directions: it times out only when neither side has sent anything.
    client.setTimeout(idleTimeout, () => {
      log('proxy_wstunnel').info({ client: client.remoteAddress, idleMs: idleTimeout }, 'WebSocket idle for ProxyWebsocketIdleTimeout: closed with 1001');
      this.close(GOING_AWAY, 'idle timeout');
    });
    client.resume();
  }

  close(code: number, reason: string): void {
    if (this.closing) return;
    this.closing = true;
    const { client, backend } = this;
    client.removeAllListeners('data');
    client.resume(); // the client's answer to our close is read and dropped
    if (this.fromClient.atBoundary) backend.end(closeFrame(GOING_AWAY, 'proxy closing', true));
    else backend.end();
    const frame = closeFrame(code, reason, false);
    if (this.fromBackend.atBoundary) this.endClient(frame);
    else this.pendingClose = frame;
    const grace = setTimeout(() => {
      client.destroy();
      backend.destroy();
    }, CLOSE_GRACE_MS);
    grace.unref();
    client.once('close', () => clearTimeout(grace));
  }

  private fromClientData(chunk: Buffer): void {
    const r = this.fromClient.scan(chunk);
    if (r.ok) {
      this.toBackend(chunk);
      return;
    }
    if (r.at > 0) this.toBackend(chunk.subarray(0, r.at));
    const limit = r.violation ?? 'LimitWebSocketsMessage';
    this.loopLimits.webSocketRefused(limit, this.client);
    this.close(MESSAGE_TOO_BIG, `${limit} exceeded`);
  }

  private fromBackendData(chunk: Buffer): void {
    if (this.pendingClose === null) {
      this.fromBackend.scan(chunk);
      if (!this.client.write(chunk)) this.hold(this.backend, this.client);
      return;
    }
    const r = this.fromBackend.toBoundary(chunk);
    if (r.ok) {
      this.client.write(chunk);
      return;
    }
    this.endClient(Buffer.concat([chunk.subarray(0, r.at), this.pendingClose]));
    this.pendingClose = null;
  }

  /** Our close frame is the last the client gets: the backend's own close is not passed on. */
  private endClient(last: Buffer): void {
    this.client.end(last);
    this.backend.removeAllListeners('data');
    this.backend.resume();
  }

  /** LimitWebSocketsPacket: the client's bytes go on in packets of at most that size. */
  private toBackend(chunk: Buffer): void {
    const backend = this.backend;
    let ok = true;
    if (this.packet === 0 || chunk.length <= this.packet) ok = backend.write(chunk);
    else for (let at = 0; at < chunk.length; at += this.packet) ok = backend.write(chunk.subarray(at, at + this.packet));
    if (!ok) this.hold(this.client, backend);
  }

  /** Reads no more from `reader` until `writer` has taken what it was given. */
  private hold(reader: net.Socket, writer: net.Socket): void {
    reader.pause();
    writer.once('drain', () => reader.resume());
  }
}
