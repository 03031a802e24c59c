// Reading access logs that a running daemon writes (buffered: lines arrive within ~250 ms).
import fs from 'node:fs';
import { waitFor } from './daemon';

export function logLines(file: string): string[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  return text === '' ? [] : text.replace(/\n$/, '').split('\n');
}

/** The lines of `file` once it has at least `n`. */
export function waitLines(file: string, n: number, timeoutMs = 10000): Promise<string[]> {
  return waitFor(`${n} lines in ${file}`, () => {
    const lines = logLines(file);
    return lines.length >= n ? lines : null;
  }, timeoutMs);
}

const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** Milliseconds since the epoch of a Common Log Format time: [10/Oct/2000:13:55:36 -0700]. */
export function clfTime(text: string): number {
  const m = /^\[(\d\d)\/(\w{3})\/(\d{4}):(\d\d):(\d\d):(\d\d) ([+-])(\d\d)(\d\d)\]$/.exec(text);
  if (!m) throw new Error(`not a CLF time: ${text}`);
  const utc = Date.UTC(Number(m[3]), months.indexOf(m[2]), Number(m[1]), Number(m[4]), Number(m[5]), Number(m[6]));
  const offset = (Number(m[8]) * 60 + Number(m[9])) * 60_000;
  return m[7] === '+' ? utc - offset : utc + offset;
}

/** Runs job(0), job(1), ... job(n - 1), `parallel` at a time. */
export async function inParallel(n: number, parallel: number, job: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < n) await job(next++);
  };
  await Promise.all(Array.from({ length: parallel }, worker));
}
