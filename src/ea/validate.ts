import type { CryptoProvider } from '../crypto/provider.js';
import { HASH_LENGTH } from '../crypto/provider.js';
import { defaultCrypto } from '../crypto/default.js';
import { equalBytes } from '../codec/writer.js';
import { Reader } from '../codec/reader.js';
import {
  BadFinished,
  BadSignature,
  ChainSchemeNotOffered,
  ContextMismatch,
  ContextReused,
  EmptyAuthenticator,
  EmptyCertificateList,
  SchemeKeyMismatch,
  SchemeNotAllowed,
  SchemeNotOffered,
  UnexpectedMessage,
  UnsolicitedClientAuthenticator,
  UnsolicitedExtension,
} from '../errors.js';
import type { AuthenticatorKeys, Role } from '../exporter/keys.js';
import { encodeCertificate, parseCertificateBody, type CertificateEntry, type CertificateMessage } from '../tls/certificate.js';
import { parseCertificateVerifyBody, type CertificateVerifyMessage } from '../tls/certificate-verify.js';
import {
  CERTIFICATE_ENTRY_EXTENSIONS,
  ExtensionType,
  isKnownExtension,
  parseCertificateStatus,
  parseSctList,
} from '../tls/extension.js';
import { firstUnfitCertificate } from '../tls/certificate-signature.js';
import { HandshakeType, handshakeName, readHandshakes } from '../tls/handshake.js';
import { isTls13Scheme, keyTypeForScheme, schemeName, SUPPORTED_SCHEMES } from '../tls/signature-scheme.js';
import { parseRequest, type AuthenticatorRequest } from './request.js';
import type { ConnectionState } from './state.js';
import { finishedMac, transcriptValues } from './transcript.js';

/** An authenticator split into its messages, each with its raw bytes for the transcript. */
export type ParsedAuthenticator =
  | {
      kind: 'certificate';
      certificate: CertificateMessage;
      certificateRaw: Uint8Array;
      certificateVerify: CertificateVerifyMessage;
      certificateVerifyRaw: Uint8Array;
      verifyData: Uint8Array;
    }
  | { kind: 'empty'; verifyData: Uint8Array };

/**
 * Parses an authenticator strictly: exactly Certificate, CertificateVerify, Finished, or a lone Finished
 * (an empty authenticator); no trailing bytes. With `hashLength`, the Finished length is checked too.
 */
export function parseAuthenticator(bytes: Uint8Array, hashLength?: number): ParsedAuthenticator {
  const msgs = readHandshakes(bytes, 'authenticator');
  const types = msgs.map((m) => m.type);
  const fin = msgs[msgs.length - 1];
  if (fin?.type === HandshakeType.finished && hashLength !== undefined && fin.body.length !== hashLength) {
    new Reader(fin.body, 'Finished').fail(`verify_data is ${fin.body.length} bytes; the connection's hash needs ${hashLength}`);
  }
  if (msgs.length === 1 && types[0] === HandshakeType.finished) return { kind: 'empty', verifyData: fin!.body };
  if (msgs.length === 3 && types[0] === HandshakeType.certificate && types[1] === HandshakeType.certificate_verify && types[2] === HandshakeType.finished) {
    return {
      kind: 'certificate',
      certificate: parseCertificateBody(msgs[0]!.body),
      certificateRaw: msgs[0]!.raw,
      certificateVerify: parseCertificateVerifyBody(msgs[1]!.body),
      certificateVerifyRaw: msgs[1]!.raw,
      verifyData: fin!.body,
    };
  }
  throw new UnexpectedMessage(
    `authenticator: got ${types.map(handshakeName).join(', ') || 'nothing'}; expected Certificate, CertificateVerify, Finished or a lone Finished`,
  );
}

/**
 * The RFC 9261 section 7.2 "get context" API for an authenticator or a request. A lone Finished (an empty
 * authenticator) carries no context: that throws UnexpectedMessage; match it to its request instead.
 */
