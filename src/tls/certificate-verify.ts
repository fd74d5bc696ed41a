import { Reader } from '../codec/reader.js';
import { HandshakeType } from './handshake.js';

// CertificateVerify (RFC 8446 section 4.4.3): SignatureScheme algorithm; opaque signature<0..2^16-1>.

export interface CertificateVerifyMessage {
  scheme: number;
  signature: Uint8Array;
}

export function encodeCertificateVerify(cv: CertificateVerifyMessage): Uint8Array {
  const out = new Uint8Array(certificateVerifySize(cv.signature));
  writeCertificateVerify(out, 0, cv);
  return out;
}

/** The size of a CertificateVerify carrying `signature`; RangeError if the signature is too long. */
export function certificateVerifySize(signature: Uint8Array): number {
  if (signature.length > 0xffff) throw new RangeError(`signature is ${signature.length} bytes, more than 65535`);
  return 8 + signature.length;
}

/** Writes the message into `out` at `at`: msg_type, uint24 length, algorithm, signature<0..2^16-1>. Returns the end. */
export function writeCertificateVerify(out: Uint8Array, at: number, cv: CertificateVerifyMessage): number {
  const size = certificateVerifySize(cv.signature);
  const n = cv.signature.length;
  out[at] = HandshakeType.certificate_verify;
  out[at + 1] = 0;
  out[at + 2] = (size - 4) >>> 8;
  out[at + 3] = (size - 4) & 0xff;
  out[at + 4] = (cv.scheme >>> 8) & 0xff;
  out[at + 5] = cv.scheme & 0xff;
  out[at + 6] = n >>> 8;
  out[at + 7] = n & 0xff;
  out.set(cv.signature, at + 8);
  return at + size;
}

export function parseCertificateVerifyBody(body: Uint8Array): CertificateVerifyMessage {
  const r = new Reader(body, 'CertificateVerify');
  const scheme = r.u16('algorithm');
  const signature = r.vector(2, 'signature');
  r.end();
  return { scheme, signature };
}
