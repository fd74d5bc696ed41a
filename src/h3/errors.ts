import { SecondaryCertsError } from '../errors.js';

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
function describe(h3Code: number): string {
  const name = h3ErrorName(h3Code);
  return name === undefined ? `0x${h3Code.toString(16)}` : `${name} (0x${h3Code.toString(16)})`;
}

/**
 * The peer broke the protocol badly enough that the whole connection must close with `h3Code`
 * (RFC 9114 section 8: CONNECTION_CLOSE with an application error code). `h3Code` is a standard code
 * or one from the profile (SERVER_CERTIFICATE_INVALID).
 */
export class H3ConnectionError extends SecondaryCertsError {
  readonly code = 'ERR_H3_CONNECTION';
  readonly h3Code: number;
  constructor(h3Code: number, message: string, options?: { cause?: unknown }) {
    super(`${describe(h3Code)}: ${message}`, options);
    this.h3Code = h3Code;
  }
}

/** Only this stream fails: reset it and stop reading with `h3Code` (RFC 9114 section 8), the connection lives on. */
export class H3StreamError extends SecondaryCertsError {
  readonly code = 'ERR_H3_STREAM';
  readonly h3Code: number;
  constructor(h3Code: number, message: string, options?: { cause?: unknown }) {
    super(`${describe(h3Code)}: ${message}`, options);
    this.h3Code = h3Code;
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
