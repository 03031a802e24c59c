// worker: a child process runs ThreadsPerChild worker threads; each thread has its own event
// loop, accepts on the inherited listeners and serves one connection at a time (the connection
// holds the thread through keep-alive), as httpd's worker threads do. Thread t drives scoreboard
// slot t of its child. The threads share the child's MaxConnectionsPerChild budget.
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { Settings } from '../config/types';
import { log } from '../log/logger';
import type { ChildContext, ChildRunner, Mpm } from './types';
import type { ParentMessage, ThreadData, ThreadMessage } from '../child/thread';

const maxChildren = (s: Settings) => Math.min(s.serverLimit, Math.floor(s.maxRequestWorkers / s.threadsPerChild));

export const worker: Mpm = {
  name: 'worker',
  threaded: true,
  maxChildren,
  slotsPerChild: (s: Settings) => s.threadsPerChild,
  spareLimits: (s: Settings) => ({ min: s.minSpareThreads, max: s.maxSpareThreads, unit: 'threads' }),
  describe: (s: Settings) => [
    `worker: each child process runs ThreadsPerChild ${s.threadsPerChild} worker threads (node:worker_threads),`,
    '  each with its own event loop accepting on the shared listeners and serving one connection at a time;',
    `  up to ${maxChildren(s)} children`,
  ],
  async runChild(ctx: ChildContext): Promise<ChildRunner> {
    const s = ctx.settings;
    const budget = new SharedArrayBuffer(4);
    const entry = path.join(__dirname, '..', 'child', 'thread.js');
    let retired = 0;
    const threads = Array.from({ length: s.threadsPerChild }, (_, t) => {
      const data: ThreadData = {
        settings: s,
        processSlot: ctx.processSlot,
        thread: t,
        listeners: ctx.listeners,
        scoreboardName: ctx.scoreboardName,
        budget,
      };
      const w = new Worker(entry, { workerData: data });
      w.on('message', (m: ThreadMessage) => {
        if (m.type === 'holding') ctx.onHoldingSessions();
        else if (m.type === 'retired' && ++retired === threads.length) ctx.onRetired();
      });
      w.on('error', (err) => log('child').error({ thread: t, err: err.message }, 'worker thread failed'));
      return w;
    });
    const ask = (m: ParentMessage) =>
      Promise.all(
        threads.map(
          (w) =>
            new Promise<void>((resolve) => {
              w.once('exit', () => resolve());
              w.postMessage(m);
            }),
        ),
      ).then(() => undefined);
    return {
      graceful: (sessionGraceMs) => ask({ type: 'graceful', sessionGraceMs }),
      stop: () => ask({ type: 'stop' }),
      prune: () => threads.forEach((w) => w.postMessage({ type: 'prune' } satisfies ParentMessage)),
    };
  },
};
