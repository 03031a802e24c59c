// Starting and stopping the servers and load generators a benchmark runs. Every process is
// stopped by its own pid, never by name, so a benchmark cannot touch anything it did not start.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { sleep } from './ports';

export interface StartOptions {
  /** What the process is, for error messages. */
  name: string;
  command: string;
  args: string[];
  cwd?: string;
  /** stdout and stderr are appended here, so a crash can be explained after the fact. */
  logFile: string;
}

export interface RunningProcess {
  readonly name: string;
  readonly pid: number;
  readonly logFile: string;
  readonly exited: Promise<void>;
  /** Non-null once the process is gone: how it ended. */
  exitStatus(): string | null;
  /** The last lines of its log, for error messages. */
  logTail(lines?: number): string;
  /** Sends `signal`, waits up to `graceMs`, then SIGKILL. */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<void>;
}

/** The last lines of a log file ('' when there is none yet). */
export function fileTail(file: string, lines = 20): string {
  try {
    return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

export function startProcess(o: StartOptions): RunningProcess {
  const log = fs.openSync(o.logFile, 'a');
  const child = spawn(o.command, o.args, {
    cwd: o.cwd,
    stdio: ['ignore', log, log],
  });
  fs.closeSync(log);
  if (child.pid === undefined) throw new Error(`${o.name}: could not start ${o.command}`);
  let status: string | null = null;
  const exited = new Promise<void>((resolve) => {
    child.once('error', (err) => {
      status = `failed: ${err.message}`;
      resolve();
    });
    child.once('exit', (code, signal) => {
      status = signal ? `killed by ${signal}` : `exited with ${code}`;
      resolve();
    });
  });
  const logTail = (lines = 20) => fileTail(o.logFile, lines);
  return {
    name: o.name,
    pid: child.pid,
    logFile: o.logFile,
    exited,
    exitStatus: () => status,
    logTail,
    async stop(signal = 'SIGTERM', graceMs = 10_000) {
      if (status !== null) return;
      child.kill(signal);
      const gone = await Promise.race([exited.then(() => true), sleep(graceMs).then(() => false)]);
      if (!gone) {
        child.kill('SIGKILL');
        await exited;
      }
    },
  };
}

/** An error naming the process and quoting its log, or null while it runs. */
export function deathOf(p: RunningProcess): Error | null {
  const status = p.exitStatus();
  return status === null ? null : new Error(`${p.name} ${status}:\n${p.logTail()}`);
}

export interface CommandResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion (a config check, a load generator) and collects its output. */
export function runCommand(command: string, args: string[], timeoutMs = 120_000): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}
