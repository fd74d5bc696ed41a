import { DEFAULT_MAX_FRAME_SIZE, encodeFrame, type FrameHeader } from './frame-header.js';
import { H2ErrorCode } from '../../errors.js';
import { DEFAULT_PROFILE, type H2Profile } from '../profile.js';
import { checkFits, checkHeader, DEFAULT_MAX_AUTHENTICATOR_SIZE, profileOf, readWholeAuthenticator, type FrameParseOptions } from './common.js';

// The client's answer to one authenticator request (rosomakho-00 section 4.2). That draft reuses the
// server draft's frame "without modification", but the server draft says a server receiving
// SERVER_CERTIFICATE from a client MUST close the connection (spec-notes/client-certs-h2.md). OUR CHOICE: a distinct frame
// type, CLIENT_CERTIFICATE, with the identical layout: stream 0, no flags, payload = one whole
// authenticator (possibly an RFC 9261 empty authenticator, which is still non-empty bytes).

export interface ClientCertificateFields {
  authenticator: Uint8Array;
}

export interface ClientCertificateParseOptions extends FrameParseOptions {
  /** Larger payloads are ENHANCE_YOUR_CALM. Default 64 KiB. */
  maxAuthenticatorSize?: number;
}

export function encodeClientCertificate(fields: ClientCertificateFields): Uint8Array {
  if (fields.authenticator.length === 0) throw new RangeError('CLIENT_CERTIFICATE needs a non-empty authenticator');
  return fields.authenticator.slice();
}

/**
 * Checks and reads a CLIENT_CERTIFICATE frame: stream 0 (else PROTOCOL_ERROR), non-empty (else
 * PROTOCOL_ERROR: rosomakho-00 defines no error code of its own), at most the size limit (else
 * ENHANCE_YOUR_CALM). Matching it to an outstanding request is the session's business.
 */
export function parseClientCertificate(header: FrameHeader, payload: Uint8Array, options: ClientCertificateParseOptions = {}): ClientCertificateFields {
  const profile = profileOf(options);
  checkHeader(header, payload, profile.frames.CLIENT_CERTIFICATE, 'CLIENT_CERTIFICATE');
  const max = options.maxAuthenticatorSize ?? DEFAULT_MAX_AUTHENTICATOR_SIZE;
  return { authenticator: readWholeAuthenticator(payload, 'CLIENT_CERTIFICATE', max, H2ErrorCode.PROTOCOL_ERROR) };
}

/** The whole frame. Throws RangeError if the authenticator does not fit the peer's max frame size. */
export function encodeClientCertificateFrame(
  fields: ClientCertificateFields,
  profile: H2Profile = DEFAULT_PROFILE,
  maxFrameSize = DEFAULT_MAX_FRAME_SIZE,
): Uint8Array {
  const payload = encodeClientCertificate(fields);
  checkFits(payload, maxFrameSize, 'CLIENT_CERTIFICATE');
  return encodeFrame(profile.frames.CLIENT_CERTIFICATE, 0, 0, payload);
}
