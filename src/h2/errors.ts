import { SecondaryCertsError } from '../errors.js';

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
 * The peer broke the protocol badly enough that the connection must end: send GOAWAY(h2Code) and close
 * (RFC 9113 section 5.4.1). `h2Code` is a 32-bit HTTP/2 error code, standard or from the profile.
 */
export class H2ConnectionError extends SecondaryCertsError {
  readonly code = 'ERR_H2_CONNECTION';
  readonly h2Code: number;
  constructor(h2Code: number, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.h2Code = h2Code;
  }
}
