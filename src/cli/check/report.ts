// The conformance checker's report: what it saw on the wire, each check with the spec text it comes from,
// and a verdict. Plain data, so that `--json` prints it as is and the text form is a view of it.
// CheckReport is the JSON schema (docs/check-json.md): fields are only ever added (optional) under one
// schemaVersion; renaming, removing or retyping a field raises it.

/** The version of the JSON form. */
export const CHECK_SCHEMA_VERSION = 1;

export type CheckStatus = 'pass' | 'fail' | 'skip';

/** Where a check's rule is written. */
export const DRAFT = 'draft-ietf-httpbis-secondary-server-certs';
export const RFC9261 = 'RFC 9261';
export const RFC9113 = 'RFC 9113';
export const RFC9110 = 'RFC 9110';
/** Not a standard: the project's OPTIONS * profile (spec-notes/options-star.md). */
export const OPTIONS_STAR = 'OPTIONS * proposal (spec-notes/options-star.md)';

export interface CheckResult {
  /** Stable identifier, e.g. `settings.value` or `frame1.stream`. */
  id: string;
  /** The document and section, e.g. `draft-ietf-httpbis-secondary-server-certs §5.1`. */
  section: string;
  /** The rule, briefly. */
  title: string;
  status: CheckStatus;
  /** What was found. */
  detail: string;
  /** Bytes that show it, in hex (truncated). */
  evidence?: string;
}

/** One frame taken out of the stream by the splicer (an extension frame type). */
export interface RecordedFrame {
  /** 1 for the first frame recorded. */
  index: number;
  type: number;
  /** The profile's name for the type (SERVER_CERTIFICATE, ...). */
  name: string;
  flags: number;
  streamId: number;
  length: number;
  /** Milliseconds after the server's first SETTINGS frame (negative: before it). */
  atMs: number;
  /** Whether the server had already sent SETTINGS_HTTP_SERVER_CERT_AUTH = 1. */
  afterSettingValue1: boolean;
  /** Whether the frame was larger than our SETTINGS_MAX_FRAME_SIZE (the splicer skipped its payload). */
  oversize?: boolean;
  /** Frame header and payload in hex, truncated. */
  hex: string;
}

/** One non-ACK SETTINGS frame from the server. */
export interface RecordedSettings {
  atMs: number;
  /** [identifier, value] pairs as received (the last of duplicates). */
  entries: [number, number][];
}

/** A chain carried by a SERVER_CERTIFICATE (or proven over OPTIONS *). */
export interface CertificateRecord {
  /** The frame it came in (0 for OPTIONS *). */
  frame: number;
  via: 'SERVER_CERTIFICATE' | 'OPTIONS *';
  names: string[];
  chainLength: number;
  /** Whether the RFC 9261 checks passed. */
  valid: boolean;
  /** The certificate policy's answer; undefined with --insecure (chain recorded only) or when not valid. */
  accepted?: boolean;
  reason?: string;
  scheme?: string;
}

export interface OriginRecord {
  origin: string;
  coveredBy?: 'tls' | 'secondary';
  status?: number;
  body?: string;
}

/**
 * - conforms: every check passed (or was skipped);
 * - does-not-conform: at least one check failed;
 * - no-extension: the server does not advertise the setting, and sent nothing that breaks a rule;
 * - unreachable: no TLS 1.3 + h2 connection, or no SETTINGS from the server.
 */
export type Verdict = 'conforms' | 'does-not-conform' | 'no-extension' | 'unreachable';

/** Exit statuses of `secondary-certs check` (2 is a usage error, set by the command). */
export const EXIT_STATUS: Readonly<Record<Verdict, number>> = Object.freeze({
  conforms: 0,
  'does-not-conform': 1,
  'no-extension': 3,
  unreachable: 4,
});

/** The probes `--probe` runs, each on its own connection. */
export type ProbeName =
  | 'client-server-certificate'
  | 'client-server-certificate-garbage'
  | 'setting-value-2'
  | 'setting-value-max'
  | 'options-star-bad-body';

/** What one probe sent and how the server reacted; its verdict is the check `probe.<name>`. */
export interface ProbeRecord {
  name: ProbeName;
  /** What was sent, in words. */
  sent: string;
  /** The bytes sent (a frame, or a request body), hex, truncated. */
  bytes?: string;
  /** Whether the server sent the setting = 1 on the probe's connection; null: no SETTINGS came. */
  serverSupports: boolean | null;
  reaction: {
    /** The server ended the connection. */
    closed: boolean;
    /** The connection error code (HTTP/2 GOAWAY, HTTP/3 application close), with its name. */
    errorCode?: number;
    errorName?: string;
    /** HTTP/3: a QUIC transport error code the server closed with instead of an application code. */
    transportCode?: number;
    /** The server still answered on the connection after the probe. */
    stillServes: boolean;
    /** The HTTP status, for OPTIONS *. */
    status?: number;
    detail?: string;
  };
}

