// The backend the proxy benchmarks forward to: nginx with one worker serving a small page and a
// 64 KiB file from disk (the page cache), or the Node static server where nginx is missing.
import fs from 'node:fs';
import path from 'node:path';
import { startNginx } from './nginx';
import { freePort } from './ports';
import { startNodeBackend } from './static-backend';
import { writeStaticSite } from './static-site';
import type { WorkDir } from './work-dir';

const LARGE_BYTES = 64 * 1024;

export interface ProxyBackend {
  port: number;
  /** Its process: the main one of nginx, whose worker is its child. */
  pid: number;
  describe: string;
  /** URL paths of the small page and the 64 KiB file. */
  small: string;
  large: string;
  stop(): Promise<void>;
}

/** Whether `program` is an executable file in a PATH directory. */
export function onPath(program: string): boolean {
  return (process.env.PATH ?? '').split(':').some((dir) => {
    try {
      fs.accessSync(path.join(dir, program), fs.constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

export async function startProxyBackend(dir: WorkDir): Promise<ProxyBackend> {
  const site = writeStaticSite(dir);
  const large = '/64k.html';
  dir.write(`htdocs${large}`, Buffer.alloc(LARGE_BYTES, 'x'));
  const port = await freePort();
  const files = `a ${site.bytes}-byte page and a ${LARGE_BYTES / 1024} KiB file`;
  if (onPath('nginx')) {
    const nginx = await startNginx({ dir, port, role: { root: site.root }, workers: 1 });
    return { port, pid: nginx.process.pid, describe: `nginx (1 worker) serving ${files}`, small: site.page, large, stop: nginx.stop };
  }
  const node = await startNodeBackend({ dir, port, root: site.root });
  return {
    port,
    pid: node.pid,
    describe: `a Node server (nginx is not installed) serving ${files}`,
    small: site.page,
    large,
    stop: () => node.stop(),
  };
}
