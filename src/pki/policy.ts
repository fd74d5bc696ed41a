// Certificate acceptance: is a received chain good enough to use? RFC 9261 section 7.4 leaves this to
// the application; this is a small RFC 5280 path check for the chains TLS peers send. It deliberately
// skips what a browser adds on top (revocation, CT, name constraints, policies): see the notes on
// CertificatePolicy.
//
// Certificates are decoded and their signatures checked by node:crypto's X509Certificate; the fields it does
// not expose (names as bytes, the extensions acted on, key identifiers) are read from the DER with der.ts.
import { X509Certificate, type KeyObject } from 'node:crypto';
import { CertificateRejected, type CertificateProblem } from '../errors.js';
import { equalBytes, hex } from '../codec/writer.js';
import { hostCoveredBy } from './names.js';
import { readGeneralNames } from './certificate-names.js';
import { bitFlags, derTime, DerReader, oidText, smallInteger, TAG } from '../codec/der.js';
import { checkOcspResponse, type OcspGood } from './ocsp.js';
import { checkSctList, CtLogSet, type CtLog, type SctVerdict } from './sct.js';

export type CertificateRole = 'server' | 'client';

export interface CertificatePolicyOptions extends StaplingPolicy {
  /** Trusted certificates: DER bytes, or PEM text holding one or more CERTIFICATE blocks. */
  trustAnchors: ReadonlyArray<Uint8Array | string>;
  /** The role the peer's certificate must be fit for: its EKU must allow serverAuth or clientAuth. */
  role: CertificateRole;
  /** The clock; defaults to the system time. */
  now?: () => Date;
  /** Most certificates accepted in one received chain, the root included if sent. Default 8. */
  maxChainLength?: number;
}

/**
 * What the policy makes of the OCSP response and the SCTs stapled to a leaf (its CertificateEntry's
 * status_request and signed_certificate_timestamp extensions). Both are off by default.
 */
export interface StaplingPolicy {
  /**
   * 'ignore' (default): not looked at. 'report': checked (src/pki/ocsp.ts) and the outcome reported in
   * `AcceptedCertificate.ocsp`, never a reason to refuse. 'require': a chain without a good, current
   * OCSP response for its leaf is refused with the failure's code (ERR_CERT_OCSP_MISSING when none came).
   */
  ocsp?: 'ignore' | 'report' | 'require';
  /** How far an OCSP response's thisUpdate / nextUpdate may be off our clock (default 5 minutes). */
  ocspClockSkewMs?: number;
  /** How long a response without nextUpdate stays current after its thisUpdate (default 7 days). */
  ocspMaxAgeMs?: number;
  /** Certificate Transparency logs whose SCTs count. With logs, SCTs are checked and reported in `AcceptedCertificate.sct`. */
  ctLogs?: readonly CtLog[];
  /** Refuse a chain unless this many distinct logs gave a valid SCT for its leaf (ERR_CERT_SCT_TOO_FEW_LOGS). Default 0: report only. */
  minSctLogs?: number;
}

/** What came stapled to a leaf: the DER OCSPResponse and the SignedCertificateTimestampList. */
export interface Stapled {
  ocspResponse?: Uint8Array | undefined;
  sctList?: Uint8Array | undefined;
}

/** The OCSP outcome for a leaf: good, none stapled, or why the staple failed (its error code). */
export type OcspOutcome = ({ status: 'good' } & Omit<OcspGood, 'status'>) | { status: 'absent' } | { status: 'failed'; code: CertificateProblem; reason: string };

/** The CT outcome for a leaf: each SCT's verdict, the distinct logs with a valid one, and how many the policy requires. */
export interface SctOutcome {
  scts: SctVerdict[];
  validLogs: number;
  required: number;
  /** Set when the SCT list as a whole did not decode (ERR_CERT_SCT_MALFORMED). */
  problem?: { code: CertificateProblem; reason: string };
}

