import { EventEmitter } from 'node:events';
import { concatBytes } from '../codec/writer.js';
import { encodeVarint, peekVarint } from '../codec/varint.js';
import { debug, debugging, frameName, formatSettings } from '../debug.js';
import { H3ConnectionError, H3ErrorCode, H3StreamError, FieldSectionTooLarge } from '../errors.js';
import { DEFAULT_H3_PROFILE, type H3Profile } from './profile.js';
import { encodeDataFrame, encodeGoawayFrame, encodeHeadersFrame } from './wire/core.js';
import { H3FrameType } from './wire/frame.js';
import { FrameReader } from './wire/reader.js';
import { parseFrame } from './wire/parse.js';
import { encodeSettingsFrame, H3SettingId } from './wire/settings.js';
import { ControlStreamRules, peekStreamType, RequestStreamRules, UniStreamRules, UniStreamType, type Receiver } from './wire/streams.js';
import { checkEncoderStreamBytes, DecoderStreamChecker, decodeFieldSection, DEFAULT_MAX_FIELD_SECTION_SIZE, encodeFieldSection, fieldSectionSize, type FieldLine } from './qpack.js';
import type { TransportConnection, TransportStream } from './transport/transport.js';

// One HTTP/3 connection over a TransportConnection, for either role: the control streams both ways
// (SETTINGS first, exactly once), the peer's QPACK streams (checked: with a dynamic table of capacity 0
// they carry nothing that matters), request streams with HEADERS and DATA, and the connection errors of
// RFC 9114 section 8. It negotiates SETTINGS_HTTP_SERVER_CERT_AUTH and hands extension frames to the
// server and client layers (server.ts, client.ts), which own the RFC 9261 side.

export interface H3SessionOptions {
  profile?: H3Profile;
  /** Send SETTINGS_HTTP_SERVER_CERT_AUTH = 1 (default true). */
  extension?: boolean;
  /** Largest field section we accept, sent as SETTINGS_MAX_FIELD_SECTION_SIZE (default 64 KiB). */
  maxFieldSectionSize?: number;
  /** Largest extension frame accepted (default 64 KiB). */
  maxAuthenticatorSize?: number;
  /** More settings for our SETTINGS frame (those of the connection's extensions, ./extension.ts). */
  settings?: ReadonlyMap<number, number>;
}

/** A decoded header section with its pseudo-header fields apart. */
export interface H3Message {
  pseudo: Record<string, string>;
  headers: Record<string, string>;
}

/** The frames a message stream carried, as they arrive. */
interface MessageSink {
  headers(message: H3Message, interim: boolean): void;
  /** A body chunk; a promise returned holds further reading (and so the peer, by flow control) until it settles. */
  data(chunk: Uint8Array): void | Promise<void>;
}

/**
 * Events:
 * - 'settings' (Map): the peer's SETTINGS;
 * - 'negotiated': both sides sent SETTINGS_HTTP_SERVER_CERT_AUTH = 1;
 * - 'extensionFrame' (type, payload): an extension frame on the peer's control stream, already checked
 *   against the stream rules (SERVER_CERTIFICATE from a server, say);
 * - 'goaway' (id);
 * - 'origin' (string[]): an ORIGIN frame (RFC 9412) from the server (clients only);
 * - 'stream' (TransportStream): a request stream the peer opened (servers only);
 * - 'protocolError' (H3ConnectionError): we closed the connection for it;
 * - 'close' (TransportClose).
 */
export class H3Session extends EventEmitter {
  readonly role: Receiver;
  readonly profile: H3Profile;
  readonly extension: boolean;
  readonly maxFieldSectionSize: number;
  /** The peer's settings, once its SETTINGS frame arrived. */
  peerSettings: Map<number, number> | undefined;
  /** The smallest GOAWAY id the peer sent; undefined until one arrives. */
  goawayId: number | undefined;
  /** The client's MAX_PUSH_ID (servers only; we never push, but the value may not go down). */
  private peerMaxPushId: number | undefined;
  /** The highest request stream the peer opened (servers), for our GOAWAY. */
  private lastPeerRequestStream: number | undefined;
  closed = false;
  private readonly uniRules: UniStreamRules;
  private control: TransportStream | undefined;
  private controlWriter: WritableStreamDefaultWriter<Uint8Array> | undefined;
  /** Held so the streams stay open for the connection's life. */
  private readonly qpackWriters: WritableStreamDefaultWriter<Uint8Array>[] = [];

