// Where the limits counters live: one POSIX shared-memory segment per master, named after the
// master's pid like the scoreboard, created by the master and mapped by every serving loop.
import { loadNative } from '../native';
import { LimitCounters } from './limits';

export function limitsSegmentName(masterPid: number): string {
  return `/mpmproxy.${masterPid}.limits`;
}

export function createLimitCounters(name: string, serverLimit: number, clientSlots: number): LimitCounters {
  const native = loadNative();
  // A segment left by a master that was killed with this pid: it is ours to replace.
  native.shmUnlink(name);
  return LimitCounters.create(native.shmOpen(name, LimitCounters.byteLength(serverLimit, clientSlots), true), serverLimit, clientSlots);
}

export function attachLimitCounters(name: string): LimitCounters {
  return LimitCounters.attach(loadNative().shmOpen(name, 0, false));
}

export function removeLimitCounters(name: string): void {
  loadNative().shmUnlink(name);
}