/** A chain that passed every check, with what callers need from its end-entity certificate. */
export interface AcceptedCertificate {
  /** The certification path that was validated: leaf first, ending with the trust anchor. */
  chain: Uint8Array[];
  leaf: {
    /** Distinguished names in RFC 4514 string form, for display and logs. */
    subject: string;
    issuer: string;
    notBefore: Date;
    notAfter: Date;
    /** Hexadecimal, as encoded. */
    serialNumber: string;
  };
  /** subjectAltName dNSName entries, as written in the certificate. */
  dnsNames: string[];
  /** subjectAltName iPAddress entries, as dotted quads or RFC 5952 IPv6 text. */
  ipAddresses: string[];
  /** Whether the leaf's subjectAltName covers `host` (see hostCoveredBy in names.ts). */
  covers(host: string): boolean;
  /** The stapled OCSP response's outcome; only when the policy's `ocsp` is 'report' or 'require'. */
  ocsp?: OcspOutcome;
  /** The stapled SCTs' outcome; only when the policy has `ctLogs`. */
  sct?: SctOutcome;
}

const OID = {
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  extKeyUsage: '2.5.29.37',
  subjectAltName: '2.5.29.17',
  subjectKeyIdentifier: '2.5.29.14',
  authorityKeyIdentifier: '2.5.29.35',
  anyExtendedKeyUsage: '2.5.29.37.0',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
} as const;

// Critical extensions this policy acts on. Any other critical extension (name constraints, policy
// constraints, ...) makes the certificate unusable, as RFC 5280 section 4.2 requires.
const PROCESSED_EXTENSIONS: ReadonlySet<string> = new Set([
  OID.basicConstraints,
  OID.keyUsage,
  OID.extKeyUsage,
  OID.subjectAltName,
]);

/** What the checks need from one certificate, decoded once. */
interface ParsedCertificate {
  der: Uint8Array;
  cert: X509Certificate;
  /** The issuer's public key, once needed (kept, so a trust anchor's key is made once). */
  publicKey?: KeyObject;
  /** Distinguished names for display, RFC 4514 style, as node prints them. */
  subject: string;
  issuer: string;
  /** Lower-case hexadecimal. */
  serialNumber: string;
  signedWithSha1: boolean;
  /** DER of the subject and issuer names, in hex, for exact comparison. */
  subjectKey: string;
  issuerKey: string;
  notBefore: Date;
  notAfter: Date;
  /** Undefined when the certificate has no basicConstraints extension. */
  basicConstraints: { ca: boolean; pathLength: number | undefined } | undefined;
  /** KEY_USAGE bits; undefined when there is no keyUsage extension. */
  keyUsage: number | undefined;
  /** Purpose OIDs; undefined when there is no extKeyUsage extension (any purpose, RFC 5280 4.2.1.12). */
  extKeyUsage: string[] | undefined;
  /** subjectKeyIdentifier and authorityKeyIdentifier keyIdentifier, hex; undefined when absent. */
  subjectKeyId: string | undefined;
  authorityKeyId: string | undefined;
  unprocessedCritical: string[];
  dnsNames: string[];
  ipAddresses: string[];
}

// keyUsage bits (RFC 5280 section 4.2.1.3), as bitFlags numbers them.
const KEY_USAGE = { digitalSignature: 1 << 0, keyCertSign: 1 << 5 } as const;

/**
 * Decides whether a peer's certificate chain is acceptable: it chains to a trust anchor, every
 * certificate is within its validity period, issuers are CAs allowed to sign certificates within their
 * path length, and the leaf may be used for TLS in `role`.
 *
 * The chain is taken as sent (RFC 8446 section 4.4.2): leaf first, each certificate issued by the one after
 * it. The walk stops at the first certificate that is a trust anchor or that a trust anchor issued; any
 * certificates after that point are ignored (senders may append the root or cross-signed certificates).
 * Not checked: revocation, Certificate Transparency, name constraints (a critical nameConstraints
 * extension is refused, a non-critical one ignored), certificate policies, EKU of intermediates.
 * For the server role the leaf must carry at least one dNSName or iPAddress (ERR_CERT_NO_NAME): without one
 * it could cover no origin. Which hosts it covers is a separate question: `AcceptedCertificate.covers`.
 */
