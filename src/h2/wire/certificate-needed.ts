import { Writer } from '../../codec/writer.js';
import { encodeFrame, type FrameHeader } from './frame-header.js';
import { H2ConnectionError, H2ErrorCode } from '../../errors.js';
import { DEFAULT_PROFILE, type H2Profile } from '../profile.js';
import { checkHeader, checkStreamId, checkU16, profileOf, readPayload, type FrameParseOptions } from './common.js';

// CERTIFICATE_NEEDED (http2-secondary-certs-06 section 3.1): on stream 0, no flags, exactly 6 bytes:
// R(1) Stream ID(31) naming the request stream (0 when a client asks for a server certificate), then
// Request-ID(16) naming a CERTIFICATE_REQUEST the sender made.

export interface CertificateNeededFields {
  streamId: number;
  requestId: number;
}

const LENGTH = 6;

export function encodeCertificateNeeded(fields: CertificateNeededFields): Uint8Array {
  checkStreamId(fields.streamId, 'CERTIFICATE_NEEDED Stream ID');
  checkU16(fields.requestId, 'CERTIFICATE_NEEDED Request-ID');
  return new Writer(LENGTH).u32(fields.streamId).u16(fields.requestId).finish();
}

/** Any length but 6 is PROTOCOL_ERROR (-06 says stream error; about a stream-0 frame that means the connection). */
export function parseCertificateNeeded(header: FrameHeader, payload: Uint8Array, options: FrameParseOptions = {}): CertificateNeededFields {
  checkHeader(header, payload, profileOf(options).frames.CERTIFICATE_NEEDED, 'CERTIFICATE_NEEDED');
  if (payload.length !== LENGTH) throw new H2ConnectionError(H2ErrorCode.PROTOCOL_ERROR, `CERTIFICATE_NEEDED of ${payload.length} bytes, not 6`);
  return readPayload(payload, 'CERTIFICATE_NEEDED', (r) => {
    const streamId = r.u32('Stream ID') & 0x7fffffff; // the reserved bit is ignored on receipt, as in the frame header
    return { streamId, requestId: r.u16('Request-ID') };
  });
}

export function encodeCertificateNeededFrame(fields: CertificateNeededFields, profile: H2Profile = DEFAULT_PROFILE): Uint8Array {
  return encodeFrame(profile.frames.CERTIFICATE_NEEDED, 0, 0, encodeCertificateNeeded(fields));
}
