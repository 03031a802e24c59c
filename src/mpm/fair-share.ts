// Spreading connections over children that accept on one shared socket. Linux gives a new
// connection to whichever waiting process runs first, so left alone a few children take most.
// A child therefore stops accepting while it is ahead of the least loaded sibling of its
// generation that is accepting, by more than one; it looks again every few milliseconds (see
// ConnectionServer.updateAccepting). Siblings that are not accepting (busy, stopping) do not
// count, so a child never waits for one that cannot take the connection.
import type { Scoreboard } from '../shm/scoreboard';

const SLACK = 1;

export type LoadMeasure = (sb: Scoreboard, slot: number) => number;

export function withinFairShare(sb: Scoreboard, self: number, generation: number, load: LoadMeasure): boolean {
  let least = Infinity;
  for (let i = 0; i < sb.serverLimit; i++) {
    if (i === self || sb.pid(i) === 0) continue;
    if (sb.processGeneration(i) !== generation || !sb.isAccepting(i) || sb.isQuiescing(i)) continue;
    const l = load(sb, i);
    if (l < least) least = l;
  }
  return load(sb, self) <= least + SLACK;
}
