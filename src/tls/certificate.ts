import { Reader } from '../codec/reader.js';
import { readExtensions, writeExtensions, type Extension } from './extension.js';
import { Writer } from '../codec/writer.js';
import { HandshakeType } from './handshake.js';

// Certificate (RFC 8446 section 4.4.2), as RFC 9261 section 5.2.1 reuses it. Only X.509 entries exist
// here: RFC 9261 does not support raw public keys.

export interface CertificateEntry {
  /** DER X.509 certificate. */
  certData: Uint8Array;
  extensions: Extension[];
}

export interface CertificateMessage {
  context: Uint8Array;
  entries: CertificateEntry[];
}

/** Our limit on entries in one chain: real chains have 2-4; this stops a peer making us parse thousands. */
export const MAX_CERTIFICATE_ENTRIES = 16;

export function encodeCertificate(c: CertificateMessage): Uint8Array {
  return encodeCertificateWithList(c.context, encodeCertificateList(c.entries));
}

/**
 * The contents of certificate_list (without its length): each entry's cert_data and extensions. A chain's
 * list does not depend on the context, so a sender may encode it once and reuse it.
 */
export function encodeCertificateList(entries: readonly CertificateEntry[]): Uint8Array {
  let hint = 0;
  for (const e of entries) hint += 8 + e.certData.length;
  const w = new Writer(hint);
  for (const e of entries) {
    if (e.certData.length === 0) throw new RangeError('cert_data may not be empty');
    w.opaque(3, e.certData, 'cert_data');
    writeExtensions(w, e.extensions, 'CertificateEntry.extensions');
  }
  if (w.length > MAX_U24) throw new RangeError(`certificate_list is ${w.length} bytes, more than ${MAX_U24}`);
  return w.finish();
}

/** A Certificate message: certificate_request_context and an already encoded certificate_list (see above). */
export function encodeCertificateWithList(context: Uint8Array, list: Uint8Array): Uint8Array {
  const out = new Uint8Array(certificateSize(context, list));
  writeCertificate(out, 0, context, list);
  return out;
}

/** The size of the Certificate message around `context` and an encoded `list`; RangeError if it cannot be framed. */
export function certificateSize(context: Uint8Array, list: Uint8Array): number {
  if (context.length > 255) throw new RangeError(`certificate_request_context is ${context.length} bytes, more than 255`);
  const bodyLength = 1 + context.length + 3 + list.length;
  if (bodyLength > MAX_U24) throw new RangeError(`Certificate is ${bodyLength} bytes, more than ${MAX_U24}`);
  return 4 + bodyLength;
}

/**
 * Writes the Certificate message into `out` at `at` (msg_type, uint24 length, context<0..255>,
 * certificate_list<0..2^24-1>), for a caller laying out several messages in one buffer. Returns the end.
 */
export function writeCertificate(out: Uint8Array, at: number, context: Uint8Array, list: Uint8Array): number {
  const size = certificateSize(context, list);
  out[at] = HandshakeType.certificate;
  putU24(out, at + 1, size - 4);
  out[at + 4] = context.length;
  out.set(context, at + 5);
  putU24(out, at + 5 + context.length, list.length);
  out.set(list, at + 8 + context.length);
  return at + size;
}

const MAX_U24 = 0xffffff;

function putU24(out: Uint8Array, at: number, v: number): void {
  out[at] = v >>> 16;
  out[at + 1] = (v >>> 8) & 0xff;
  out[at + 2] = v & 0xff;
}

export function parseCertificateBody(body: Uint8Array): CertificateMessage {
  const r = new Reader(body, 'Certificate');
  const context = r.vector(1, 'certificate_request_context');
  const list = r.sub(3, 'certificate_list');
  const entries: CertificateEntry[] = [];
  while (list.remaining > 0) {
    if (entries.length === MAX_CERTIFICATE_ENTRIES) list.fail(`more than ${MAX_CERTIFICATE_ENTRIES} certificates`);
    const certData = list.vector(3, 'cert_data', 1);
    const extensions = readExtensions(list, 'CertificateEntry.extensions');
    entries.push({ certData, extensions });
  }
  r.end();
  return { context, entries };
}
