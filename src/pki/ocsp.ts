// A stapled OCSP response (RFC 6960), judged for one certificate: the response that a CertificateEntry's
// status_request extension carries (RFC 8446 section 4.4.2.1, RFC 9261 section 5.2.1). It must be a
// successful basic response, signed by the certificate's issuer or by a responder the issuer delegated to
// (RFC 6960 section 4.2.2.2), name the certificate (CertID: hashes of the issuer's name and key, and the
// serial number), say "good", and be current. Each failure is a CertificateRejected with its own code.
//
// The ASN.1 is decoded by @peculiar/asn1-ocsp (the schema family of @peculiar/x509); signatures are
// checked with node:crypto.
import { createHash, verify as verifySignature, X509Certificate, type KeyObject } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import type { Certificate } from '@peculiar/asn1-x509';
import { BasicOCSPResponse, OCSPResponse, OCSPResponseStatus, id_kp_OCSPSigning, id_pkix_ocsp_basic, type SingleResponse } from '@peculiar/asn1-ocsp';
import { CertificateRejected, type CertificateProblem } from '../errors.js';
import { equalBytes } from '../codec/writer.js';
import { DerReader, oidText, TAG } from '../codec/der.js';

export interface OcspCheckOptions {
  /** The clock (default: the system time). */
  now?: Date;
  /** How far thisUpdate may be ahead of, and nextUpdate behind, our clock (default 5 minutes). */
  clockSkewMs?: number;
  /** A response without nextUpdate is current for this long after its thisUpdate (default 7 days). */
  maxAgeMs?: number;
}

/** A response that passed every check. */
export interface OcspGood {
  status: 'good';
  /** Who signed it: the issuer itself, or a delegated responder certificate carried in the response. */
  responder: 'issuer' | 'delegated';
  producedAt: Date;
  thisUpdate: Date;
  nextUpdate: Date | undefined;
}

export const DEFAULT_OCSP_CLOCK_SKEW_MS = 5 * 60_000;
export const DEFAULT_OCSP_MAX_AGE_MS = 7 * 24 * 3600_000;

const HASHES: Readonly<Record<string, string>> = {
  '1.3.14.3.2.26': 'sha1',
  '2.16.840.1.101.3.4.2.1': 'sha256',
  '2.16.840.1.101.3.4.2.2': 'sha384',
  '2.16.840.1.101.3.4.2.3': 'sha512',
};

// Signature algorithms a response may be signed with, and the digest node:crypto verifies with (null: the
// algorithm has its own, Ed25519). SHA-1 signatures are refused, as for certificates.
const SIGNATURES: Readonly<Record<string, string | null>> = {
  '1.2.840.10045.4.3.2': 'sha256',
  '1.2.840.10045.4.3.3': 'sha384',
  '1.2.840.10045.4.3.4': 'sha512',
  '1.2.840.113549.1.1.11': 'sha256',
  '1.2.840.113549.1.1.12': 'sha384',
  '1.2.840.113549.1.1.13': 'sha512',
  '1.3.101.112': null,
};

const EXT_KEY_USAGE = '2.5.29.37';

function fail(code: CertificateProblem, message: string, cause?: unknown): never {
  throw new CertificateRejected(code, message, cause === undefined ? undefined : { cause });
}

/**
 * Checks `responseDer` (a DER OCSPResponse) for the certificate `leafDer`, issued by `issuerDer`. Returns
 * what the response said when it is good and current; throws CertificateRejected otherwise, with code
 * ERR_CERT_OCSP_MALFORMED, ERR_CERT_OCSP_UNSUCCESSFUL, ERR_CERT_OCSP_CERT_ID_MISMATCH,
 * ERR_CERT_OCSP_WRONG_RESPONDER, ERR_CERT_OCSP_BAD_SIGNATURE, ERR_CERT_REVOKED, ERR_CERT_OCSP_UNKNOWN or
 * ERR_CERT_OCSP_STALE. The leaf's own chain must have been validated first: this trusts `issuerDer`.
 */
export function checkOcspResponse(responseDer: Uint8Array, leafDer: Uint8Array, issuerDer: Uint8Array, options: OcspCheckOptions = {}): OcspGood {
  try {
    return check(responseDer, leafDer, issuerDer, options);
  } catch (e) {
    // Whatever else a hostile response makes a decoder throw (a responder certificate node cannot parse, say) is malformed input too.
    if (e instanceof CertificateRejected) throw e;
    fail('ERR_CERT_OCSP_MALFORMED', `the OCSP response cannot be read: ${e instanceof Error ? e.message : String(e)}`, e);
  }
}

