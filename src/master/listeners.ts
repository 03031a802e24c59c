// The master's listening sockets: opened once, kept for the master's life and across every
// restart, handed to each child as an inherited descriptor. The master never accepts on them.
import type { ListenSpec } from '../config/types';
import { ListenError } from '../errors';
import type { InheritedListener } from '../child/connection-server';
import { loadNative } from '../native';

const key = (l: ListenSpec) => `${l.host}|${l.port}`;

export class Listeners {
  private readonly open = new Map<string, InheritedListener>();

  /** Opens what `specs` adds, keeps what stays, closes what it drops (on a restart). */
  update(specs: ListenSpec[], backlog: number): void {
    const native = loadNative();
    const wanted = new Map(specs.map((s) => [key(s), s]));
    const opened: InheritedListener[] = [];
    try {
      for (const [k, spec] of wanted) {
        const current = this.open.get(k);
        if (current) {
          current.spec = spec;
          // ListenBacklog may have changed; children that accept with the addon never listen().
          native.setBacklog(current.fd, backlog);
          continue;
        }
        const fd = native.listenSocket({ host: spec.host, port: spec.port, backlog });
        opened.push({ fd, spec });
      }
    } catch (err) {
      for (const l of opened) native.close(l.fd);
      throw new ListenError(`could not bind to address: ${(err as Error).message}`, { cause: err });
    }
    for (const l of opened) this.open.set(key(l.spec), l);
    for (const [k, l] of this.open) {
      if (!wanted.has(k)) {
        native.close(l.fd);
        this.open.delete(k);
      }
    }
  }

  list(): InheritedListener[] {
    return [...this.open.values()];
  }

  closeAll(): void {
    const native = loadNative();
    for (const l of this.open.values()) native.close(l.fd);
    this.open.clear();
  }
}
