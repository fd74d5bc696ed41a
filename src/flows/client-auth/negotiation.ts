import type { TLSSocket } from 'node:tls';
import type { Role } from '../../exporter/keys.js';
import type { H2ExtensionContext } from '../../h2/extension.js';
import type { H2Profile } from '../../h2/profile.js';

// How the two client-certificate flows are switched on for one connection.
//
// - draft-ietf-httpbis-http2-secondary-certs: SETTINGS_HTTP_CERT_AUTH carries a value derived from a TLS
//   exporter, so that a TLS-terminating proxy in the path shows up as a mismatch. -06 splits it into two
//   settings (one per direction, from an 8-byte exporter); our profile has one id for the family, so we
//   use the single-setting form of -02..-05: each side sends
//   (Exporter("EXPORTER HTTP CERTIFICATE <own role>", 4 bytes) & 0x3fffffff) | 0x80000000 and expects the
//   value computed with the peer's role. The flow is on when both sides sent the expected value.
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

/** Frame types a server takes out of the inbound stream for the flows (what clients send). */
export function serverInterceptTypes(profile: H2Profile): number[] {
  return [profile.frames.CERTIFICATE, profile.frames.USE_CERTIFICATE, profile.frames.CLIENT_CERTIFICATE];
}

/** Frame types a client takes out of the inbound stream for the flows (what servers send). */
export function clientInterceptTypes(profile: H2Profile): number[] {
  return [profile.frames.CERTIFICATE_REQUEST, profile.frames.CERTIFICATE_NEEDED, profile.frames.AUTHENTICATOR_REQUESTS];
}
