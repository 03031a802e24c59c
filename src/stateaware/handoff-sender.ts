// The sending end of connection hand-offs: one seqpacket connection per owner loop, opened by
// the first hand-off to it and kept. Any failure (the owner gone, its socket full or closed)
// only says "not handed off": the caller serves the connection itself and relays its requests.
import { log } from '../log/logger';
import { native } from '../native';

export class HandoffSender {
  private readonly peers = new Map<string, number>();

  /** Whether `fd` and `head` are now the owner's at `path`. The caller still closes its `fd`. */
  send(path: string, fd: number, head: Buffer): boolean {
    let peer = this.peers.get(path);
    try {
      if (peer === undefined) {
        peer = native.handoffConnect(path);
        this.peers.set(path, peer);
      }
      return native.sendFd(peer, fd, head);
    } catch (err) {
      log('proxy').debug({ path, err: (err as Error).message }, 'connection hand-off failed; the request is relayed');
      if (peer !== undefined) this.drop(path);
      return false;
    }
  }

  close(): void {
    for (const path of [...this.peers.keys()]) this.drop(path);
  }

  private drop(path: string): void {
    const peer = this.peers.get(path);
    if (peer === undefined) return;
    this.peers.delete(path);
    native.close(peer);
  }
}
