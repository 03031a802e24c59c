// A scratch directory per launched server: its generated configuration, pid file, logs and
// static files live together, so a failed run leaves one place to look at and one to remove.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface WorkDir {
  readonly path: string;
  /** The absolute path of `name` inside the directory. */
  file(name: string): string;
  /** Writes `text` to `name` (creating subdirectories) and returns its absolute path. */
  write(name: string, text: string | Buffer): string;
  remove(): void;
}

export function createWorkDir(prefix: string): WorkDir {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `mpmproxy-bench-${prefix}-`));
  // Peers started as root drop to an unprivileged user (nginx: nobody, apache2: www-data),
  // which must still read the configuration and the files it serves.
  fs.chmodSync(dir, 0o755);
  const file = (name: string) => path.join(dir, name);
  return {
    path: dir,
    file,
    write(name, text) {
      const target = file(name);
      fs.mkdirSync(path.dirname(target), { recursive: true, mode: 0o755 });
      fs.writeFileSync(target, text, { mode: 0o644 });
      return target;
    },
    remove() {
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