export function getContext(bytes: Uint8Array): Uint8Array {
  const first = bytes[0];
  if (first === HandshakeType.certificate_request || first === HandshakeType.client_certificate_request) return parseRequest(bytes).context;
  const parsed = parseAuthenticator(bytes);
  if (parsed.kind === 'empty') throw new UnexpectedMessage('an empty authenticator carries no context');
  return parsed.certificate.context;
}

export interface ValidateOptions {
  keys: AuthenticatorKeys;
  /** Who made the authenticator (the peer); picks the exporter labels. */
  creator: Role;
  authenticator: Uint8Array;
  /** The request it answers, as sent. Absent: a spontaneous authenticator, allowed from servers only. */
  request?: Uint8Array | AuthenticatorRequest;
  /** The validating endpoint's state for this connection (context uniqueness and reuse). */
  state?: ConnectionState;
  /** Spontaneous only: the signature schemes our ClientHello offered. Default: all this library supports. */
  offeredSchemes?: readonly number[];
  /** Spontaneous only: extension types our ClientHello offered for certificate entries. Default: none. */
  offeredEntryExtensions?: readonly number[];
  /** Spontaneous only: the signature_algorithms_cert our ClientHello offered, if any. With a request, the request's. */
  offeredSchemesCert?: readonly number[];
  /**
   * Accept a client authenticator answering a ClientCertificateRequest (17) rather than a CertificateRequest
   * (13). draft-rosomakho-httpbis-secondary-client-certs puts type 17 in server-sent requests; RFC 9261 says a
   * server-made request is type 13. Off by default; see spec-notes.
   */
  acceptEitherRequestType?: boolean;
  crypto?: CryptoProvider;
}

export interface ValidatedAuthenticator {
  creator: Role;
  context: Uint8Array;
  /** DER certificates, end-entity first: hand them to a CertificatePolicy. */
  chain: Uint8Array[];
  entries: CertificateEntry[];
  scheme: number;
}

const EMPTY = new Uint8Array(0);

/**
 * The RFC 9261 section 7.4 "validate" API, minus certificate acceptance (trust, dates, names), which is the
 * job of a CertificatePolicy. Checks run cheapest first and each failure has its own error class:
 * UnsolicitedClientAuthenticator, UnexpectedMessage, MalformedMessage, ContextMismatch, ContextReused,
 * EmptyCertificateList, UnsolicitedExtension, ChainSchemeNotOffered, SchemeNotAllowed, SchemeNotOffered, BadFinished,
 * SchemeKeyMismatch / UnsupportedKey, BadSignature. A valid empty authenticator throws EmptyAuthenticator
 * (the peer declined), after its Finished verified.
 */
