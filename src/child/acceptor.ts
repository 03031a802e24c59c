// Accepting on a listening socket this process inherited from the master.
//
// The master owns the listening socket for its whole life; every child (and every worker
// thread) accepts on it directly. To stop accepting without closing the socket, an acceptor
// listens on a dup() of the inherited descriptor and closes only that copy: connections keep
// queueing in the kernel backlog, and whoever is accepting takes them. Closing the copy inside
// the connection callback also stops libuv's accept loop after exactly one connection, which is
// what gives prefork and worker their one-connection-at-a-time meaning.
import net from 'node:net';
import { loadNative } from '../native';

const RETRY_MS = 100;

/** An acceptor on one listener: the server resumes and pauses it; a failed accept (EMFILE and
 * friends) stops it for a moment rather than spin, the connections staying queued, and it
 * starts again only if the server still wants connections then. A failure that lasts is
 * reported once, until a connection is taken again. */
export abstract class ConnectionAcceptor {
  private wanted = false;
  /** Accepting has failed since the last connection taken: the failure was logged once. */
  private failing = false;

  constructor(private readonly onError: (err: Error) => void) {}

  abstract get accepting(): boolean;

  resume(): void {
    this.wanted = true;
    this.start();
  }

  pause(): void {
    this.wanted = false;
    this.stop();
  }

  protected failed(err: Error): void {
    this.stop();
    setTimeout(() => {
      if (this.wanted) this.start();
    }, RETRY_MS).unref();
    if (!this.failing) this.onError(err);
    this.failing = true;
  }

  /** A connection was taken: the next failure is news again. */
  protected took(): void {
    this.failing = false;
  }

  protected abstract start(): void;
  protected abstract stop(): void;
}

export class Acceptor extends ConnectionAcceptor {
  private server: net.Server | null = null;

  constructor(
    private readonly fd: number,
    private readonly backlog: number,
    private readonly onConnection: (socket: net.Socket) => void,
    onError: (err: Error) => void,
    /** For each accepted socket (LimitPacket sets its buffer size). */
    private readonly socketOptions: net.ServerOpts = {},
  ) {
    super(onError);
  }

  get accepting(): boolean {
    return this.server !== null;
  }

  protected start(): void {
    if (this.server) return;
    const copy = loadNative().dup(this.fd);
    const server = net.createServer({ ...this.socketOptions, noDelay: true }, (socket) => {
      this.took();
      this.onConnection(socket);
    });
    server.on('error', (err) => this.failed(err));
    // listen() runs again on the socket: it must keep ListenBacklog (Node reads the backlog only
    // from this argument when given a descriptor, and would otherwise set 511).
    server.listen({ fd: copy }, this.backlog);
    this.server = server;
  }

  protected stop(): void {
    const server = this.server;
    if (!server) return;
    this.server = null;
    server.close();
  }
}
