import { encodeSettings } from '../../../h3/wire/settings.js';
import { frameTypeName } from '../../../h3/wire/frame.js';
import { H3ErrorCode, h3ErrorName } from '../../../errors.js';
import { h3FrameNameOf, type H3Profile } from '../../../h3/profile.js';
import type { ProtocolTerms } from '../judges/records.js';
import { DRAFT } from '../report.js';
import { RFC9114 } from './watcher.js';

/** HTTP/3's side of the judges' terms. */
export function h3Terms(profile: H3Profile): ProtocolTerms {
  const certificateInvalid = profile.errors.SERVER_CERTIFICATE_INVALID;
  return {
    alpn: 'h3',
    connection: { section: `${RFC9114} §3.1, RFC 9001 §4, RFC 9261 §5.1`, title: 'QUIC (TLS 1.3) with ALPN h3' },
    settingsFirst: { section: `${RFC9114} §6.2.1`, title: 'the server opens its control stream with SETTINGS' },
    settingSection: `${DRAFT} §3.1`,
    valueSection: `${DRAFT} §4.2`,
    settingsOnce: true,
    encodeSetting: (id, value) => encodeSettings(new Map([[id, value]])),
    frameName: (type) => h3FrameNameOf(profile, type) ?? frameTypeName(type, profile),
    frameStream: { section: `${DRAFT} §5.2`, title: "the server's control stream" },
    headerHexChars: 24,
    negotiated: { id: 'negotiated', section: `${DRAFT} §3.1, §3.2`, title: "sent only after the server's SETTINGS carried the setting = 1" },
    checkMisplacedAuthenticators: false,
    unprovenOrigins: 'ask',
    serverClose: { id: 'connection.close', section: `${RFC9114} §5.2, §8` },
    codes: { noError: H3ErrorCode.H3_NO_ERROR, certificateInvalid, wrongStream: H3ErrorCode.H3_FRAME_UNEXPECTED },
    codeName: (code) => (code === certificateInvalid ? 'SERVER_CERTIFICATE_INVALID' : (h3ErrorName(code) ?? `0x${code.toString(16)}`)),
    badSettingError: 'H3_SETTINGS_ERROR',
  };
}
