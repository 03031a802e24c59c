// A client's IP address as the four 32-bit words the limits segment keys its table by: IPv6
// as written, IPv4 as its IPv4-mapped IPv6 form (::ffff:a.b.c.d), so a client counts once
// whether it arrives on an IPv4 or a dual-stack listener. Parsed without allocating: it runs
// for every connection.

const hextets = new Uint16Array(8);

/** Writes the address into `out`; false when `text` is not an IP address. */
export function parseClientAddress(text: string, out: Int32Array): boolean {
  if (text.indexOf(':') < 0) {
    const v4 = parseIpv4(text, 0, text.length);
    if (v4 < 0) return false;
    out[0] = 0;
    out[1] = 0;
    out[2] = 0xffff;
    out[3] = v4 | 0;
    return true;
  }
  if (!parseIpv6(text)) return false;
  for (let i = 0; i < 4; i++) out[i] = (hextets[2 * i] << 16) | hextets[2 * i + 1];
  return true;
}

/** An IPv4 address in text[from, to) as an unsigned number, or -1. */
function parseIpv4(text: string, from: number, to: number): number {
  let value = 0;
  let part = -1;
  let parts = 0;
  for (let i = from; i <= to; i++) {
    const c = i < to ? text.charCodeAt(i) : 46;
    if (c === 46) {
      if (part < 0 || parts === 4) return -1;
      value = value * 256 + part;
      parts++;
      part = -1;
    } else if (c >= 48 && c <= 57) {
      part = part < 0 ? c - 48 : part * 10 + c - 48;
      if (part > 255) return -1;
    } else {
      return -1;
    }
  }
  return parts === 4 ? value : -1;
}

/** Fills `hextets`; a zone (%eth0) is ignored, an IPv4 tail is taken as the last two groups. */
function parseIpv6(text: string): boolean {
  let end = text.indexOf('%');
  if (end < 0) end = text.length;
  let groups = 0;
  let gap = -1;
  let i = 0;
  if (text.charCodeAt(0) === 58) {
    if (text.charCodeAt(1) !== 58) return false;
    gap = 0;
    i = 2;
  }
  while (i < end) {
    let value = 0;
    let digits = 0;
    const start = i;
    for (; i < end; i++) {
      const d = hexDigit(text.charCodeAt(i));
      if (d < 0) break;
      value = value * 16 + d;
      digits++;
    }
    if (i < end && text.charCodeAt(i) === 46) {
      const v4 = groups <= 6 ? parseIpv4(text, start, end) : -1;
      if (v4 < 0) return false;
      hextets[groups++] = v4 >>> 16;
      hextets[groups++] = v4 & 0xffff;
      i = end;
      break;
    }
    if (digits === 0 || digits > 4 || groups === 8) return false;
    hextets[groups++] = value;
    if (i === end) break;
    if (text.charCodeAt(i) !== 58) return false;
    i++;
    if (text.charCodeAt(i) === 58) {
      if (gap >= 0) return false;
      gap = groups;
      i++;
    } else if (i === end) {
      return false;
    }
  }
  if (gap < 0) return groups === 8;
  if (groups > 7) return false;
  const tail = groups - gap;
  const shift = 8 - groups;
  for (let k = tail - 1; k >= 0; k--) hextets[gap + shift + k] = hextets[gap + k];
  for (let k = gap; k < gap + shift; k++) hextets[k] = 0;
  return true;
}

function hexDigit(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/** murmur3's finaliser over the words: spreads addresses that differ in a few bits. */
export function hashClientAddress(a: Int32Array): number {
  let h = 0x9747b28c;
  for (let i = 0; i < 4; i++) {
    h = Math.imul(h ^ a[i], 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
  }
  return h;
}
