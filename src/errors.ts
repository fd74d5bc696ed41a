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
  'ERR_CLIENT_CERT_ABORTED',
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
  'ERR_SOCKET_CLOSED',
  'ERR_STREAM_ABORTED',
  'ERR_STREAM_CLOSED',
  'ERR_STREAM_LIMIT',
  'ERR_STREAM_RESET',
  'ERR_TLS_VERSION',
  'ERR_TOO_MANY_CONTEXTS',
  'ERR_TRANSPORT_CLOSED',
  'ERR_UNEXPECTED_MESSAGE',
  'ERR_UNSOLICITED_CLIENT_AUTHENTICATOR',
  'ERR_UNSOLICITED_EXTENSION',
  'ERR_UNSUPPORTED_KEY',
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
