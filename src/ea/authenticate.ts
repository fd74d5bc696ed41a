import { HASH_LENGTH, type CryptoProvider, type Signer } from '../crypto/provider.js';
import { defaultCrypto } from '../crypto/default.js';
import { ChainSchemeNotOffered, ContextReused, NoCommonScheme } from '../errors.js';
import type { AuthenticatorKeys, Role } from '../exporter/keys.js';
import { certificateSize, encodeCertificate, encodeCertificateList, writeCertificate } from '../tls/certificate.js';
import { certificateVerifySize, writeCertificateVerify } from '../tls/certificate-verify.js';
import type { Extension } from '../tls/extension.js';
import { encodeFinished, writeFinished } from '../tls/finished.js';
import { firstUnfitCertificate } from '../tls/certificate-signature.js';
import { isTls13Scheme, schemeName, SUPPORTED_SCHEMES } from '../tls/signature-scheme.js';
import { assertContextLength, DEFAULT_CONTEXT_LENGTH, parseRequest, type AuthenticatorRequest } from './request.js';
import type { ConnectionState } from './state.js';
import { finishedMac, finishedMacOver, signedContentOver } from './transcript.js';

export interface AuthenticateOptions {
  /** The connection's exporter values (see src/exporter). */
  keys: AuthenticatorKeys;
  /** Who builds the authenticator; picks the exporter labels. */
  creator: Role;
  /** The request being answered (bytes or parsed). Absent: a spontaneous authenticator (servers only). */
  request?: Uint8Array | AuthenticatorRequest;
  /** Spontaneous only: the context to use; default 32 fresh random bytes (section 5.2.1). */
  context?: Uint8Array;
  /**
   * DER certificates, end-entity first. Without entry extensions, its encoding is kept for the next call
   * with the same array, so do not change the certificates' bytes in place.
   */
  certificateChain: readonly Uint8Array[];
  /** Extensions per certificate entry (index-aligned with the chain): OCSP, SCTs. Only solicited ones are sent. */
  entryExtensions?: readonly (readonly Extension[])[];
  /** Signs with the end-entity key. May be asynchronous (HSM, remote signer). */
  signer: Signer;
  /**
   * Spontaneous only: the signature_algorithms the peer sent in its ClientHello (section 5.2.2). Node does
   * not expose them, so the default is the schemes this library supports, which Node clients offer.
   */
  peerSignatureSchemes?: readonly number[];
  /**
   * Spontaneous only: the signature_algorithms_cert the peer sent in its ClientHello, if it sent one. With
   * a request, the request's. When present, every certificate's signature must be one of them (section 5.2.1).
   */
  peerSignatureSchemesCert?: readonly number[];
  /** Spontaneous only: extension types the peer's ClientHello offered for certificate entries. Default none. */
  peerOfferedEntryExtensions?: readonly number[];
  state?: ConnectionState;
  crypto?: CryptoProvider;
}

/**
 * The RFC 9261 section 7.3 "authenticate" API: Certificate || CertificateVerify || Finished.
 * Throws NoCommonScheme when the key can sign with no scheme the peer allows, ChainSchemeNotOffered when a
 * certificate's signature is not in the peer's signature_algorithms_cert (the caller may then send an
 * empty authenticator instead, or use chooseCandidate first), and ContextReused when this endpoint already built or validated an
 * authenticator with the context.
 */