function check(responseDer: Uint8Array, leafDer: Uint8Array, issuerDer: Uint8Array, options: OcspCheckOptions): OcspGood {
  const basic = parseBasicResponse(responseDer);
  const data = basic.tbsResponseData;
  const leaf = new X509Certificate(leafDer);
  const issuer = new X509Certificate(issuerDer);

  // RFC 6960 section 4.2.2.2: the response is about this certificate only if its CertID matches.
  const single = data.responses.find((r) => certIdMatches(r, leafDer, issuerDer));
  if (!single) fail('ERR_CERT_OCSP_CERT_ID_MISMATCH', `the OCSP response names no certificate with serial ${leaf.serialNumber.toLowerCase()} from ${issuer.subject.split('\n').join(', ')}`);

  const { key, responder } = signerOf(basic, issuer, issuerDer, options.now ?? new Date());
  const signed = basic.tbsResponseDataRaw;
  if (!signed) fail('ERR_CERT_OCSP_MALFORMED', 'the OCSP response data could not be read back');
  const oid = basic.signatureAlgorithm.algorithm;
  if (!(oid in SIGNATURES)) fail('ERR_CERT_OCSP_BAD_SIGNATURE', `the OCSP response is signed with ${oid}, which is not accepted`);
  let ok = false;
  try {
    ok = verifySignature(SIGNATURES[oid] ?? null, new Uint8Array(signed), key, new Uint8Array(basic.signature));
  } catch {
    ok = false; // a key that does not fit the algorithm
  }
  if (!ok) fail('ERR_CERT_OCSP_BAD_SIGNATURE', `the OCSP response's signature does not verify with the ${responder === 'issuer' ? "issuer's key" : "delegated responder's key"}`);

  const status = single.certStatus;
  if (status.revoked) fail('ERR_CERT_REVOKED', `the OCSP response says the certificate was revoked at ${status.revoked.revocationTime.toISOString()}`);
  if (status.good === undefined) fail('ERR_CERT_OCSP_UNKNOWN', 'the OCSP responder does not know the certificate (status unknown)');

  // RFC 6960 section 4.2.2.1: a response whose thisUpdate is ahead of us, or whose nextUpdate has passed, is not reliable.
  const now = (options.now ?? new Date()).getTime();
  const skew = options.clockSkewMs ?? DEFAULT_OCSP_CLOCK_SKEW_MS;
  const { thisUpdate, nextUpdate } = single;
  if (thisUpdate.getTime() > now + skew) fail('ERR_CERT_OCSP_STALE', `the OCSP response's thisUpdate ${thisUpdate.toISOString()} is in the future`);
  const expires = nextUpdate ? nextUpdate.getTime() + skew : thisUpdate.getTime() + (options.maxAgeMs ?? DEFAULT_OCSP_MAX_AGE_MS);
  if (now > expires) {
    fail('ERR_CERT_OCSP_STALE', nextUpdate ? `the OCSP response's nextUpdate ${nextUpdate.toISOString()} has passed` : `the OCSP response (no nextUpdate) is older than allowed: thisUpdate ${thisUpdate.toISOString()}`);
  }
  return { status: 'good', responder, producedAt: data.producedAt, thisUpdate, nextUpdate };
}

/** The BasicOCSPResponse inside a successful OCSPResponse, or ERR_CERT_OCSP_MALFORMED / _UNSUCCESSFUL. */
function parseBasicResponse(der: Uint8Array): BasicOCSPResponse {
  let response: OCSPResponse;
  try {
    response = AsnConvert.parse(der, OCSPResponse);
  } catch (e) {
    fail('ERR_CERT_OCSP_MALFORMED', `the OCSP response does not decode: ${e instanceof Error ? e.message : String(e)}`, e);
  }
  // The decoder accepts BER and ignores trailing bytes; a staple must be exactly one DER value.
  if (!equalBytes(new Uint8Array(AsnConvert.serialize(response)), der)) fail('ERR_CERT_OCSP_MALFORMED', 'the OCSP response is not one DER value');
  if (response.responseStatus !== OCSPResponseStatus.successful) {
    fail('ERR_CERT_OCSP_UNSUCCESSFUL', `the OCSP response status is ${OCSPResponseStatus[response.responseStatus] ?? response.responseStatus}, not successful`);
  }
  const bytes = response.responseBytes;
  if (!bytes) fail('ERR_CERT_OCSP_MALFORMED', 'a successful OCSP response without responseBytes');
  if (bytes.responseType !== id_pkix_ocsp_basic) fail('ERR_CERT_OCSP_MALFORMED', `responseType ${bytes.responseType} is not id-pkix-ocsp-basic`);
  try {
    return AsnConvert.parse(bytes.response.buffer, BasicOCSPResponse);
  } catch (e) {
    fail('ERR_CERT_OCSP_MALFORMED', `the BasicOCSPResponse does not decode: ${e instanceof Error ? e.message : String(e)}`, e);
  }
}

