// Times in log lines, in the server's local time zone as httpd writes them. Every rendering
// has one-second resolution (or is plain arithmetic), so each keeps the text of the last
// second it rendered: under load a line costs a comparison, not a date computation.
import { ValueError } from '../config/values';

type Render = (ms: number) => string;

const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const monthNames = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];
const days = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const dayNames = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];

const pad2 = (n: number): string => (n < 10 ? `0${n}` : String(n));
const pad3 = (n: number): string => (n < 10 ? `00${n}` : n < 100 ? `0${n}` : String(n));

/** +hhmm east of UTC, -hhmm west, as strftime's %z. */
function zone(d: Date): string {
  const east = -d.getTimezoneOffset();
  const abs = Math.abs(east);
  return `${east < 0 ? '-' : '+'}${pad2(Math.floor(abs / 60))}${pad2(abs % 60)}`;
}

function dayOfYear(d: Date): number {
  return Math.round((Date.UTC(d.getFullYear(), d.getMonth(), d.getDate()) - Date.UTC(d.getFullYear(), 0, 1)) / 86_400_000) + 1;
}

/** The strftime(3) conversions %{format}t accepts. */
const conversions: Record<string, (d: Date) => string> = {
  a: (d) => days[d.getDay()],
  A: (d) => dayNames[d.getDay()],
  b: (d) => months[d.getMonth()],
  B: (d) => monthNames[d.getMonth()],
  d: (d) => pad2(d.getDate()),
  D: (d) => `${pad2(d.getMonth() + 1)}/${pad2(d.getDate())}/${pad2(d.getFullYear() % 100)}`,
  e: (d) => String(d.getDate()).padStart(2, ' '),
  F: (d) => `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())}`,
  h: (d) => months[d.getMonth()],
  H: (d) => pad2(d.getHours()),
  I: (d) => pad2(d.getHours() % 12 || 12),
  j: (d) => pad3(dayOfYear(d)),
  m: (d) => pad2(d.getMonth() + 1),
  M: (d) => pad2(d.getMinutes()),
  n: () => '\n',
  p: (d) => (d.getHours() < 12 ? 'AM' : 'PM'),
  R: (d) => `${pad2(d.getHours())}:${pad2(d.getMinutes())}`,
  s: (d) => String(Math.floor(d.getTime() / 1000)),
  S: (d) => pad2(d.getSeconds()),
  t: () => '\t',
  T: (d) => `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`,
  u: (d) => String(d.getDay() || 7),
  w: (d) => String(d.getDay()),
  y: (d) => pad2(d.getFullYear() % 100),
  Y: (d) => String(d.getFullYear()),
  z: zone,
  '%': () => '%',
};

export const strftimeConversions = Object.keys(conversions);

/** Compiles a strftime(3) format once; throws ValueError on a conversion it does not know. */
function strftime(format: string): (d: Date) => string {
  const parts: Array<string | ((d: Date) => string)> = [];
  let literal = '';
  for (let i = 0; i < format.length; i++) {
    if (format[i] !== '%') {
      literal += format[i];
      continue;
    }
    const c = format[++i];
    const convert = c === undefined ? undefined : conversions[c];
    if (!convert) {
      throw new ValueError(`%{${format}}t: unknown strftime conversion %${c ?? ''} (known: ${strftimeConversions.map((k) => `%${k}`).join(' ')})`);
    }
    if (literal) parts.push(literal);
    literal = '';
    parts.push(convert);
  }
  if (literal) parts.push(literal);
  return (d) => {
    let out = '';
    for (const p of parts) out += typeof p === 'string' ? p : p(d);
    return out;
  };
}

/** Remembers the text of the last second rendered. */
function perSecond(render: (d: Date) => string): Render {
  let second = -1;
  let text = '';
  return (ms) => {
    const s = Math.floor(ms / 1000);
    if (s !== second) {
      second = s;
      text = render(new Date(s * 1000));
    }
    return text;
  };
}

/** Common Log Format time: [10/Oct/2000:13:55:36 -0700]. */
export const clfTime = (): Render =>
  perSecond((d) => `[${pad2(d.getDate())}/${months[d.getMonth()]}/${d.getFullYear()}:${conversions.T(d)} ${zone(d)}]`);

/** `%{...}t` without its begin:/end: prefix: a strftime(3) format or one of Apache's units. */
export function timeRender(arg: string): Render {
  switch (arg) {
    case 'sec':
      return (ms) => String(Math.floor(ms / 1000));
    case 'msec':
      return (ms) => String(Math.floor(ms));
    case 'usec':
      return (ms) => String(Math.floor(ms * 1000));
    case 'msec_frac':
      return (ms) => pad3(Math.floor(ms) % 1000);
    case 'usec_frac':
      return (ms) => String(Math.floor(ms * 1000) % 1_000_000).padStart(6, '0');
    default:
      return perSecond(strftime(arg));
  }
}

/** ISO 8601 in UTC with milliseconds, for the JSON format; the part up to the second is cached. */
export function isoTime(): Render {
  const second = perSecond((d) => d.toISOString().slice(0, 20));
  return (ms) => `${second(ms)}${pad3(Math.floor(ms) % 1000)}Z`;
}
