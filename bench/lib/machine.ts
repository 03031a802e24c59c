// The machine a result was measured on, as the results document states it.
import fs from 'node:fs';
import os from 'node:os';

export interface Machine {
  cpus: number;
  cpuModel: string;
  memory: string;
  kernel: string;
  node: string;
}

function cpuModel(): string {
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'));
    if (m) return m[1].trim();
  } catch {
    // Not Linux, or /proc hidden: fall through to what Node reports.
  }
  return os.cpus()[0]?.model ?? 'unknown';
}

export function describeMachine(): Machine {
  return {
    // The machine's CPUs, not the ones this process may run on (a benchmark may pin itself).
    cpus: os.cpus().length,
    cpuModel: cpuModel(),
    memory: `${(os.totalmem() / 1024 ** 3).toFixed(1)} GiB`,
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
  };
}

export const machineLine = (m: Machine) => `${m.cpus} × ${m.cpuModel}, ${m.memory}, ${m.kernel}, Node ${m.node}`;
