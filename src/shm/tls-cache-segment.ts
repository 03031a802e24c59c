// Where the TLS cache lives: one POSIX shared-memory segment per master, named after the
// master's pid, created by the master at start-up (sized by SSLSessionCache), kept across every
// restart and removed on stop. Ticket keys live only here and in the processes' memory, never
// on disk (/dev/shm is memory). Children learn the name from their start message and hand it
// to their threads through worker_threads' environment data.
import { getEnvironmentData, setEnvironmentData } from 'node:worker_threads';
import { loadNative } from '../native';
import { TlsCache } from './tls-cache';

const ENVIRONMENT_KEY = 'mpmproxy.tlsCacheSegment';

export function tlsCacheSegmentName(masterPid: number): string {
  return `/mpmproxy.${masterPid}.tls`;
}

export function createTlsCacheSegment(name: string, cacheBytes: number): TlsCache {
  const native = loadNative();
  // A segment left by a master that was killed with this pid: it is ours to replace.
  native.shmUnlink(name);
  return TlsCache.create(native.shmOpen(name, TlsCache.byteLength(cacheBytes), true), cacheBytes);
}

export function removeTlsCacheSegment(name: string): void {
  loadNative().shmUnlink(name);
}

/** Makes `name` the segment of this process and of every thread it starts from now on. */
export function useTlsCacheSegment(name: string): void {
  setEnvironmentData(ENVIRONMENT_KEY, name);
}

let attached: TlsCache | null = null;

/** The cache this event loop shares with the rest of the server; null in a process no master
 * started (-X), which then keeps its sessions and ticket keys to itself. */
export function sharedTlsCache(): TlsCache | null {
  const name = getEnvironmentData(ENVIRONMENT_KEY);
  if (typeof name !== 'string') return null;
  attached ??= TlsCache.attach(loadNative().shmOpen(name, 0, false));
  return attached;
}
