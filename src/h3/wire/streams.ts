import { encodeVarint, peekVarintBig, type VarintAt } from '../../codec/varint.js';
import { H3ConnectionError, H3ErrorCode } from '../../errors.js';
import { DEFAULT_H3_PROFILE, type H3Profile } from '../profile.js';
import { frameTypeName, H3FrameType, RESERVED_H2_FRAME_TYPES } from './frame.js';

// Which frames may appear where (RFC 9114 sections 4.1, 6.2 and 7.2, plus the extension drafts), as
// small state machines a session feeds with the type of every frame it reads on a stream, skipped
// ones included. Every violation is a connection error.

/** Who is reading the stream: the rules differ by direction. */
export type Receiver = 'client' | 'server';

/** Unidirectional stream types (RFC 9114 section 6.2, RFC 9204 section 4.2). */
export const UniStreamType = {
  CONTROL: 0x00,
  PUSH: 0x01,
  QPACK_ENCODER: 0x02,
  QPACK_DECODER: 0x03,
} as const;

export type UniStreamKind = 'control' | 'push' | 'qpack-encoder' | 'qpack-decoder' | 'unknown';

/** The bytes that open a unidirectional stream of `type`. */
export function encodeStreamType(type: number): Uint8Array {
  return encodeVarint(type);
}

/** The stream type at the start of a unidirectional stream, or undefined until enough bytes have arrived. */
export function peekStreamType(bytes: Uint8Array): VarintAt<bigint> | undefined {
  return peekVarintBig(bytes, 0);
}

/**
 * The peer's unidirectional streams. A second control, encoder or decoder stream, or a push stream
 * sent to a server, is H3_STREAM_CREATION_ERROR (RFC 9114 sections 6.2.1 and 6.2.2, RFC 9204 section
 * 4.2). Unknown and reserved types are 'unknown': read and discard, never a connection error.
 */
export class UniStreamRules {
  private readonly seen = new Set<UniStreamKind>();
  constructor(readonly receiver: Receiver) {}

  open(type: number | bigint): UniStreamKind {
    const kind = uniStreamKind(BigInt(type));
    if (kind === 'unknown') return kind;
    if (kind === 'push') {
      if (this.receiver === 'server') throw new H3ConnectionError(H3ErrorCode.H3_STREAM_CREATION_ERROR, 'a client opened a push stream');
      return kind;
    }
    if (this.seen.has(kind)) throw new H3ConnectionError(H3ErrorCode.H3_STREAM_CREATION_ERROR, `a second ${kind} stream`);
    this.seen.add(kind);
    return kind;
  }
}

function uniStreamKind(type: bigint): UniStreamKind {
  switch (type) {
    case BigInt(UniStreamType.CONTROL):
      return 'control';
    case BigInt(UniStreamType.PUSH):
      return 'push';
    case BigInt(UniStreamType.QPACK_ENCODER):
      return 'qpack-encoder';
    case BigInt(UniStreamType.QPACK_DECODER):
      return 'qpack-decoder';
    default:
      return 'unknown';
  }
}

function unexpected(type: number, profile: H3Profile, where: string): H3ConnectionError {
  return new H3ConnectionError(H3ErrorCode.H3_FRAME_UNEXPECTED, `${frameTypeName(type, profile)} frame ${where}`);
}

/**
 * The peer's control stream (RFC 9114 section 6.2.1): SETTINGS first (anything else first, even an
 * unknown type, is H3_MISSING_SETTINGS) and exactly once; DATA, HEADERS and PUSH_PROMISE never.
 * MAX_PUSH_ID and the extension frames travel in one direction each.
 */
export class ControlStreamRules {
  private settingsSeen = false;
  constructor(
    readonly receiver: Receiver,
    readonly profile: H3Profile = DEFAULT_H3_PROFILE,
  ) {}

  get settingsReceived(): boolean {
    return this.settingsSeen;
  }

