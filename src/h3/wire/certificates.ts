import { encodeAuthenticatorRequests, readAuthenticatorRequests, type AuthenticatorRequestsFields } from '../../http/authenticator-requests.js';
import { H3ConnectionError, H3ErrorCode } from '../../errors.js';
import { DEFAULT_H3_PROFILE, type H3Profile } from '../profile.js';
import { encodeFrame, profileOf, readPayload, type FrameOptions } from './frame.js';

// The extension frames on the control stream:
// - SERVER_CERTIFICATE (secondary-server-certs-02 section 5.2): payload = one whole exported
//   authenticator (no continuation exists, so one frame carries one authenticator; spec-notes, C4).
// - AUTHENTICATOR_REQUESTS (rosomakho-00 section 4.1.2): a non-empty list of { Length (varint), request }.
// - CLIENT_CERTIFICATE: our distinct type for the client's answer (spec-notes/client-certs-h2.md), same layout as
//   SERVER_CERTIFICATE.
// Which side may send which, and whether the feature was negotiated, is the stream rules' and the
// session's business; these codecs only check bytes.

/** The largest authenticator accepted by default (spec-notes/secondary-server-certs-h2.md, C4). */
export const DEFAULT_MAX_AUTHENTICATOR_SIZE = 64 * 1024;

export interface AuthenticatorFrameOptions extends FrameOptions {
  /** Larger authenticators are H3_EXCESSIVE_LOAD. Default 64 KiB. */
  maxAuthenticatorSize?: number;
}

export interface AuthenticatorFields {
  authenticator: Uint8Array;
}

export { encodeAuthenticatorRequests, type AuthenticatorRequestsFields } from '../../http/authenticator-requests.js';

export function encodeServerCertificateFrame(fields: AuthenticatorFields, profile: H3Profile = DEFAULT_H3_PROFILE): Uint8Array {
  if (fields.authenticator.length === 0) throw new RangeError('SERVER_CERTIFICATE needs a non-empty authenticator');
  return encodeFrame(profile.frames.SERVER_CERTIFICATE, fields.authenticator);
}

/** Empty is SERVER_CERTIFICATE_INVALID (no authenticator is zero bytes), oversize H3_EXCESSIVE_LOAD. Returns a copy. */
export function parseServerCertificate(payload: Uint8Array, options: AuthenticatorFrameOptions = {}): AuthenticatorFields {
  const profile = profileOf(options);
  return { authenticator: wholeAuthenticator(payload, 'SERVER_CERTIFICATE', options, profile.errors.SERVER_CERTIFICATE_INVALID) };
}

export function encodeClientCertificateFrame(fields: AuthenticatorFields, profile: H3Profile = DEFAULT_H3_PROFILE): Uint8Array {
  if (fields.authenticator.length === 0) throw new RangeError('CLIENT_CERTIFICATE needs a non-empty authenticator');
  return encodeFrame(profile.frames.CLIENT_CERTIFICATE, fields.authenticator);
}

/**
 * Empty is H3_MESSAGE_ERROR (rosomakho-00 names that code for its malformed frames; an RFC 9261 empty
 * authenticator is still non-empty bytes), oversize H3_EXCESSIVE_LOAD. Returns a copy.
 */
export function parseClientCertificate(payload: Uint8Array, options: AuthenticatorFrameOptions = {}): AuthenticatorFields {
  return { authenticator: wholeAuthenticator(payload, 'CLIENT_CERTIFICATE', options, H3ErrorCode.H3_MESSAGE_ERROR) };
}

export function encodeAuthenticatorRequestsFrame(fields: AuthenticatorRequestsFields, profile: H3Profile = DEFAULT_H3_PROFILE): Uint8Array {
  return encodeFrame(profile.frames.AUTHENTICATOR_REQUESTS, encodeAuthenticatorRequests(fields));
}

/**
 * An empty list, an empty or truncated request: H3_MESSAGE_ERROR (rosomakho-00 section 4.1.2 says a
 * malformed AUTHENTICATOR_REQUESTS is H3_MESSAGE_ERROR). Requests are copies. Counting outstanding
 * requests against the client's setting is the session's business.
 */
export function parseAuthenticatorRequests(payload: Uint8Array): AuthenticatorRequestsFields {
  const malformed = H3ErrorCode.H3_MESSAGE_ERROR;
  if (payload.length === 0) throw new H3ConnectionError(malformed, 'AUTHENTICATOR_REQUESTS with no request');
  return readPayload(payload, 'AUTHENTICATOR_REQUESTS', readAuthenticatorRequests, malformed);
}

function wholeAuthenticator(payload: Uint8Array, name: string, options: AuthenticatorFrameOptions, emptyCode: number): Uint8Array {
  const max = options.maxAuthenticatorSize ?? DEFAULT_MAX_AUTHENTICATOR_SIZE;
  if (payload.length > max) {
    throw new H3ConnectionError(H3ErrorCode.H3_EXCESSIVE_LOAD, `${name}: authenticator of ${payload.length} bytes exceeds the limit of ${max}`);
  }
  if (payload.length === 0) throw new H3ConnectionError(emptyCode, `${name}: empty payload, no authenticator`);
  return payload.slice();
}
