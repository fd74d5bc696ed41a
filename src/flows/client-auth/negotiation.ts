import type { TLSSocket } from 'node:tls';
import type { Role } from '../../exporter/keys.js';
import type { H2ExtensionContext } from '../../h2/extension.js';
import type { H2Profile } from '../../h2/profile.js';

// How the two client-certificate flows are switched on for one connection.
//
// - draft-ietf-httpbis-http2-secondary-certs: the setting carries a value derived from a TLS exporter, so
//   that a TLS-terminating proxy in the path shows up as a mismatch. Two forms, chosen by the profile
//   (`profile.draft06.settings`):
//   - 'single' (the default profile): the -02..-05 form, one SETTINGS_HTTP_CERT_AUTH for both directions,
//     (Exporter("EXPORTER HTTP CERTIFICATE <own role>", 4 bytes) & 0x3fffffff) | 0x80000000;
//   - 'split': -06 section 2.1 as written, an 8-byte exporter with the same label: its first four bytes
//     | 0x80000000 are SETTINGS_HTTP_CLIENT_CERT_AUTH (client certificates), the next four
//     SETTINGS_HTTP_SERVER_CERT_AUTH (server certificates).
//   Each side sends its own role's values and expects the ones computed with the peer's role. A direction
//   is on when both sides sent the expected value for it.
// - draft-rosomakho-httpbis-secondary-client-certs: SETTINGS_HTTP_CLIENT_CERT_AUTH, a count from the
//   client and 1 from the server (CertAuthSetting in ../settings.ts).

/** The client-certificate flows, by the draft that defines them. */
export type ClientAuthFlow =
  /** draft-ietf-httpbis-http2-secondary-certs-06: CERTIFICATE_NEEDED / CERTIFICATE / USE_CERTIFICATE, per request. */
  | 'secondary-certs-06'
  /** draft-rosomakho-httpbis-secondary-client-certs-00: AUTHENTICATOR_REQUESTS / CLIENT_CERTIFICATE, per connection. */
  | 'secondary-client-certs';

export const ALL_FLOWS: readonly ClientAuthFlow[] = ['secondary-certs-06', 'secondary-client-certs'];

const LABEL: Record<Role, string> = {
  client: 'EXPORTER HTTP CERTIFICATE client',
  server: 'EXPORTER HTTP CERTIFICATE server',
};

/** The SETTINGS_HTTP_CERT_AUTH value an endpoint of `role` sends on this TLS connection. */
export function exporterSettingValue(tlsSocket: TLSSocket, role: Role): number {
  return settingValueOf({ exportKeyingMaterial: (length, label) => new Uint8Array(tlsSocket.exportKeyingMaterial(length, label, Buffer.alloc(0))) }, role);
}

/** The same, from the TLS exporter an HTTP/2 connection offers its extensions. */
function settingValueOf(context: Pick<H2ExtensionContext, 'exportKeyingMaterial'>, role: Role): number {
  return settingValueFromExporter(context.exportKeyingMaterial(4, LABEL[role]));
}

/** -06's two setting values from the 8-byte exporter: each half | 0x80000000 (section 2.1; no mask, unlike -05). */
export function splitSettingValuesFromExporter(exporter: Uint8Array): { client: number; server: number } {
  if (exporter.length !== 8) throw new RangeError(`the exporter must be 8 bytes, got ${exporter.length}`);
  const half = (at: number): number => (((exporter[at]! << 24) | (exporter[at + 1]! << 16) | (exporter[at + 2]! << 8) | exporter[at + 3]!) | 0x80000000) >>> 0;
  return { client: half(0), server: half(4) };
}

/** -06's SETTINGS_HTTP_CLIENT_CERT_AUTH and SETTINGS_HTTP_SERVER_CERT_AUTH values an endpoint of `role` sends on this TLS connection. */
export function splitSettingValues(tlsSocket: TLSSocket, role: Role): { client: number; server: number } {
  return splitSettingValuesFromExporter(new Uint8Array(tlsSocket.exportKeyingMaterial(8, LABEL[role], Buffer.alloc(0))));
}

