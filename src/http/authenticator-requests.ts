import type { Reader } from '../codec/reader.js';
import { readVarint, writeVarint } from '../codec/varint.js';
import { Writer } from '../codec/writer.js';

// The AUTHENTICATOR_REQUESTS payload, the same bytes in HTTP/2 and HTTP/3: a non-empty list of
// { Length (QUIC varint), authenticator request }. The request bytes stay opaque here (a CertificateRequest
// or a ClientCertificateRequest is for the EA layer); each protocol checks its frame and names its own
// error code for a malformed payload.

export interface AuthenticatorRequestsFields {
  /** Each a whole handshake-framed authenticator request; never empty. */
  requests: Uint8Array[];
}

/** The payload. Throws RangeError for an empty list or an empty request. */
export function encodeAuthenticatorRequests(fields: AuthenticatorRequestsFields): Uint8Array {
  if (fields.requests.length === 0) throw new RangeError('AUTHENTICATOR_REQUESTS needs at least one request');
  const w = new Writer();
  for (const request of fields.requests) {
    if (request.length === 0) throw new RangeError('AUTHENTICATOR_REQUESTS: an empty request');
    writeVarint(w, request.length);
    w.bytes(request);
  }
  return w.finish();
}

/** Reads the requests of a non-empty payload (copies); an empty or truncated request fails the Reader (MalformedMessage). */
export function readAuthenticatorRequests(r: Reader): AuthenticatorRequestsFields {
  const requests: Uint8Array[] = [];
  while (r.remaining > 0) {
    const length = readVarint(r, 'Length');
    if (length === 0) r.fail('an empty authenticator request');
    if (length > r.remaining) r.fail(`truncated: request of ${length} bytes, ${r.remaining} left`);
    requests.push(r.bytes(length, 'Authenticator Request').slice());
  }
  return { requests };
}