export async function createAuthenticator(options: AuthenticateOptions): Promise<Uint8Array> {
  const crypto = options.crypto ?? defaultCrypto();
  const { keys, creator, signer } = options;
  if (options.certificateChain.length === 0) throw new TypeError('certificateChain must hold at least the end-entity certificate');
  const request = options.request === undefined ? undefined : options.request instanceof Uint8Array ? parseRequest(options.request) : options.request;
  const context = contextFor(options, request, crypto);

  if (options.state) {
    if (options.state.wasBuilt(context) || options.state.wasValidated(context)) {
      throw new ContextReused('an authenticator with this context was already built or validated on this connection');
    }
    if (!request && options.state.hasSeen(context)) throw new ContextReused('a spontaneous authenticator needs a context not yet seen on this connection');
  }

  const offered = request ? { signatureSchemes: request.signatureSchemes, signatureSchemesCert: request.signatureSchemesCert } : { signatureSchemes: options.peerSignatureSchemes ?? SUPPORTED_SCHEMES, signatureSchemesCert: options.peerSignatureSchemesCert };
  const unfit = whyUnfit({ certificateChain: options.certificateChain, signer }, offered);
  if (unfit) throw unfit;
  const scheme = signer.schemes.find((s) => isTls13Scheme(s) && offered.signatureSchemes.includes(s))!;

  const role = keys[creator];
  const { handshakeContext } = role;
  const requestBytes = request?.bytes ?? EMPTY;
  const list = certificateList(options.certificateChain, solicitedEntryExtensions(options, request));
  // The authenticator is written straight into the bytes its two transcript hashes cover (section 5.2),
  //   Handshake Context || request || Certificate || CertificateVerify || Finished,
  // so each hash is one call over a prefix and the result is one copy of the tail. The signature's length
  // is known only once signed: room is reserved for the common sizes, and a longer one moves the bytes.
  const certificateStart = handshakeContext.length + requestBytes.length;
  const certificateEnd = certificateStart + certificateSize(context, list);
  const finishedSize = 4 + HASH_LENGTH[keys.hash];
  let bytes = new Uint8Array(certificateEnd + CERTIFICATE_VERIFY_ROOM + finishedSize);
  bytes.set(handshakeContext);
  bytes.set(requestBytes, handshakeContext.length);
  writeCertificate(bytes, certificateStart, context, list);

  const signing = signer.sign(scheme, signedContentOver(crypto, keys.hash, bytes.subarray(0, certificateEnd)));
  // A local key signs synchronously: use its result at once rather than wait a turn for `await`.
  const signature = signing instanceof Uint8Array ? signing : await signing;

  const certificateVerifyEnd = certificateEnd + certificateVerifySize(signature);
  if (certificateVerifyEnd + finishedSize > bytes.length) {
    const larger = new Uint8Array(certificateVerifyEnd + finishedSize);
    larger.set(bytes.subarray(0, certificateEnd));
    bytes = larger;
  }
  writeCertificateVerify(bytes, certificateEnd, { scheme, signature });
  const mac = finishedMacOver(crypto, keys.hash, role.finishedKey, bytes.subarray(0, certificateVerifyEnd));
  const end = writeFinished(bytes, certificateVerifyEnd, mac);
  options.state?.recordBuilt(context);
  return bytes.slice(certificateStart, end);
}

/** An identity that could answer: a chain and the signer of its end-entity key. */
export interface AuthenticatorCandidate {
  certificateChain: readonly Uint8Array[];
  signer: Signer;
}

/** What the peer offered for the CertificateVerify (signature_algorithms) and the chain (signature_algorithms_cert). */
export interface OfferedSchemes {
  signatureSchemes: readonly number[];
  signatureSchemesCert?: readonly number[] | undefined;
}

/**
 * Why `candidate` cannot answer what was offered (RFC 9261 sections 5.2.1 and 5.2.2), or undefined when it
 * can: its key must sign with an offered TLS 1.3 scheme, and, when signature_algorithms_cert was sent,
 * each certificate's signature must be one it lists. Without signature_algorithms_cert certificate
 * signatures are not checked (spec-notes: RFC 8446 would apply signature_algorithms to them).
 */
export function whyUnfit(candidate: AuthenticatorCandidate, offered: OfferedSchemes): NoCommonScheme | ChainSchemeNotOffered | undefined {
  if (!candidate.signer.schemes.some((s) => isTls13Scheme(s) && offered.signatureSchemes.includes(s))) return new NoCommonScheme('the key can sign with no TLS 1.3 scheme the peer offered');
  if (!offered.signatureSchemesCert) return undefined;
  const unfit = firstUnfitCertificate(candidate.certificateChain, offered.signatureSchemesCert);
  if (!unfit) return undefined;
  const signedWith = unfit.schemes.length > 0 ? unfit.schemes.map(schemeName).join(' or ') : 'a scheme TLS does not name';
  return new ChainSchemeNotOffered(`certificate ${unfit.index} of the chain is signed with ${signedWith}, which the peer's signature_algorithms_cert does not list`, unfit.index);
}

