// Apache's escaping of logged request and response text (ap_escape_logitem): a client cannot
// forge a line or a field with a quote, a backslash or a control character.

/** `text` with `"` and `\` backslashed, \b \n \r \t \v in C notation and any other byte outside
 * printable ASCII as \xhh. The common case, nothing to escape, costs one scan and no copy. */
export function escapeLogText(text: string): string {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) return escapeFrom(text, i);
  }
  return text;
}

const named: Record<number, string> = { 0x08: '\\b', 0x09: '\\t', 0x0a: '\\n', 0x0b: '\\v', 0x0d: '\\r', 0x22: '\\"', 0x5c: '\\\\' };

function escapeFrom(text: string, start: number): string {
  let out = text.slice(0, start);
  for (let i = start; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0x20 && c <= 0x7e && c !== 0x22 && c !== 0x5c) out += text[i];
    else if (named[c] !== undefined) out += named[c];
    else if (c <= 0xff) out += hexByte(c);
    else {
      // Node reads headers as latin1, so this is only a URL a handler rewrote: log its UTF-8 bytes.
      const point = text.codePointAt(i) as number;
      if (point > 0xffff) i++;
      for (const b of Buffer.from(String.fromCodePoint(point))) out += hexByte(b);
    }
  }
  return out;
}

function hexByte(b: number): string {
  return `\\x${b.toString(16).padStart(2, '0')}`;
}
