// A raw look at the first request of a new plain connection, before Node's HTTP parser sees it:
// only as much as deciding where the connection should be served needs. It finds the end of
// the header block and the session cookie; anything it does not need to understand to move the
// connection safely (a body in chunks, Expect, a header block that is not complete yet) makes
// it step aside, and the connection is served where it arrived, as any other.
import { cookieValue } from '../session/cookie';

/** The header block has not ended in what was read so far. */
export const INCOMPLETE = 'incomplete';
/** Serve the connection where it is. */
export const HERE = 'here';

export type FirstRequest = typeof INCOMPLETE | typeof HERE | { session: string };

const CRLFCRLF = Buffer.from('\r\n\r\n');

/** `limit`: LimitRequestHeader; a longer header block is left to the parser, which refuses it. */
export function scanFirstRequest(head: Buffer, cookieName: string, limit: number): FirstRequest {
  const end = head.indexOf(CRLFCRLF);
  if (end < 0) return head.length < limit ? INCOMPLETE : HERE;
  if (end > limit) return HERE;
  const lines = head.toString('latin1', 0, end).split('\r\n');
  // HTTP/1.x only: an HTTP/2 preface or anything odd is the parser's to answer.
  if (!/^[A-Z]+ \S+ HTTP\/1\.[01]$/.test(lines[0])) return HERE;
  let cookies: string | undefined;
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i];
    const colon = line.indexOf(':');
    if (colon <= 0) return HERE;
    const name = line.slice(0, colon).toLowerCase();
    if (name === 'transfer-encoding' || name === 'expect') return HERE;
    if (name === 'cookie') {
      const value = line.slice(colon + 1).trim();
      cookies = cookies === undefined ? value : `${cookies}; ${value}`;
    }
  }
  const session = cookieValue(cookies, cookieName);
  return session === null || session === '' ? HERE : { session };
}
