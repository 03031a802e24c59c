import type { MpmName } from '../config/types';
import { event } from './event';
import { prefork } from './prefork';
import type { Mpm } from './types';
import { worker } from './worker';

const mpms: Record<MpmName, Mpm> = { prefork, worker, event };

export function mpmFor(name: MpmName): Mpm {
  return mpms[name];
}
