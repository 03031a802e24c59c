// Reads WebSocket frame headers (RFC 6455 §5.2) as the bytes stream past, without holding any
// payload: enough to enforce LimitWebSocketsFrame and LimitWebSocketsMessage before a frame is
// passed on, and to know where one frame ends, so that a close frame of our own is never
// written into the middle of another.

const OP_CONTINUATION = 0x0;
const OP_CLOSE = 0x8;

const FRAME_TOO_BIG = 'LimitWebSocketsFrame';
const MESSAGE_TOO_BIG = 'LimitWebSocketsMessage';
export type Violation = typeof FRAME_TOO_BIG | typeof MESSAGE_TOO_BIG;

/** What scan() found: the whole chunk may pass (`ok`), or only its first `at` bytes. */
export interface ScanResult {
  ok: boolean;
  at: number;
  violation: Violation | null;
}

export class FrameScanner {
  /** Bytes of the current frame's header seen so far (2 to 14). */
  private readonly header = Buffer.alloc(14);
  private headerHave = 0;
  /** Payload bytes of the current frame still to come; -1 while its header is incomplete. */
  private payloadLeft = -1;
  /** Payload bytes of the data message in progress, its frames so far. */
  private messageBytes = 0;
  private readonly result: ScanResult = { ok: true, at: 0, violation: null };

  constructor(
    /** 0 = unlimited */
    private readonly maxFrame: number,
    private readonly maxMessage: number,
  ) {}

  /** Whether the stream stands between two frames. */
  get atBoundary(): boolean {
    return this.headerHave === 0 && this.payloadLeft <= 0;
  }

  /** Scans a chunk; when a frame breaks a limit, `at` is where that frame began in the chunk
   * (or 0 if it began in an earlier one: its header has gone on already, which happens only
   * when a header is split between reads, and the relay then cuts the stream there). */
  scan(chunk: Buffer): ScanResult {
    return this.run(chunk, false);
  }

  /** Scans up to the end of the frame in progress: `ok` when the chunk ends first, else `at` is
   * where the next frame would begin. No limit applies. */
  toBoundary(chunk: Buffer): ScanResult {
    return this.run(chunk, true);
  }

  private run(chunk: Buffer, stopAtBoundary: boolean): ScanResult {
    const r = this.result;
    r.ok = true;
    r.violation = null;
    let i = 0;
    while (i < chunk.length) {
      if (stopAtBoundary && this.atBoundary) {
        r.ok = false;
        r.at = i;
        return r;
      }
      if (this.payloadLeft > 0) {
        const n = Math.min(this.payloadLeft, chunk.length - i);
        this.payloadLeft -= n;
        i += n;
        continue;
      }
      const frameStart = i - this.headerHave;
      this.header[this.headerHave++] = chunk[i++];
      const need = this.headerLength();
      if (this.headerHave < need) continue;
      const violation = this.frameComplete();
      if (violation !== null && !stopAtBoundary) {
        r.ok = false;
        r.at = Math.max(0, frameStart);
        r.violation = violation;
        return r;
      }
    }
    if (stopAtBoundary && this.atBoundary) {
      r.ok = false;
      r.at = i;
    }
    return r;
  }

  /** The header's full length, as far as the bytes seen tell it. */
  private headerLength(): number {
    if (this.headerHave < 2) return 2;
    const len7 = this.header[1] & 0x7f;
    const masked = (this.header[1] & 0x80) !== 0 ? 4 : 0;
    return 2 + (len7 === 126 ? 2 : len7 === 127 ? 8 : 0) + masked;
  }

  private frameComplete(): Violation | null {
    const h = this.header;
    const len7 = h[1] & 0x7f;
    // A 64-bit length beyond 2^53 is refused by any limit; without one it is only skipped.
    const length = len7 === 126 ? h.readUInt16BE(2) : len7 === 127 ? Number(h.readBigUInt64BE(2)) : len7;
    const opcode = h[0] & 0x0f;
    const fin = (h[0] & 0x80) !== 0;
    this.headerHave = 0;
    this.payloadLeft = length;
    if (this.maxFrame > 0 && length > this.maxFrame) return FRAME_TOO_BIG;
    if (opcode >= OP_CLOSE) return null; // control frames are not part of a message
    this.messageBytes = opcode === OP_CONTINUATION ? this.messageBytes + length : length;
    if (this.maxMessage > 0 && this.messageBytes > this.maxMessage) return MESSAGE_TOO_BIG;
    if (fin) this.messageBytes = 0;
    return null;
  }
}

/** A close frame with its status code and reason (RFC 6455 §5.5.1): unmasked towards the
 * client; towards the backend masked, as a client's must be, with a zero key (any key will do,
 * and this one leaves the payload as it is). */
export function closeFrame(code: number, reason: string, masked: boolean): Buffer {
  const text = Buffer.from(reason.slice(0, 120));
  const key = masked ? 4 : 0;
  const frame = Buffer.alloc(4 + key + text.length);
  frame[0] = 0x80 | OP_CLOSE;
  frame[1] = (masked ? 0x80 : 0) | (2 + text.length);
  frame.writeUInt16BE(code, 2 + key);
  text.copy(frame, 4 + key);
  return frame;
}
