import { DEFAULT_MAX_FRAME_SIZE, encodeFrame, type FrameHeader } from './frame-header.js';
import { DEFAULT_PROFILE, type H2Profile } from '../profile.js';
import { checkFits, checkHeader, DEFAULT_MAX_AUTHENTICATOR_SIZE, profileOf, readWholeAuthenticator, type FrameParseOptions } from './common.js';

// SERVER_CERTIFICATE (secondary-server-certs-02 section 5.1): stream 0, no flags, payload = one whole
// exported authenticator. The draft has no continuation, so one frame carries one authenticator
// (spec-notes/secondary-server-certs-h2.md, C4).

export interface ServerCertificateFields {
  authenticator: Uint8Array;
}

export interface ServerCertificateParseOptions extends FrameParseOptions {
  /** Larger payloads are ENHANCE_YOUR_CALM. Default 64 KiB. */
  maxAuthenticatorSize?: number;
}

export function encodeServerCertificate(fields: ServerCertificateFields): Uint8Array {
  if (fields.authenticator.length === 0) throw new RangeError('SERVER_CERTIFICATE needs a non-empty authenticator');
  return fields.authenticator.slice();
}

/**
 * Checks and reads a SERVER_CERTIFICATE frame. Another stream than 0 is PROTOCOL_ERROR, an empty payload
 * SERVER_CERTIFICATE_INVALID (it cannot be a valid authenticator), oversize ENHANCE_YOUR_CALM.
 * Whether the receiver may accept it at all (direction, negotiation) is the session's business.
 */
export function parseServerCertificate(header: FrameHeader, payload: Uint8Array, options: ServerCertificateParseOptions = {}): ServerCertificateFields {
  const profile = profileOf(options);
  checkHeader(header, payload, profile.frames.SERVER_CERTIFICATE, 'SERVER_CERTIFICATE');
  const max = options.maxAuthenticatorSize ?? DEFAULT_MAX_AUTHENTICATOR_SIZE;
  return { authenticator: readWholeAuthenticator(payload, 'SERVER_CERTIFICATE', max, profile.errors.SERVER_CERTIFICATE_INVALID) };
}

/** The whole frame. Throws RangeError if the authenticator does not fit the peer's max frame size. */
export function encodeServerCertificateFrame(
  fields: ServerCertificateFields,
  profile: H2Profile = DEFAULT_PROFILE,
  maxFrameSize = DEFAULT_MAX_FRAME_SIZE,
): Uint8Array {
  const payload = encodeServerCertificate(fields);
  checkFits(payload, maxFrameSize, 'SERVER_CERTIFICATE');
  return encodeFrame(profile.frames.SERVER_CERTIFICATE, 0, 0, payload);
}
