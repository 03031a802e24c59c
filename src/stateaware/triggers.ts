// What in a backend's response starts or ends state-aware mode: its own header (`X-StateAware:
// on|off`, consumed here, never relayed), and a 401 that opens an NTLM or Negotiate handshake,
// whose next legs must reach the backend on the connection that carried this one.
export const STATE_AWARE_HEADER = 'x-stateaware';

export interface Triggers {
  /** What X-StateAware said, or null when the response has none. */
  say: 'on' | 'off' | null;
  /** A 401 with WWW-Authenticate: NTLM or Negotiate. */
  handshake: boolean;
}

const authenticate = 'www-authenticate';

function isName(header: Buffer, lower: string): boolean {
  return header.length === lower.length && header.toString('latin1').toLowerCase() === lower;
}

function opensHandshake(value: string): boolean {
  const scheme = value.trimStart().slice(0, 9).toLowerCase();
  return scheme.startsWith('ntlm') || scheme.startsWith('negotiate');
}

/** What nearly every response says: nothing. Shared, so that reading it allocates nothing. */
const NOTHING: Triggers = Object.freeze({ say: null, handshake: false });

/** Reads the triggers and takes X-StateAware out of `raw` (in place). */
export function readTriggers(statusCode: number, raw: Buffer[]): Triggers {
  let say: Triggers['say'] = null;
  let handshake = false;
  for (let i = raw.length - 2; i >= 0; i -= 2) {
    if (isName(raw[i], STATE_AWARE_HEADER)) {
      const value = raw[i + 1].toString('latin1').trim().toLowerCase();
      if (value === 'on' || value === 'off') say = value;
      raw.splice(i, 2);
    } else if (statusCode === 401 && isName(raw[i], authenticate) && opensHandshake(raw[i + 1].toString('latin1'))) {
      handshake = true;
    }
  }
  return say === null && !handshake ? NOTHING : { say, handshake };
}
