import type { Reader } from '../../codec/reader.js';
import { Writer } from '../../codec/writer.js';
import { DEFAULT_MAX_FRAME_SIZE, encodeFrame, type FrameHeader } from './frame-header.js';
import { H2ConnectionError, H2ErrorCode } from '../errors.js';
import { DEFAULT_PROFILE, type H2Profile } from '../profile.js';
import { checkFits, checkHeader, profileOf, readPayload, type FrameParseOptions } from './common.js';

// AUTHENTICATOR_REQUESTS (rosomakho-00 section 4.1): server to client, stream 0, no flags. The payload
// is a non-empty list of { Length (QUIC varint, in HTTP/2 too), authenticator request bytes }.
// The request bytes stay opaque here: whether they are a CertificateRequest (13) or, as the draft
// literally says, a ClientCertificateRequest (17) is for the EA layer (spec-notes/client-certs-h2.md).

export interface AuthenticatorRequestsFields {
  /** Each a whole handshake-framed authenticator request; never empty. */
  requests: Uint8Array[];
}

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

/**
 * Checks and reads an AUTHENTICATOR_REQUESTS frame. Wrong stream, an empty list, an empty or truncated
 * request are all PROTOCOL_ERROR (rosomakho-00 section 4.1.1 says malformed is PROTOCOL_ERROR).
 * Counting outstanding requests against the client's setting is the session's business.
 */
export function parseAuthenticatorRequests(header: FrameHeader, payload: Uint8Array, options: FrameParseOptions = {}): AuthenticatorRequestsFields {
  checkHeader(header, payload, profileOf(options).frames.AUTHENTICATOR_REQUESTS, 'AUTHENTICATOR_REQUESTS');
  if (payload.length === 0) throw new H2ConnectionError(H2ErrorCode.PROTOCOL_ERROR, 'AUTHENTICATOR_REQUESTS with no request');
  return readPayload(payload, 'AUTHENTICATOR_REQUESTS', (r) => {
    const requests: Uint8Array[] = [];
    while (r.remaining > 0) {
      const length = readVarint(r, 'Length');
      if (length === 0) r.fail('an empty authenticator request');
      if (length > r.remaining) r.fail(`truncated: request of ${length} bytes, ${r.remaining} left`);
      requests.push(r.bytes(length, 'Authenticator Request').slice());
    }
    return { requests };
  });
}

/** The whole frame. Throws RangeError if it does not fit the peer's max frame size. */
export function encodeAuthenticatorRequestsFrame(
  fields: AuthenticatorRequestsFields,
  profile: H2Profile = DEFAULT_PROFILE,
  maxFrameSize = DEFAULT_MAX_FRAME_SIZE,
): Uint8Array {
  const payload = encodeAuthenticatorRequests(fields);
  checkFits(payload, maxFrameSize, 'AUTHENTICATOR_REQUESTS');
  return encodeFrame(profile.frames.AUTHENTICATOR_REQUESTS, 0, 0, payload);
}

// QUIC variable-length integers (RFC 9000 section 16), only as big as a length here needs. We write the
// shortest form and, as RFC 9000 allows, accept longer ones.

function writeVarint(w: Writer, v: number): void {
  if (v < 0x40) w.u8(v);
  else if (v < 0x4000) w.u16(0x4000 | v);
  else if (v < 0x40000000) w.u32((0x80000000 | v) >>> 0);
  else throw new RangeError(`length ${v} is too large for this frame`);
}

function readVarint(r: Reader, what: string): number {
  const first = r.u8(what);
  const prefix = first >> 6;
  let v = first & 0x3f;
  const extra = (1 << prefix) - 1;
  // Past 2^53 the sum loses precision, but any such length exceeds the payload and is refused anyway.
  for (let i = 0; i < extra; i++) v = v * 256 + r.u8(what);
  return v;
}
