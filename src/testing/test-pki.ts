// A small certificate authority for tests, the demo and `secondary-certs serve`: a self-signed root, and
// leaf certificates (optionally through an intermediate) for the key types the project supports.
// Not for production: keys are generated in memory and the CA key never leaves the process.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { createHash, KeyObject, sign as signBytes, webcrypto } from 'node:crypto';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import { AlgorithmIdentifier, Certificate, Name } from '@peculiar/asn1-x509';
import {
  BasicOCSPResponse,
  CertID,
  CertStatus,
  id_kp_OCSPSigning,
  id_pkix_ocsp_basic,
  OCSPResponse,
  OCSPResponseStatus,
  ResponderID,
  ResponseBytes,
  ResponseData,
  RevokedInfo,
  SingleResponse,
} from '@peculiar/asn1-ocsp';
import { encodeSct, encodeSctList, logIdOf, sctSignedData } from '../pki/sct.js';

x509.cryptoProvider.set(webcrypto);

type CryptoKeyPair = webcrypto.CryptoKeyPair;

export type TestKeyType = 'ed25519' | 'p256' | 'p384' | 'rsa2048';

export interface IssueOptions {
  dnsNames?: string[];
  ipAddresses?: string[];
  keyType?: TestKeyType;
  /** Extended key usage of the leaf (default 'server'). */
  role?: 'server' | 'client' | 'both';
  /** Default: an hour ago to a day from now. */
  notBefore?: Date;
  notAfter?: Date;
  commonName?: string;
  /** Issue through an intermediate CA: the chain is then [leaf, intermediate]. */
  viaIntermediate?: boolean;
  /** False makes the "intermediate" a non-CA, for negative tests (default true). */
  intermediateIsCa?: boolean;
  /** The EKU list outright, replacing the one `role` gives; an empty list leaves the extension out. */
  ekuOids?: string[];
  /** More extensions on the leaf, as given (e.g. -06's Required Domain: `encodeRequiredDomain` from secondary-certs/pki). */
  extraExtensions?: { oid: string; critical?: boolean; value: Uint8Array }[];
}

export interface IssuedIdentity {
  certDer: Uint8Array;
  /** Leaf first, then intermediates; never the root. */
  chainDer: Uint8Array[];
  keyPkcs8Der: Uint8Array;
  keyPem: string;
  certPem: string;
  /** Leaf and intermediates, PEM, concatenated (what node:tls takes as `cert`). */
  chainPem: string;
}

const ALGORITHMS: Record<TestKeyType, { generate: webcrypto.AlgorithmIdentifier | webcrypto.EcKeyGenParams | webcrypto.RsaHashedKeyGenParams; sign: webcrypto.AlgorithmIdentifier | webcrypto.EcdsaParams }> = {
  ed25519: { generate: { name: 'Ed25519' }, sign: { name: 'Ed25519' } },
  p256: { generate: { name: 'ECDSA', namedCurve: 'P-256' }, sign: { name: 'ECDSA', hash: 'SHA-256' } as webcrypto.EcdsaParams },
  p384: { generate: { name: 'ECDSA', namedCurve: 'P-384' }, sign: { name: 'ECDSA', hash: 'SHA-384' } as webcrypto.EcdsaParams },
  // An rsaEncryption key (RSASSA-PKCS1-v1_5 in WebCrypto terms): TLS 1.3 signs with it using the
  // rsa_pss_rsae_* schemes, which is what such certificates carry in practice.
  rsa2048: {
    generate: { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' } as webcrypto.RsaHashedKeyGenParams,
    sign: { name: 'RSASSA-PKCS1-v1_5' },
  },
};

const EKU = { server: '1.3.6.1.5.5.7.3.1', client: '1.3.6.1.5.5.7.3.2' };

async function generate(type: TestKeyType): Promise<CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(ALGORITHMS[type].generate, true, ['sign', 'verify'])) as CryptoKeyPair;
}

function serial(): string {
  // Positive, 16 random bytes (RFC 5280 allows up to 20 octets).
  const b = webcrypto.getRandomValues(new Uint8Array(16));
  b[0] = ((b[0] as number) & 0x7f) | 0x01;
  return Buffer.from(b).toString('hex');
}

function pem(label: string, der: Uint8Array): string {
  const b64 = Buffer.from(der).toString('base64').replace(/.{64}/g, '$&\n').replace(/\n$/, '');
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}

/** A subject of one CN, built as JSON so that commas or equals signs in it need no escaping. */
function cnName(commonName: string): x509.JsonName {
  return [{ CN: [commonName] }];
}

