import { encodeSettingsPayload } from '../../../h2/settings.js';
import { H2ErrorCode, h2ErrorName } from '../../../errors.js';
import { frameNameOf, type H2Profile } from '../../../h2/profile.js';
import type { ProtocolTerms } from '../judges/records.js';
import { DRAFT, RFC9113 } from '../report.js';
import { OUR_MAX_FRAME_SIZE } from './watcher.js';

/** HTTP/2's side of the judges' terms. */
export function h2Terms(profile: H2Profile): ProtocolTerms {
  return {
    alpn: 'h2',
    connection: { section: `${RFC9113} §3.2, RFC 9261 §5.1`, title: 'TLS 1.3 with ALPN h2 (exporters need TLS 1.3)' },
    settingsFirst: { section: `${RFC9113} §3.4`, title: 'the server sends SETTINGS first' },
    settingSection: `${DRAFT} §3.1`,
    valueSection: `${DRAFT} §4.1`,
    settingsOnce: false,
    encodeSetting: (id, value) => encodeSettingsPayload([{ id, value }]),
    frameName: (type) => frameNameOf(profile, type) ?? 'unknown',
    frameStream: { section: `${DRAFT} §5.1`, title: 'stream 0' },
    // The 9-byte frame header.
    headerHexChars: 18,
    flagsSection: `${RFC9113} §4.1`,
    negotiated: { id: 'timing', section: `${DRAFT} §3.2`, title: 'not sent before SETTINGS' },
    maxFrame: { section: `${RFC9113} §4.2`, setting: 'SETTINGS_MAX_FRAME_SIZE', size: OUR_MAX_FRAME_SIZE, error: 'FRAME_SIZE_ERROR' },
    checkMisplacedAuthenticators: true,
    unprovenOrigins: 'fail',
    serverClose: { id: 'connection.goaway', section: `${RFC9113} §6.8` },
    codes: { noError: H2ErrorCode.NO_ERROR, certificateInvalid: profile.errors.SERVER_CERTIFICATE_INVALID, wrongStream: H2ErrorCode.PROTOCOL_ERROR },
    codeName: (code) => (code === profile.errors.SERVER_CERTIFICATE_INVALID ? 'SERVER_CERTIFICATE_INVALID' : (h2ErrorName(code) ?? `0x${code.toString(16)}`)),
    badSettingError: 'PROTOCOL_ERROR',
  };
}
