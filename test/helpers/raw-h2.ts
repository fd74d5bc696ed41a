// A raw HTTP/2 peer over real TLS, for hostile-peer tests: it writes whatever bytes a test gives it and
// records every frame the other side sends until the connection closes.
import * as tls from 'node:tls';
import { FRAME_HEADER_LENGTH, FrameType, parseFrameHeader, type FrameHeader } from '../../src/h2/wire/frame-header.js';
import { encodeSettingsAckFrame, encodeSettingsFrame, type Setting } from '../../src/h2/settings.js';

export const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');

export interface RawFrame {
  header: FrameHeader;
  payload: Buffer;
}

/** Frames as they arrive on `socket`; `closed` resolves with all of them once the socket ends. */
export function recordFrames(socket: tls.TLSSocket, options: { ackSettings?: boolean; skipPreface?: boolean } = {}): { frames: RawFrame[]; closed: Promise<RawFrame[]> } {
  const frames: RawFrame[] = [];
  let buf = Buffer.alloc(0);
  let prefaceLeft = options.skipPreface ? PREFACE.length : 0;
  socket.on('data', (chunk: Buffer) => {
    buf = Buffer.concat([buf, chunk]);
    if (prefaceLeft > 0) {
      const n = Math.min(prefaceLeft, buf.length);
      buf = buf.subarray(n);
      prefaceLeft -= n;
    }
    while (buf.length >= FRAME_HEADER_LENGTH) {
      const header = parseFrameHeader(buf);
      if (buf.length < FRAME_HEADER_LENGTH + header.length) break;
      const payload = buf.subarray(FRAME_HEADER_LENGTH, FRAME_HEADER_LENGTH + header.length);
      buf = buf.subarray(FRAME_HEADER_LENGTH + header.length);
      frames.push({ header, payload });
      if (options.ackSettings && header.type === FrameType.SETTINGS && (header.flags & 1) === 0 && !socket.destroyed) socket.write(encodeSettingsAckFrame());
    }
  });
  socket.on('error', () => {});
  const closed = new Promise<RawFrame[]>((resolve) => socket.once('close', () => resolve(frames)));
  return { frames, closed };
}

/** A raw client: TLS with ALPN h2, the preface and a SETTINGS frame with `settings`. */
export async function rawClient(port: number, options: { ca: string; servername: string; settings?: Setting[] }): Promise<{ socket: tls.TLSSocket; frames: RawFrame[]; closed: Promise<RawFrame[]> }> {
  const socket = tls.connect({ host: '127.0.0.1', port, ca: options.ca, servername: options.servername, ALPNProtocols: ['h2'] });
  await new Promise<void>((resolve, reject) => {
    socket.once('secureConnect', () => resolve());
    socket.once('error', reject);
  });
  const recorded = recordFrames(socket, { ackSettings: true });
  socket.write(Buffer.concat([PREFACE, Buffer.from(encodeSettingsFrame(options.settings ?? []))]));
  return { socket, ...recorded };
}

/** The GOAWAY frames among `frames`, as their error codes. */
export function goawayCodes(frames: readonly RawFrame[]): number[] {
  return frames.filter((f) => f.header.type === FrameType.GOAWAY).map((f) => f.payload.readUInt32BE(4));
}

/** A frame header claiming `length` bytes of payload, with none of them. */
export function headerOnly(type: number, length: number, streamId = 0): Buffer {
  const b = Buffer.alloc(FRAME_HEADER_LENGTH);
  b.writeUIntBE(length, 0, 3);
  b[3] = type;
  b.writeUInt32BE(streamId, 5);
  return b;
}
