// Raw HTTP/3 peers for tests: our QUIC transport with the HTTP/3 bytes written by hand, so a test sends
// exactly what a broken or hostile implementation would.
import { concatBytes } from '../../src/codec/writer.js';
import { encodeVarint } from '../../src/codec/varint.js';
import { DEFAULT_H3_PROFILE } from '../../src/h3/profile.js';
import { encodeFieldSection } from '../../src/h3/qpack.js';
import { encodeHeadersFrame } from '../../src/h3/wire/core.js';
import { encodeSettingsFrame } from '../../src/h3/wire/settings.js';
import type { TransportClose, TransportConnection, TransportStream } from '../../src/h3/transport/transport.js';

const P = DEFAULT_H3_PROFILE;

/** The bytes of a control stream: its type, then `frames`. */
export const controlStream = (...frames: Uint8Array[]): Uint8Array => concatBytes(encodeVarint(0x00), ...frames);

/** SETTINGS with SETTINGS_HTTP_SERVER_CERT_AUTH = `value` (and `more` pairs). */
export const certAuthSettings = (value: number, more: [number, number][] = []): Uint8Array =>
  encodeSettingsFrame(new Map([[P.settings.SETTINGS_HTTP_SERVER_CERT_AUTH, value], ...more]));

/** A frame header (type, length) and `payload`, with a length field that may lie. */
export function rawFrame(type: number | bigint, payload: Uint8Array, claimedLength: number | bigint = payload.length): Uint8Array {
  return concatBytes(encodeVarint(type), encodeVarint(claimedLength), payload);
}

export const headersFrame = (fields: [string, string][]): Uint8Array => encodeHeadersFrame(encodeFieldSection(fields.map(([name, value]) => ({ name, value }))));

/** Reads and drops what a stream carries. */
export function drain(s: TransportStream): void {
  if (!s.readable) return;
  const r = s.readable.getReader();
  const loop = (): void => void r.read().then((x) => (x.done ? undefined : loop()), () => undefined);
  loop();
}

/** Answers every request stream with a bare 200 (a raw server that is otherwise well-behaved). */
export function answer200(s: TransportStream): void {
  drain(s);
  if (!s.bidirectional || !s.writable) return;
  const w = s.writable.getWriter();
  void w
    .write(headersFrame([[':status', '200']]))
    .then(() => w.close())
    .catch(() => undefined);
}

/** `closed`, or a rejection after `ms` that closes `t` (a hang fails the test instead of stalling the suite). */
export async function closedWithin(t: TransportConnection, ms = 5000): Promise<TransportClose> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      void t.close(0x100, 'test timeout');
      reject(new Error(`the connection did not close within ${ms} ms`));
    }, ms);
  });
  try {
    return await Promise.race([t.closed, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** `p`, or a rejection after `ms`. */
export async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}
