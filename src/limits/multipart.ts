// Finds the file parts of a multipart/form-data body as it streams past and measures each, for
// LimitUpload. It only looks: the bytes go on unchanged. The delimiter is matched with KMP so
// a boundary split across chunks, or following a partial match, is still found.

const CR = 13;
const LF = 10;
const DASH = 45;
/** Part headers longer than this are not looked into (a file part says so in its first line). */
const HEADER_LOOK = 8192;

const enum State {
  Body,
  AfterDelimiter,
  Headers,
  End,
}

/** The boundary of a multipart/form-data Content-Type, or null. */
export function multipartBoundary(contentType: string): string | null {
  if (!/^multipart\/form-data\s*;/i.test(contentType)) return null;
  const m = /;\s*boundary\s*=\s*(?:"([^"]{1,70})"|([^\s;]{1,70}))/i.exec(contentType);
  return m ? (m[1] ?? m[2]) : null;
}

export class MultipartScanner {
  private readonly delimiter: Buffer;
  private readonly fail: Int32Array;
  private state = State.Body;
  /** The body starts with the boundary itself, as if a line break came before it. */
  private matched = 2;
  private partBytes = 0;
  private isFile = false;
  private after = 0;
  private afterBytes = 0;
  private headers = '';
  private headerEnd = 0;

  constructor(
    boundary: string,
    private readonly limit: number,
  ) {
    this.delimiter = Buffer.from(`\r\n--${boundary}`, 'latin1');
    this.fail = new Int32Array(this.delimiter.length);
    for (let i = 1, k = 0; i < this.delimiter.length; i++) {
      while (k > 0 && this.delimiter[i] !== this.delimiter[k]) k = this.fail[k - 1];
      if (this.delimiter[i] === this.delimiter[k]) k++;
      this.fail[i] = k;
    }
  }

  /** Looks at the next piece of the body; false once a file part is larger than the limit. */
  write(chunk: Uint8Array): boolean {
    const d = this.delimiter;
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i];
      switch (this.state) {
        case State.Body: {
          let m = this.matched;
          while (m > 0 && b !== d[m]) m = this.fail[m - 1];
          if (b === d[m]) m++;
          this.partBytes++;
          if (m === d.length) {
            if (this.isFile && this.partBytes - d.length > this.limit) return false;
            this.state = State.AfterDelimiter;
            this.after = 0;
            this.afterBytes = 0;
            m = 0;
          } else if (this.isFile && this.partBytes - m > this.limit) {
            return false;
          }
          this.matched = m;
          break;
        }
        case State.AfterDelimiter:
          this.after = (this.after << 8) | b;
          if (++this.afterBytes === 2) {
            if (this.after === ((DASH << 8) | DASH)) {
              this.state = State.End;
            } else {
              this.state = State.Headers;
              this.headers = '';
              this.headerEnd = 0;
            }
          }
          break;
        case State.Headers:
          if (this.headers.length < HEADER_LOOK) this.headers += String.fromCharCode(b);
          // \r\n\r\n ends the part's headers.
          this.headerEnd = b === (this.headerEnd % 2 === 0 ? CR : LF) ? this.headerEnd + 1 : b === CR ? 1 : 0;
          if (this.headerEnd === 4 || (this.headerEnd === 2 && this.headers.length === 2)) {
            this.isFile = /filename\*?\s*=/i.test(this.headers);
            this.state = State.Body;
            this.partBytes = 0;
            this.matched = 0;
          }
          break;
        case State.End:
          return true;
      }
    }
    return true;
  }
}
