// Where the owner table of state-aware sessions lives: one POSIX shared-memory segment per
// master, named after the master's pid like the scoreboard, created by the master and mapped by
// every serving event loop. A child learns the name from its start message and hands it to its
// threads through worker_threads' environment data.
import { getEnvironmentData, setEnvironmentData } from 'node:worker_threads';
import { loadNative } from '../native';
import { OwnerTable, ownerCapacityFor } from './owners';

const ENVIRONMENT_KEY = 'mpmproxy.ownersSegment';

export function ownersSegmentName(masterPid: number): string {
  return `/mpmproxy.${masterPid}.stateaware`;
}

export function createOwnersSegment(name: string, limit: number): OwnerTable {
  const native = loadNative();
  // A segment left by a master that was killed with this pid: it is ours to replace.
  native.shmUnlink(name);
  return OwnerTable.create(native.shmOpen(name, OwnerTable.byteLength(ownerCapacityFor(limit)), true), limit);
}

export function removeOwnersSegment(name: string): void {
  loadNative().shmUnlink(name);
}

let attached: OwnerTable | null = null;

/** Makes the segment `name` the one of this process and of every thread it starts from now on. */
export function useOwnersSegment(name: string): void {
  setEnvironmentData(ENVIRONMENT_KEY, name);
}

/** The table this event loop shares with the rest of the server, or null outside a server. */
export function sharedOwners(): OwnerTable | null {
  if (attached !== null) return attached;
  const name = getEnvironmentData(ENVIRONMENT_KEY);
  if (typeof name !== 'string') return null;
  attached = OwnerTable.attach(loadNative().shmOpen(name, 0, false));
  return attached;
}
