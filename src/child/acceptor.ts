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

export class Acceptor {
  private server: net.Server | null = null;

  constructor(
    private readonly fd: number,
    private readonly backlog: number,
    private readonly onConnection: (socket: net.Socket) => void,
    private readonly onError: (err: Error) => void,
    /** For each accepted socket (LimitPacket sets its buffer size). */
    private readonly socketOptions: net.ServerOpts = {},
  ) {}

  get accepting(): boolean {
    return this.server !== null;
  }

  resume(): void {
    if (this.server) return;
    const copy = loadNative().dup(this.fd);
    const server = net.createServer({ ...this.socketOptions, noDelay: true }, (socket) => this.onConnection(socket));
    server.on('error', (err) => {
      // EMFILE and friends: stop for a moment rather than spin; the socket stays queued.
      this.pause();
      setTimeout(() => this.resume(), 100).unref();
      this.onError(err);
    });
    // listen() runs again on the socket: it must keep ListenBacklog (Node reads the backlog only
    // from this argument when given a descriptor, and would otherwise set 511).
    server.listen({ fd: copy }, this.backlog);
    this.server = server;
  }

  pause(): void {
    const server = this.server;
    if (!server) return;
    this.server = null;
    server.close();
  }
}
