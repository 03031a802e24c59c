// The small page every backend serves, so nginx and the Node backend answer with the same bytes.
import type { WorkDir } from './work-dir';

export interface StaticSite {
  /** The directory to serve. */
  root: string;
  /** The URL path of the page. */
  page: string;
  bytes: number;
}

/** Writes an HTML page of exactly `bytes` bytes (about the size of mpmproxy's default page). */
export function writeStaticSite(dir: WorkDir, bytes = 612): StaticSite {
  const head = '<!DOCTYPE html>\n<html><head><title>bench</title></head><body>\n';
  const tail = '\n</body></html>\n';
  const filler = 'x'.repeat(Math.max(0, bytes - head.length - tail.length));
  const text = head + filler + tail;
  dir.write('htdocs/index.html', text);
  return { root: dir.file('htdocs'), page: '/index.html', bytes: Buffer.byteLength(text) };
}
