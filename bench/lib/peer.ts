// What every peer launcher shares: check the generated configuration with the server's own
// checker (its message is clearer than a dead process), start it in the foreground, and wait
// until its port answers.
import { waitForPort } from './ports';
import { deathOf, runCommand, startProcess } from './processes';
import type { RunningProcess } from './processes';
import type { WorkDir } from './work-dir';

export interface Peer {
  name: string;
  port: number;
  configFile: string;
  process: RunningProcess;
  stop(): Promise<void>;
}

export interface PeerSpec {
  name: string;
  dir: WorkDir;
  port: number;
  configFile: string;
  command: string;
  /** The server's own configuration check, run before starting it. */
  checkArgs: string[];
  runArgs: string[];
}

export async function startPeer(s: PeerSpec): Promise<Peer> {
  const check = await runCommand(s.command, s.checkArgs);
  if (check.code !== 0) throw new Error(`${s.name} rejected ${s.configFile}:\n${check.stderr || check.stdout}`);
  const p = startProcess({
    name: s.name,
    command: s.command,
    args: s.runArgs,
    cwd: s.dir.path,
    logFile: s.dir.file(`${s.name}.out`),
  });
  try {
    await waitForPort(s.port, { failIf: () => deathOf(p) });
  } catch (err) {
    await p.stop('SIGKILL');
    throw err;
  }
  return {
    name: s.name,
    port: s.port,
    configFile: s.configFile,
    process: p,
    // TERM is an immediate stop for nginx, httpd and HAProxy alike.
    stop: () => p.stop('SIGTERM'),
  };
}

/** What a peer serves: the files of a directory, or a proxy to a backend on loopback. */
export type PeerRole = { root: string } | { backendPort: number };

export const isProxy = (r: PeerRole): r is { backendPort: number } => 'backendPort' in r;
