import type { CryptoProvider } from '../crypto/provider.js';
import { defaultCrypto } from '../crypto/default.js';
import type { Role } from '../exporter/keys.js';
import {
  encodeCertificateAuthorities,
  encodeOidFilters,
  encodeServerName,
  encodeSignatureSchemeList,
  ExtensionType,
  type Extension,
  type OidFilter,
} from '../tls/extension.js';
import {
  encodeCertificateRequest,
  parseCertificateRequest,
  type RequestExtensions,
  type RequestType,
} from '../tls/certificate-request.js';
import { HandshakeType } from '../tls/handshake.js';
import { SUPPORTED_SCHEMES } from '../tls/signature-scheme.js';
import type { ConnectionState } from './state.js';

/** A parsed authenticator request (RFC 9261 section 4), with its exact bytes for the transcript. */
export interface AuthenticatorRequest extends RequestExtensions {
  /** The whole framed message: type byte, uint24 length, body. */
  readonly bytes: Uint8Array;
  readonly type: RequestType;
  /** Who made it: 'server' for CertificateRequest (13), 'client' for ClientCertificateRequest (17). */
  readonly creator: Role;
  readonly context: Uint8Array;
  readonly extensions: readonly Extension[];
}

export interface CreateRequestOptions {
  /** Who makes the request: a server asks for a client authenticator (13), a client for a server one (17). */
  creator: Role;
  /** Schemes the creator accepts in the CertificateVerify; required and non-empty. Default: all we support. */
  signatureSchemes?: readonly number[];
  signatureSchemesCert?: readonly number[];
  /** The host the server should prove (client-made requests only, RFC 9261 section 8.1). */
  serverName?: string;
  /** DER DistinguishedNames of acceptable CAs. */
  certificateAuthorities?: readonly Uint8Array[];
  oidFilters?: readonly OidFilter[];
  /** Ask for an OCSP response in the CertificateEntry. */
  statusRequest?: boolean;
  /** Ask for SCTs in the CertificateEntry. */
  signedCertificateTimestamp?: boolean;
  /** Any other extensions, sent as given. */
  extraExtensions?: readonly Extension[];
  /** The context; default 32 fresh random bytes. A supplied one must be 16 to 255 bytes. */
  context?: Uint8Array;
  /** Records the context so it is never used twice on the connection. */
  state?: ConnectionState;
  crypto?: CryptoProvider;
}

/** Our floor for a context's length: RFC 9261 asks for unpredictable contexts; 16 bytes is 128 bits. */
export const MIN_CONTEXT_LENGTH = 16;
export const DEFAULT_CONTEXT_LENGTH = 32;

/** The RFC 9261 section 7.1 "request" API. */
export function createRequest(options: CreateRequestOptions): AuthenticatorRequest {
  const crypto = options.crypto ?? defaultCrypto();
  const type = options.creator === 'server' ? HandshakeType.certificate_request : HandshakeType.client_certificate_request;
  const context = options.context ?? crypto.randomBytes(DEFAULT_CONTEXT_LENGTH);
  checkContext(context);
  if (options.serverName !== undefined && options.creator !== 'client') {
    throw new TypeError('server_name may only be sent in a ClientCertificateRequest (a request made by the client)');
  }
  const schemes = options.signatureSchemes ?? SUPPORTED_SCHEMES;
  if (schemes.length === 0) throw new TypeError('signatureSchemes must not be empty: signature_algorithms is required');

  const extensions: Extension[] = [];
  if (options.serverName !== undefined) extensions.push({ type: ExtensionType.server_name, data: encodeServerName(options.serverName) });
  if (options.statusRequest) extensions.push({ type: ExtensionType.status_request, data: new Uint8Array(0) });
  extensions.push({ type: ExtensionType.signature_algorithms, data: encodeSignatureSchemeList(schemes) });
  if (options.signedCertificateTimestamp) extensions.push({ type: ExtensionType.signed_certificate_timestamp, data: new Uint8Array(0) });
  if (options.certificateAuthorities) extensions.push({ type: ExtensionType.certificate_authorities, data: encodeCertificateAuthorities(options.certificateAuthorities) });
  if (options.oidFilters) extensions.push({ type: ExtensionType.oid_filters, data: encodeOidFilters(options.oidFilters) });
  if (options.signatureSchemesCert) extensions.push({ type: ExtensionType.signature_algorithms_cert, data: encodeSignatureSchemeList(options.signatureSchemesCert) });
  for (const e of options.extraExtensions ?? []) extensions.push(e);

  const bytes = encodeCertificateRequest({ type, context, extensions });
  // Parse our own output: it checks duplicates and limits the same way a peer would.
  const request = parseRequest(bytes);
  options.state?.recordRequest(context);
  return request;
}

/** Parses a received request strictly. Throws MalformedMessage or UnexpectedMessage. */
export function parseRequest(bytes: Uint8Array): AuthenticatorRequest {
  const m = parseCertificateRequest(bytes);
  return {
    ...m.parsed,
    bytes: m.raw,
    type: m.type,
    creator: m.type === HandshakeType.certificate_request ? 'server' : 'client',
    context: m.context,
    extensions: m.extensions,
  };
}

function checkContext(context: Uint8Array): void {
  if (!(context instanceof Uint8Array)) throw new TypeError('context must be a Uint8Array');
  if (context.length < MIN_CONTEXT_LENGTH || context.length > 255) {
    throw new RangeError(`context must be ${MIN_CONTEXT_LENGTH} to 255 bytes, got ${context.length}`);
  }
}
export { checkContext as assertContextLength };
