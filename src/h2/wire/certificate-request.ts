import { Writer } from '../../codec/writer.js';
import { DEFAULT_MAX_FRAME_SIZE, encodeFrame, type FrameHeader } from './frame-header.js';
import { DEFAULT_PROFILE, type H2Profile } from '../profile.js';
import { checkFits, checkHeader, checkU16, profileOf, readPayload, type FrameParseOptions } from './common.js';

// CERTIFICATE_REQUEST (http2-secondary-certs-06 section 3.3): on stream 0, no flags: Request-ID(16) then
// one whole authenticator request (RFC 9261 section 4), kept opaque here.

export interface CertificateRequestFields {
  requestId: number;
  request: Uint8Array;
}

export function encodeCertificateRequest(fields: CertificateRequestFields): Uint8Array {
  checkU16(fields.requestId, 'CERTIFICATE_REQUEST Request-ID');
  if (fields.request.length === 0) throw new RangeError('CERTIFICATE_REQUEST needs a non-empty request');
  return new Writer(2 + fields.request.length).u16(fields.requestId).bytes(fields.request).finish();
}

/** A wrong stream, a missing Request-ID or an empty request is PROTOCOL_ERROR. */
export function parseCertificateRequest(header: FrameHeader, payload: Uint8Array, options: FrameParseOptions = {}): CertificateRequestFields {
  checkHeader(header, payload, profileOf(options).frames.CERTIFICATE_REQUEST, 'CERTIFICATE_REQUEST');
  return readPayload(payload, 'CERTIFICATE_REQUEST', (r) => {
    const requestId = r.u16('Request-ID');
    if (r.remaining === 0) r.fail('no authenticator request after the Request-ID');
    return { requestId, request: r.rest().slice() };
  });
}

/** The whole frame. Throws RangeError if it does not fit the peer's max frame size. */
export function encodeCertificateRequestFrame(
  fields: CertificateRequestFields,
  profile: H2Profile = DEFAULT_PROFILE,
  maxFrameSize = DEFAULT_MAX_FRAME_SIZE,
): Uint8Array {
  const payload = encodeCertificateRequest(fields);
  checkFits(payload, maxFrameSize, 'CERTIFICATE_REQUEST');
  return encodeFrame(profile.frames.CERTIFICATE_REQUEST, 0, 0, payload);
}
