import { Reader } from '../codec/reader.js';
import { HandshakeType } from './handshake.js';

// CertificateVerify (RFC 8446 section 4.4.3): SignatureScheme algorithm; opaque signature<0..2^16-1>.

export interface CertificateVerifyMessage {
  scheme: number;
  signature: Uint8Array;
}

export function encodeCertificateVerify(cv: CertificateVerifyMessage): Uint8Array {
  const n = cv.signature.length;
  if (n > 0xffff) throw new RangeError(`signature is ${n} bytes, more than 65535`);
  // One exact-size buffer: msg_type, uint24 length (4 + n), algorithm, signature<0..2^16-1>.
  const out = new Uint8Array(8 + n);
  out[0] = HandshakeType.certificate_verify;
  out[2] = (4 + n) >>> 8;
  out[3] = (4 + n) & 0xff;
  out[4] = (cv.scheme >>> 8) & 0xff;
  out[5] = cv.scheme & 0xff;
  out[6] = n >>> 8;
  out[7] = n & 0xff;
  out.set(cv.signature, 8);
  return out;
}

export function parseCertificateVerifyBody(body: Uint8Array): CertificateVerifyMessage {
  const r = new Reader(body, 'CertificateVerify');
  const scheme = r.u16('algorithm');
  const signature = r.vector(2, 'signature');
  r.end();
  return { scheme, signature };
}
