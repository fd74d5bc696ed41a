import { Reader } from '../codec/reader.js';
import { readExtensions, writeExtensions, type Extension } from './extension.js';
import { encodeHandshake, HandshakeType } from './handshake.js';

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
  let hint = 16 + c.context.length;
  for (const e of c.entries) hint += 8 + e.certData.length;
  return encodeHandshake(
    HandshakeType.certificate,
    (w) => {
      w.opaque(1, c.context, 'certificate_request_context');
      w.vector(
        3,
        (l) => {
          for (const e of c.entries) {
            if (e.certData.length === 0) throw new RangeError('cert_data may not be empty');
            l.opaque(3, e.certData, 'cert_data');
            writeExtensions(l, e.extensions, 'CertificateEntry.extensions');
          }
        },
        'certificate_list',
      );
    },
    hint,
  );
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
