// Where the health table lives: one POSIX shared-memory segment per master, named after the
// master's pid, created by the master and mapped by every child and thread. A child learns the
// name from its start message and hands it to the threads it starts through worker_threads'
// environment data, so every serving event loop of the child finds it.
import { getEnvironmentData, setEnvironmentData } from 'node:worker_threads';
import { loadNative } from '../native';
import { HealthTable } from './health';
import type { MemberKey } from './health';

const ENVIRONMENT_KEY = 'mpmproxy.healthSegment';

export function healthSegmentName(masterPid: number): string {
  return `/mpmproxy.${masterPid}.health`;
}

export function createHealthSegment(name: string): HealthTable {
  const native = loadNative();
  // A segment left by a master that was killed with this pid: it is ours to replace.
  native.shmUnlink(name);
  return HealthTable.create(native.shmOpen(name, HealthTable.byteLength(), true));
}

export function removeHealthSegment(name: string): void {
  loadNative().shmUnlink(name);
}

let attached: HealthTable | null = null;

function attach(name: string): HealthTable {
  attached ??= HealthTable.attach(loadNative().shmOpen(name, 0, false));
  return attached;
}

/** Maps the segment `name` and makes it the one of this process and of every thread it starts
 * from now on; throws when it cannot be mapped. */
export function useHealthSegment(name: string): HealthTable {
  setEnvironmentData(ENVIRONMENT_KEY, name);
  return attach(name);
}

/**
 * The table this event loop shares with the rest of the server. Without a segment (a process
 * that no master started, such as a test's) it is a table of this loop's own, which behaves the
 * same for one event loop.
 */
export function sharedHealth(members: readonly MemberKey[]): HealthTable {
  const name = getEnvironmentData(ENVIRONMENT_KEY);
  if (typeof name === 'string') return attach(name);
  const own = HealthTable.create(new ArrayBuffer(HealthTable.byteLength()));
  own.assign(members);
  return own;
}
