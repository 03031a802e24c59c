// Where the scoreboard lives: one POSIX shared-memory segment per master, named after the
// master's pid, created by the master and mapped by every child and thread.
import { loadNative } from '../native';
import { Scoreboard } from './scoreboard';

export function scoreboardSegmentName(masterPid: number): string {
  return `/mpmproxy.${masterPid}.scoreboard`;
}

export function createScoreboard(name: string, serverLimit: number, threadLimit: number): Scoreboard {
  const native = loadNative();
  // A segment left by a master that was killed with this pid: it is ours to replace.
  native.shmUnlink(name);
  const buffer = native.shmOpen(name, Scoreboard.byteLength(serverLimit, threadLimit), true);
  return Scoreboard.create(buffer, serverLimit, threadLimit);
}

export function attachScoreboard(name: string): Scoreboard {
  return Scoreboard.attach(loadNative().shmOpen(name, 0, false));
}

export function removeScoreboard(name: string): void {
  loadNative().shmUnlink(name);
}