export class CertificatePolicy {
  readonly role: CertificateRole;
  private readonly stapling: StaplingPolicy;
  private readonly ctLogs: CtLogSet | undefined;
  private readonly anchors: ParsedCertificate[];
  private readonly anchorsBySubject = new Map<string, ParsedCertificate[]>();
  private readonly now: () => Date;
  private readonly maxChainLength: number;

  constructor(options: CertificatePolicyOptions) {
    if (options.role !== 'server' && options.role !== 'client') {
      throw new TypeError(`role must be 'server' or 'client', not ${String(options.role)}`);
    }
    if (!Array.isArray(options.trustAnchors)) throw new TypeError('trustAnchors must be an array');
    const max = options.maxChainLength ?? 8;
    if (!Number.isInteger(max) || max < 1) throw new RangeError(`maxChainLength must be a positive integer, not ${max}`);
    this.role = options.role;
    this.now = options.now ?? (() => new Date());
    this.maxChainLength = max;
    const ocsp = options.ocsp ?? 'ignore';
    if (ocsp !== 'ignore' && ocsp !== 'report' && ocsp !== 'require') throw new TypeError(`ocsp must be 'ignore', 'report' or 'require', not ${String(ocsp)}`);
    const minSctLogs = options.minSctLogs ?? 0;
    if (!Number.isInteger(minSctLogs) || minSctLogs < 0) throw new RangeError(`minSctLogs must be a non-negative integer, not ${minSctLogs}`);
    this.ctLogs = options.ctLogs ? new CtLogSet(options.ctLogs) : undefined;
    if (minSctLogs > (this.ctLogs?.size ?? 0)) throw new RangeError(`minSctLogs is ${minSctLogs} but only ${this.ctLogs?.size ?? 0} CT logs are configured`);
    this.stapling = {
      ocsp,
      minSctLogs,
      ...(options.ocspClockSkewMs !== undefined ? { ocspClockSkewMs: options.ocspClockSkewMs } : {}),
      ...(options.ocspMaxAgeMs !== undefined ? { ocspMaxAgeMs: options.ocspMaxAgeMs } : {}),
    };
    this.anchors = options.trustAnchors.flatMap(anchorDers).map((der, i) => {
      try {
        return parseCertificate(der, `trust anchor ${i}`);
      } catch (err) {
        throw new TypeError(`trust anchor ${i} is not a certificate`, { cause: err });
      }
    });
    for (const anchor of this.anchors) {
      const list = this.anchorsBySubject.get(anchor.subjectKey) ?? [];
      list.push(anchor);
      this.anchorsBySubject.set(anchor.subjectKey, list);
    }
  }

  /**
   * Resolves with the accepted certificate, or rejects with CertificateRejected saying why not. `stapled`
   * is what came with the leaf (an OCSP response, SCTs), judged as the stapling options say.
   */
  async check(chainDer: readonly Uint8Array[], stapled: Stapled = {}): Promise<AcceptedCertificate> {
    if (!Array.isArray(chainDer)) throw new TypeError('chainDer must be an array of DER certificates');
    if (chainDer.length === 0) reject('ERR_CERT_UNTRUSTED', 'the chain is empty: there is no certificate to trust');
    if (chainDer.length > this.maxChainLength) {
      reject('ERR_CERT_PATH_LENGTH', `the chain has ${chainDer.length} certificates, more than ${this.maxChainLength}`);
    }
    const received = chainDer.map((der, i) => {
      if (!(der instanceof Uint8Array)) throw new TypeError(`chainDer[${i}] must be a Uint8Array`);
      return parseCertificate(der, `certificate ${i}`);
    });
    const path = this.buildPath(received);
    this.checkPath(path);
    const leaf = path[0]!;
    const names = { dnsNames: leaf.dnsNames, ipAddresses: leaf.ipAddresses };
    const ocsp = this.ocspOutcome(path, stapled.ocspResponse);
    const sct = this.sctOutcome(leaf.der, stapled.sctList);
    return {
      ...(ocsp ? { ocsp } : {}),
      ...(sct ? { sct } : {}),
      chain: path.map((c) => c.der),
      leaf: {
        subject: leaf.subject,
        issuer: leaf.issuer,
        notBefore: leaf.notBefore,
        notAfter: leaf.notAfter,
        serialNumber: leaf.serialNumber,
      },
      dnsNames: [...names.dnsNames],
      ipAddresses: [...names.ipAddresses],
      covers: (host: string) => hostCoveredBy(host, names),
    };
  }

