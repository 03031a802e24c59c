// The log files the master opens for its children, as httpd's parent opens its logs: the
// ErrorLog becomes their stderr, each CustomLog file an inherited descriptor after the
// listeners. Children running as User/Group thus write files they could not open themselves
// (owned by root, in a directory only root may enter). On a graceful restart the master opens
// the files again at their paths, so each new generation writes to the files as they are after
// logrotate while the old one finishes on the files it had.
import fs from 'node:fs';
import path from 'node:path';
import type { Settings } from '../config/types';
import { LogFileError } from '../errors';

function openForAppend(directive: string, file: string): number {
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    return fs.openSync(file, 'a', 0o644);
  } catch (err) {
    throw new LogFileError(`${directive} ${file}: ${(err as Error).message}`, { cause: err });
  }
}

/** The ErrorLog file for the children's stderr; null when the log is stderr, which they inherit. */
export function openErrorLog(s: Settings): number | null {
  if (s.errorLog === 'stderr' || s.errorLog === 'syslog') return null;
  return openForAppend('ErrorLog', s.errorLog);
}

/**
 * Every CustomLog and TransferLog file of `s`, once each, by path (O_APPEND: see
 * log-writer.ts). `stderr` is the master's own (the journal under systemd), handed down too:
 * a child's stderr is the ErrorLog file when ErrorLog names one.
 */
export function openAccessLogs(s: Settings): Map<string, number> {
  const files = new Map<string, number>();
  try {
    for (const { target } of [s.accessLogs, ...s.virtualHosts.map((h) => h.accessLogs)].flat()) {
      if (!files.has(target)) files.set(target, target === 'stderr' ? 2 : openForAppend('CustomLog', target));
    }
  } catch (err) {
    closeLogFiles(files);
    throw err;
  }
  return files;
}

export function closeLogFiles(files: ReadonlyMap<string, number>): void {
  for (const [target, fd] of files) if (target !== 'stderr') fs.closeSync(fd);
}

/** How a child inherits `files` from descriptor `first` on: the stdio entries to spawn it
 * with, and the descriptor each path has in the child (Settings.accessLogFiles). */
export function inheritLogFiles(files: ReadonlyMap<string, number>, first: number): { stdio: number[]; byPath: Record<string, number> } {
  const paths = [...files.keys()];
  return {
    stdio: paths.map((p) => files.get(p) as number),
    byPath: Object.fromEntries(paths.map((p, i) => [p, first + i])),
  };
}
