import { Reader } from '../codec/reader.js';
import { encodeHandshake, HandshakeType } from './handshake.js';

// CertificateVerify (RFC 8446 section 4.4.3): SignatureScheme algorithm; opaque signature<0..2^16-1>.

export interface CertificateVerifyMessage {
  scheme: number;
  signature: Uint8Array;
}

export function encodeCertificateVerify(cv: CertificateVerifyMessage): Uint8Array {
  return encodeHandshake(HandshakeType.certificate_verify, (w) => w.u16(cv.scheme).opaque(2, cv.signature, 'signature'), 4 + cv.signature.length);
}

export function parseCertificateVerifyBody(body: Uint8Array): CertificateVerifyMessage {
  const r = new Reader(body, 'CertificateVerify');
  const scheme = r.u16('algorithm');
  const signature = r.vector(2, 'signature');
  r.end();
  return { scheme, signature };
}