/**
 * The RFC 9261 section 5.2.1 choice: the first candidate whose key and chain fit what the peer offered.
 * Throws the first candidate's problem (NoCommonScheme or ChainSchemeNotOffered) when none fits; the
 * caller may then answer with an empty authenticator.
 */
export function chooseCandidate<C extends AuthenticatorCandidate>(candidates: readonly C[], offered: OfferedSchemes): C {
  let first: NoCommonScheme | ChainSchemeNotOffered | undefined;
  for (const c of candidates) {
    const problem = whyUnfit(c, offered);
    if (!problem) return c;
    first ??= problem;
  }
  throw first ?? new TypeError('no candidate to choose from');
}

/** Room for a CertificateVerify: its header and a signature of Ed25519, any ECDSA curve or RSA up to 4096 bits. */
const CERTIFICATE_VERIFY_ROOM = 8 + 512;

/**
 * The extensions to send per certificate entry, or undefined when there are none. Only extensions the peer
 * solicited may appear in a CertificateEntry (section 5.2.1); others are dropped, as a TLS server drops an
 * OCSP staple nobody asked for.
 */
function solicitedEntryExtensions(options: AuthenticateOptions, request: AuthenticatorRequest | undefined): Extension[][] | undefined {
  if (!options.entryExtensions?.some((list) => list.length > 0)) return undefined;
  const solicited = new Set<number>(request ? request.extensions.map((e) => e.type) : options.peerOfferedEntryExtensions ?? []);
  const perEntry = options.certificateChain.map((_, i) => (options.entryExtensions?.[i] ?? []).filter((e) => solicited.has(e.type)));
  return perEntry.some((list) => list.length > 0) ? perEntry : undefined;
}

/**
 * Encoded certificate_list of chains sent without entry extensions, per chain array: an identity sends the
 * same chain in every authenticator, and only the context around it changes. An entry is used only while
 * the array still holds the same certificate objects (the DER bytes themselves must not be changed in place).
 */
const chainLists = new WeakMap<readonly Uint8Array[], { certs: readonly Uint8Array[]; list: Uint8Array }>();

function certificateList(chain: readonly Uint8Array[], extensions: Extension[][] | undefined): Uint8Array {
  if (extensions) return encodeCertificateList(chain.map((certData, i) => ({ certData, extensions: extensions[i]! })));
  const cached = chainLists.get(chain);
  if (cached && cached.certs.length === chain.length && cached.certs.every((c, i) => c === chain[i])) return cached.list;
  const list = encodeCertificateList(chain.map((certData) => ({ certData, extensions: [] })));
  chainLists.set(chain, { certs: [...chain], list });
  return list;
}

export interface EmptyAuthenticatorOptions {
  keys: AuthenticatorKeys;
  creator: Role;
  /** The request being refused: an empty authenticator only answers a request (section 6). */
  request: Uint8Array | AuthenticatorRequest;
  state?: ConnectionState;
  crypto?: CryptoProvider;
}

/** The RFC 9261 section 6 empty authenticator: a lone Finished over an unsent, empty Certificate. */
export function createEmptyAuthenticator(options: EmptyAuthenticatorOptions): Uint8Array {
  const crypto = options.crypto ?? defaultCrypto();
  const request = options.request instanceof Uint8Array ? parseRequest(options.request) : options.request;
  if (options.state && (options.state.wasBuilt(request.context) || options.state.wasValidated(request.context))) {
    throw new ContextReused('this request was already answered on this connection');
  }
  const role = options.keys[options.creator];
  const emptyCertificate = encodeCertificate({ context: request.context, entries: [] });
  const mac = finishedMac(crypto, options.keys.hash, role.handshakeContext, role.finishedKey, request.bytes, emptyCertificate, EMPTY);
  options.state?.recordBuilt(request.context);
  return encodeFinished(mac);
}

const EMPTY = new Uint8Array(0);

function contextFor(options: AuthenticateOptions, request: AuthenticatorRequest | undefined, crypto: CryptoProvider): Uint8Array {
  if (request) {
    if (options.context !== undefined) throw new TypeError('context is taken from the request; do not pass one');
    return request.context;
  }
  if (options.creator !== 'server') throw new TypeError('only servers may send spontaneous authenticators (RFC 9261 section 5)');
  const context = options.context ?? crypto.randomBytes(DEFAULT_CONTEXT_LENGTH);
  assertContextLength(context);
  return context;
}
