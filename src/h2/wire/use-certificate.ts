import { Writer } from '../../codec/writer.js';
import { encodeFrame, type FrameHeader } from './frame-header.js';
import { H2ConnectionError, H2ErrorCode } from '../../errors.js';
import { DEFAULT_PROFILE, type H2Profile } from '../profile.js';
import { checkHeader, checkStreamId, checkU16, profileOf, readPayload, type FrameParseOptions } from './common.js';

// USE_CERTIFICATE (http2-secondary-certs-06 section 3.2): on stream 0: R(1) Stream ID(31) naming the
// request stream, then an optional Cert-ID(16). Without a Cert-ID it means "use only the TLS-layer
// certificate" (the answer when the sender has no certificate). Flag UNSOLICITED 0x1: not an answer to
// a CERTIFICATE_NEEDED.

export const USE_CERTIFICATE_UNSOLICITED = 0x1;

export interface UseCertificateFields {
  streamId: number;
  /** Absent: use only the TLS-layer certificate. */
  certId?: number;
  unsolicited: boolean;
}

export function encodeUseCertificate(fields: UseCertificateFields): Uint8Array {
  checkStreamId(fields.streamId, 'USE_CERTIFICATE Stream ID');
  const w = new Writer(6).u32(fields.streamId);
  if (fields.certId !== undefined) {
    checkU16(fields.certId, 'USE_CERTIFICATE Cert-ID');
    w.u16(fields.certId);
  }
  return w.finish();
}

export function useCertificateFlags(fields: UseCertificateFields): number {
  return fields.unsolicited ? USE_CERTIFICATE_UNSOLICITED : 0;
}

/** Any length but 4 or 6 is PROTOCOL_ERROR (-06: a stream error; about a stream-0 frame that means the connection). */
export function parseUseCertificate(header: FrameHeader, payload: Uint8Array, options: FrameParseOptions = {}): UseCertificateFields {
  checkHeader(header, payload, profileOf(options).frames.USE_CERTIFICATE, 'USE_CERTIFICATE');
  if (payload.length !== 4 && payload.length !== 6) {
    throw new H2ConnectionError(H2ErrorCode.PROTOCOL_ERROR, `USE_CERTIFICATE of ${payload.length} bytes, not 4 or 6`);
  }
  const unsolicited = (header.flags & USE_CERTIFICATE_UNSOLICITED) !== 0;
  return readPayload(payload, 'USE_CERTIFICATE', (r) => {
    const streamId = r.u32('Stream ID') & 0x7fffffff; // reserved bit ignored on receipt
    if (r.remaining === 0) return { streamId, unsolicited };
    return { streamId, certId: r.u16('Cert-ID'), unsolicited };
  });
}

export function encodeUseCertificateFrame(fields: UseCertificateFields, profile: H2Profile = DEFAULT_PROFILE): Uint8Array {
  return encodeFrame(profile.frames.USE_CERTIFICATE, useCertificateFlags(fields), 0, encodeUseCertificate(fields));
}
