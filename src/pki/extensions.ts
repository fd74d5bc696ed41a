import { DerReader, oidText, TAG } from '../codec/der.js';

/**
 * The extnValue content of extension `oid` in a DER certificate, or undefined when it has none. Throws
 * the DER reader's error when the certificate does not decode; callers say what that means for them.
 */
export function certificateExtension(certificate: Uint8Array, oid: string): Uint8Array | undefined {
  const tbs = new DerReader(certificate, 'certificate').enter(TAG.sequence, 'Certificate').enter(TAG.sequence, 'tbsCertificate');
  // In a TBSCertificate only the extensions carry the context tag [3]; the fields before it are skipped.
  while (tbs.remaining > 0) {
    const field = tbs.next('field');
    if (field.tag !== 0xa3) continue;
    const list = new DerReader(field.content, 'extensions').enter(TAG.sequence, 'Extensions');
    while (list.remaining > 0) {
      const ext = list.enter(TAG.sequence, 'Extension');
      if (oidText(ext.expect(TAG.oid, 'extnID').content) !== oid) continue;
      ext.optional(TAG.boolean, 'critical');
      return ext.expect(TAG.octetString, 'extnValue').content;
    }
  }
  return undefined;
}
