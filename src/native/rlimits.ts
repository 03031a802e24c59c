// The resource limits a process sets on itself through the addon (Node has no setrlimit):
// LimitFiles, and the core size that MemoryPolicy abort needs.
import { log } from '../log/logger';
import { loadNative } from './index';

/**
 * LimitFiles: RLIMIT_NOFILE's soft limit, 0 meaning the hard limit. Node raises the soft limit
 * to the hard one when it starts, so each process (master, every child) sets its own after that.
 * Root may raise the hard limit too; anyone else gets the hard limit and a warning.
 */
export function applyFileLimit(limitFiles: number): void {
  const native = loadNative();
  const { hard } = native.getrlimit('nofile');
  const want = limitFiles === 0 ? hard : limitFiles;
  try {
    native.setrlimit('nofile', want, Math.max(want, hard));
  } catch (err) {
    log('core').warn(
      { limitFiles, hard, err: (err as Error).message },
      `LimitFiles ${limitFiles} is above the hard limit ${hard} and cannot be raised: using ${hard}`,
    );
    native.setrlimit('nofile', hard, hard);
  }
}

/** The soft core size limit up to the hard one ("ulimit -c" as high as allowed). */
export function raiseCoreLimit(): void {
  const native = loadNative();
  const { hard } = native.getrlimit('core');
  native.setrlimit('core', hard, hard);
}