export interface CheckReport {
  /** CHECK_SCHEMA_VERSION. */
  schemaVersion: typeof CHECK_SCHEMA_VERSION;
  protocol: 'h2' | 'h3';
  target: string;
  /** The address connected to, when not the URL's host. */
  connectAddress?: string;
  startedAt: string;
  durationMs: number;
  tls?: { protocol: string; cipher: string; alpn: string; peerNames: string[] };
  profile: { setting: number; frame: number; errorCode: number };
  extension: 'supported' | 'not-supported' | 'unknown';
  settings: RecordedSettings[];
  frames: RecordedFrame[];
  certificates: CertificateRecord[];
  origins: OriginRecord[];
  goaway?: { code: number; lastStreamId: number; debug: string };
  /** HTTP/3: the code we closed with, what a conforming client would have used. */
  clientClose?: { code: number; name: string; reason: string };
  /** HTTP/3: the server closed the connection first. */
  serverClose?: { code: number; app: boolean; reason: string };
  /** With --probe: one per probe, in the order run; empty without. */
  probes: ProbeRecord[];
  checks: CheckResult[];
  summary: { passed: number; failed: number; skipped: number };
  verdict: Verdict;
  /** Why the check could not run (unreachable). */
  error?: string;
}

/** Hex of `bytes`, cut after `max` bytes with a note of how many were left out. */
export function hexEvidence(bytes: Uint8Array, max = 48): string {
  const shown = Buffer.from(bytes.subarray(0, max)).toString('hex');
  return bytes.length > max ? `${shown}… (${bytes.length} bytes)` : shown;
}

export function summarize(checks: readonly CheckResult[]): CheckReport['summary'] {
  return {
    passed: checks.filter((c) => c.status === 'pass').length,
    failed: checks.filter((c) => c.status === 'fail').length,
    skipped: checks.filter((c) => c.status === 'skip').length,
  };
}

const hex2 = (n: number): string => `0x${n.toString(16).padStart(2, '0')}`;

const VERDICT_LINE: Record<Verdict, string> = {
  conforms: 'the server conforms',
  'does-not-conform': 'the server does NOT conform',
  'no-extension': 'the server does not support the extension',
  unreachable: 'the server could not be checked',
};

/** The report as text, for people. */
export function formatReport(report: CheckReport): string {
  const lines: string[] = [];
  lines.push(`secondary-certs check ${report.target}${report.connectAddress ? ` (connected to ${report.connectAddress})` : ''}`);
  if (report.tls) {
    const t = report.tls;
    lines.push(`TLS: ${t.protocol} ${t.cipher}, ALPN ${t.alpn}, certificate for ${t.peerNames.join(', ') || '(no names)'}`);
  }
  if (report.error) lines.push(`error: ${report.error}`);
  const p = report.profile;
  const settingName = `SETTINGS_HTTP_SERVER_CERT_AUTH (0x${p.setting.toString(16)})`;
  if (report.extension === 'supported') lines.push(`extension: supported, ${settingName} = 1`);
  else if (report.extension === 'not-supported') lines.push(`extension: the server does not support the extension (no ${settingName} = 1 in its SETTINGS)`);
  if (report.settings.length > 0) {
    lines.push('server SETTINGS (ms after the first):');
    for (const s of report.settings) {
      lines.push(`  +${s.atMs.toFixed(1)} ms  ${s.entries.map(([id, v]) => `0x${id.toString(16)}=${v}`).join(' ') || '(empty)'}`);
    }
  }
  if (report.frames.length > 0) {
    lines.push('extension frames (ms after the server\'s first SETTINGS):');
    for (const f of report.frames) {
      const at = `${f.atMs >= 0 ? '+' : ''}${f.atMs.toFixed(1)} ms`;
      lines.push(`  #${f.index} ${at}  ${f.name} type ${hex2(f.type)} flags ${hex2(f.flags)} stream ${f.streamId}, ${f.length} bytes${f.afterSettingValue1 ? '' : ' (before the server\'s setting = 1)'}`);
      lines.push(`      ${f.hex}`);
    }
  }
  if (report.certificates.length > 0) {
    lines.push('certificates:');
    for (const c of report.certificates) {
      const where = c.via === 'OPTIONS *' ? 'OPTIONS *' : `frame #${c.frame}`;
      const verdict = !c.valid ? 'INVALID authenticator' : c.accepted === undefined ? 'valid authenticator, chain recorded only' : c.accepted ? 'valid, accepted' : `valid, not accepted: ${c.reason ?? ''}`;
      lines.push(`  ${where}: ${c.names.join(', ') || '(no names)'} (chain of ${c.chainLength}${c.scheme ? `, ${c.scheme}` : ''}): ${verdict}`);
    }
  }
  if (report.origins.length > 0) {
    lines.push('origins on this connection:');
    for (const o of report.origins) lines.push(`  ${o.origin}: ${o.status === undefined ? 'not requested' : `status ${o.status}`}${o.coveredBy ? ` (covered by the ${o.coveredBy} certificate)` : ''}`);
  }
  if (report.probes.length > 0) {
    lines.push('probes (each on its own connection):');
    for (const p of report.probes) lines.push(`  ${p.name}: sent ${p.sent}; ${p.reaction.detail ?? ''}`);
  }
  if (report.goaway) lines.push(`server GOAWAY: code 0x${report.goaway.code.toString(16)} last stream ${report.goaway.lastStreamId}${report.goaway.debug ? ` "${report.goaway.debug}"` : ''}`);
  lines.push('checks:');
  for (const c of report.checks) {
    lines.push(`  ${c.status.toUpperCase().padEnd(4)}  ${c.section}  ${c.title}`);
    if (c.detail) lines.push(`        ${c.detail}`);
    // Passing checks keep their evidence in the JSON form; the frames above show the bytes anyway.
    if (c.evidence && c.status !== 'pass') lines.push(`        evidence: ${c.evidence}`);
  }
  const s = report.summary;
  lines.push(`${s.passed} passed, ${s.failed} failed, ${s.skipped} skipped: ${VERDICT_LINE[report.verdict]}`);
  return `${lines.join('\n')}\n`;
}
