// Gives a server and its load generator a CPU each (taskset), so that neither takes the other's
// time and the handshakes a second are what the server's one CPU allows.
import { processTree } from './proc-sampler';
import { runCommand } from './processes';

/** Pins `root` and every process below it (all their threads) to the CPUs of `cpus` (taskset's
 * list form, e.g. "0"); processes they start later inherit it. */
export async function pinProcessTree(root: number, cpus: string): Promise<void> {
  for (const pid of processTree(root)) {
    const r = await runCommand('taskset', ['-a', '-p', '-c', cpus, String(pid)]);
    if (r.code !== 0) throw new Error(`taskset ${cpus} ${pid} failed: ${r.stderr}`);
  }
}