/** CertID: the hash of the issuer's name (DER) and key (the BIT STRING's value), and the serial number. */
function certIdMatches(single: SingleResponse, leafDer: Uint8Array, issuerDer: Uint8Array): boolean {
  const id = single.certID;
  const hash = HASHES[id.hashAlgorithm.algorithm];
  if (!hash) return false;
  const leaf = certificateFields(leafDer);
  const issuer = certificateFields(issuerDer);
  return (
    equalBytes(new Uint8Array(id.serialNumber), leaf.serial) &&
    equalBytes(new Uint8Array(id.issuerNameHash.buffer), digest(hash, leaf.issuerName)) &&
    equalBytes(new Uint8Array(id.issuerKeyHash.buffer), digest(hash, issuer.publicKeyBits))
  );
}

/**
 * Who may have signed the response (RFC 6960 section 4.2.2.2): the issuer, or a certificate in the
 * response that the issuer signed, that carries id-kp-OCSPSigning, and that is within its validity.
 * The ResponderID picks which; anyone else is the wrong responder.
 */
function signerOf(basic: BasicOCSPResponse, issuer: X509Certificate, issuerDer: Uint8Array, now: Date): { key: KeyObject; responder: 'issuer' | 'delegated' } {
  const id = basic.tbsResponseData.responderID;
  const names = (der: Uint8Array): boolean => {
    const fields = certificateFields(der);
    if (id.byName) return equalBytes(new Uint8Array(AsnConvert.serialize(id.byName)), fields.subjectName);
    if (id.byKey) return equalBytes(new Uint8Array(id.byKey.buffer), digest('sha1', fields.publicKeyBits));
    return false;
  };
  if (names(issuerDer)) return { key: issuer.publicKey, responder: 'issuer' };
  for (const cert of basic.certs ?? []) {
    const der = new Uint8Array(AsnConvert.serialize(cert));
    if (!names(der)) continue;
    const responder = new X509Certificate(der);
    if (!equalBytes(certificateFields(der).issuerName, certificateFields(issuerDer).subjectName) || !responder.verify(issuer.publicKey)) {
      fail('ERR_CERT_OCSP_WRONG_RESPONDER', "the OCSP responder's certificate was not issued by the certificate's issuer");
    }
    if (!extendedKeyUsage(cert).includes(id_kp_OCSPSigning)) fail('ERR_CERT_OCSP_WRONG_RESPONDER', "the OCSP responder's certificate lacks id-kp-OCSPSigning");
    if (now < new Date(responder.validFrom) || now > new Date(responder.validTo)) fail('ERR_CERT_OCSP_WRONG_RESPONDER', "the OCSP responder's certificate is outside its validity period");
    return { key: responder.publicKey, responder: 'delegated' };
  }
  fail('ERR_CERT_OCSP_WRONG_RESPONDER', 'the OCSP response was signed by neither the issuer nor a responder certificate it carries');
}

function extendedKeyUsage(cert: Certificate): string[] {
  const ext = cert.tbsCertificate.extensions?.find((e) => e.extnID === EXT_KEY_USAGE);
  if (!ext) return [];
  const list = new DerReader(new Uint8Array(ext.extnValue.buffer), 'extKeyUsage').enter(TAG.sequence, 'ExtKeyUsageSyntax');
  const out: string[] = [];
  while (list.remaining > 0) out.push(oidText(list.expect(TAG.oid, 'KeyPurposeId').content));
  return out;
}

/** The bytes CertID and ResponderID are computed over, read straight from a certificate's DER. */
function certificateFields(der: Uint8Array): { serial: Uint8Array; issuerName: Uint8Array; subjectName: Uint8Array; publicKeyBits: Uint8Array } {
  const tbs = new DerReader(der, 'certificate').enter(TAG.sequence, 'Certificate').enter(TAG.sequence, 'tbsCertificate');
  tbs.optional(0xa0, 'version');
  const serial = tbs.expect(TAG.integer, 'serialNumber').content;
  tbs.expect(TAG.sequence, 'signature');
  const issuerName = tbs.expect(TAG.sequence, 'issuer').whole;
  tbs.expect(TAG.sequence, 'validity');
  const subjectName = tbs.expect(TAG.sequence, 'subject').whole;
  const spki = tbs.enter(TAG.sequence, 'subjectPublicKeyInfo');
  spki.expect(TAG.sequence, 'algorithm');
  // The key is the BIT STRING's value: without its tag, length and unused-bits byte.
  const publicKeyBits = spki.expect(TAG.bitString, 'subjectPublicKey').content.subarray(1);
  return { serial, issuerName, subjectName, publicKeyBits };
}

function digest(algorithm: string, data: Uint8Array): Uint8Array {
  return new Uint8Array(createHash(algorithm).update(data).digest());
}
