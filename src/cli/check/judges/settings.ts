import { round } from '../common.js';
import { DRAFT, hexEvidence, type CheckReport } from '../report.js';
import type { ProtocolTerms, WireRecord } from './records.js';

/** `connection`: TLS 1.3 (the exporters need it) with the protocol's ALPN. */
export function judgeConnection(report: CheckReport, terms: ProtocolTerms, detail: string): void {
  const tls = report.tls;
  report.checks.push({
    id: 'connection',
    section: terms.connection.section,
    title: terms.connection.title,
    status: tls?.protocol === 'TLSv1.3' && tls.alpn === terms.alpn ? 'pass' : 'fail',
    detail,
  });
}

export function settingName(id: number): string {
  return `SETTINGS_HTTP_SERVER_CERT_AUTH (0x${id.toString(16)})`;
}

/** SETTINGS first, then the setting: its presence, its values, never lowered (where it may be sent again). */
export function judgeSettings(report: CheckReport, wire: WireRecord, terms: ProtocolTerms, settingId: number, timeoutMs: number): void {
  const checks = report.checks;
  const first = wire.settings[0];
  report.settings = wire.settings.map((s) => ({ atMs: round(s.at - first!.at), entries: s.entries }));
  checks.push({
    id: 'settings.received',
    section: terms.settingsFirst.section,
    title: terms.settingsFirst.title,
    status: first ? 'pass' : 'fail',
    detail: first
      ? terms.settingsOnce
        ? `${first.entries.length} setting(s)`
        : `${wire.settings.length} SETTINGS frame(s)`
      : wire.closed
        ? 'the connection closed before any SETTINGS'
        : `no SETTINGS within ${timeoutMs} ms`,
    ...(first?.wire ? { evidence: hexEvidence(first.wire) } : {}),
  });
  report.extension = wire.value1At !== undefined ? 'supported' : first ? 'not-supported' : 'unknown';
  const values = wire.settings.flatMap((s) => s.entries.filter(([id]) => id === settingId).map(([, v]) => v));
  const name = settingName(settingId);
  const section = terms.settingSection;
  if (values.length === 0) {
    const absent = 'the server does not support the extension: the setting is absent from its SETTINGS';
    checks.push({ id: 'settings.advertised', section, title: `server advertises ${name}`, status: 'skip', detail: first ? absent : 'no SETTINGS' });
    return;
  }
  const evidence = values.map((v) => Buffer.from(terms.encodeSetting(settingId, v)).toString('hex')).join(' ');
  const v1 = wire.value1At;
  // Sent once, the value has no time of its own: it is the SETTINGS frame's.
  const said = terms.settingsOnce ? { one: 'value 1', sent: 'value', values: 'value' } : { one: `value 1 at +${round((v1 ?? 0) - (wire.t0 ?? 0))} ms`, sent: 'values sent', values: 'values:' };
  checks.push({
    id: 'settings.advertised',
    section,
    title: `server advertises ${name}`,
    status: v1 !== undefined ? 'pass' : 'skip',
    detail: v1 !== undefined ? said.one : `the server does not support the extension: ${said.sent} ${values.join(', ')}`,
    evidence,
  });
  const bad = values.filter((v) => v !== 0 && v !== 1);
  const repeated = terms.settingsOnce && values.length > 1;
  checks.push({
    id: 'settings.value',
    section: terms.valueSection,
    title: 'setting value is 0 or 1',
    status: bad.length === 0 && !repeated ? 'pass' : 'fail',
    detail:
      bad.length > 0
        ? `${terms.settingsOnce ? 'value' : 'values other than 0 or 1:'} ${bad.join(', ')} (a client closes with ${terms.badSettingError})`
        : repeated
          ? `the setting appears ${values.length} times (${terms.badSettingError})`
          : `${said.values} ${values.join(', ')}`,
    evidence,
  });
  if (terms.settingsOnce) return;
  const lowered = values.some((v, i) => v === 0 && values.slice(0, i).includes(1));
  checks.push({
    id: 'settings.not-lowered',
    section,
    title: 'never 0 after 1',
    status: lowered ? 'fail' : 'pass',
    detail: lowered ? `the setting went from 1 to 0: ${values.join(' → ')}` : values.length > 1 ? `values in order: ${values.join(' → ')}` : 'sent once',
  });
}
