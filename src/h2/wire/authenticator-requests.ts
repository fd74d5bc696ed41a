import { encodeAuthenticatorRequests, readAuthenticatorRequests, type AuthenticatorRequestsFields } from '../../http/authenticator-requests.js';
import { DEFAULT_MAX_FRAME_SIZE, encodeFrame, type FrameHeader } from './frame-header.js';
import { H2ConnectionError, H2ErrorCode } from '../../errors.js';
import { DEFAULT_PROFILE, type H2Profile } from '../profile.js';
import { checkFits, checkHeader, profileOf, readPayload, type FrameParseOptions } from './common.js';

// AUTHENTICATOR_REQUESTS (rosomakho-00 section 4.1): server to client, stream 0, no flags. The payload
// (src/http/authenticator-requests.ts) is the same bytes as in HTTP/3, QUIC varint lengths included.

export { encodeAuthenticatorRequests, type AuthenticatorRequestsFields } from '../../http/authenticator-requests.js';

/**
 * Checks and reads an AUTHENTICATOR_REQUESTS frame. Wrong stream, an empty list, an empty or truncated
 * request are all PROTOCOL_ERROR (rosomakho-00 section 4.1.1 says malformed is PROTOCOL_ERROR).
 * Counting outstanding requests against the client's setting is the session's business.
 */
export function parseAuthenticatorRequests(header: FrameHeader, payload: Uint8Array, options: FrameParseOptions = {}): AuthenticatorRequestsFields {
  checkHeader(header, payload, profileOf(options).frames.AUTHENTICATOR_REQUESTS, 'AUTHENTICATOR_REQUESTS');
  if (payload.length === 0) throw new H2ConnectionError(H2ErrorCode.PROTOCOL_ERROR, 'AUTHENTICATOR_REQUESTS with no request');
  return readPayload(payload, 'AUTHENTICATOR_REQUESTS', readAuthenticatorRequests);
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
