// Signed certificate timestamps (RFC 6962) delivered in a CertificateEntry's signed_certificate_timestamp
// extension: each SCT is checked against the configured log keys, over the entry the certificate is in a
// log as. An SCT in a TLS extension is for the certificate as issued, so the entry is an x509_entry of the
// leaf's DER (RFC 6962 sections 3.2 and 3.3). The outcome counts the distinct logs with a valid SCT.
import { createHash, createPublicKey, verify as verifySignature, type KeyObject } from 'node:crypto';
import { Reader } from '../codec/reader.js';
import { hex, Writer } from '../codec/writer.js';
import { CertificateRejected, MalformedMessage, type CertificateProblem } from '../errors.js';

/** A Certificate Transparency log we know: its public key (SubjectPublicKeyInfo DER, PEM or a KeyObject). */
export interface CtLog {
  key: KeyObject | Uint8Array | string;
  /** For reports (default: the log ID in hex). */
  name?: string;
}

/** One SCT as it came, decoded (RFC 6962 section 3.2). */
export interface SignedCertificateTimestamp {
  version: number;
  /** SHA-256 of the log's SubjectPublicKeyInfo. */
  logId: Uint8Array;
  /** Milliseconds since the epoch. */
  timestamp: number;
  extensions: Uint8Array;
  hashAlgorithm: number;
  signatureAlgorithm: number;
  signature: Uint8Array;
}

export type SctProblem = Extract<CertificateProblem, 'ERR_CERT_SCT_MALFORMED' | 'ERR_CERT_SCT_UNKNOWN_LOG' | 'ERR_CERT_SCT_BAD_SIGNATURE' | 'ERR_CERT_SCT_FUTURE'>;

/** What became of one SCT. */
export type SctVerdict =
  | { valid: true; logId: string; log: string; timestamp: Date }
  | { valid: false; logId: string; log?: string; timestamp?: Date; code: SctProblem; reason: string };

/** The SCTs of one certificate, judged. */
export interface SctReport {
  scts: SctVerdict[];
  /** Distinct logs that gave a valid SCT. */
  validLogs: number;
}

// RFC 5246 section 7.4.1.4.1 codes, as RFC 6962 section 2.1.4 uses them: logs sign with SHA-256 and ECDSA or RSA.
const HASH_SHA256 = 4;
const SIGNATURE_RSA = 1;
const SIGNATURE_ECDSA = 3;
const SCT_V1 = 0;
const CERTIFICATE_TIMESTAMP = 0;
const X509_ENTRY = 0;
const MAX_DATE_MS = 8.64e15;

/** The logs a client trusts, found by log ID. */
export class CtLogSet {
  private readonly byId = new Map<string, { key: KeyObject; name: string }>();

  constructor(logs: readonly CtLog[]) {
    if (!Array.isArray(logs)) throw new TypeError('logs must be an array of { key, name? }');
    for (const [i, log] of logs.entries()) {
      const key = publicKeyOf(log.key, i);
      const id = hex(logIdOf(key));
      this.byId.set(id, { key, name: log.name ?? id });
    }
  }

  get size(): number {
    return this.byId.size;
  }

  get(logId: Uint8Array): { key: KeyObject; name: string } | undefined {
    return this.byId.get(hex(logId));
  }
}

/** A log's ID: SHA-256 of its public key's SubjectPublicKeyInfo DER (RFC 6962 section 3.2). */
export function logIdOf(key: KeyObject): Uint8Array {
  return new Uint8Array(createHash('sha256').update(key.export({ type: 'spki', format: 'der' })).digest());
}

function publicKeyOf(key: KeyObject | Uint8Array | string, index: number): KeyObject {
  try {
    if (typeof key === 'string') return createPublicKey(key);
    if (key instanceof Uint8Array) return createPublicKey({ key: Buffer.from(key), format: 'der', type: 'spki' });
    if (key.type === 'public') return key;
    if (key.type === 'private') return createPublicKey(key);
  } catch (e) {
    throw new TypeError(`CT log ${index}: not a public key`, { cause: e });
  }
  throw new TypeError(`CT log ${index}: not a public key`);
}

/**
 * The SCTs in a SignedCertificateTimestampList (RFC 6962 section 3.3: `SerializedSCT sct_list<1..2^16-1>`,
 * each `opaque SerializedSCT<1..2^16-1>`), the body of the extension. A list that does not frame is
 * ERR_CERT_SCT_MALFORMED; an SCT inside it that does not decode is returned as its problem, since each SCT
 * is judged alone (section 3.3: clients skip SCTs they cannot read).
 */
export function parseSctList(list: Uint8Array): (SignedCertificateTimestamp | { problem: string })[] {
  const out: (SignedCertificateTimestamp | { problem: string })[] = [];
  try {
    const r = new Reader(list, 'SignedCertificateTimestampList');
    const scts = r.sub(2, 'sct_list', 1);
    r.end();
    while (scts.remaining > 0) {
      const serialized = scts.vector(2, 'SerializedSCT', 1);
      try {
        out.push(parseSct(serialized));
      } catch (e) {
        if (!(e instanceof MalformedMessage)) throw e;
        out.push({ problem: e.message });
      }
    }
  } catch (e) {
    if (e instanceof MalformedMessage) throw new CertificateRejected('ERR_CERT_SCT_MALFORMED', `the SCT list does not decode: ${e.message}`, { cause: e });
    throw e;
  }
  return out;
}

