// The value syntaxes directives share. Each parser throws ValueError with a message that
// reads after "file:line: Directive: ", so the parser can add where the value was written.

import net from 'node:net';
import type { ListenSpec } from './types';

/** A value that does not fit its directive. */
export class ValueError extends Error {}

const quoted = (text: string): string => JSON.stringify(text);

export interface IntegerRange {
  min: number;
  max?: number;
  /** When set, the word `unlimited` is accepted and stands for this number. */
  unlimited?: number;
}

export function parseInteger(text: string, range: IntegerRange): number {
  if (range.unlimited !== undefined && text.toLowerCase() === 'unlimited') return range.unlimited;
  const n = /^[+-]?\d+$/.test(text) ? Number(text) : NaN;
  if (n >= range.min && n <= (range.max ?? Number.MAX_SAFE_INTEGER)) return n;
  throw new ValueError(`must be ${describeRange(range)} (got ${quoted(text)})`);
}

function describeRange({ min, max, unlimited }: IntegerRange): string {
  let kind: string;
  if (max !== undefined) kind = `an integer from ${min} to ${max}`;
  else if (min === 0) kind = 'a non-negative integer';
  else if (min === 1) kind = 'a positive integer';
  else kind = `an integer of at least ${min}`;
  return unlimited === undefined ? kind : `${kind} or unlimited`;
}

export function parsePositiveNumber(text: string): number {
  const n = /^\d+(\.\d+)?$|^\.\d+$/.test(text) ? Number(text) : NaN;
  if (n > 0) return n;
  throw new ValueError(`must be a number greater than 0 (got ${quoted(text)})`);
}

export function parseFlag(text: string): boolean {
  const word = text.toLowerCase();
  if (word === 'on') return true;
  if (word === 'off') return false;
  throw new ValueError(`must be On or Off (got ${quoted(text)})`);
}

/** Case-insensitive; `noun` names the word when it is one of several on the line. */
export function parseEnum<T extends string>(text: string, values: readonly T[], noun?: string): T {
  const found = values.find((v) => v === text.toLowerCase());
  if (found !== undefined) return found;
  const list = values.join(', ');
  throw new ValueError(
    noun === undefined ? `must be one of ${list} (got ${quoted(text)})` : `unknown ${noun} ${quoted(text)} (${noun}s: ${list})`,
  );
}

// Binary multiples, as Apache's and Appweb's size directives use them.
const sizeUnits: Record<string, number> = {
  '': 1, b: 1, k: 2 ** 10, kb: 2 ** 10, m: 2 ** 20, mb: 2 ** 20, g: 2 ** 30, gb: 2 ** 30,
};

/** Bytes. `unlimited` is accepted only when the directive says what it stands for. */
export function parseSize(text: string, unlimited?: number): number {
  if (unlimited !== undefined && text.toLowerCase() === 'unlimited') return unlimited;
  const m = /^(\d+(?:\.\d+)?)([a-z]*)$/i.exec(text);
  const unit = m ? sizeUnits[m[2].toLowerCase()] : undefined;
  const bytes = m && unit !== undefined ? Math.floor(Number(m[1]) * unit) : NaN;
  if (bytes <= Number.MAX_SAFE_INTEGER) return bytes;
  const examples = unlimited === undefined ? '4096, 512K, 64MB or 1G' : '4096, 512K, 64MB, 1G or unlimited';
  throw new ValueError(`must be a size such as ${examples} (got ${quoted(text)})`);
}

const durationUnits: Record<string, number> = {
  // A bare number is seconds, as in every Apache timeout directive.
  '': 1000,
  ms: 1, msec: 1, msecs: 1,
  s: 1000, sec: 1000, secs: 1000, second: 1000, seconds: 1000,
  min: 60_000, mins: 60_000, minute: 60_000, minutes: 60_000,
  h: 3_600_000, hr: 3_600_000, hrs: 3_600_000, hour: 3_600_000, hours: 3_600_000,
  d: 86_400_000, day: 86_400_000, days: 86_400_000,
};

// Node's timers overflow past 2^31-1 ms and then fire at once.
const longestTimer = 2 ** 31 - 1;

/** Milliseconds. */
export function parseDuration(text: string, opts: { positive?: boolean } = {}): number {
  const m = /^(\d+(?:\.\d+)?)([a-z]*)$/i.exec(text);
  const unit = m ? durationUnits[m[2].toLowerCase()] : undefined;
  if (!m || unit === undefined) {
    throw new ValueError(`must be a duration such as 30, 30s, 500ms, 5min, 2h or 1day (got ${quoted(text)})`);
  }
  const ms = Math.round(Number(m[1]) * unit);
  if (opts.positive && ms === 0) throw new ValueError(`must be longer than 0 (got ${quoted(text)})`);
  if (ms > longestTimer) {
    throw new ValueError(`must be at most ${longestTimer}ms, the longest timer Node supports (got ${quoted(text)})`);
  }
  return ms;
}

/** `Listen [IP:]port [protocol]`; IPv6 addresses in brackets. */
export function parseListen(address: string, protocol?: string): ListenSpec {
  const m = /^(?:(\*|\[[^\]]*\]|[A-Za-z0-9.-]+):)?(\d+)$/.exec(address);
  if (!m) {
    throw new ValueError(
      `must be [address:]port such as 8080, 127.0.0.1:8080 or [::1]:8080 (got ${quoted(address)})`,
    );
  }
  const host = listenHost(m[1]);
  const port = Number(m[2]);
  if (!(port >= 1 && port <= 65535)) throw new ValueError(`port must be from 1 to 65535 (got ${quoted(m[2])})`);
  return {
    host,
    port,
    // Apache's default: https on 443, http elsewhere.
    protocol: protocol === undefined ? (port === 443 ? 'https' : 'http') : parseEnum(protocol, ['http', 'https']),
    text: protocol === undefined ? address : `${address} ${protocol}`,
  };
}

function listenHost(written: string | undefined): string {
  if (written === undefined || written === '*') return '0.0.0.0';
  if (written.startsWith('[')) {
    const v6 = written.slice(1, -1);
    if (net.isIPv6(v6)) return v6;
    throw new ValueError(`${quoted(v6)} is not an IPv6 address`);
  }
  if (/^[\d.]+$/.test(written) && !net.isIPv4(written)) {
    throw new ValueError(`${quoted(written)} is not an IPv4 address`);
  }
  return written;
}
