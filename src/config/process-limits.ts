// How many children and request slots: defaults chosen for Node, then the adjustments
// Apache's MPMs make at start-up (prefork.c and event.c's check_config), each reported.
// Defaults are chosen to satisfy the rules, so only values the operator wrote are adjusted.

import type { MpmName, Settings } from './types';

export type ProcessLimits = Pick<
  Settings,
  | 'startServers' | 'minSpareServers' | 'maxSpareServers' | 'minSpareThreads' | 'maxSpareThreads'
  | 'serverLimit' | 'threadLimit' | 'threadsPerChild' | 'maxRequestWorkers'
>;

/** The values written in the configuration. */
export type ConfiguredLimits = Partial<ProcessLimits>;

/** Reports an adjustment of the value of the named directive. */
export type Adjusted = (directive: string, message: string) => void;

const mpmDefaults: Record<MpmName, { serverLimit: number; threadLimit: number; threadsPerChild: number }> = {
  prefork: { serverLimit: 256, threadLimit: 1, threadsPerChild: 1 },
  worker: { serverLimit: 16, threadLimit: 64, threadsPerChild: 8 },
  event: { serverLimit: 16, threadLimit: 256, threadsPerChild: 64 },
};

const spareServers = { min: 2, max: 8 };

export function resolveProcessLimits(
  mpm: MpmName,
  set: ConfiguredLimits,
  cpus: number,
  adjusted: Adjusted,
): ProcessLimits {
  const serverLimit = set.serverLimit ?? mpmDefaults[mpm].serverLimit;
  return mpm === 'prefork'
    ? prefork(serverLimit, set, cpus, adjusted)
    : threaded(mpm, serverLimit, set, cpus, adjusted);
}

function prefork(serverLimit: number, set: ConfiguredLimits, cpus: number, adjusted: Adjusted): ProcessLimits {
  let maxRequestWorkers = set.maxRequestWorkers ?? serverLimit;
  if (maxRequestWorkers > serverLimit) {
    adjusted('MaxRequestWorkers', `${maxRequestWorkers} exceeds ServerLimit of ${serverLimit}; lowered to ${serverLimit}`);
    maxRequestWorkers = serverLimit;
  }
  const minSpareServers = set.minSpareServers ?? spareServers.min;
  const maxSpareServers = atLeast(
    'MaxSpareServers', set.maxSpareServers, spareServers.max,
    minSpareServers + 1, `MinSpareServers + 1 (${minSpareServers} + 1)`, adjusted,
  );
  return {
    // A prefork child is one request slot.
    startServers: startServers(set.startServers, cpus, maxRequestWorkers, adjusted),
    minSpareServers,
    maxSpareServers,
    minSpareThreads: minSpareServers,
    maxSpareThreads: maxSpareServers,
    serverLimit,
    threadLimit: 1,
    threadsPerChild: 1,
    maxRequestWorkers,
  };
}

function threaded(
  mpm: MpmName,
  serverLimit: number,
  set: ConfiguredLimits,
  cpus: number,
  adjusted: Adjusted,
): ProcessLimits {
  const threadLimit = set.threadLimit ?? mpmDefaults[mpm].threadLimit;
  let threadsPerChild = set.threadsPerChild ?? Math.min(mpmDefaults[mpm].threadsPerChild, threadLimit);
  if (threadsPerChild > threadLimit) {
    adjusted('ThreadsPerChild', `${threadsPerChild} exceeds ThreadLimit of ${threadLimit}; lowered to ${threadLimit}`);
    threadsPerChild = threadLimit;
  }
  const maxRequestWorkers = threadedMaxRequestWorkers(set.maxRequestWorkers, serverLimit, threadsPerChild, adjusted);
  const start = startServers(set.startServers, cpus, maxRequestWorkers / threadsPerChild, adjusted);
  const minSpareThreads = set.minSpareThreads ?? threadsPerChild;
  const maxSpareThreads = atLeast(
    'MaxSpareThreads', set.maxSpareThreads, threadsPerChild * Math.max(start, 2),
    minSpareThreads + threadsPerChild, `MinSpareThreads + ThreadsPerChild (${minSpareThreads} + ${threadsPerChild})`,
    adjusted,
  );
  return {
    startServers: start,
    minSpareServers: spareServers.min,
    maxSpareServers: spareServers.max,
    minSpareThreads,
    maxSpareThreads,
    serverLimit,
    threadLimit,
    threadsPerChild,
    maxRequestWorkers,
  };
}

/** Whole children only: at least one, a multiple of ThreadsPerChild, at most ServerLimit of them. */
function threadedMaxRequestWorkers(
  configured: number | undefined,
  serverLimit: number,
  threadsPerChild: number,
  adjusted: Adjusted,
): number {
  const most = serverLimit * threadsPerChild;
  if (configured === undefined) return most;
  let workers = configured;
  if (workers < threadsPerChild) {
    adjusted('MaxRequestWorkers', `${workers} is less than ThreadsPerChild of ${threadsPerChild}; raised to ${threadsPerChild}`);
    workers = threadsPerChild;
  } else if (workers % threadsPerChild !== 0) {
    const rounded = workers - (workers % threadsPerChild);
    adjusted('MaxRequestWorkers', `${workers} is not a multiple of ThreadsPerChild of ${threadsPerChild}; lowered to ${rounded}`);
    workers = rounded;
  }
  if (workers > most) {
    adjusted(
      'MaxRequestWorkers',
      `${workers} exceeds ServerLimit × ThreadsPerChild (${serverLimit} × ${threadsPerChild}); lowered to ${most}`,
    );
    workers = most;
  }
  return workers;
}

function startServers(configured: number | undefined, cpus: number, maxChildren: number, adjusted: Adjusted): number {
  if (configured === undefined) return Math.min(cpus, maxChildren);
  if (configured <= maxChildren) return configured;
  adjusted('StartServers', `${configured} exceeds the ${maxChildren} children MaxRequestWorkers allows; lowered to ${maxChildren}`);
  return maxChildren;
}

function atLeast(
  directive: string,
  configured: number | undefined,
  fallback: number,
  floor: number,
  floorText: string,
  adjusted: Adjusted,
): number {
  if (configured === undefined) return Math.max(fallback, floor);
  if (configured >= floor) return configured;
  adjusted(directive, `${configured} is less than ${floorText}; raised to ${floor}`);
  return floor;
}
