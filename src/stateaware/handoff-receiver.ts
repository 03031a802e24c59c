// The receiving end of connection hand-offs, one per owning event loop: a Unix seqpacket socket
// beside the loop's IPC socket, on which other children send the client connections whose
// first request belongs to a session this loop owns (a descriptor and the bytes already read
// from it per message). Node cannot read such messages itself, so the addon watches the
// sockets on this loop and this module takes the messages off as they come.
import fs from 'node:fs';
import { log, logs } from '../log/logger';
import { native, type FdWatch } from '../native';

export type AdoptConnection = (fd: number, head: Buffer) => void;

export class HandoffReceiver {
  private listener: { fd: number; watch: FdWatch } | null = null;
  private readonly peers = new Map<number, FdWatch>();

  constructor(
    readonly path: string,
    private readonly adopt: AdoptConnection,
  ) {}

  listen(): void {
    if (this.listener !== null) return;
    fs.rmSync(this.path, { force: true });
    const fd = native.handoffListen(this.path);
    // Only the server's own processes (the same user) may hand connections over.
    fs.chmodSync(this.path, 0o600);
    this.listener = { fd, watch: native.pollReadable(fd, (err) => this.onAcceptable(err)) };
    if (logs('proxy', 'debug')) log('proxy').debug({ pid: process.pid, path: this.path }, `hand-off socket: process id ${process.pid} receives connections on ${this.path}`);
  }

  /** Takes no more connections; those already queued on a peer's socket are taken first. Each
   * peer is shut for reading before that last read, so a sender that sends meanwhile is told
   * (EPIPE) and keeps its connection, rather than losing it in a socket about to close. */
  close(): void {
    const l = this.listener;
    if (l === null) return;
    this.listener = null;
    fs.rmSync(this.path, { force: true });
    native.pollStop(l.watch);
    native.close(l.fd);
    for (const fd of [...this.peers.keys()]) {
      native.handoffShutdown(fd);
      this.receive(fd);
      this.drop(fd);
    }
  }

  private onAcceptable(err: string | null): void {
    const l = this.listener;
    if (l === null) return;
    if (err !== null) log('proxy').error({ path: this.path, err }, 'hand-off socket: poll failed');
    for (let fd = native.handoffAccept(l.fd); fd !== null; fd = native.handoffAccept(l.fd)) {
      const peer = fd;
      this.peers.set(peer, native.pollReadable(peer, () => this.receive(peer)));
    }
  }

  /** Every message queued: one a turn of the loop would cap how fast a busy owner takes
   * connections in. */
  private receive(peer: number): void {
    for (;;) {
      let got;
      try {
        got = native.recvFd(peer);
      } catch (err) {
        log('proxy').error({ path: this.path, err: (err as Error).message }, 'hand-off socket: a message could not be received; its sender is dropped');
        this.drop(peer);
        return;
      }
      if (got === null) return;
      if (got.fd < 0) {
        this.drop(peer);
        return;
      }
      this.adopt(got.fd, got.payload);
    }
  }

  private drop(peer: number): void {
    const watch = this.peers.get(peer);
    if (watch === undefined) return;
    this.peers.delete(peer);
    native.pollStop(watch);
    native.close(peer);
  }
}
