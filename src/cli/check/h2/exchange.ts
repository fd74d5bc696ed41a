import { constants, type ClientHttp2Session, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http2';

// One request on the checker's raw session, bounded in time and size. Failures resolve as a result with
// `error` rather than reject: the checker reports them as findings.

export interface Exchange {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  error?: string;
}

export function exchange(session: ClientHttp2Session, headers: OutgoingHttpHeaders, body: Uint8Array | undefined, timeoutMs: number, maxSize = 256 * 1024): Promise<Exchange> {
  return new Promise((resolve) => {
    let responseHeaders: IncomingHttpHeaders = {};
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (error?: string): void => {
      if (done) return;
      done = true;
      resolve({ status: Number(responseHeaders[':status'] ?? 0), headers: responseHeaders, body: Buffer.concat(chunks), ...(error ? { error } : {}) });
    };
    let stream;
    try {
      stream = session.request({ ...headers, ...(body ? { 'content-length': String(body.length) } : {}) }, { endStream: !body });
    } catch (e) {
      finish(`the request could not be sent: ${(e as Error).message}`);
      return;
    }
    const s = stream;
    const cancel = (why: string): void => {
      finish(why);
      if (!s.closed) s.close(constants.NGHTTP2_CANCEL);
    };
    s.on('response', (h) => (responseHeaders = h));
    s.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxSize) cancel(`the response is larger than ${maxSize} bytes`);
      else chunks.push(chunk);
    });
    s.setTimeout(timeoutMs, () => cancel(`no complete response in ${timeoutMs} ms`));
    s.on('error', (e) => finish(`the stream failed: ${e.message}`));
    s.on('end', () => finish());
    s.on('close', () => finish(responseHeaders[':status'] === undefined ? `the stream closed without a response (code ${s.rstCode ?? 'none'})` : undefined));
    if (body) s.end(body);
  });
}
