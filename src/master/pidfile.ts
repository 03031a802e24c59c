// PidFile: written once the master has its listeners, removed when it exits. `-k` reads it.
import fs from 'node:fs';
import path from 'node:path';
import { PidFileError } from '../errors';

export function readPid(file: string): number | null {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return null;
  }
  const pid = Number.parseInt(text.trim(), 10);
  return Number.isInteger(pid) && pid > 0 ? pid : null;
}

export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The pid of a running master that owns `file`, or null when there is none (or it is stale). */
export function runningMaster(file: string): number | null {
  const pid = readPid(file);
  return pid !== null && pid !== process.pid && isRunning(pid) ? pid : null;
}

export function writePidFile(file: string): void {
  const other = runningMaster(file);
  if (other !== null) throw new PidFileError(`mpmproxy (pid ${other}) already running (PidFile ${file})`);
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, `${process.pid}\n`, { mode: 0o644 });
  } catch (err) {
    throw new PidFileError(`cannot write PidFile ${file}: ${(err as Error).message}`, { cause: err });
  }
}

export function removePidFile(file: string): void {
  if (readPid(file) === process.pid) fs.rmSync(file, { force: true });
}