  /** The OCSP outcome, after the path validated; throws when the policy requires a good response. */
  private ocspOutcome(path: ParsedCertificate[], response: Uint8Array | undefined): OcspOutcome | undefined {
    const mode = this.stapling.ocsp;
    if (mode === 'ignore') return undefined;
    let outcome: OcspOutcome;
    if (response === undefined) {
      outcome = { status: 'absent' };
      if (mode === 'require') reject('ERR_CERT_OCSP_MISSING', 'the policy requires a stapled OCSP response, and none came');
      return outcome;
    }
    // The issuer is the next certificate on the validated path; a pinned leaf (a path of one) is its own.
    const issuer = path[1] ?? path[0]!;
    try {
      const { status: _good, ...good } = checkOcspResponse(response, path[0]!.der, issuer.der, {
        now: this.now(),
        ...(this.stapling.ocspClockSkewMs !== undefined ? { clockSkewMs: this.stapling.ocspClockSkewMs } : {}),
        ...(this.stapling.ocspMaxAgeMs !== undefined ? { maxAgeMs: this.stapling.ocspMaxAgeMs } : {}),
      });
      return { status: 'good', ...good };
    } catch (e) {
      if (!(e instanceof CertificateRejected) || mode === 'require') throw e;
      return { status: 'failed', code: e.code, reason: e.message };
    }
  }

  /** The CT outcome, after the path validated; throws when too few logs gave a valid SCT. */
  private sctOutcome(leafDer: Uint8Array, list: Uint8Array | undefined): SctOutcome | undefined {
    if (!this.ctLogs) return undefined;
    const required = this.stapling.minSctLogs ?? 0;
    let outcome: SctOutcome;
    try {
      outcome = list === undefined ? { scts: [], validLogs: 0, required } : { ...checkSctList(list, leafDer, this.ctLogs, this.now()), required };
    } catch (e) {
      if (!(e instanceof CertificateRejected)) throw e;
      if (required > 0) throw e;
      return { scts: [], validLogs: 0, required, problem: { code: e.code, reason: e.message } };
    }
    if (outcome.validLogs < required) {
      const why = outcome.scts.length === 0 ? 'no SCT came' : outcome.scts.map((v) => (v.valid ? `valid from ${v.log}` : `${v.code}: ${v.reason}`)).join('; ');
      reject('ERR_CERT_SCT_TOO_FEW_LOGS', `the policy requires valid SCTs from ${required} distinct logs, there are ${outcome.validLogs} (${why})`);
    }
    return outcome;
  }

  /** Follows the received chain up to a trust anchor; returns the path, ending with the anchor. */
  private buildPath(received: ParsedCertificate[]): ParsedCertificate[] {
    for (let i = 0; i < received.length; i++) {
      const cert = received[i]!;
      const path = received.slice(0, i + 1);
      if (this.anchors.some((a) => equalBytes(a.der, cert.der))) return path;
      let badSignature = false;
      for (const anchor of this.anchorsBySubject.get(cert.issuerKey) ?? []) {
        if (!mayHaveIssued(anchor, cert)) continue;
        if (signedBy(cert, anchor, i)) return [...path, anchor];
        badSignature = true;
      }
      const next = received[i + 1];
      if (next && next.subjectKey === cert.issuerKey && mayHaveIssued(next, cert)) {
        if (signedBy(cert, next, i)) continue;
        badSignature = true;
      }
      if (badSignature) {
        reject('ERR_CERT_BAD_SIGNATURE', `certificate ${i} (${cert.subject}): the signature does not verify`);
      }
      reject(
        'ERR_CERT_UNTRUSTED',
        next
          ? `certificate ${i} (${cert.subject}) was not issued by the next certificate nor by a trust anchor`
          : `certificate ${i} (${cert.subject}) was not issued by a trust anchor`,
      );
    }
    // Unreachable: the last iteration returns or throws.
    reject('ERR_CERT_UNTRUSTED', 'no trust anchor was reached');
  }

