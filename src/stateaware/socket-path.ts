// Where each serving event loop's IPC socket lives: in the runtime directory, named after the
// child's pid and the loop's thread, so the master can remove a dead child's sockets.
import fs from 'node:fs';
import path from 'node:path';

export function ipcSocketPath(runtimeDir: string, pid: number, thread: number): string {
  return path.join(runtimeDir, `stateaware.${pid}.${thread}.sock`);
}

/** Removes the sockets a child left (a SIGKILL leaves them behind). */
export function removeIpcSockets(runtimeDir: string, pid: number): void {
  const prefix = `stateaware.${pid}.`;
  let names: string[];
  try {
    names = fs.readdirSync(runtimeDir);
  } catch {
    return;
  }
  for (const name of names) if (name.startsWith(prefix) && name.endsWith('.sock')) fs.rmSync(path.join(runtimeDir, name), { force: true });
}

/** The loop's hand-off socket (handoff-receiver.ts), beside its IPC socket. */
export function handoffSocketPath(runtimeDir: string, pid: number, thread: number): string {
  return path.join(runtimeDir, `stateaware.${pid}.${thread}.handoff.sock`);
}
