// Where the cache segment lives: one POSIX shared-memory segment per master, named after the
// master's pid like the scoreboard, created by the master when LimitCache (or the shm session
// store) asks for one, and mapped by every serving loop.
import { loadNative } from '../native';
import { CacheTable } from './cache';

export function cacheSegmentName(masterPid: number): string {
  return `/mpmproxy.${masterPid}.cache`;
}

export function createCacheSegment(name: string, dataBytes: number, itemMax: number): CacheTable {
  const native = loadNative();
  // A segment left by a master that was killed with this pid: it is ours to replace.
  native.shmUnlink(name);
  return CacheTable.create(native.shmOpen(name, CacheTable.byteLength(dataBytes), true), dataBytes, itemMax);
}

const attached = new Map<string, CacheTable>();

/** The segment `name`, mapped once per thread. */
export function attachCacheSegment(name: string): CacheTable {
  let table = attached.get(name);
  if (table === undefined) {
    table = CacheTable.attach(loadNative().shmOpen(name, 0, false));
    attached.set(name, table);
  }
  return table;
}

export function removeCacheSegment(name: string): void {
  loadNative().shmUnlink(name);
}
