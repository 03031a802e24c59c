// event: a child runs one event loop with ThreadsPerChild request slots. A request holds a slot
// from its headers to the end of its response; idle keep-alive connections hold none. As in
// httpd's event MPM, a child accepts while its connections are fewer than
// ThreadsPerChild + AsyncRequestWorkerFactor × idle slots.
//
// Children share one listening socket, and whichever is awake first would take most
// connections. So a child also yields while it holds more connections than the least loaded
// sibling that is accepting (plus one): connections spread evenly, and a child that yields
// leaves them queued in the kernel for its siblings, never refused.
import { localBudget } from '../child/connection-budget';
import type { ConnectionServer } from '../child/connection-server';
import { serve } from '../child/serve';
import type { Settings } from '../config/types';
import { withinFairShare } from './fair-share';
import { runnerOf } from './prefork';
import type { ChildContext, ChildRunner, Mpm } from './types';

function underAsyncLimit(s: Settings, server: ConnectionServer): boolean {
  return server.connections < s.threadsPerChild + s.asyncRequestWorkerFactor * server.idleSlots;
}

const maxChildren = (s: Settings) => Math.min(s.serverLimit, Math.floor(s.maxRequestWorkers / s.threadsPerChild));

export const event: Mpm = {
  name: 'event',
  threaded: false,
  maxChildren,
  slotsPerChild: (s: Settings) => s.threadsPerChild,
  spareLimits: (s: Settings) => ({ min: s.minSpareThreads, max: s.maxSpareThreads, unit: 'threads' }),
  describe: (s: Settings) => [
    `event: each child process runs one event loop with ThreadsPerChild ${s.threadsPerChild} request slots;`,
    '  idle keep-alive connections hold no slot; a child accepts while its connections <',
    `  ThreadsPerChild + AsyncRequestWorkerFactor ${s.asyncRequestWorkerFactor} x idle slots; up to ${maxChildren(s)} children`,
  ],
  async runChild(ctx: ChildContext): Promise<ChildRunner> {
    const s = ctx.settings;
    const serving = serve({
      settings: s,
      listeners: ctx.listeners,
      scoreboard: ctx.scoreboard,
      processSlot: ctx.processSlot,
      mode: 'request',
      workerSlots: Array.from({ length: s.threadsPerChild }, (_, i) => i),
      budget: localBudget(s.maxConnectionsPerChild),
      mayAccept: (server) =>
        underAsyncLimit(s, server) &&
        withinFairShare(ctx.scoreboard, ctx.processSlot, ctx.generation, (sb, slot) => sb.connections(slot)),
      onRetired: ctx.onRetired,
      onHoldingSessions: ctx.onHoldingSessions,
    });
    return runnerOf(serving);
  },
};
