import type { Http2Session } from 'node:http2';

/**
 * Ends a connection for a connection error (RFC 9113 section 5.4.1): GOAWAY with `code`, then close.
 * destroy(undefined, code) would send a second GOAWAY; close() lets the first one flush, and the timer
 * bounds how long a peer that keeps streams open can hold the connection.
 */
export function closeWithError(session: Http2Session, code: number, graceMs = 1000): void {
  if (session.destroyed) return;
  session.goaway(code);
  session.close();
  setTimeout(() => session.destroy(), graceMs).unref();
}