  /**
   * Checks the type of the next frame on the control stream. Throws H3ConnectionError:
   * - H3_MISSING_SETTINGS if the first frame is not SETTINGS;
   * - H3_FRAME_UNEXPECTED for a second SETTINGS; DATA, HEADERS, PUSH_PROMISE or an HTTP/2-only type;
   *   MAX_PUSH_ID sent to a client (RFC 9114 section 7.2.7); SERVER_CERTIFICATE sent to a server
   *   (secondary-server-certs-02 section 3.2, code our choice: spec-notes, C2); AUTHENTICATOR_REQUESTS sent
   *   to a server (rosomakho-00 section 4.1); CLIENT_CERTIFICATE sent to a client (our frame, same rule).
   */
  check(type: number): void {
    const p = this.profile;
    if (!this.settingsSeen) {
      if (type !== H3FrameType.SETTINGS) {
        throw new H3ConnectionError(H3ErrorCode.H3_MISSING_SETTINGS, `the control stream starts with ${frameTypeName(type, p)}, not SETTINGS`);
      }
      this.settingsSeen = true;
      return;
    }
    const toServer = this.receiver === 'server';
    switch (type) {
      case H3FrameType.SETTINGS:
        throw unexpected(type, p, 'received twice on the control stream');
      case H3FrameType.DATA:
      case H3FrameType.HEADERS:
      case H3FrameType.PUSH_PROMISE:
        throw unexpected(type, p, 'on the control stream');
      case H3FrameType.MAX_PUSH_ID:
        if (!toServer) throw unexpected(type, p, 'sent by a server');
        return;
      case p.frames.SERVER_CERTIFICATE:
      case p.frames.AUTHENTICATOR_REQUESTS:
        if (toServer) throw unexpected(type, p, 'sent by a client');
        return;
      case p.frames.CLIENT_CERTIFICATE:
        if (!toServer) throw unexpected(type, p, 'sent by a server');
        return;
      default:
        if (RESERVED_H2_FRAME_TYPES.has(type)) throw unexpected(type, p, 'received');
    }
  }
}

/**
 * A request stream (RFC 9114 section 4.1): one message = HEADERS, DATA*, optional trailing HEADERS.
 * A server reads one request; a client reads interim responses (each a lone HEADERS, see
 * interimResponse()) then the final response. Unknown types may appear anywhere.
 */
export class RequestStreamRules {
  private phase: 'start' | 'headers' | 'body' | 'trailers' = 'start';
  constructor(
    readonly receiver: Receiver,
    readonly profile: H3Profile = DEFAULT_H3_PROFILE,
  ) {}

  /** Whether a (final) header section has been received, so the stream carries a message. */
  get headersReceived(): boolean {
    return this.phase !== 'start';
  }

  /**
   * Checks the type of the next frame on the stream. Throws H3ConnectionError H3_FRAME_UNEXPECTED for
   * DATA before HEADERS; HEADERS or DATA after the trailers; SETTINGS, GOAWAY, CANCEL_PUSH, MAX_PUSH_ID
   * or an HTTP/2-only type anywhere; PUSH_PROMISE sent to a server; and the extension frames, which
   * belong on the control stream (secondary-server-certs-02 section 5.2, rosomakho-00 section 4.1.2).
   */
  check(type: number): void {
    const p = this.profile;
    switch (type) {
      case H3FrameType.HEADERS:
        if (this.phase === 'trailers') throw unexpected(type, p, 'after the trailers');
        this.phase = this.phase === 'start' ? 'headers' : 'trailers';
        return;
      case H3FrameType.DATA:
        if (this.phase === 'start') throw unexpected(type, p, 'before HEADERS');
        if (this.phase === 'trailers') throw unexpected(type, p, 'after the trailers');
        this.phase = 'body';
        return;
      case H3FrameType.PUSH_PROMISE:
        if (this.receiver === 'server') throw unexpected(type, p, 'sent by a client');
        return;
      case H3FrameType.SETTINGS:
      case H3FrameType.GOAWAY:
      case H3FrameType.CANCEL_PUSH:
      case H3FrameType.MAX_PUSH_ID:
      case p.frames.SERVER_CERTIFICATE:
      case p.frames.AUTHENTICATOR_REQUESTS:
      case p.frames.CLIENT_CERTIFICATE:
        throw unexpected(type, p, 'on a request stream');
      default:
        if (RESERVED_H2_FRAME_TYPES.has(type)) throw unexpected(type, p, 'received');
    }
  }

  /**
   * The client decoded the HEADERS it just checked as an interim (1xx) response: the next HEADERS
   * starts another response rather than the trailers. RangeError if no HEADERS just started a message.
   */
  interimResponse(): void {
    if (this.receiver !== 'client') throw new RangeError('only responses have interim messages');
    if (this.phase !== 'headers') throw new RangeError('interimResponse() must directly follow the HEADERS of a response');
    this.phase = 'start';
  }
}