  constructor(
    readonly transport: TransportConnection,
    private readonly options: H3SessionOptions = {},
  ) {
    super();
    this.role = transport.role;
    this.profile = options.profile ?? DEFAULT_H3_PROFILE;
    this.extension = options.extension ?? true;
    this.maxFieldSectionSize = options.maxFieldSectionSize ?? DEFAULT_MAX_FIELD_SECTION_SIZE;
    // The rules judge what the peer sends: we are its receiver.
    this.uniRules = new UniStreamRules(this.role);
    void transport.closed.then((info) => {
      this.closed = true;
      this.emit('close', info);
    });
  }

  /** Opens our control stream with our SETTINGS, then takes the peer's streams. */
  start(): void {
    const settings = new Map<number, number>([
      [H3SettingId.QPACK_MAX_TABLE_CAPACITY, 0],
      [H3SettingId.QPACK_BLOCKED_STREAMS, 0],
      [H3SettingId.MAX_FIELD_SECTION_SIZE, this.maxFieldSectionSize],
    ]);
    if (this.extension) settings.set(this.profile.settings.SETTINGS_HTTP_SERVER_CERT_AUTH, 1);
    for (const [id, value] of this.options.settings ?? []) settings.set(id, value);
    // A reserved setting with a random id and value, so peers keep ignoring unknown ones (section 7.2.4.1).
    settings.set(0x1f * (1 + Math.floor(Math.random() * 1000)) + 0x21, Math.floor(Math.random() * 0x3fff));
    try {
      this.control = this.transport.openStream('uni');
      this.controlWriter = this.control.writable!.getWriter();
      this.writeControl(concatBytes(encodeVarint(UniStreamType.CONTROL), encodeSettingsFrame(settings)));
      if (debugging) debug('h3 %s: sent SETTINGS %s on the control stream', this.role, formatSettings(settings));
      // Our QPACK encoder and decoder streams: with a dynamic table of capacity 0 both sides, they carry
      // their type and nothing else, and stay open (closing one is H3_CLOSED_CRITICAL_STREAM).
      for (const type of [UniStreamType.QPACK_ENCODER, UniStreamType.QPACK_DECODER]) {
        const writer = this.transport.openStream('uni').writable!.getWriter();
        writer.write(encodeVarint(type)).catch(() => undefined);
        this.qpackWriters.push(writer);
      }
    } catch (e) {
      this.fail(new H3ConnectionError(H3ErrorCode.H3_INTERNAL_ERROR, `cannot open the control stream: ${(e as Error).message}`));
      return;
    }
    this.transport.onStream((stream) => this.onPeerStream(stream));
  }

  /** Whether both sides have sent SETTINGS_HTTP_SERVER_CERT_AUTH = 1 (HTTP/3 sends SETTINGS once). */
  get negotiated(): boolean {
    return this.extension && this.peerSettings?.get(this.profile.settings.SETTINGS_HTTP_SERVER_CERT_AUTH) === 1;
  }

  /** Writes a whole frame on our control stream. Throws H3ConnectionError once the connection is closed. */
  sendControlFrame(frame: Uint8Array): void {
    if (this.closed || !this.controlWriter) throw new H3ConnectionError(H3ErrorCode.H3_INTERNAL_ERROR, 'the connection is closed');
    if (debugging) {
      const type = peekVarint(frame);
      const length = type && peekVarint(frame, type.length);
      debug('h3 %s: sent %s, length %s, on the control stream', this.role, type ? frameName(type.value, this.profile.frames) : 'a frame', length?.value ?? '?');
    }
    this.writeControl(frame);
  }

