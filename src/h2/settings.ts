import { Writer } from '../codec/writer.js';
import { debug, debugging } from '../debug.js';
import { DEFAULT_MAX_FRAME_SIZE, encodeFrame, FrameType, MAX_ALLOWED_FRAME_SIZE, type FrameHeader } from './wire/frame-header.js';
import { H2ConnectionError, H2ErrorCode } from '../errors.js';

// The SETTINGS frame (RFC 9113 section 6.5) and the two extension settings' rules (secondary-server-certs-02 sections 4.1-4.2,
// rosomakho-00 section 4.1).

/** Standard setting ids (RFC 9113 section 6.5.2, RFC 8441, RFC 9218). */
export const SettingId = {
  HEADER_TABLE_SIZE: 0x1,
  ENABLE_PUSH: 0x2,
  MAX_CONCURRENT_STREAMS: 0x3,
  INITIAL_WINDOW_SIZE: 0x4,
  MAX_FRAME_SIZE: 0x5,
  MAX_HEADER_LIST_SIZE: 0x6,
  ENABLE_CONNECT_PROTOCOL: 0x8,
  NO_RFC7540_PRIORITIES: 0x9,
} as const;

/** SETTINGS flag ACK (RFC 9113 section 6.5). */
export const SETTINGS_ACK = 0x1;
const ENTRY_LENGTH = 6;

export interface Setting {
  id: number;
  value: number;
}

/** Parses a SETTINGS payload into its entries, in order (duplicates kept: the last one wins, section 6.5.3). */
export function parseSettingsPayload(payload: Uint8Array): Setting[] {
  if (payload.length % ENTRY_LENGTH !== 0) {
    throw new H2ConnectionError(H2ErrorCode.FRAME_SIZE_ERROR, `SETTINGS payload of ${payload.length} bytes is not a multiple of 6`);
  }
  const out: Setting[] = [];
  for (let at = 0; at < payload.length; at += ENTRY_LENGTH) {
    const id = (payload[at]! << 8) | payload[at + 1]!;
    const value = ((payload[at + 2]! << 24) >>> 0) + ((payload[at + 3]! << 16) | (payload[at + 4]! << 8) | payload[at + 5]!);
    out.push({ id, value });
  }
  return out;
}

/** Encodes SETTINGS entries. Throws RangeError for an id over 16 bits or a value over 32 bits. */
export function encodeSettingsPayload(settings: readonly Setting[]): Uint8Array {
  const w = new Writer(settings.length * ENTRY_LENGTH);
  for (const { id, value } of settings) {
    if (!Number.isInteger(id) || id < 0 || id > 0xffff) throw new RangeError(`bad setting id ${id}`);
    if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) throw new RangeError(`bad setting value ${value}`);
    w.u16(id).u32(value);
  }
  return w.finish();
}

/**
 * Parses a whole SETTINGS frame: stream 0 only (else PROTOCOL_ERROR), an ACK must be empty and a
 * payload a multiple of 6 (else FRAME_SIZE_ERROR). Unknown flags are ignored.
 */
export function parseSettingsFrame(header: FrameHeader, payload: Uint8Array): { ack: boolean; settings: Setting[] } {
  if (header.streamId !== 0) throw new H2ConnectionError(H2ErrorCode.PROTOCOL_ERROR, `SETTINGS on stream ${header.streamId}`);
  if (header.length !== payload.length) {
    throw new H2ConnectionError(H2ErrorCode.FRAME_SIZE_ERROR, `SETTINGS header says ${header.length} bytes, payload has ${payload.length}`);
  }
  const ack = (header.flags & SETTINGS_ACK) !== 0;
  if (ack && payload.length !== 0) throw new H2ConnectionError(H2ErrorCode.FRAME_SIZE_ERROR, 'SETTINGS ACK with a payload');
  return { ack, settings: parseSettingsPayload(payload) };
}

/** A whole SETTINGS frame carrying `settings`. */
export function encodeSettingsFrame(settings: readonly Setting[]): Uint8Array {
  return encodeFrame(FrameType.SETTINGS, 0, 0, encodeSettingsPayload(settings));
}

/** A whole SETTINGS ACK frame. */
export function encodeSettingsAckFrame(): Uint8Array {
  return encodeFrame(FrameType.SETTINGS, SETTINGS_ACK, 0, new Uint8Array(0));
}

/**
 * The peer's SETTINGS_MAX_FRAME_SIZE after one SETTINGS frame: the last MAX_FRAME_SIZE entry, or
 * `current` if there is none. A value outside 16,384..16,777,215 is a PROTOCOL_ERROR (section 6.5.2).
 */
export function readMaxFrameSize(settings: readonly Setting[], current = DEFAULT_MAX_FRAME_SIZE): number {
  let size = current;
  for (const { id, value } of settings) {
    if (id !== SettingId.MAX_FRAME_SIZE) continue;
    if (value < DEFAULT_MAX_FRAME_SIZE || value > MAX_ALLOWED_FRAME_SIZE) {
      throw new H2ConnectionError(H2ErrorCode.PROTOCOL_ERROR, `SETTINGS_MAX_FRAME_SIZE ${value} is outside 16384..16777215`);
    }
    size = value;
  }
  return size;
}

