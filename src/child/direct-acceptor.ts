// Accepting on an inherited listening socket without Node's net.Server: the addon accepts each
// connection and takes the bytes it has already sent in the same call, and the caller decides
// what to do with the bare descriptor. With state-aware sessions that decision is often "hand
// it to the child that owns its session", and a connection handed over this way never costs
// this process a Node socket (the JavaScript objects, their events and their teardown) nor a
// second turn of the event loop.
//
// It stops and starts as Acceptor does: it watches a dup() of the inherited descriptor and
// closes only that copy, and it takes one connection at a time, asking again after each
// whether it may take the next, so prefork and worker keep their one-connection meaning.
import { loadNative, type FdWatch } from '../native';
import { ConnectionAcceptor } from './acceptor';

/** The most of a new connection's bytes taken as it is accepted (a header block is rarely longer;
 * the rest is read as it comes). */
const FIRST_READ_MAX = 16 * 1024;

export class DirectAcceptor extends ConnectionAcceptor {
  private readonly native = loadNative();
  private watched: { fd: number; watch: FdWatch } | null = null;

  constructor(
    private readonly fd: number,
    /** `head`: what the connection sent before it was accepted; empty when nothing yet. */
    private readonly onConnection: (fd: number, head: Buffer) => void,
    onError: (err: Error) => void,
  ) {
    super(onError);
  }

  get accepting(): boolean {
    return this.watched !== null;
  }

  protected start(): void {
    if (this.watched) return;
    const copy = this.native.dup(this.fd);
    this.watched = { fd: copy, watch: this.native.pollReadable(copy, (err) => this.onReadable(copy, err)) };
  }

  protected stop(): void {
    const w = this.watched;
    if (!w) return;
    this.watched = null;
    this.native.pollStop(w.watch);
    this.native.close(w.fd);
  }

  private onReadable(copy: number, reason: string | null): void {
    const w = this.watched;
    if (w === null || w.fd !== copy) return;
    if (reason !== null) return this.failed(new Error(`poll: ${reason}`));
    // onConnection may pause (and close `copy`) before the next one is taken.
    while (this.watched === w) {
      let got;
      try {
        got = this.native.acceptConnection(copy, FIRST_READ_MAX);
      } catch (err) {
        return this.failed(err as Error);
      }
      if (got === null) return;
      this.took();
      this.onConnection(got.fd, got.payload);
    }
  }
}
