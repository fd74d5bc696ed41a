import type { Http2Session } from 'node:http2';

/**
 * Ends a connection for a connection error (RFC 9113 section 5.4.1) with exactly one GOAWAY, carrying
 * `code`. On a spliced session the splicer ends the TLS stream right after that GOAWAY (goaway() then
 * close() would add a second GOAWAY, NO_ERROR, and destroy(code) alone cuts the first off before it is
 * written); without one, close() follows. The timer bounds how long a peer can hold the connection.
 * Idempotent.
 */
export function closeWithError(session: Http2Session, code: number, spliced: boolean, graceMs = 1000): void {
  if (session.destroyed || session.closed) return;
  session.goaway(code);
  if (!spliced) session.close();
  setTimeout(() => session.destroy(), graceMs).unref();
}