interface Issuer {
  keys: CryptoKeyPair;
  type: TestKeyType;
  cert: x509.X509Certificate;
}

/** A certificate allowed (or, for negative tests, not allowed) to sign OCSP responses for an issuer. */
export interface TestOcspResponder {
  readonly certDer: Uint8Array;
  /** @internal */
  readonly signer: Issuer;
}

export interface OcspResponseOptions {
  /** Default 'good'. */
  status?: 'good' | 'revoked' | 'unknown';
  /** Default: a minute ago. */
  thisUpdate?: Date;
  /** Default: a day after thisUpdate; null leaves nextUpdate out. */
  nextUpdate?: Date | null;
  /**
   * Who signs: the leaf's issuer (default), a responder from `ocspResponder` (its certificate goes in the
   * response), or the root of another TestPki posing as the issuer.
   */
  responder?: TestOcspResponder | TestPki;
  /** Name a certificate other than the leaf in the CertID (its serial number, same issuer). */
  certIdFor?: IssuedIdentity;
  /** Flip a bit of the signature. */
  corruptSignature?: boolean;
  /** A response status other than successful (then no response bytes). */
  responseStatus?: OCSPResponseStatus;
}

const ID_SHA256 = '2.16.840.1.101.3.4.2.1';
const SIGNATURE_OID: Record<TestKeyType, string> = {
  ed25519: '1.3.101.112',
  p256: '1.2.840.10045.4.3.2',
  p384: '1.2.840.10045.4.3.3',
  rsa2048: '1.2.840.113549.1.1.11',
};
const SIGNATURE_DIGEST: Record<TestKeyType, string | null> = { ed25519: null, p256: 'sha256', p384: 'sha384', rsa2048: 'sha256' };

/** Signs like an X.509 signature: DER ECDSA, PKCS#1 v1.5 RSA, Ed25519. */
function x509Sign(issuer: Issuer, data: Uint8Array): Uint8Array {
  return new Uint8Array(signBytes(SIGNATURE_DIGEST[issuer.type], data, { key: KeyObject.from(issuer.keys.privateKey), dsaEncoding: 'der' }));
}

/** A Certificate Transparency log for tests: a P-256 key that signs SCTs (RFC 6962 section 3.2). */
export class TestCtLog {
  private constructor(
    private readonly keys: CryptoKeyPair,
    /** The log's public key, SubjectPublicKeyInfo DER: what a client configures. */
    readonly publicKeyDer: Uint8Array,
    /** SHA-256 of publicKeyDer. */
    readonly logId: Uint8Array,
  ) {}

  static async create(): Promise<TestCtLog> {
    const keys = await generate('p256');
    const publicKeyDer = new Uint8Array(await webcrypto.subtle.exportKey('spki', keys.publicKey));
    return new TestCtLog(keys, publicKeyDer, logIdOf(KeyObject.from(keys.publicKey)));
  }

  /** One serialized SCT for the certificate (an x509_entry), timestamped `at` (default now). */
  sct(certDer: Uint8Array, options: { at?: Date; corruptSignature?: boolean } = {}): Uint8Array {
    const timestamp = (options.at ?? new Date()).getTime();
    const extensions = new Uint8Array(0);
    const signature = new Uint8Array(signBytes('sha256', sctSignedData({ version: 0, timestamp, extensions }, certDer), { key: KeyObject.from(this.keys.privateKey), dsaEncoding: 'der' }));
    if (options.corruptSignature) signature[signature.length - 1]! ^= 1;
    return encodeSct({ version: 0, logId: this.logId, timestamp, extensions, hashAlgorithm: 4, signatureAlgorithm: 3, signature });
  }

  /** A SignedCertificateTimestampList from serialized SCTs (of this log or others). */
  static list(scts: readonly Uint8Array[]): Uint8Array {
    return encodeSctList(scts);
  }
}

export class TestPki {
  readonly caDer: Uint8Array;
  readonly caPem: string;

  /** The issuer of each certificate issued here, by its DER in base64, for OCSP. */
  private readonly issuerOf = new Map<string, Issuer>();

  private constructor(private readonly root: Issuer) {
    this.caDer = new Uint8Array(root.cert.rawData);
    this.caPem = pem('CERTIFICATE', this.caDer);
  }