function parseSct(bytes: Uint8Array): SignedCertificateTimestamp {
  const r = new Reader(bytes, 'SignedCertificateTimestamp');
  const version = r.u8('sct_version');
  if (version !== SCT_V1) r.fail(`sct_version ${version} is not v1`);
  const logId = r.bytes(32, 'LogID');
  const timestamp = r.u32('timestamp') * 2 ** 32 + r.u32('timestamp');
  const extensions = r.vector(2, 'CtExtensions');
  const hashAlgorithm = r.u8('hash');
  const signatureAlgorithm = r.u8('signature');
  const signature = r.vector(2, 'signature');
  r.end();
  return { version, logId, timestamp, extensions, hashAlgorithm, signatureAlgorithm, signature };
}

/**
 * The bytes a log signs for an SCT over an x509_entry (RFC 6962 section 3.2): version, signature_type
 * certificate_timestamp, timestamp, entry_type x509_entry, the certificate (opaque<1..2^24-1>), extensions.
 */
export function sctSignedData(sct: Pick<SignedCertificateTimestamp, 'version' | 'timestamp' | 'extensions'>, leafDer: Uint8Array): Uint8Array {
  const w = new Writer(leafDer.length + 64);
  w.u8(sct.version).u8(CERTIFICATE_TIMESTAMP);
  w.u32(Math.floor(sct.timestamp / 2 ** 32)).u32(sct.timestamp % 2 ** 32);
  w.u16(X509_ENTRY).opaque(3, leafDer, 'ASN.1Cert').opaque(2, sct.extensions, 'CtExtensions');
  return w.finish();
}

/** One SCT's wire form, for a log (or a test log) to hand out. */
export function encodeSct(sct: SignedCertificateTimestamp): Uint8Array {
  const w = new Writer(128);
  w.u8(sct.version).bytes(sct.logId).u32(Math.floor(sct.timestamp / 2 ** 32)).u32(sct.timestamp % 2 ** 32);
  w.opaque(2, sct.extensions, 'CtExtensions').u8(sct.hashAlgorithm).u8(sct.signatureAlgorithm).opaque(2, sct.signature, 'signature');
  return w.finish();
}

/** A SignedCertificateTimestampList of serialized SCTs: the signed_certificate_timestamp extension's body. */
export function encodeSctList(scts: readonly Uint8Array[]): Uint8Array {
  if (scts.length === 0) throw new RangeError('an SCT list holds at least one SCT');
  return new Writer(256).vector(2, (l) => scts.forEach((s) => l.opaque(2, s, 'SerializedSCT')), 'sct_list').finish();
}

/**
 * Judges every SCT of `list` for the certificate `leafDer` against `logs` at `now`: each is valid, from an
 * unknown log, badly signed, or timestamped in the future (RFC 6962 section 5.2 says reject those).
 * Throws ERR_CERT_SCT_MALFORMED only when the list itself does not frame.
 */
export function checkSctList(list: Uint8Array, leafDer: Uint8Array, logs: CtLogSet, now: Date = new Date()): SctReport {
  const verdicts = parseSctList(list).map((sct): SctVerdict => {
    if ('problem' in sct) return { valid: false, logId: '', code: 'ERR_CERT_SCT_MALFORMED', reason: sct.problem };
    const logId = hex(sct.logId);
    // uint64 milliseconds: beyond what a Date holds (year 275760) it is simply far in the future.
    const timestamp = new Date(Math.min(sct.timestamp, MAX_DATE_MS));
    const log = logs.get(sct.logId);
    if (!log) return { valid: false, logId, timestamp, code: 'ERR_CERT_SCT_UNKNOWN_LOG', reason: `no configured log has ID ${logId}` };
    if (sct.timestamp > now.getTime()) return { valid: false, logId, log: log.name, timestamp, code: 'ERR_CERT_SCT_FUTURE', reason: `the SCT's timestamp ${timestamp.toISOString()} is in the future` };
    if (!signatureVerifies(sct, leafDer, log.key)) {
      return { valid: false, logId, log: log.name, timestamp, code: 'ERR_CERT_SCT_BAD_SIGNATURE', reason: `the SCT from ${log.name} does not verify over the certificate` };
    }
    return { valid: true, logId, log: log.name, timestamp };
  });
  const validLogs = new Set(verdicts.filter((v) => v.valid).map((v) => v.logId)).size;
  return { scts: verdicts, validLogs };
}

function signatureVerifies(sct: SignedCertificateTimestamp, leafDer: Uint8Array, key: KeyObject): boolean {
  if (sct.hashAlgorithm !== HASH_SHA256) return false;
  const expected = key.asymmetricKeyType === 'ec' ? SIGNATURE_ECDSA : key.asymmetricKeyType === 'rsa' ? SIGNATURE_RSA : undefined;
  if (sct.signatureAlgorithm !== expected) return false;
  try {
    return verifySignature('sha256', sctSignedData(sct, leafDer), key, sct.signature);
  } catch {
    return false;
  }
}
