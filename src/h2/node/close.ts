import type { Http2Session } from 'node:http2';
import type { FrameSplicer } from './splicer.js';

/**
 * Ends a connection for a connection error (RFC 9113 section 5.4.1) with exactly one GOAWAY, carrying
 * `code`. With a splicer, the TLS stream ends right after that GOAWAY (goaway() then close() would add a
 * second GOAWAY, NO_ERROR, and destroy(code) alone cuts the first off before it is written); the timer
 * bounds how long a peer can hold the connection. Idempotent.
 */
export function closeWithError(session: Http2Session, code: number, splicer?: FrameSplicer, graceMs = 1000): void {
  if (session.destroyed || session.closed) return;
  splicer?.endAfterGoaway();
  session.goaway(code);
  if (!splicer) session.close();
  setTimeout(() => session.destroy(), graceMs).unref();
}