export async function validateAuthenticator(options: ValidateOptions): Promise<ValidatedAuthenticator> {
  const crypto = options.crypto ?? defaultCrypto();
  const { keys, creator, state } = options;
  if (state && state.role === creator) throw new TypeError(`a ${state.role}'s state validates the peer's authenticators, not its own`);
  const request = options.request === undefined ? undefined : options.request instanceof Uint8Array ? parseRequest(options.request) : options.request;

  if (!request) {
    if (creator === 'client') throw new UnsolicitedClientAuthenticator('a client authenticator must answer a request; only servers may authenticate spontaneously');
  } else if (request.creator === creator && !(options.acceptEitherRequestType && creator === 'client')) {
    throw new UnexpectedMessage(`a ${creator} authenticator answers a request made by the ${creator === 'server' ? 'client (17)' : 'server (13)'}, not a ${request.type}`);
  }

  const parsed = parseAuthenticator(options.authenticator, HASH_LENGTH[keys.hash]);
  const role = keys[creator];
  const requestBytes = request?.bytes ?? EMPTY;

  if (parsed.kind === 'empty') {
    if (!request) throw new UnexpectedMessage('an empty authenticator only answers a request');
    if (state?.wasValidated(request.context)) throw new ContextReused('this request was already answered');
    const emptyCertificate = encodeCertificate({ context: request.context, entries: [] });
    const expected = finishedMac(crypto, keys.hash, role.handshakeContext, role.finishedKey, requestBytes, emptyCertificate, EMPTY);
    if (!crypto.timingSafeEqual(expected, parsed.verifyData)) throw new BadFinished('the empty authenticator\'s Finished does not verify');
    state?.recordValidated(request.context);
    throw new EmptyAuthenticator('the peer declined to authenticate (empty authenticator)');
  }

  const { certificate, certificateVerify } = parsed;
  const context = certificate.context;
  if (request && !equalBytes(context, request.context)) throw new ContextMismatch('certificate_request_context differs from the request\'s');
  if (state?.wasValidated(context)) throw new ContextReused('an authenticator with this context was already validated on this connection');
  if (!request && state?.hasSeen(context)) throw new ContextReused('a spontaneous authenticator reused a context seen on this connection');
  if (certificate.entries.length === 0) throw new EmptyCertificateList('the Certificate holds no certificate; a refusal is an empty authenticator');

  checkEntryExtensions(certificate.entries, request ? request.extensions.map((e) => e.type) : options.offeredEntryExtensions ?? []);
  checkChainSchemes(certificate.entries, request ? request.signatureSchemesCert : options.offeredSchemesCert);

  const scheme = certificateVerify.scheme;
  if (!isTls13Scheme(scheme)) throw new SchemeNotAllowed(`${schemeName(scheme)} is not allowed in TLS 1.3`);
  const offered = request ? request.signatureSchemes : options.offeredSchemes ?? SUPPORTED_SCHEMES;
  if (!offered.includes(scheme)) throw new SchemeNotOffered(`${schemeName(scheme)} was not offered`);

  const transcript = transcriptValues(crypto, keys.hash, role.handshakeContext, role.finishedKey, requestBytes, parsed.certificateRaw, parsed.certificateVerifyRaw);
  // Finished first: a cheap HMAC that anyone without the exporter fails, before any public-key work.
  if (!crypto.timingSafeEqual(transcript.finishedMac, parsed.verifyData)) throw new BadFinished('Finished does not verify');

  const leaf = certificate.entries[0]!.certData;
  const key = await crypto.publicKeyFromCertificate(leaf);
  if (keyTypeForScheme(scheme) !== key.type) throw new SchemeKeyMismatch(`${schemeName(scheme)} does not fit the certificate's ${key.type} key`);
  if (!(await crypto.verify(scheme, key, transcript.signedContent, certificateVerify.signature))) throw new BadSignature('CertificateVerify signature does not verify');

  state?.recordValidated(context);
  return { creator, context, chain: certificate.entries.map((e) => e.certData), entries: certificate.entries, scheme };
}

/**
 * RFC 9261 section 5.2.1 (RFC 8446 section 4.4.2.2): when we sent signature_algorithms_cert, each
 * certificate of the chain is signed with a scheme it lists (a self-signed one excepted). Without it,
 * certificate signatures are the certificate policy's business.
 */
function checkChainSchemes(entries: readonly CertificateEntry[], offered: readonly number[] | undefined): void {
  if (!offered) return;
  const unfit = firstUnfitCertificate(entries.map((e) => e.certData), offered);
  if (!unfit) return;
  const signedWith = unfit.schemes.length > 0 ? unfit.schemes.map(schemeName).join(' or ') : 'a scheme TLS does not name';
  throw new ChainSchemeNotOffered(`certificate ${unfit.index} of the chain is signed with ${signedWith}, which our signature_algorithms_cert does not list`, unfit.index);
}

/** RFC 9261 section 5.2.1 and RFC 8446 section 4.4.2: only offered extensions, only those allowed in a CertificateEntry. */
function checkEntryExtensions(entries: readonly CertificateEntry[], offered: readonly number[]): void {
  for (const entry of entries) {
    for (const e of entry.extensions) {
      if (!offered.includes(e.type)) throw new UnsolicitedExtension(`CertificateEntry carries extension ${e.type}, which was not offered`);
      if (isKnownExtension(e.type) && !CERTIFICATE_ENTRY_EXTENSIONS.has(e.type)) {
        throw new UnsolicitedExtension(`extension ${e.type} may not appear in a CertificateEntry`);
      }
      if (e.type === ExtensionType.status_request) parseCertificateStatus(e.data);
      if (e.type === ExtensionType.signed_certificate_timestamp) parseSctList(e.data);
    }
  }
}
