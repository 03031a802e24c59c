// The master's once-a-second pass over the scoreboard, after httpd's
// perform_idle_server_maintenance: too few idle workers → spawn 1, 2, 4 … 32 children a pass
// while the shortage lasts; too many → retire one child a pass, gracefully.

export const MAX_SPAWN_RATE = 32;

export interface MaintenanceInput {
  /** Idle workers (or idle children for prefork) of live, non-stopping children of this generation. */
  idle: number;
  /** Live, non-stopping children of this generation. */
  active: number;
  /** Children the configuration allows (MaxRequestWorkers / ThreadsPerChild). */
  maxChildren: number;
  /** Free scoreboard process slots (ServerLimit less every live child, old generations included). */
  freeSlots: number;
  min: number;
  max: number;
}

export interface MaintenanceState {
  spawnRate: number;
  maxWorkersReported: boolean;
}

export type MaintenanceDecision =
  | { action: 'none' }
  | { action: 'retire' }
  | { action: 'spawn'; count: number; rate: number }
  | { action: 'at-max-workers'; firstTime: boolean }
  | { action: 'scoreboard-full' };

export function newMaintenanceState(): MaintenanceState {
  return { spawnRate: 1, maxWorkersReported: false };
}

export function decide(input: MaintenanceInput, state: MaintenanceState): MaintenanceDecision {
  if (input.idle > input.max) {
    state.spawnRate = 1;
    return input.active > 1 ? { action: 'retire' } : { action: 'none' };
  }
  if (input.idle >= input.min) {
    state.spawnRate = 1;
    return { action: 'none' };
  }
  if (input.active >= input.maxChildren) {
    state.spawnRate = 1;
    const firstTime = !state.maxWorkersReported;
    state.maxWorkersReported = true;
    return { action: 'at-max-workers', firstTime };
  }
  if (input.freeSlots === 0) return { action: 'scoreboard-full' };
  const rate = state.spawnRate;
  const count = Math.min(rate, input.freeSlots, input.maxChildren - input.active);
  if (state.spawnRate < MAX_SPAWN_RATE) state.spawnRate *= 2;
  return { action: 'spawn', count, rate };
}
