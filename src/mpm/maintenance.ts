// The master's once-a-second pass over the scoreboard, after httpd's
// perform_idle_server_maintenance: too few idle workers → spawn 1, 2, 4 … 32 children a pass
// while the shortage lasts; too many → retire one child a pass, gracefully.
//
// Like httpd, a worker that is still starting counts as idle, so a child is not started twice
// for one shortage. But a Node child needs hundreds of milliseconds to start (more on a loaded
// machine), where httpd's fork takes microseconds: a pass that finds enough idle workers only
// because the last pass's children have not started yet has not seen the shortage end, so it
// waits for them and keeps the spawn rate instead of resetting it to 1.

export const MAX_SPAWN_RATE = 32;

export interface MaintenanceInput {
  /** Idle workers (or idle children for prefork) of live, non-stopping children of this generation. */
  idle: number;
  /** Of those idle workers, the ones whose child is still starting. */
  starting: number;
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
    if (input.idle - input.starting >= input.min) state.spawnRate = 1;
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
