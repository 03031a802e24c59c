// The limits on one request, checked before its route runs: the URI (414), the number of header
// fields (431), the body by its Content-Length or as it streams (413), forms held whole before
// routing (LimitRequestForm), files in multipart bodies (LimitUpload), and the chunk size of the
// response (LimitChunk). The header's size in bytes is Node's parser's (maxHeaderSize).
import type http from 'node:http';
import type { LimitSettings } from '../config/types';
import type { RequestHandler } from '../child/handler';
import { abandonExchange } from '../proxy/exchange';
import { bodyOfUnknownLength } from '../proxy/framing';
import { answer } from './answer';
import { chunkWriters, type ChunkWriters } from './chunked-output';
import type { LimitName } from './limit-names';
import { MultipartScanner, multipartBoundary } from './multipart';
import { watchBody } from './request-body';

/** Called once per refused request, to count it and log it naming the limit. */
export type Refusal = (limit: LimitName, status: number, req: http.IncomingMessage, fields: Record<string, unknown>) => void;

const FORM = /^application\/x-www-form-urlencoded/i;

export function guardRequests(l: LimitSettings, refused: Refusal, handler: RequestHandler): RequestHandler {
  const writers: ChunkWriters | null = l.chunk > 0 ? chunkWriters(l.chunk) : null;
  const watchesBodies = l.requestBody > 0 || l.requestForm > 0 || l.upload > 0;
  if (l.uri === 0 && l.requestHeaderLines === 0 && !writers && !watchesBodies) return handler;

  const refuse = (limit: LimitName, status: number, req: http.IncomingMessage, res: http.ServerResponse, fields: Record<string, unknown>) => {
    refused(limit, status, req, fields);
    // A refused body is not read: the connection cannot carry another request after it.
    answer(res, status, limit, status === 413);
  };

  const watch = (req: http.IncomingMessage, res: http.ServerResponse, chunked: boolean, form: boolean): void => {
    const boundary = l.upload > 0 ? multipartBoundary(req.headers['content-type'] ?? '') : null;
    if (!form && boundary === null && !(chunked && l.requestBody > 0)) {
      handler(req, res);
      return;
    }
    watchBody(req, {
      bodyLimit: chunked ? l.requestBody : 0,
      formLimit: form ? l.requestForm : 0,
      multipart: boundary === null ? null : new MultipartScanner(boundary, l.upload),
      onExceeded: (limit) => {
        const value = limit === 'LimitRequestBody' ? l.requestBody : limit === 'LimitUpload' ? l.upload : l.requestForm;
        refused(limit, 413, req, { [limit]: value, streamed: true });
        if (!res.headersSent) answer(res, 413, limit, true);
        else res.destroy(); // the backend is answering already: the client sees a cut response
        // A backend request reading the body stops; its answer, if any comes, is dropped.
        abandonExchange(res);
      },
      // Held whole, then routed: unless a limit or a read timeout answered meanwhile.
      onForm: form ? () => void (res.headersSent || res.destroyed || handler(req, res)) : null,
    });
    if (!form) handler(req, res);
  };

  return (req, res) => {
    const url = req.url ?? '';
    if (l.uri > 0 && url.length > l.uri) return refuse('LimitUri', 414, req, res, { LimitUri: l.uri, length: url.length });
    const lines = req.rawHeaders.length >> 1;
    if (l.requestHeaderLines > 0 && lines > l.requestHeaderLines) {
      // Node keeps one field past the limit (maxHeadersCount), enough to know it was passed.
      return refuse('LimitRequestHeaderLines', 431, req, res, { LimitRequestHeaderLines: l.requestHeaderLines });
    }
    if (writers) {
      const r = res as unknown as ChunkWriters;
      r.write = writers.write;
      r.end = writers.end;
    }
    if (!watchesBodies) return handler(req, res);
    const declared = req.headers['content-length'];
    const chunked = declared === undefined && bodyOfUnknownLength(req);
    if (declared === undefined && !chunked) return handler(req, res);
    const length = declared === undefined ? -1 : Number(declared);
    if (l.requestBody > 0 && length > l.requestBody) {
      return refuse('LimitRequestBody', 413, req, res, { LimitRequestBody: l.requestBody, length });
    }
    const form = l.requestForm > 0 && FORM.test(req.headers['content-type'] ?? '');
    if (form && length > l.requestForm) return refuse('LimitRequestForm', 413, req, res, { LimitRequestForm: l.requestForm, length });
    watch(req, res, chunked, form);
  };
}