  private writeControl(bytes: Uint8Array): void {
    this.controlWriter!.write(bytes).catch(() => {
      // Our own control stream failing means the connection is gone or going; its close says why.
    });
  }

  /** A connection error: close the QUIC connection with the code (RFC 9114 section 8). Idempotent. */
  fail(error: H3ConnectionError): void {
    if (this.closed) return;
    this.closed = true;
    this.emit('protocolError', error);
    void this.transport.close(error.wireCode, error.message.slice(0, 200));
  }

  /**
   * Sends GOAWAY (RFC 9114 section 5.2): a server names the first request stream it will not process
   * (one past the last it accepted), a client 0 as it accepts no pushes. Returns the id sent.
   */
  sendGoaway(): number {
    const id = this.role === 'server' && this.lastPeerRequestStream !== undefined ? this.lastPeerRequestStream + 4 : 0;
    this.sendControlFrame(encodeGoawayFrame(id));
    return id;
  }

  /** Closes cleanly with H3_NO_ERROR. */
  async close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      await this.transport.close(H3ErrorCode.H3_NO_ERROR);
    }
    await this.transport.closed;
  }

  private onPeerStream(stream: TransportStream): void {
    if (stream.bidirectional) {
      // Servers push no bidirectional streams in HTTP/3 (RFC 9114 section 6.1).
      if (this.role === 'client') this.fail(new H3ConnectionError(H3ErrorCode.H3_STREAM_CREATION_ERROR, 'the server opened a bidirectional stream'));
      else {
        this.lastPeerRequestStream = Math.max(this.lastPeerRequestStream ?? 0, stream.id);
        this.emit('stream', stream);
      }
      return;
    }
    void this.readUniStream(stream).catch((e) => this.onStreamFailure(e, stream));
  }

  private onStreamFailure(e: unknown, stream: TransportStream): void {
    if (e instanceof ConnectionGone) return;
    if (e instanceof H3ConnectionError) this.fail(e);
    else if (e instanceof H3StreamError) stream.abort(e.wireCode);
    else if (!this.closed) this.fail(new H3ConnectionError(H3ErrorCode.H3_INTERNAL_ERROR, String(e)));
  }

  private async readUniStream(stream: TransportStream): Promise<void> {
    const reader = stream.readable!.getReader();
    let head: Uint8Array = new Uint8Array(0);
    let type: bigint | undefined;
    let rest: Uint8Array = new Uint8Array(0);
    while (type === undefined) {
      const { value, done } = await readOrEnd(reader);
      if (done) return; // ended before its type: nothing to do (RFC 9114 section 6.2)
      head = concatBytes(head, value);
      const peeked = peekStreamType(head);
      if (peeked) {
        type = peeked.value;
        rest = head.subarray(peeked.length);
      }
    }
    const kind = this.uniRules.open(type);
    if (kind === 'push') throw new H3ConnectionError(H3ErrorCode.H3_ID_ERROR, 'a push stream, but we never sent MAX_PUSH_ID');
    if (kind === 'unknown') {
      // Unknown and reserved stream types are not an error: stop reading (RFC 9114 section 6.2).
      stream.abort(H3ErrorCode.H3_STREAM_CREATION_ERROR);
      reader.releaseLock();
      return;
    }
    const critical = async (): Promise<never> => {
      // A stream fails when the whole connection does, too: only a stream that ends or is reset while the
      // connection lives on is a closed critical stream.
      await new Promise((r) => setTimeout(r, 50));
      if (this.transport.closing || this.closed) throw new ConnectionGone();
      throw new H3ConnectionError(H3ErrorCode.H3_CLOSED_CRITICAL_STREAM, `the peer closed its ${kind} stream`);
    };
    if (kind === 'control') {
      const rules = new ControlStreamRules(this.role, this.profile);
      const frames = new FrameReader({ profile: this.profile, maxPayloadSize: this.options.maxAuthenticatorSize ?? 64 * 1024 });
      for (let chunk = rest; ; ) {
        for (const event of frames.push(chunk)) {
          if ((event.kind === 'frame' || event.kind === 'skip') && this.isForeignExtensionFrame(event.type)) continue;
          if (event.kind === 'frame') {
            rules.check(event.type);
            this.onControlFrame(event.type, event.payload);
          } else if (event.kind === 'skip') rules.check(event.type);
          else if (event.kind === 'data-start') rules.check(0x00);
        }
        const { value, done } = await readOrEnd(reader);
        if (done) return critical();
        chunk = value;
      }
    }
    // QPACK encoder or decoder stream: with capacity 0, the only valid content is tiny (RFC 9204 section 4).
    const decoder = new DecoderStreamChecker();
    const check = (chunk: Uint8Array) => (kind === 'qpack-encoder' ? checkEncoderStreamBytes(chunk) : decoder.push(chunk));
    for (let chunk = rest; ; ) {
      check(chunk);
      const { value, done } = await readOrEnd(reader);
      if (done) return critical();
      chunk = value;
    }
  }

  /** With the extension off, its frames are unknown types to us: ignored, as RFC 9114 section 9 asks. */
  private isForeignExtensionFrame(type: number): boolean {
    if (this.extension) return false;
    const f = this.profile.frames;
    return type === f.SERVER_CERTIFICATE || type === f.AUTHENTICATOR_REQUESTS || type === f.CLIENT_CERTIFICATE;
  }

  private onControlFrame(type: number, payload: Uint8Array): void {
    const frame = parseFrame(type, payload, { profile: this.profile, extension: this.extension, maxAuthenticatorSize: this.options.maxAuthenticatorSize ?? 64 * 1024 });
    switch (frame.kind) {
      case 'SETTINGS': {
        this.peerSettings = frame.settings;
        if (debugging) {
          const id = this.profile.settings.SETTINGS_HTTP_SERVER_CERT_AUTH;
          debug('h3 %s: received SETTINGS %s; SETTINGS_HTTP_SERVER_CERT_AUTH: we sent %d, the peer sent %s: %s', this.role, formatSettings(frame.settings), this.extension ? 1 : 0, frame.settings.get(id) ?? 'nothing', this.negotiated ? 'negotiated' : 'not negotiated');
        }
        this.emit('settings', frame.settings);
        if (this.negotiated) this.emit('negotiated');
        return;
      }
      case 'GOAWAY':
        // From a server it names a client-initiated bidirectional stream (RFC 9114 section 7.2.6).
        if (this.role === 'client' && frame.id % 4 !== 0) throw new H3ConnectionError(H3ErrorCode.H3_ID_ERROR, `GOAWAY id ${frame.id} is not a client bidirectional stream`);
        if (this.goawayId !== undefined && frame.id > this.goawayId) {
          throw new H3ConnectionError(H3ErrorCode.H3_ID_ERROR, `GOAWAY id ${frame.id} is larger than an earlier ${this.goawayId}`);
        }
        this.goawayId = frame.id;
        this.emit('goaway', frame.id);
        return;
      case 'MAX_PUSH_ID':
        // Only a server receives it (the rules saw to that); it may never go down (section 7.2.7).
        if (this.peerMaxPushId !== undefined && frame.pushId < this.peerMaxPushId) {
          throw new H3ConnectionError(H3ErrorCode.H3_ID_ERROR, `MAX_PUSH_ID went down from ${this.peerMaxPushId} to ${frame.pushId}`);
        }
        this.peerMaxPushId = frame.pushId;
        return;
      case 'CANCEL_PUSH':
        // A push ID beyond what the client allowed is H3_ID_ERROR (section 7.2.3). A client never sent
        // MAX_PUSH_ID, so for it every push ID is; a server promised none, so any allowed one is moot.
        if (this.role === 'client' || this.peerMaxPushId === undefined || frame.pushId > this.peerMaxPushId) {
          throw new H3ConnectionError(H3ErrorCode.H3_ID_ERROR, `CANCEL_PUSH for push ${frame.pushId}, which was never allowed`);
        }
        return;
      case 'ORIGIN':
        // RFC 9412: from the server's control stream only. A client's ORIGIN means nothing; ignored.
        if (this.role === 'client') this.emit('origin', frame.origins);
        return;
      case 'SERVER_CERTIFICATE':
      case 'AUTHENTICATOR_REQUESTS':
      case 'CLIENT_CERTIFICATE':
        if (debugging) debug('h3 %s: received %s, length %d, on the control stream: passed to the %s', this.role, frameName(type, this.profile.frames), payload.length, this.role);
        this.emit('extensionFrame', type, payload);
        return;
      default:
        return;
    }
  }

  /**
   * Reads one message direction of a request stream (a request for a server, interim and final
   * responses for a client), calling the sink as frames arrive. Resolves at the clean end of the
   * stream. Throws H3ConnectionError (frame rules), H3StreamError (H3_MESSAGE_ERROR for a malformed
   * message, H3_REQUEST_INCOMPLETE for a stream ending without one) or FieldSectionTooLarge.
   */
  async readMessage(readable: ReadableStream<Uint8Array>, sink: MessageSink): Promise<void> {
    const rules = new RequestStreamRules(this.role, this.profile);
    const frames = new FrameReader({ profile: this.profile, maxPayloadSize: this.maxFieldSectionSize });
    const reader = readable.getReader();
    let finalSeen = false;
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        for (const event of frames.push(value)) {
          if (event.kind === 'skip' || event.kind === 'data-start') {
            rules.check(event.kind === 'skip' ? event.type : 0x00);
            continue;
          }
          if (event.kind === 'data') {
            const wait = sink.data(event.chunk);
            if (wait) await wait;
            continue;
          }
          if (this.isForeignExtensionFrame(event.type)) continue;
          rules.check(event.type);
          const frame = parseFrame(event.type, event.payload, { profile: this.profile });
          // We never send MAX_PUSH_ID, so every push ID is beyond the maximum (RFC 9114 section 7.2.5).
          if (frame.kind === 'PUSH_PROMISE') throw new H3ConnectionError(H3ErrorCode.H3_ID_ERROR, `PUSH_PROMISE for push ${frame.pushId}, but we never sent MAX_PUSH_ID`);
          if (frame.kind !== 'HEADERS') continue;
          const fields = decodeFieldSection(frame.fieldSection, { maxFieldSectionSize: this.maxFieldSectionSize });
          if (finalSeen) {
            checkFieldNames(fields, false);
            continue; // trailers: accepted and dropped
          }
          const message = splitMessage(fields, this.role);
          const interim = this.role === 'client' && /^1\d\d$/.test(message.pseudo[':status'] ?? '');
          if (interim) rules.interimResponse();
          else finalSeen = true;
          sink.headers(message, interim);
        }
      }
      frames.end();
    } finally {
      reader.releaseLock();
    }
    if (!finalSeen) throw new H3StreamError(H3ErrorCode.H3_REQUEST_INCOMPLETE, 'the stream ended without a complete message');
  }

  /**
   * HEADERS for `fields`, encoded with the static table and literals. Throws FieldSectionTooLarge when
   * the section exceeds the peer's SETTINGS_MAX_FIELD_SECTION_SIZE (RFC 9114 section 4.2.2): it would
   * only be refused.
   */
  headersFrame(fields: FieldLine[]): Uint8Array {
    const limit = this.peerSettings?.get(H3SettingId.MAX_FIELD_SECTION_SIZE);
    if (limit !== undefined && fieldSectionSize(fields) > limit) throw new FieldSectionTooLarge(limit);
    return encodeHeadersFrame(encodeFieldSection(fields));
  }

  static dataFrame(chunk: Uint8Array): Uint8Array {
    return encodeDataFrame(chunk);
  }

  /**
   * What to write for `prefix` (e.g. a HEADERS frame, or nothing) followed by a DATA frame of `body`: one
   * buffer for a small body; for a large one the frame header apart, so the body is written as it is
   * rather than copied.
   */
  static withData(prefix: Uint8Array, body: Uint8Array): Uint8Array[] {
    if (body.length === 0) return prefix.length > 0 ? [prefix] : [];
    if (body.length <= 16 * 1024) return [concatBytes(prefix, encodeDataFrame(body))];
    return [concatBytes(prefix, encodeVarint(H3FrameType.DATA), encodeVarint(body.length)), body];
  }
}

