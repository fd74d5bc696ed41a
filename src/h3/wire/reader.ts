import { concatBytes } from '../../codec/writer.js';
import { peekVarint, peekVarintBig } from '../../codec/varint.js';
import { H3ConnectionError, H3ErrorCode } from '../../errors.js';
import type { H3Profile } from '../profile.js';
import { DEFAULT_MAX_PAYLOAD_SIZE, frameTypeName, H3FrameType, profileOf, RESERVED_H2_FRAME_TYPES, type FrameOptions } from './frame.js';
import { isBufferedFrameType } from './parse.js';

// Splits the bytes of one stream into frames as they arrive, in any chunking. Three treatments:
// - DATA is passed through as it arrives (a body may be any size; buffering it whole would let a
//   single frame exhaust memory), announced first by a 'data-start' event with its length;
// - frames this library understands are buffered whole, up to a size limit checked as soon as the
//   header arrives (never trusting the length to allocate);
// - unknown and reserved (GREASE) types are skipped as they arrive, without buffering (RFC 9114 section 9).

export type FrameEvent =
  /** A whole frame of a type parseFrame reads; `payload` is a copy. */
  | { kind: 'frame'; type: number; payload: Uint8Array }
  /** A DATA frame begins; `length` bytes follow as 'data' events (none when 0). */
  | { kind: 'data-start'; length: number }
  /** Part of a DATA payload, a view into the chunk given to push(). */
  | { kind: 'data'; chunk: Uint8Array }
  /** A frame of an unknown or reserved type starts; its `length` payload bytes are discarded. Types past 2^53 are rounded. */
  | { kind: 'skip'; type: number; length: number };

export interface FrameReaderOptions extends FrameOptions {
  /** Largest payload of a buffered frame; a larger Length is H3_EXCESSIVE_LOAD. Default 64 KiB. */
  maxPayloadSize?: number;
}

/** The longest frame header: two 8-byte varints. */
const MAX_HEADER_LENGTH = 16;
/** GOAWAY, CANCEL_PUSH and MAX_PUSH_ID hold one varint: a longer payload cannot be valid. */
const SINGLE_VARINT_TYPES: ReadonlySet<number> = new Set([H3FrameType.GOAWAY, H3FrameType.CANCEL_PUSH, H3FrameType.MAX_PUSH_ID]);

type State =
  | { at: 'header' }
  | { at: 'payload'; type: number; length: number; parts: Uint8Array[]; got: number }
  | { at: 'data'; left: number }
  | { at: 'skip'; left: number };

export class FrameReader {
  private readonly profile: H3Profile;
  private readonly maxPayloadSize: number;
  private state: State = { at: 'header' };
  /** The start of a frame header split across chunks (always shorter than a whole header). */
  private head: Uint8Array = new Uint8Array(0);
  private failure: H3ConnectionError | undefined;

  constructor(options: FrameReaderOptions = {}) {
    this.profile = profileOf(options);
    this.maxPayloadSize = options.maxPayloadSize ?? DEFAULT_MAX_PAYLOAD_SIZE;
    if (!Number.isSafeInteger(this.maxPayloadSize) || this.maxPayloadSize < 0) throw new RangeError(`bad maxPayloadSize ${this.maxPayloadSize}`);
  }

  /** True between frames: the stream may end here cleanly. */
  get atFrameBoundary(): boolean {
    return this.state.at === 'header' && this.head.length === 0;
  }

  /**
   * Takes the next bytes of the stream and returns the events they complete. Throws H3ConnectionError
   * for an HTTP/2-only frame type (H3_FRAME_UNEXPECTED), an oversized frame (H3_EXCESSIVE_LOAD) or a
   * one-varint frame with a longer length (H3_FRAME_ERROR); after that every call throws the same error.
   */
  push(chunk: Uint8Array): FrameEvent[] {
    if (this.failure) throw this.failure;
    try {
      return this.consume(chunk);
    } catch (e) {
      if (e instanceof H3ConnectionError) this.failure = e;
      throw e;
    }
  }

