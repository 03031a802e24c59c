// A child of a loaded daemon dying of a signal: what the crash tests look at afterwards.
import type { TestContext } from 'node:test';
import type { Daemon, StatusProcess } from './daemon';
import type { LoadResult } from './mpm';
import { childPidsOf, connectionOwners, launchProxy, sleep, startLoad, statusNow, waitFor } from './mpm';

const CLIENTS = 8;

export interface CrashUnderLoad {
  daemon: Daemon;
  victim: number;
  survivor: number;
  /** The new child, as the scoreboard first showed it. */
  replacement: StatusProcess;
  /** From the signal to the replacement in the scoreboard. */
  replacedMs: number;
  /** Client ports of the connections the victim held. */
  victimPorts: Set<number>;
  /** Keep-alive clients, from before the signal to a second after the replacement accepts. */
  result: LoadResult;
}

/** Two children serving keep-alive clients; one gets `signal`. */
export async function crashUnderLoad(t: TestContext, signal: NodeJS.Signals): Promise<CrashUnderLoad> {
  const { daemon } = await launchProxy(t, ['StartServers 2', 'ThreadsPerChild 8', 'MinSpareThreads 1'], { waitChildren: 2 });
  const before = childPidsOf(daemon);
  if (before.length !== 2) throw new Error(`two children expected, found ${before.join(', ')}`);
  const load = startLoad({ port: daemon.port, path: '/b/slow?ms=5', clients: CLIENTS, keepAlive: true });
  t.after(() => load.stop());
  // Every client has its connection, spread over both children.
  const owners = await waitFor('connections on both children', () => {
    const o = connectionOwners(daemon.port, before);
    return o.size >= CLIENTS && new Set(o.values()).size === 2 ? o : null;
  });
  const [victim, survivor] = before;
  const victimPorts = new Set([...owners].filter(([, pid]) => pid === victim).map(([port]) => port));

  process.kill(victim, signal);
  const at = Date.now();
  const replacement = await waitFor(
    'a new child in the scoreboard',
    async () => {
      const s = await statusNow(daemon, 1000);
      const fresh = s.processes.filter((p) => !before.includes(p.pid));
      return fresh.length === 1 && !s.processes.some((p) => p.pid === victim) ? fresh[0] : null;
    },
    1000,
    20,
  );
  const replacedMs = Date.now() - at;
  await daemon.waitAccepting(2, undefined, 5000);
  await sleep(1000);
  return { daemon, victim, survivor, replacement, replacedMs, victimPorts, result: await load.stop() };
}