/** (Exporter & 0x3fffffff) | 0x80000000: the top bit always set, so the value is never 0. */
export function settingValueFromExporter(exporter: Uint8Array): number {
  if (exporter.length !== 4) throw new RangeError(`the exporter must be 4 bytes, got ${exporter.length}`);
  const v = ((exporter[0]! << 24) | (exporter[1]! << 16) | (exporter[2]! << 8) | exporter[3]!) >>> 0;
  return ((v & 0x3fffffff) | 0x80000000) >>> 0;
}

/**
 * SETTINGS_HTTP_CERT_AUTH on one connection. A value other than the expected one is not an error: it
 * means the peer is not at the other end of this TLS connection (or computes differently), so the frames
 * are not used (the draft's SHOULD NOT send). The last value received counts.
 */
export class ExporterSetting {
  /** The peer's last value; undefined until it sends one. */
  remote: number | undefined;
  sent = false;

  constructor(
    readonly id: number,
    /** What we send. */
    readonly local: number,
    /** What the peer must send. */
    readonly expected: number,
  ) {}

  get active(): boolean {
    return this.sent && this.remote === this.expected;
  }

  /** Applies one SETTINGS frame from the peer; true when this frame turned the flow on. */
  receiveMap(settings: ReadonlyMap<number, number>): boolean {
    const value = settings.get(this.id);
    if (value === undefined) return false;
    const was = this.active;
    this.remote = value;
    return !was && this.active;
  }

  /** True when the peer sent a value that is not the expected one (a TLS terminator in the path, say). */
  get mismatched(): boolean {
    return this.remote !== undefined && this.remote !== 0 && this.remote !== this.expected;
  }
}

/**
 * The setting for an endpoint of `role` on this connection: ours from our label, the expected one from
 * the peer's. Undefined when the exporter is not available (the socket closed meanwhile).
 */
export function exporterSettingOf(id: number, context: Pick<H2ExtensionContext, 'exportKeyingMaterial'>, role: Role): ExporterSetting | undefined {
  try {
    return new ExporterSetting(id, settingValueOf(context, role), settingValueOf(context, role === 'client' ? 'server' : 'client'));
  } catch {
    return undefined;
  }
}

/** Which direction of -06's certificates a setting governs: client certificates, or server certificates. */
export type Draft06Direction = 'client-certs' | 'server-certs';

/**
 * The -06 setting for one direction on this connection, as the profile says: the single
 * SETTINGS_HTTP_CERT_AUTH (both directions), or that direction's split setting. Undefined when the
 * exporter is not available (the socket closed meanwhile).
 */
export function draft06SettingOf(context: Pick<H2ExtensionContext, 'exportKeyingMaterial' | 'profile'>, role: Role, direction: Draft06Direction): ExporterSetting | undefined {
  const { profile } = context;
  if (profile.draft06.settings === 'single') return exporterSettingOf(profile.settings.SETTINGS_HTTP_CERT_AUTH, context, role);
  const id = direction === 'client-certs' ? profile.settings.SETTINGS_HTTP_CLIENT_CERT_AUTH_06 : profile.settings.SETTINGS_HTTP_SERVER_CERT_AUTH_06;
  const pick = direction === 'client-certs' ? 'client' : 'server';
  try {
    const own = splitSettingValuesFromExporter(context.exportKeyingMaterial(8, LABEL[role]));
    const peer = splitSettingValuesFromExporter(context.exportKeyingMaterial(8, LABEL[role === 'client' ? 'server' : 'client']));
    return new ExporterSetting(id, own[pick], peer[pick]);
  } catch {
    return undefined;
  }
}

/** Frame types a server takes out of the inbound stream for the flows (what clients send). */
export function serverInterceptTypes(profile: H2Profile): number[] {
  return [profile.frames.CERTIFICATE, profile.frames.USE_CERTIFICATE, profile.frames.CLIENT_CERTIFICATE];
}

/** Frame types a client takes out of the inbound stream for the flows (what servers send). */
export function clientInterceptTypes(profile: H2Profile): number[] {
  // CLIENT_CERTIFICATE too: sent the wrong way, by a server, it is a connection error once negotiated.
  return [profile.frames.CERTIFICATE_REQUEST, profile.frames.CERTIFICATE_NEEDED, profile.frames.AUTHENTICATOR_REQUESTS, profile.frames.CLIENT_CERTIFICATE];
}