  /** The RFC 5280 section 6.1 checks this policy makes, on a path from leaf (0) to anchor (last). */
  private checkPath(path: ParsedCertificate[]): void {
    const now = this.now();
    path.forEach((c, i) => {
      const which = `${i === 0 ? 'the leaf' : i === path.length - 1 ? 'the trust anchor' : `certificate ${i}`} (${c.subject})`;
      if (now < c.notBefore) reject('ERR_CERT_NOT_YET_VALID', `${which} is not valid before ${c.notBefore.toISOString()}`);
      if (now > c.notAfter) reject('ERR_CERT_EXPIRED', `${which} expired at ${c.notAfter.toISOString()}`);
      if (c.unprocessedCritical.length > 0) {
        reject('ERR_CERT_CRITICAL_EXTENSION', `${which} has critical extensions ${c.unprocessedCritical.join(', ')}`);
      }
      if (i === 0) return;
      // An issuer: RFC 5280 section 6.1.4 (k), (l), (m), (n).
      if (!c.basicConstraints?.ca) reject('ERR_CERT_NOT_CA', `${which} issued a certificate but is not a CA`);
      if (c.keyUsage !== undefined && !(c.keyUsage & KEY_USAGE.keyCertSign)) {
        reject('ERR_CERT_KEY_USAGE', `${which} issued a certificate but its keyUsage lacks keyCertSign`);
      }
      const pathLength = c.basicConstraints.pathLength;
      if (pathLength !== undefined) {
        // Intermediates below this one, not counting self-issued ones (RFC 5280 section 4.2.1.9).
        const below = path.slice(1, i).filter((b) => b.subjectKey !== b.issuerKey).length;
        if (below > pathLength) {
          reject('ERR_CERT_PATH_LENGTH', `${which} allows ${pathLength} intermediates below it, the path has ${below}`);
        }
      }
    });
    const leaf = path[0]!;
    const purpose = this.role === 'server' ? OID.serverAuth : OID.clientAuth;
    const eku = leaf.extKeyUsage;
    if (eku && !eku.includes(purpose) && !eku.includes(OID.anyExtendedKeyUsage)) {
      reject('ERR_CERT_EKU', `the leaf's extKeyUsage does not allow ${this.role === 'server' ? 'serverAuth' : 'clientAuth'}`);
    }
    // The leaf signs TLS handshakes (CertificateVerify), so a keyUsage must allow that (RFC 8446 4.4.2.2).
    if (leaf.keyUsage !== undefined && !(leaf.keyUsage & KEY_USAGE.digitalSignature)) {
      reject('ERR_CERT_KEY_USAGE', "the leaf's keyUsage lacks digitalSignature");
    }
    // A server is authoritative only for the names its certificate carries (RFC 9110 section 4.3.4), and the
    // subject CN does not count, so a server leaf without them is of no use.
    if (this.role === 'server' && leaf.dnsNames.length === 0 && leaf.ipAddresses.length === 0) {
      reject('ERR_CERT_NO_NAME', "the leaf's subjectAltName has no dNSName or iPAddress: it can cover no host");
    }
  }
}

function reject(code: CertificateProblem, message: string, cause?: unknown): never {
  throw new CertificateRejected(code, message, cause === undefined ? undefined : { cause });
}

/** The DER certificates in one trustAnchors entry. */
function anchorDers(anchor: Uint8Array | string, index: number): Uint8Array[] {
  if (anchor instanceof Uint8Array) return [anchor];
  if (typeof anchor !== 'string') throw new TypeError(`trust anchor ${index} must be DER bytes or PEM text`);
  const blocks = [...anchor.matchAll(/-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]*)-----END CERTIFICATE-----/g)];
  if (blocks.length === 0) throw new TypeError(`trust anchor ${index} holds no PEM CERTIFICATE block`);
  return blocks.map((b) => new Uint8Array(Buffer.from(b[1]!.replace(/\s+/g, ''), 'base64')));
}

/**
 * True when the outer SEQUENCE's length accounts for every byte. The decoder ignores trailing bytes, and
 * a second encoding of one certificate would slip past byte comparison with the anchors. (Only the
 * outermost header is read here; everything inside is left to the decoder.)
 */
