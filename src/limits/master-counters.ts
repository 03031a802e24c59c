// The master's side of the limits segment: it creates the segment at start, lets children
// running as User/Group map it, takes a dead child's counts off, and removes it on stop.
import fs from 'node:fs';
import type { Settings } from '../config/types';
import type { LimitCounters } from '../shm/limits';
import { clientSlotsFor } from '../shm/limits';
import { createLimitCounters, limitsSegmentName, removeLimitCounters } from '../shm/limits-segment';

export class MasterCounters {
  private readonly name = limitsSegmentName(process.pid);
  readonly counters: LimitCounters;

  constructor(s: Settings) {
    const factor = s.mpm === 'event' ? s.asyncRequestWorkerFactor : 0;
    this.counters = createLimitCounters(this.name, s.serverLimit, clientSlotsFor(s.serverLimit, s.threadLimit, factor));
  }

  shareWith(uid: number, gid: number): void {
    fs.chownSync(`/dev/shm${this.name}`, uid, gid);
  }

  /** A child exited (SIGKILL included): what it held is no longer held. */
  childExited(slot: number): void {
    this.counters.reclaim(slot);
  }

  remove(): void {
    removeLimitCounters(this.name);
  }
}
