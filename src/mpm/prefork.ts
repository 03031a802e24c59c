// prefork: a child serves one connection at a time on its main thread; the connection holds
// the child through keep-alive. Other connections wait in the kernel backlog until a child is
// free: never refused. Every idle child holds no connection, so the next one goes to the idle
// child that has accepted the fewest (fair share by connections accepted).
import { localBudget } from '../child/connection-budget';
import { serve } from '../child/serve';
import { pruneEventLoop } from '../limits/memory-child';
import { withinFairShare } from './fair-share';
import type { ChildContext, ChildRunner, Mpm } from './types';
import type { Settings } from '../config/types';

export const prefork: Mpm = {
  name: 'prefork',
  threaded: false,
  maxChildren: (s: Settings) => Math.min(s.maxRequestWorkers, s.serverLimit),
  slotsPerChild: () => 1,
  spareLimits: (s: Settings) => ({ min: s.minSpareServers, max: s.maxSpareServers, unit: 'children' }),
  describe: (s: Settings) => [
    'prefork: each child process serves one connection at a time on its main thread;',
    `  up to ${Math.min(s.maxRequestWorkers, s.serverLimit)} children (MaxRequestWorkers), spares kept between MinSpareServers ${s.minSpareServers} and MaxSpareServers ${s.maxSpareServers}`,
  ],
  async runChild(ctx: ChildContext): Promise<ChildRunner> {
    const serving = serve({
      settings: ctx.settings,
      listeners: ctx.listeners,
      scoreboard: ctx.scoreboard,
      processSlot: ctx.processSlot,
      mode: 'connection',
      workerSlots: [0],
      budget: localBudget(ctx.settings.maxConnectionsPerChild),
      mayAccept: () =>
        withinFairShare(ctx.scoreboard, ctx.processSlot, ctx.generation, (sb, slot) => sb.connectionsTotal(slot)),
      onRetired: ctx.onRetired,
      onHoldingSessions: ctx.onHoldingSessions,
    });
    return runnerOf(serving);
  },
};

/** The ChildRunner of a child that serves on its main thread (prefork, event). */
export function runnerOf(serving: ReturnType<typeof serve>): ChildRunner {
  return {
    async graceful(sessionGraceMs: number | null) {
      await serving.server.graceful();
      await serving.retireSessions(sessionGraceMs);
      await serving.close();
    },
    async stop() {
      serving.server.closeAll('stop');
      await serving.close();
    },
    prune() {
      pruneEventLoop(serving.server);
    },
  };
}