/**
 * How a cert-auth setting's value is read.
 * - 'flag': 0 or 1 only (SETTINGS_HTTP_SERVER_CERT_AUTH both ways; SETTINGS_HTTP_CLIENT_CERT_AUTH as a
 *   client receives it from a server, which sends 1 to confirm).
 * - 'count': any 32-bit value, the most credentials the client expects to provide
 *   (SETTINGS_HTTP_CLIENT_CERT_AUTH as a server receives it).
 */
export type CertAuthSettingKind = 'flag' | 'count';

/**
 * The value a peer announced for a cert-auth setting in one SETTINGS frame: the last entry for `id`,
 * or undefined if absent. Each entry is checked against `kind` (a 'flag' other than 0/1 is a
 * PROTOCOL_ERROR, our choice: spec-notes/secondary-server-certs-h2.md, C1) and against the entries before it in the same frame.
 */
export function readCertAuthSetting(settings: readonly Setting[], id: number, kind: CertAuthSettingKind = 'flag'): number | undefined {
  const state = new CertAuthSetting(id, kind);
  state.receive(settings);
  return state.received ? state.remote : undefined;
}

/**
 * One cert-auth setting over a connection's life: what we sent, what the peer sent, and whether the
 * feature may be used (both sides sent a non-zero value: "both sent and received" in both drafts).
 * A value may never go down once non-zero: for a flag that is the drafts' "no 0 after 1"; for a count we
 * also refuse a lower count (the drafts only forbid 0, and a shrinking pool of credentials is undefined).
 */
export class CertAuthSetting {
  /** The peer's value (the initial value is 0). */
  remote = 0;
  /** Our value as last sent. */
  local = 0;
  /** Whether the peer has sent this setting at all. */
  received = false;

  constructor(
    readonly id: number,
    /** How the peer's value is read. */
    readonly remoteKind: CertAuthSettingKind = 'flag',
    /** How our own value is checked before sending. */
    readonly localKind: CertAuthSettingKind = remoteKind,
  ) {}

  /** True once both sides have announced support. */
  get active(): boolean {
    return this.local > 0 && this.remote > 0;
  }

  /** Applies one received SETTINGS frame's entries, in order. Throws H2ConnectionError(PROTOCOL_ERROR). */
  receive(settings: readonly Setting[]): void {
    for (const { id, value } of settings) {
      if (id !== this.id) continue;
      const problem = this.problem(this.remoteKind, this.remote, value);
      if (problem) throw new H2ConnectionError(H2ErrorCode.PROTOCOL_ERROR, `setting 0x${id.toString(16)}: ${problem}`);
      this.remote = value;
      this.received = true;
    }
  }

  /**
   * Applies a SETTINGS frame as the splicer reports it (id → value). Returns true when this frame made
   * the feature usable. Throws H2ConnectionError(PROTOCOL_ERROR) like `receive`.
   */
  receiveMap(settings: ReadonlyMap<number, number>): boolean {
    const wasActive = this.active;
    this.receive([...settings].map(([id, value]) => ({ id, value })));
    return !wasActive && this.active;
  }

  /**
   * Applies a peer's SETTINGS frame as the splicer reports it, for a connection: `refused` gets the
   * PROTOCOL_ERROR when the value breaks the rules, `negotiated` is called when this frame made the
   * feature usable. `name` (our side, e.g. "h2 client https://a.example") and `peer` are for the log.
   */
  receiveFromPeer(settings: ReadonlyMap<number, number>, on: { name: string; peer: 'client' | 'server'; negotiated(): void; refused(error: H2ConnectionError): void }): void {
    let negotiatedNow: boolean;
    try {
      negotiatedNow = this.receiveMap(settings);
    } catch (e) {
      if (debugging) debug('%s: SETTINGS from the %s refused: %s', on.name, on.peer, (e as Error).message);
      on.refused(e as H2ConnectionError);
      return;
    }
    if (debugging) debug('%s: SETTINGS_HTTP_SERVER_CERT_AUTH: we sent %d, the %s sent %s: %s', on.name, this.local, on.peer, this.received ? this.remote : 'nothing', this.active ? 'negotiated' : 'not negotiated');
    if (negotiatedNow) on.negotiated();
  }

  /** Records the value we are about to send. Throws RangeError if the drafts forbid sending it. */
  send(value: number): void {
    const problem = this.problem(this.localKind, this.local, value);
    if (problem) throw new RangeError(`setting 0x${this.id.toString(16)}: ${problem}`);
    this.local = value;
  }

  private problem(kind: CertAuthSettingKind, before: number, value: number): string | undefined {
    if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) return `value ${value} is not a 32-bit integer`;
    if (kind === 'flag' && value > 1) return `value ${value} is not 0 or 1`;
    if (value < before) return `value ${value} after ${before}: a cert-auth setting may not be lowered`;
    return undefined;
  }
}