  /** The stream ended cleanly (FIN): ending inside a frame is H3_FRAME_ERROR (RFC 9114 section 7.1). */
  end(): void {
    if (this.failure) throw this.failure;
    if (!this.atFrameBoundary) {
      this.failure = new H3ConnectionError(H3ErrorCode.H3_FRAME_ERROR, 'the stream ended inside a frame');
      throw this.failure;
    }
  }

  private consume(chunk: Uint8Array): FrameEvent[] {
    const events: FrameEvent[] = [];
    let at = 0;
    while (at < chunk.length) {
      const state = this.state;
      if (state.at === 'header') {
        const used = this.readHeader(chunk, at, events);
        if (used === undefined) break;
        at += used;
        continue;
      }
      const n = Math.min(chunk.length - at, state.at === 'payload' ? state.length - state.got : state.left);
      const piece = chunk.subarray(at, at + n);
      at += n;
      if (state.at === 'payload') {
        state.parts.push(piece.slice());
        state.got += n;
        if (state.got === state.length) this.finishPayload(state, events);
      } else {
        if (state.at === 'data') events.push({ kind: 'data', chunk: piece });
        state.left -= n;
        if (state.left === 0) this.state = { at: 'header' };
      }
    }
    return events;
  }

  /** Reads a frame header from `head` + `chunk[at..]`; returns the chunk bytes used, or undefined when it is still incomplete (kept in `head`). */
  private readHeader(chunk: Uint8Array, at: number, events: FrameEvent[]): number | undefined {
    const view = this.head.length === 0 ? chunk.subarray(at) : concatBytes(this.head, chunk.subarray(at, at + MAX_HEADER_LENGTH));
    const type = peekVarintBig(view, 0);
    const length = type && peekVarint(view, type.length);
    if (!type || !length) {
      this.head = view.slice();
      return undefined;
    }
    const used = type.length + length.length - this.head.length;
    this.head = new Uint8Array(0);
    this.startFrame(type.value, length.value, events);
    return used;
  }

  private startFrame(bigType: bigint, length: number, events: FrameEvent[]): void {
    const type = Number(bigType);
    const name = () => frameTypeName(type, this.profile);
    if (RESERVED_H2_FRAME_TYPES.has(type)) throw new H3ConnectionError(H3ErrorCode.H3_FRAME_UNEXPECTED, `${name()} frame received`);
    if (!Number.isSafeInteger(length)) throw new H3ConnectionError(H3ErrorCode.H3_EXCESSIVE_LOAD, `${name()} frame declares ${length} bytes`);
    if (bigType === BigInt(H3FrameType.DATA)) {
      events.push({ kind: 'data-start', length });
      if (length > 0) this.state = { at: 'data', left: length };
      return;
    }
    if (bigType > BigInt(Number.MAX_SAFE_INTEGER) || !isBufferedFrameType(type, this.profile)) {
      events.push({ kind: 'skip', type, length });
      if (length > 0) this.state = { at: 'skip', left: length };
      return;
    }
    if (SINGLE_VARINT_TYPES.has(type) && length > 8) {
      throw new H3ConnectionError(H3ErrorCode.H3_FRAME_ERROR, `${name()} frame of ${length} bytes cannot hold one varint`);
    }
    if (length > this.maxPayloadSize) {
      throw new H3ConnectionError(H3ErrorCode.H3_EXCESSIVE_LOAD, `${name()} frame of ${length} bytes exceeds the limit of ${this.maxPayloadSize}`);
    }
    const state: State = { at: 'payload', type, length, parts: [], got: 0 };
    if (length === 0) this.finishPayload(state, events);
    else this.state = state;
  }

  private finishPayload(state: Extract<State, { at: 'payload' }>, events: FrameEvent[]): void {
    const payload = state.parts.length === 1 ? state.parts[0]! : concatBytes(...state.parts);
    events.push({ kind: 'frame', type: state.type, payload });
    this.state = { at: 'header' };
  }
}