function outerLengthMatches(der: Uint8Array): boolean {
  if (der.length < 2 || der[0] !== 0x30) return false;
  const first = der[1]!;
  if (first < 0x80) return der.length === 2 + first;
  const octets = first & 0x7f;
  if (octets < 1 || octets > 3 || der.length < 2 + octets) return false; // cert_data is at most 2^24-1 bytes
  let length = 0;
  for (let i = 0; i < octets; i++) length = length * 256 + der[2 + i]!;
  return der.length === 2 + octets + length;
}

function parseCertificate(der: Uint8Array, what: string): ParsedCertificate {
  if (!outerLengthMatches(der)) reject('ERR_CERT_MALFORMED', `${what} is not one DER certificate`);
  try {
    // node:crypto parses the whole certificate (and later checks its signature); the DER reader then takes
    // only what node does not expose.
    const cert = new X509Certificate(der);
    const top = new DerReader(der, what).enter(TAG.sequence, 'Certificate');
    const tbs = top.enter(TAG.sequence, 'tbsCertificate');
    const signatureAlgorithm = top.enter(TAG.sequence, 'signatureAlgorithm');
    top.expect(TAG.bitString, 'signatureValue');
    top.end();
    tbs.optional(0xa0, 'version');
    tbs.expect(TAG.integer, 'serialNumber');
    tbs.expect(TAG.sequence, 'signature');
    const issuer = tbs.expect(TAG.sequence, 'issuer').whole;
    const validity = tbs.enter(TAG.sequence, 'validity');
    const notBefore = derTime(validity.next('notBefore'));
    const notAfter = derTime(validity.next('notAfter'));
    validity.end();
    const subject = tbs.expect(TAG.sequence, 'subject').whole;
    tbs.expect(TAG.sequence, 'subjectPublicKeyInfo');
    tbs.optional(0x81, 'issuerUniqueID');
    tbs.optional(0x82, 'subjectUniqueID');
    const extensions = tbs.optional(0xa3, 'extensions');
    tbs.end();
    const parsed: ParsedCertificate = {
      der,
      cert,
      subject: nameText(cert.subject),
      issuer: nameText(cert.issuer),
      serialNumber: cert.serialNumber.toLowerCase(),
      signedWithSha1: isSha1Signature(signatureAlgorithm),
      subjectKey: hex(subject),
      issuerKey: hex(issuer),
      notBefore,
      notAfter,
      basicConstraints: undefined,
      keyUsage: undefined,
      extKeyUsage: undefined,
      subjectKeyId: undefined,
      authorityKeyId: undefined,
      unprocessedCritical: [],
      dnsNames: [],
      ipAddresses: [],
    };
    if (extensions) readExtensions(new DerReader(extensions.content, `${what}.extensions`).enter(TAG.sequence, 'Extensions'), parsed);
    return parsed;
  } catch (err) {
    reject('ERR_CERT_MALFORMED', `${what} does not decode: ${err instanceof Error ? err.message : String(err)}`, err);
  }
}