/** The connection closed under a stream being read: not a failure of its own. */
class ConnectionGone extends Error {}

/** reader.read(), with a reset (or a connection closing) read as an end. */
async function readOrEnd(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<{ value: Uint8Array; done: false } | { value: undefined; done: true }> {
  try {
    const r = await reader.read();
    return r.done ? { value: undefined, done: true } : { value: r.value, done: false };
  } catch {
    return { value: undefined, done: true };
  }
}

const REQUEST_PSEUDO = new Set([':method', ':scheme', ':authority', ':path', ':protocol']);
const RESPONSE_PSEUDO = new Set([':status']);
/** Connection-specific fields, malformed in HTTP/3 (RFC 9114 section 4.2). */
const CONNECTION_FIELDS = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade']);

const malformed = (why: string) => new H3StreamError(H3ErrorCode.H3_MESSAGE_ERROR, why);

/** Field names must be lowercase tokens; connection-specific fields and TE other than "trailers" are malformed. */
function checkFieldNames(fields: FieldLine[], allowPseudo: boolean): void {
  for (const { name, value } of fields) {
    if (name.startsWith(':')) {
      if (!allowPseudo) throw malformed(`pseudo-header ${name} in trailers`);
      continue;
    }
    if (!/^[!#$%&'*+\-.^_`|~0-9a-z]+$/.test(name)) throw malformed(`field name ${JSON.stringify(name)} is not a lowercase token`);
    if (CONNECTION_FIELDS.has(name)) throw malformed(`connection-specific field ${name}`);
    if (name === 'te' && value !== 'trailers') throw malformed('TE other than "trailers"');
    if (/[\0\r\n]/.test(value)) throw malformed(`field ${name} has a NUL, CR or LF in its value`);
  }
}

/**
 * Splits a header section into pseudo-headers and fields, enforcing RFC 9114 section 4.3: pseudo-headers
 * first, only those defined for the message kind, none twice; a request has :method, :scheme and :path
 * (CONNECT aside), a response has :status.
 */
export function splitMessage(fields: FieldLine[], receiver: Receiver): H3Message {
  checkFieldNames(fields, true);
  const allowed = receiver === 'server' ? REQUEST_PSEUDO : RESPONSE_PSEUDO;
  const pseudo: Record<string, string> = {};
  const headers: Record<string, string> = {};
  let regularSeen = false;
  for (const { name, value } of fields) {
    if (name.startsWith(':')) {
      if (regularSeen) throw malformed(`pseudo-header ${name} after a regular field`);
      if (!allowed.has(name)) throw malformed(`pseudo-header ${name} does not belong in a ${receiver === 'server' ? 'request' : 'response'}`);
      if (name in pseudo) throw malformed(`pseudo-header ${name} twice`);
      pseudo[name] = value;
    } else {
      regularSeen = true;
      headers[name] = name in headers ? `${headers[name]}${name === 'cookie' ? '; ' : ', '}${value}` : value;
    }
  }
  if (receiver === 'server') {
    if (pseudo[':method'] === undefined) throw malformed('a request without :method');
    if (pseudo[':method'] !== 'CONNECT' && (pseudo[':scheme'] === undefined || pseudo[':path'] === undefined || pseudo[':path'] === '')) {
      throw malformed('a request without :scheme or :path');
    }
  } else if (!/^\d{3}$/.test(pseudo[':status'] ?? '')) throw malformed('a response without a valid :status');
  return { pseudo, headers };
}

export { FieldSectionTooLarge };
