// Where a new plain connection is served: a connection whose first request belongs to a
// state-aware session owned by another child goes to that child whole (its descriptor and the
// bytes read so far), so that the owner parses and serves it once, instead of this child
// parsing every request and relaying it over the owner's IPC socket. Anything else, and any
// failure to hand the connection over, leaves it here, where the relay still reaches the owner.
// TLS connections never come here: their state lives in this process.
import type net from 'node:net';
import { log, logs } from '../log/logger';
import { native } from '../native';
import { descriptorOf } from '../native/socket-peek';
import { refusalHead } from '../proxy/framing';
import { ORPHAN, type OwnerTable } from '../shm/owners';
import type { Scoreboard } from '../shm/scoreboard';
import { HERE, INCOMPLETE, scanFirstRequest } from './first-request';
import { HandoffSender } from './handoff-sender';
import type { OwnerIdentity } from './owned-sessions';
import { ownerKey, sessionLabel } from './session-key';
import { handoffSocketPath } from './socket-path';

export { INCOMPLETE } from './first-request';

/** atAccept: the connection is now the owner's. */
export const HANDED_OFF = 'handed-off';
/** atAccept: the connection is served here, what was read from it first. */
export const SERVE_HERE = 'serve-here';

export interface ConnectionHandoffOptions {
  owners: OwnerTable;
  scoreboard: Scoreboard;
  me: OwnerIdentity;
  runtimeDir: string;
  cookieName: string;
  /** LimitRequestHeader: the longest header block looked at. */
  headerLimit: number;
  /** Timeout: how long a new connection may take to send its first request's headers. */
  timeout: number;
}

export class ConnectionHandoff {
  private readonly sender = new HandoffSender();

  constructor(private readonly o: ConnectionHandoffOptions) {}

  /** Looks at a connection as it is accepted (`fd`), before anything else is done with it, in
   * what it has sent so far (`head`, maybe empty): clients send their request as soon as they are
   * connected, so it is most often all there, and handing the connection over now costs this
   * child no Node socket and the owner no turn of the event loop. HANDED_OFF: the owner has it
   * and this process's descriptor is closed. SERVE_HERE: it is served here, `head` first.
   * INCOMPLETE: the header block goes on; `peek` reads the rest. */
  atAccept(fd: number, head: Buffer): typeof HANDED_OFF | typeof SERVE_HERE | typeof INCOMPLETE {
    const scan = scanFirstRequest(head, this.o.cookieName, this.o.headerLimit);
    if (scan === INCOMPLETE) return INCOMPLETE;
    if (scan === HERE || !this.handOff(fd, head, scan.session)) return SERVE_HERE;
    native.close(fd);
    return HANDED_OFF;
  }

  /** Reads the rest of the new connection's first header block (`first`: what atAccept read),
   * then hands the connection to the owner of its session, or calls `serveHere` with what was
   * read put back in front of the socket. */
  peek(socket: net.Socket, first: Buffer, serveHere: () => void): void {
    const chunks: Buffer[] = first.length === 0 ? [] : [first];
    let size = first.length;
    const stop = (): void => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('error', onError);
    };
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk);
      size += chunk.length;
      const head = chunks.length === 1 ? chunk : Buffer.concat(chunks, size);
      const scan = scanFirstRequest(head, this.o.cookieName, this.o.headerLimit);
      if (scan === INCOMPLETE) return;
      stop();
      socket.pause();
      // Synchronously, before the loop reads this socket again: what was read is all there is
      // to send along.
      const fd = descriptorOf(socket);
      if (scan !== HERE && fd !== null && this.handOff(fd, head, scan.session)) {
        socket.destroy();
        return;
      }
      socket.unshift(head);
      // Flowing again from the next tick, once the HTTP server listens for data.
      socket.resume();
      serveHere();
    };
    // Before the HTTP server has the socket, its errors end it here (the close is counted).
    const onError = (): void => {
      stop();
      socket.destroy();
    };
    // As the HTTP server's headersTimeout would: a client that sends no complete header block
    // in time gets 408.
    const timer = setTimeout(() => {
      stop();
      socket.once('error', () => socket.destroy());
      socket.end(refusalHead(408));
    }, this.o.timeout);
    socket.on('data', onData);
    socket.on('error', onError);
    socket.once('close', stop);
  }

  close(): void {
    this.sender.close();
  }

  /** Whether the connection is now the owner's: then the caller closes only this process's
   * descriptor, the TCP connection stays up. */
  private handOff(fd: number, head: Buffer, session: string): boolean {
    const { owners, scoreboard, me } = this.o;
    const okey = ownerKey(session);
    const entry = owners.find(okey);
    // Threads of this process (worker MPM) share its descriptors but not its HTTP servers: the
    // relay serves them. A dead owner is the relay's to report.
    if (entry === null || entry.pid === me.pid || entry.state === ORPHAN || scoreboard.pid(entry.slot) !== entry.pid) return false;
    const path = handoffSocketPath(this.o.runtimeDir, entry.pid, entry.thread);
    if (!this.sender.send(path, fd, head)) return false;
    if (logs('proxy', 'debug')) {
      const label = sessionLabel(okey);
      log('proxy').debug(
        { session: label, pid: me.pid, owner: entry.pid },
        `hand connection over to the owner: session=${label}; pid_self=${me.pid}; to_pid=${entry.pid}`,
      );
    }
    return true;
  }
}
