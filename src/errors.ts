// One error class per failure kind, each with a stable `code` (jose style). Callers switch on
// `err.code`; messages are for people and may change.
//
// API misuse (a wrong argument type or range) throws plain TypeError/RangeError instead: those are bugs
// in the caller, not something a peer sent.

/**
 * Every `code` a SecondaryCertsError carries, in one list: a caller can switch on `err.code` and the
 * compiler knows each value. A new error class must add its code here (its `code` is typed by it).
 */
export const ERROR_CODES = [
  'ERR_AGENT_CLOSED',
  'ERR_ALPN_REFUSED',
  'ERR_BAD_FINISHED',
  'ERR_BAD_SIGNATURE',
  'ERR_BODY_TOO_LARGE',
  'ERR_CHAIN_SCHEME_NOT_OFFERED',
  'ERR_CLIENT_CERT_ABORTED',
  'ERR_CLIENT_CERT_BINDING',
  'ERR_CLIENT_CERT_REFUSED',
  'ERR_CLIENT_CERT_TIMEOUT',
  'ERR_CONNECT_FAILED',
  'ERR_CONTEXT_MISMATCH',
  'ERR_CONTEXT_REUSED',
  'ERR_EMPTY_AUTHENTICATOR',
  'ERR_EMPTY_CERTIFICATE_LIST',
  'ERR_EXPORTER_UNAVAILABLE',
  'ERR_FIELD_SECTION_TOO_LARGE',
  'ERR_FIELD_TOO_LARGE',
  'ERR_FRAME_TOO_LARGE',
  'ERR_H2_CONNECTION',
  'ERR_H3_CONNECTION',
  'ERR_H3_CONNECTION_CLOSED',
  'ERR_H3_STREAM',
  'ERR_IDLE_TIMEOUT',
  'ERR_HANDSHAKE_INCOMPLETE',
  'ERR_HANDSHAKE_TIMEOUT',
  'ERR_INVALID_PROFILE',
  'ERR_MALFORMED',
  'ERR_MALFORMED_FIELD',
  'ERR_NO_ADDRESS',
  'ERR_NO_COMMON_SCHEME',
  'ERR_OPTIONS_STAR_RESPONSE',
  'ERR_OPTIONS_STAR_STATUS',
  'ERR_QUIC_CONNECT_TIMEOUT',
  'ERR_QUIC_HANDSHAKE',
  'ERR_QUIC_UNAVAILABLE',
  'ERR_REQUEST_TIMEOUT',
  'ERR_SCHEME_KEY_MISMATCH',
  'ERR_SCHEME_NOT_OFFERED',
  'ERR_SCHEME_NOT_TLS13',
  'ERR_SEND_STALLED',
  'ERR_SERVER_CERT_REFUSED',
  'ERR_SOCKET_CLOSED',
  'ERR_STREAM_ABORTED',
  'ERR_STREAM_CLOSED',
  'ERR_STREAM_LIMIT',
  'ERR_STREAM_RESET',
  'ERR_TLS_VERSION',
  'ERR_TOO_MANY_AUTHENTICATORS',
  'ERR_TOO_MANY_CONTEXTS',
  'ERR_TOO_MANY_REQUESTS',
  'ERR_TRANSPORT_CLOSED',
  'ERR_UNEXPECTED_MESSAGE',
  'ERR_UNSOLICITED_CLIENT_AUTHENTICATOR',
  'ERR_UNSOLICITED_EXTENSION',
  'ERR_UNSUPPORTED_KEY',
  'ERR_UNSUPPORTED_MEDIA_TYPE',
  'ERR_UNSUPPORTED_SCHEME',
  // certificate policy (CertificateRejected)
  'ERR_CERT_EXPIRED',
  'ERR_CERT_NOT_YET_VALID',
  'ERR_CERT_UNTRUSTED',
  'ERR_CERT_BAD_SIGNATURE',
  'ERR_CERT_NOT_CA',
  'ERR_CERT_KEY_USAGE',
  'ERR_CERT_EKU',
  'ERR_CERT_PATH_LENGTH',
  'ERR_CERT_MALFORMED',
  'ERR_CERT_NO_NAME',
  'ERR_CERT_CRITICAL_EXTENSION',
  // a secondary server certificate without a satisfied Required Domain (http2-secondary-certs-06 section 5)
  'ERR_CERT_REQUIRED_DOMAIN',
  // a stapled OCSP response (src/pki/ocsp.ts, RFC 6960), judged by the certificate policy
  'ERR_CERT_OCSP_MISSING',
  'ERR_CERT_OCSP_MALFORMED',
  'ERR_CERT_OCSP_UNSUCCESSFUL',
  'ERR_CERT_OCSP_CERT_ID_MISMATCH',
  'ERR_CERT_OCSP_WRONG_RESPONDER',
  'ERR_CERT_OCSP_BAD_SIGNATURE',
  'ERR_CERT_OCSP_STALE',
  'ERR_CERT_OCSP_UNKNOWN',
  'ERR_CERT_REVOKED',
  // signed certificate timestamps (src/pki/sct.ts, RFC 6962), judged by the certificate policy
  'ERR_CERT_SCT_MALFORMED',
  'ERR_CERT_SCT_UNKNOWN_LOG',
  'ERR_CERT_SCT_BAD_SIGNATURE',
  'ERR_CERT_SCT_FUTURE',
  'ERR_CERT_SCT_TOO_FEW_LOGS',
  // a TLS certificate that does not cover the name connected to (CertificateNameMismatch)
  'ERR_CERT_NAME_MISMATCH',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export abstract class SecondaryCertsError extends Error {
  abstract readonly code: ErrorCode;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Bytes that do not parse: truncated, over-long, trailing data, a bad length, a wrong type byte. */
export class MalformedMessage extends SecondaryCertsError {
  readonly code = 'ERR_MALFORMED';
  /** The structure being parsed when it failed, e.g. "CertificateRequest.extensions". */
  readonly structure: string;
  constructor(structure: string, problem: string) {
    super(`${structure}: ${problem}`);
    this.structure = structure;
  }
}

/** A message of the wrong handshake type where another was required. */
export class UnexpectedMessage extends SecondaryCertsError {
  readonly code = 'ERR_UNEXPECTED_MESSAGE';
}

// ---- RFC 9261 validation failures: one class per rule (sections 4 to 7) ----

/** The authenticator's certificate_request_context differs from the request's (RFC 9261 section 5.2.1). */
export class ContextMismatch extends SecondaryCertsError {
  readonly code = 'ERR_CONTEXT_MISMATCH';
}
/** The context was already used on this connection (RFC 9261 sections 4, 5.2.1 and 7.4). */
export class ContextReused extends SecondaryCertsError {
  readonly code = 'ERR_CONTEXT_REUSED';
}
/** A client authenticator with no request before it: only servers may be spontaneous (RFC 9261 section 5). */
export class UnsolicitedClientAuthenticator extends SecondaryCertsError {
  readonly code = 'ERR_UNSOLICITED_CLIENT_AUTHENTICATOR';
}
/** A CertificateEntry extension that was not offered (RFC 9261 section 5.2.1, RFC 8446 section 4.2). */
export class UnsolicitedExtension extends SecondaryCertsError {
  readonly code = 'ERR_UNSOLICITED_EXTENSION';
}
/** A signature scheme that TLS 1.3 does not allow (RFC 9261 section 5.2.2, RFC 8446 section 4.4.3). */
export class SchemeNotAllowed extends SecondaryCertsError {
  readonly code = 'ERR_SCHEME_NOT_TLS13';
}
/** A signature scheme the validator did not offer (RFC 9261 section 5.2.2). */
export class SchemeNotOffered extends SecondaryCertsError {
  readonly code = 'ERR_SCHEME_NOT_OFFERED';
}
/** The signature scheme does not fit the leaf certificate's key (RFC 9261 section 5.2.2). */
export class SchemeKeyMismatch extends SecondaryCertsError {
  readonly code = 'ERR_SCHEME_KEY_MISMATCH';
}
/** The Finished MAC does not verify (RFC 9261 section 5.2.3). */
export class BadFinished extends SecondaryCertsError {
  readonly code = 'ERR_BAD_FINISHED';
}
/** The CertificateVerify signature does not verify (RFC 9261 section 5.2.2). */
export class BadSignature extends SecondaryCertsError {
  readonly code = 'ERR_BAD_SIGNATURE';
}
/**
 * A certificate of the chain is signed with a scheme the peer's signature_algorithms_cert does not list
 * (RFC 9261 section 5.2.1, RFC 8446 section 4.4.2.2): refused when validating, and when building no
 * chain offered fits. `index` is the certificate's place in the chain.
 */
export class ChainSchemeNotOffered extends SecondaryCertsError {
  readonly code = 'ERR_CHAIN_SCHEME_NOT_OFFERED';
  constructor(
    message: string,
    readonly index: number,
  ) {
    super(message);
  }
}
/** A well-formed empty authenticator: the peer declined to authenticate (RFC 9261 sections 6 and 7.4). */
export class EmptyAuthenticator extends SecondaryCertsError {
  readonly code = 'ERR_EMPTY_AUTHENTICATOR';
}
/** A Certificate with an empty certificate_list where an identity is required (RFC 8446 section 4.4.2). */
export class EmptyCertificateList extends SecondaryCertsError {
  readonly code = 'ERR_EMPTY_CERTIFICATE_LIST';
}

// ---- building ----

/** No signature scheme both fits the key and was offered by the peer (RFC 9261 section 5.2.2). */
export class NoCommonScheme extends SecondaryCertsError {
  readonly code = 'ERR_NO_COMMON_SCHEME';
}
/** A key type this library cannot sign or verify with. */
export class UnsupportedKey extends SecondaryCertsError {
  readonly code = 'ERR_UNSUPPORTED_KEY';
}

// ---- the TLS connection under the exporter ----

/** The connection is not TLS 1.3 (RFC 9261 section 7: we support TLS 1.3 only, see spec-notes). */
export class UnsupportedTlsVersion extends SecondaryCertsError {
  readonly code = 'ERR_TLS_VERSION';
}
/** The TLS handshake is not complete, so no exporter exists yet (RFC 9261 section 9). */
export class HandshakeIncomplete extends SecondaryCertsError {
  readonly code = 'ERR_HANDSHAKE_INCOMPLETE';
}
/** Exporter input that cannot be used: a key log without EXPORTER_SECRET, a secret of the wrong length. */
export class ExporterUnavailable extends SecondaryCertsError {
  readonly code = 'ERR_EXPORTER_UNAVAILABLE';
}

// ---- certificate acceptance (kept apart from RFC 9261 validation) ----

/** The certificate policy's codes: why a chain was not accepted. */
export type CertificateProblem = Extract<ErrorCode, `ERR_CERT_${string}`>;

/** A chain that RFC 9261 accepted but the certificate policy did not (untrusted, expired, wrong usage). */
export class CertificateRejected extends SecondaryCertsError {
  readonly code: CertificateProblem;
  constructor(code: CertificateProblem, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

// ---- configuration ----

/** A codepoint profile that cannot work: a value out of range, a standard codepoint, a duplicate, an unknown name. */
export class InvalidProfile extends SecondaryCertsError {
  readonly code = 'ERR_INVALID_PROFILE';
}

/**
 * A server sent more authenticators on one connection than the client processes (maxAuthenticators):
 * the rest are ignored unvalidated. Reported in a certificate event's reason, not thrown at callers.
 */
export class TooManyAuthenticators extends SecondaryCertsError {
  readonly code = 'ERR_TOO_MANY_AUTHENTICATORS';
}

/** A connection's state refuses to remember more contexts (a bound against a peer growing it forever). */
export class TooManyContexts extends SecondaryCertsError {
  readonly code = 'ERR_TOO_MANY_CONTEXTS';
}

/** A frame larger than the peer's SETTINGS_MAX_FRAME_SIZE: sending it would end the connection. */
export class FrameTooLarge extends SecondaryCertsError {
  readonly code = 'ERR_FRAME_TOO_LARGE';
}

/** A request saw no activity for longer than its timeout. */
export class RequestTimeout extends SecondaryCertsError {
  readonly code = 'ERR_REQUEST_TIMEOUT';
}

// ---- connecting ----

/** A URL whose scheme the clients do not speak: they connect to https origins only. */
export class UnsupportedScheme extends SecondaryCertsError {
  readonly code = 'ERR_UNSUPPORTED_SCHEME';
}
/** The lookup gave no address for the host. */
export class NoAddress extends SecondaryCertsError {
  readonly code = 'ERR_NO_ADDRESS';
}
/** The server's TLS certificate does not cover the host connected to (its subjectAltName; the subject CN never counts). */
export class CertificateNameMismatch extends SecondaryCertsError {
  readonly code = 'ERR_CERT_NAME_MISMATCH';
}
/** The server did not agree to the protocol (ALPN) the client asked for. */
export class AlpnRefused extends SecondaryCertsError {
  readonly code = 'ERR_ALPN_REFUSED';
}
/** The socket under a connection closed while something still waited to be written on it. */
export class SocketClosed extends SecondaryCertsError {
  readonly code = 'ERR_SOCKET_CLOSED';
}
/** A peer sent a message body larger than the configured bound. */
export class BodyTooLarge extends SecondaryCertsError {
  readonly code = 'ERR_BODY_TOO_LARGE';
}
/** TCP and TLS did not complete within the time allowed. */
export class HandshakeTimeout extends SecondaryCertsError {
  readonly code = 'ERR_HANDSHAKE_TIMEOUT';
}

// ---- a server's bounds on what one connection may hold (each closes that connection alone) ----

/** A connection had no open stream and sent nothing for the server's idle time; closed with GOAWAY(NO_ERROR). */
export class IdleTimeout extends SecondaryCertsError {
  readonly code = 'ERR_IDLE_TIMEOUT';
}
/**
 * The peer does not take what we send: more than the bound of bytes waits in our write buffer
 * (`reason` 'buffer'), or nothing drained for the send timeout ('timeout'). The connection is destroyed
 * without GOAWAY: a peer that reads nothing would never see it.
 */
export class SendStalled extends SecondaryCertsError {
  readonly code = 'ERR_SEND_STALLED';
  constructor(
    readonly reason: 'buffer' | 'timeout',
    message: string,
  ) {
    super(message);
  }
}
/** More requests of one kind at once on a connection than the bound (HTTP status 429). */
export class TooManyRequests extends SecondaryCertsError {
  readonly code = 'ERR_TOO_MANY_REQUESTS';
  readonly status = 429;
}
/** A request body of a media type the handler does not take (HTTP status 415). */
export class UnsupportedMediaType extends SecondaryCertsError {
  readonly code = 'ERR_UNSUPPORTED_MEDIA_TYPE';
  readonly status = 415;
}

// ---- the connection pool (SecondaryCertAgent) ----

/** A request on an agent that was closed. */
export class AgentClosed extends SecondaryCertsError {
  readonly code = 'ERR_AGENT_CLOSED';
}
/** A connection for an origin could not be opened (refused, TLS failure, DNS error): the cause says why. */
export class ConnectFailed extends SecondaryCertsError {
  readonly code = 'ERR_CONNECT_FAILED';
}
/** The request's stream closed (reset, connection closed) before the response ended. */
export class StreamClosed extends SecondaryCertsError {
  readonly code = 'ERR_STREAM_CLOSED';
}

// ---- HTTP fields (RFC 9440 Client-Cert, RFC 8941 structured fields) ----

/** A field value that does not parse as the structured field it must be, or breaks the field's rules. */
export class MalformedField extends SecondaryCertsError {
  readonly code = 'ERR_MALFORMED_FIELD';
  /** The field's name, e.g. "Client-Cert". */
  readonly field: string;
  constructor(field: string, problem: string) {
    super(`${field}: ${problem}`);
    this.field = field;
  }
}

/** A field value longer, or a list with more members, than the configured bound (HTTP status 431). */
export class FieldTooLarge extends SecondaryCertsError {
  readonly code = 'ERR_FIELD_TOO_LARGE';
  readonly field: string;
  constructor(field: string, problem: string) {
    super(`${field}: ${problem}`);
    this.field = field;
  }
}

// ---- client certificates requested by a server over HTTP ----

/** Why a request's client certificate was refused (see ClientCertificateRefused). */
export type ClientCertRefusal =
  /** The connection did not negotiate any HTTP-layer client-certificate flow, and TLS gave no certificate. */
  | 'not-negotiated'
  /** The client declined: an empty authenticator, or USE_CERTIFICATE naming no certificate. */
  | 'declined'
  /** The authenticator did not pass RFC 9261 validation. */
  | 'invalid'
  /** A valid authenticator whose certificate the policy refused (untrusted, expired, wrong EKU...). */
  | 'rejected'
  /** Too many certificate requests are already waiting on this connection. */
  | 'busy';

/** A server refused the client certificate of one request; `status` is the HTTP status to answer with (403). */
export class ClientCertificateRefused extends SecondaryCertsError {
  readonly code = 'ERR_CLIENT_CERT_REFUSED';
  constructor(
    readonly reason: ClientCertRefusal,
    message: string,
    readonly status = 403,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The client did not answer a request for its certificate in time; `status` is 408. */
export class ClientCertificateTimeout extends SecondaryCertsError {
  readonly code = 'ERR_CLIENT_CERT_TIMEOUT';
  readonly status = 408;
}

/** The request ended before its client certificate was settled (stream reset, connection closed): answer nothing. */
export class ClientCertificateAborted extends SecondaryCertsError {
  readonly code = 'ERR_CLIENT_CERT_ABORTED';
}

/**
 * Client-Cert fields whose hop binding (our Client-Cert-Binding field: an HMAC keyed with an exporter of the
 * proxy-to-origin TLS connection) is missing, malformed or does not verify on the connection they came on.
 */
export class ClientCertBindingMismatch extends SecondaryCertsError {
  readonly code = 'ERR_CLIENT_CERT_BINDING';
}

/** Why a server certificate a client asked for (-06 section 2.3.1) is not usable for the origin. */
export type ServerCertRefusal =
  /** The connection did not negotiate -06 server certificates (the SETTINGS are absent or do not match this TLS connection). */
  | 'not-negotiated'
  /** The server answered with an empty authenticator: it holds no certificate for the origin. */
  | 'declined'
  /** The certificate is not acceptable: the policy refused it, its Required Domain is not satisfied, or it does not cover the origin. */
  | 'rejected'
  /** Too many requests are already waiting on this connection, or its Request-IDs are used up. */
  | 'busy'
  /** No USE_CERTIFICATE answered within the timeout. */
  | 'timeout'
  /** The connection closed (or failed) first. */
  | 'closed';

/**
 * A client's request for a server certificate (-06 section 2.3.1) gave none usable for the origin: the
 * client must not send requests for the origin on this connection, and may open a new one.
 */
export class ServerCertificateRefused extends SecondaryCertsError {
  readonly code = 'ERR_SERVER_CERT_REFUSED';
  constructor(
    readonly reason: ServerCertRefusal,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

// ---- OPTIONS * (our proposal: spec-notes/options-star.md) ----

/** An OPTIONS * request answered with a status that is neither an answer nor "not supported" (400, 421, 425, 5xx...). */
export class OptionsStarStatus extends SecondaryCertsError {
  readonly code = 'ERR_OPTIONS_STAR_STATUS';
  constructor(readonly status: number, message: string) {
    super(message);
  }
}
/** An OPTIONS * response that breaks the profile: a 200 of the wrong media type, a body too large, a reset stream. */
export class OptionsStarBadResponse extends SecondaryCertsError {
  readonly code = 'ERR_OPTIONS_STAR_RESPONSE';
}

// ---- HTTP/2 and HTTP/3 connection and stream errors: `wireCode` is the code sent on the wire ----

/** The standard HTTP/2 error codes (RFC 9113 section 7). Extension codes live in the H2Profile. */
export const H2ErrorCode = {
  NO_ERROR: 0x0,
  PROTOCOL_ERROR: 0x1,
  INTERNAL_ERROR: 0x2,
  FLOW_CONTROL_ERROR: 0x3,
  SETTINGS_TIMEOUT: 0x4,
  STREAM_CLOSED: 0x5,
  FRAME_SIZE_ERROR: 0x6,
  REFUSED_STREAM: 0x7,
  CANCEL: 0x8,
  COMPRESSION_ERROR: 0x9,
  CONNECT_ERROR: 0xa,
  ENHANCE_YOUR_CALM: 0xb,
  INADEQUATE_SECURITY: 0xc,
  HTTP_1_1_REQUIRED: 0xd,
} as const;

/** Name of a standard code, for logs ("0x1" → "PROTOCOL_ERROR"); undefined for anything else. */
export function h2ErrorName(code: number): keyof typeof H2ErrorCode | undefined {
  for (const [name, value] of Object.entries(H2ErrorCode)) if (value === code) return name as keyof typeof H2ErrorCode;
  return undefined;
}

/**
 * The peer broke the protocol badly enough that the connection must end: send GOAWAY(wireCode) and close
 * (RFC 9113 section 5.4.1). `wireCode` is a 32-bit HTTP/2 error code, standard or from the profile.
 */
export class H2ConnectionError extends SecondaryCertsError {
  readonly code = 'ERR_H2_CONNECTION';
  readonly wireCode: number;
  constructor(wireCode: number, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.wireCode = wireCode;
  }
}

/** The HTTP/3 error codes (RFC 9114 section 8.1) and QPACK's (RFC 9204 section 6). Extension codes live in the H3Profile. */
export const H3ErrorCode = {
  H3_NO_ERROR: 0x0100,
  H3_GENERAL_PROTOCOL_ERROR: 0x0101,
  H3_INTERNAL_ERROR: 0x0102,
  H3_STREAM_CREATION_ERROR: 0x0103,
  H3_CLOSED_CRITICAL_STREAM: 0x0104,
  H3_FRAME_UNEXPECTED: 0x0105,
  H3_FRAME_ERROR: 0x0106,
  H3_EXCESSIVE_LOAD: 0x0107,
  H3_ID_ERROR: 0x0108,
  H3_SETTINGS_ERROR: 0x0109,
  H3_MISSING_SETTINGS: 0x010a,
  H3_REQUEST_REJECTED: 0x010b,
  H3_REQUEST_CANCELLED: 0x010c,
  H3_REQUEST_INCOMPLETE: 0x010d,
  H3_MESSAGE_ERROR: 0x010e,
  H3_CONNECT_ERROR: 0x010f,
  H3_VERSION_FALLBACK: 0x0110,
  QPACK_DECOMPRESSION_FAILED: 0x0200,
  QPACK_ENCODER_STREAM_ERROR: 0x0201,
  QPACK_DECODER_STREAM_ERROR: 0x0202,
} as const;

export type H3ErrorName = keyof typeof H3ErrorCode;

/**
 * Name of a standard code, for logs ("0x105" → "H3_FRAME_UNEXPECTED"); undefined for anything else.
 * A receiver treats an unknown code as H3_NO_ERROR (RFC 9114 section 8); that is the caller's call.
 */
export function h3ErrorName(code: number): H3ErrorName | undefined {
  for (const [name, value] of Object.entries(H3ErrorCode)) if (value === code) return name as H3ErrorName;
  return undefined;
}

/** "H3_FRAME_UNEXPECTED (0x105)", or just the hex for a code without a name. */
function describe(wireCode: number): string {
  const name = h3ErrorName(wireCode);
  return name === undefined ? `0x${wireCode.toString(16)}` : `${name} (0x${wireCode.toString(16)})`;
}

/**
 * The peer broke the protocol badly enough that the whole connection must close with `wireCode`
 * (RFC 9114 section 8: CONNECTION_CLOSE with an application error code). `wireCode` is a standard code
 * or one from the profile (SERVER_CERTIFICATE_INVALID).
 */
export class H3ConnectionError extends SecondaryCertsError {
  readonly code = 'ERR_H3_CONNECTION';
  readonly wireCode: number;
  constructor(wireCode: number, message: string, options?: { cause?: unknown }) {
    super(`${describe(wireCode)}: ${message}`, options);
    this.wireCode = wireCode;
  }
}

/** Only this stream fails: reset it and stop reading with `wireCode` (RFC 9114 section 8), the connection lives on. */
export class H3StreamError extends SecondaryCertsError {
  readonly code = 'ERR_H3_STREAM';
  readonly wireCode: number;
  constructor(wireCode: number, message: string, options?: { cause?: unknown }) {
    super(`${describe(wireCode)}: ${message}`, options);
    this.wireCode = wireCode;
  }
}

/**
 * A decoded field section larger than the receiver's limit (RFC 9114 section 4.2.2: the sum of name and
 * value lengths plus 32 per field). Not a protocol error: a server answers 431, a client discards the
 * response. With no dynamic table, stopping a decode halfway leaves no QPACK state behind.
 */
export class FieldSectionTooLarge extends SecondaryCertsError {
  readonly code = 'ERR_FIELD_SECTION_TOO_LARGE';
  readonly status = 431;
  constructor(readonly limit: number) {
    super(`the field section exceeds the limit of ${limit} bytes`);
  }
}

/** How a QUIC connection ended (the transport's TransportClose has this shape). */
export interface ConnectionCloseInfo {
  readonly by: 'local' | 'peer' | 'idle';
  readonly app: boolean;
  readonly code: number;
  readonly reason: string;
}

/** The connection closed before a request finished; `info` says how. */
export class H3ConnectionClosed extends SecondaryCertsError {
  readonly code = 'ERR_H3_CONNECTION_CLOSED';
  constructor(
    readonly info: ConnectionCloseInfo | undefined,
    cause?: unknown,
    why?: string,
  ) {
    super(why ?? `the HTTP/3 connection closed${info ? ` (${info.by}, code 0x${info.code.toString(16)})` : ''}`, { cause });
  }
}