/** The extensions this policy acts on, into `parsed`; the others are only noted when critical. */
function readExtensions(list: DerReader, parsed: ParsedCertificate): void {
  const seen = new Set<string>();
  while (list.remaining > 0) {
    const ext = list.enter(TAG.sequence, 'Extension');
    const type = oidText(ext.expect(TAG.oid, 'extnID').content);
    const critical = ext.optional(TAG.boolean, 'critical');
    const value = new DerReader(ext.expect(TAG.octetString, 'extnValue').content, `extension ${type}`);
    ext.end();
    // RFC 5280 section 4.2: an extension appears at most once.
    if (seen.has(type)) throw new Error(`extension ${type} appears twice`);
    seen.add(type);
    if (critical && isTrue(critical.content) && !PROCESSED_EXTENSIONS.has(type)) parsed.unprocessedCritical.push(type);
    switch (type) {
      case OID.basicConstraints: {
        const bc = value.enter(TAG.sequence, 'BasicConstraints');
        const ca = bc.optional(TAG.boolean, 'cA');
        const pathLength = bc.optional(TAG.integer, 'pathLenConstraint');
        bc.end();
        parsed.basicConstraints = { ca: ca !== undefined && isTrue(ca.content), pathLength: pathLength ? smallInteger(pathLength.content) : undefined };
        break;
      }
      case OID.keyUsage:
        parsed.keyUsage = bitFlags(value.expect(TAG.bitString, 'KeyUsage').content);
        break;
      case OID.extKeyUsage: {
        const eku = value.enter(TAG.sequence, 'ExtKeyUsageSyntax');
        parsed.extKeyUsage = [];
        while (eku.remaining > 0) parsed.extKeyUsage.push(oidText(eku.expect(TAG.oid, 'KeyPurposeId').content));
        break;
      }
      case OID.subjectAltName:
        ({ dnsNames: parsed.dnsNames, ipAddresses: parsed.ipAddresses } = readGeneralNames(value));
        break;
      case OID.subjectKeyIdentifier:
        parsed.subjectKeyId = hex(value.expect(TAG.octetString, 'SubjectKeyIdentifier').content);
        break;
      case OID.authorityKeyIdentifier: {
        const keyId = value.enter(TAG.sequence, 'AuthorityKeyIdentifier').optional(0x80, 'keyIdentifier');
        parsed.authorityKeyId = keyId ? hex(keyId.content) : undefined;
        break;
      }
      default:
        continue;
    }
    value.end();
  }
}

function isTrue(content: Uint8Array): boolean {
  if (content.length !== 1) throw new RangeError('a BOOLEAN of more than one byte');
  return content[0] !== 0;
}

/** Node prints a name one attribute per line; this library shows them as one line, comma-separated. */
function nameText(nodeName: string): string {
  return nodeName.split('\n').join(', ');
}

const SHA1_SIGNATURES: ReadonlySet<string> = new Set([
  '1.2.840.113549.1.1.5', // sha1WithRSAEncryption
  '1.3.14.3.2.29', // sha1WithRSASignature (OIW)
  '1.2.840.10045.4.1', // ecdsa-with-SHA1
  '1.2.840.10040.4.3', // dsa-with-sha1
]);
const RSASSA_PSS = '1.2.840.113549.1.1.10';
const SHA1 = '1.3.14.3.2.26';

/** Is the signature algorithm one that hashes with SHA-1 (RSASSA-PSS defaults to SHA-1 when no hash is named)? */
function isSha1Signature(algorithm: DerReader): boolean {
  const oid = oidText(algorithm.expect(TAG.oid, 'algorithm').content);
  if (SHA1_SIGNATURES.has(oid)) return true;
  if (oid !== RSASSA_PSS) return false;
  const params = algorithm.remaining > 0 ? algorithm.enter(TAG.sequence, 'RSASSA-PSS-params') : undefined;
  const hash = params?.optional(0xa0, 'hashAlgorithm');
  if (!hash) return true;
  return oidText(new DerReader(hash.content, 'hashAlgorithm').enter(TAG.sequence, 'AlgorithmIdentifier').expect(TAG.oid, 'algorithm').content) === SHA1;
}

/**
 * Could `issuer` have issued `cert`, judging by key identifiers (RFC 5280 section 4.2.1.1)? When both are
 * present and differ, the issuer is another CA that happens to share the name: the chain is untrusted, not
 * forged. When either is absent, only the signature can tell.
 */
function mayHaveIssued(issuer: ParsedCertificate, cert: ParsedCertificate): boolean {
  return issuer.subjectKeyId === undefined || cert.authorityKeyId === undefined || issuer.subjectKeyId === cert.authorityKeyId;
}

/** Does `issuer`'s key verify `cert`'s signature? SHA-1 signatures are refused outright. */
function signedBy(cert: ParsedCertificate, issuer: ParsedCertificate, index: number): boolean {
  if (cert.signedWithSha1) reject('ERR_CERT_BAD_SIGNATURE', `certificate ${index} (${cert.subject}) is signed with SHA-1`);
  try {
    issuer.publicKey ??= issuer.cert.publicKey;
    return cert.cert.verify(issuer.publicKey);
  } catch {
    // A key type or algorithm node:crypto does not know.
    return false;
  }
}