  /** A new self-signed root CA (P-256 by default). */
  static async create(options: { commonName?: string; keyType?: TestKeyType } = {}): Promise<TestPki> {
    const type = options.keyType ?? 'p256';
    const keys = await generate(type);
    const cert = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: serial(),
      name: cnName(options.commonName ?? 'secondary-certs test CA'),
      notBefore: new Date(Date.now() - 24 * 3600e3),
      notAfter: new Date(Date.now() + 365 * 24 * 3600e3),
      keys: keys,
      signingAlgorithm: ALGORITHMS[type].sign,
      extensions: [
        new x509.BasicConstraintsExtension(true, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      ],
    });
    return new TestPki({ keys, type, cert });
  }

  /** A leaf certificate and its key. */
  async issue(options: IssueOptions = {}): Promise<IssuedIdentity> {
    const type = options.keyType ?? 'p256';
    let issuer = this.root;
    const intermediates: x509.X509Certificate[] = [];
    if (options.viaIntermediate) {
      issuer = await this.makeIntermediate(options.intermediateIsCa ?? true);
      intermediates.push(issuer.cert);
    }
    const keys = await generate(type);
    const names = [
      ...(options.dnsNames ?? []).map((value) => ({ type: 'dns' as const, value })),
      ...(options.ipAddresses ?? []).map((value) => ({ type: 'ip' as const, value })),
    ];
    const eku = options.ekuOids ?? (options.role === 'client' ? [EKU.client] : options.role === 'both' ? [EKU.server, EKU.client] : [EKU.server]);
    const extensions: x509.Extension[] = [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(issuer.keys.publicKey),
    ];
    // RFC 5280 requires at least one purpose in the extension, so "none" means no extension (any purpose).
    if (eku.length > 0) extensions.push(new x509.ExtendedKeyUsageExtension(eku, false));
    if (names.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(names, false));
    for (const e of options.extraExtensions ?? []) extensions.push(new x509.Extension(e.oid, e.critical ?? false, e.value));
    // The CN is decoration (name checks read only the subjectAltName); X.520 caps it at 64 characters.
    const commonName = options.commonName ?? options.dnsNames?.[0] ?? options.ipAddresses?.[0] ?? 'test leaf';
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: serial(),
      subject: cnName(commonName.slice(0, 64)),
      // The issuer's own encoding of its name, so that name chaining compares equal bytes.
      issuer: issuer.cert.subjectName,
      notBefore: options.notBefore ?? new Date(Date.now() - 3600e3),
      notAfter: options.notAfter ?? new Date(Date.now() + 24 * 3600e3),
      publicKey: keys.publicKey,
      signingKey: issuer.keys.privateKey,
      signingAlgorithm: ALGORITHMS[issuer.type].sign,
      extensions,
    });
    const keyPkcs8Der = new Uint8Array(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
    const certDer = new Uint8Array(cert.rawData);
    const chainDer = [certDer, ...intermediates.map((c) => new Uint8Array(c.rawData))];
    this.issuerOf.set(Buffer.from(certDer).toString('base64'), issuer);
    return {
      certDer,
      chainDer,
      keyPkcs8Der,
      keyPem: pem('PRIVATE KEY', keyPkcs8Der),
      certPem: pem('CERTIFICATE', certDer),
      chainPem: chainDer.map((d) => pem('CERTIFICATE', d)).join(''),
    };
  }

  /**
   * A delegated OCSP responder for `leaf`'s issuer (RFC 6960 section 4.2.2.2): a certificate that issuer
   * signs, with id-kp-OCSPSigning unless `ocspSigning` is false (a wrong responder, for negative tests).
   */
  async ocspResponder(leaf: IssuedIdentity, options: { ocspSigning?: boolean } = {}): Promise<TestOcspResponder> {
    const issuer = this.issuerFor(leaf);
    const keys = await generate('p256');
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: serial(),
      subject: cnName(`secondary-certs test OCSP responder ${serial().slice(0, 8)}`),
      issuer: issuer.cert.subjectName,
      notBefore: new Date(Date.now() - 3600e3),
      notAfter: new Date(Date.now() + 24 * 3600e3),
      publicKey: keys.publicKey,
      signingKey: issuer.keys.privateKey,
      signingAlgorithm: ALGORITHMS[issuer.type].sign,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension(options.ocspSigning === false ? [EKU.client] : [id_kp_OCSPSigning], false),
      ],
    });
    return { certDer: new Uint8Array(cert.rawData), signer: { keys, type: 'p256', cert } };
  }

  /** A DER OCSPResponse about `leaf` (issued by this PKI), signed as `options.responder` says. */
  ocspResponse(leaf: IssuedIdentity, options: OcspResponseOptions = {}): Uint8Array {
    if (options.responseStatus !== undefined && options.responseStatus !== OCSPResponseStatus.successful) {
      return new Uint8Array(AsnConvert.serialize(new OCSPResponse({ responseStatus: options.responseStatus })));
    }
    const issuer = this.issuerFor(leaf);
    const named = AsnConvert.parse((options.certIdFor ?? leaf).certDer, Certificate);
    const issuerCert = AsnConvert.parse(issuer.cert.rawData, Certificate);
    const sha256 = (b: ArrayBuffer | Uint8Array): ArrayBuffer => new Uint8Array(createHash('sha256').update(new Uint8Array(b)).digest()).buffer;
    const certID = new CertID({
      hashAlgorithm: new AlgorithmIdentifier({ algorithm: ID_SHA256 }),
      issuerNameHash: new OctetString(sha256(AsnConvert.serialize(named.tbsCertificate.issuer))),
      issuerKeyHash: new OctetString(sha256(issuerCert.tbsCertificate.subjectPublicKeyInfo.subjectPublicKey)),
      serialNumber: named.tbsCertificate.serialNumber,
    });
    const thisUpdate = options.thisUpdate ?? new Date(Date.now() - 60e3);
    const nextUpdate = options.nextUpdate === null ? undefined : (options.nextUpdate ?? new Date(thisUpdate.getTime() + 24 * 3600e3));
    const status = options.status ?? 'good';
    const certStatus =
      status === 'good' ? new CertStatus({ good: null }) : status === 'revoked' ? new CertStatus({ revoked: new RevokedInfo({ revocationTime: new Date(thisUpdate.getTime() - 3600e3) }) }) : new CertStatus({ unknown: null });
    const responder = options.responder;
    const signer: Issuer = responder instanceof TestPki ? responder.root : responder ? responder.signer : issuer;
    const tbsResponseData = new ResponseData({
      responderID: new ResponderID({ byName: AsnConvert.parse(signer.cert.subjectName.toArrayBuffer(), Name) }),
      producedAt: new Date(),
      responses: [new SingleResponse({ certID, certStatus, thisUpdate, ...(nextUpdate ? { nextUpdate } : {}) })],
    });
    const signature = x509Sign(signer, new Uint8Array(AsnConvert.serialize(tbsResponseData)));
    if (options.corruptSignature) signature[signature.length - 1]! ^= 1;
    const basic = new BasicOCSPResponse({
      tbsResponseData,
      signatureAlgorithm: new AlgorithmIdentifier({ algorithm: SIGNATURE_OID[signer.type] }),
      signature: signature.buffer.slice(signature.byteOffset, signature.byteOffset + signature.length) as ArrayBuffer,
      ...(responder && !(responder instanceof TestPki) ? { certs: [AsnConvert.parse(responder.certDer, Certificate)] } : {}),
    });
    const response = new OCSPResponse({
      responseStatus: OCSPResponseStatus.successful,
      responseBytes: new ResponseBytes({ responseType: id_pkix_ocsp_basic, response: new OctetString(AsnConvert.serialize(basic)) }),
    });
    return new Uint8Array(AsnConvert.serialize(response));
  }

  private issuerFor(leaf: IssuedIdentity): Issuer {
    const issuer = this.issuerOf.get(Buffer.from(leaf.certDer).toString('base64'));
    if (!issuer) throw new TypeError('this certificate was not issued by this TestPki');
    return issuer;
  }

  private async makeIntermediate(isCa: boolean): Promise<Issuer> {
    const type: TestKeyType = 'p256';
    const keys = await generate(type);
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: serial(),
      subject: cnName(`secondary-certs test intermediate ${serial().slice(0, 8)}`),
      issuer: this.root.cert.subjectName,
      notBefore: new Date(Date.now() - 24 * 3600e3),
      notAfter: new Date(Date.now() + 30 * 24 * 3600e3),
      publicKey: keys.publicKey,
      signingKey: this.root.keys.privateKey,
      signingAlgorithm: ALGORITHMS[this.root.type].sign,
      extensions: [
        new x509.BasicConstraintsExtension(isCa, undefined, true),
        new x509.KeyUsagesExtension(isCa ? x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign : x509.KeyUsageFlags.digitalSignature, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
        await x509.AuthorityKeyIdentifierExtension.create(this.root.keys.publicKey),
      ],
    });
    return { keys, type, cert };
  }
}
