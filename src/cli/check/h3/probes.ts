import { randomBytes } from 'node:crypto';
import type { CryptoProvider } from '../../../crypto/provider.js';
import { H3ErrorCode, h3ErrorName } from '../../../errors.js';
import type { H3Profile } from '../../../h3/profile.js';
import { encodeFrame } from '../../../h3/wire/frame.js';
import { probeAuthenticator } from '../probe-identity.js';
import { judgeProbe, type ProbeOutcome, type ProbeRule } from '../probes.js';
import { DRAFT, hexEvidence, type CheckResult, type ProbeRecord } from '../report.js';
import { H3Watcher, RFC9114 } from './watcher.js';

// `check --h3 --probe`: each probe on a fresh QUIC connection of its own; a frame probe is written on our
// control stream after our SETTINGS, a setting probe is our SETTINGS itself. Then a request shows whether
// the server still serves, and the connection's end (if the server ended it) gives the code. The codes
// expected where the draft names none are the project's (spec-notes/secondary-server-certs-h3.md).

export interface H3ProbeOptions {
  target: URL;
  anchors: string[];
  connectAddress?: string;
  timeoutMs: number;
  waitMs: number;
  profile: H3Profile;
  crypto?: CryptoProvider;
}

const FRAME_RULE = {
  section: `${DRAFT} §3.2; ${RFC9114} §8`,
  expectedCode: H3ErrorCode.H3_FRAME_UNEXPECTED,
  expectedName: 'H3_FRAME_UNEXPECTED',
  ignoreSection: `${RFC9114} §9`,
  ignoreTitle: 'a server without the extension ignores a frame of unknown type',
} as const;
const SETTING_RULE = {
  section: `${DRAFT} §4.2; ${RFC9114} §8`,
  expectedCode: H3ErrorCode.H3_SETTINGS_ERROR,
  expectedName: 'H3_SETTINGS_ERROR',
  ignoreSection: `${RFC9114} §7.2.4`,
  ignoreTitle: 'a server without the extension ignores an unknown setting',
} as const;

const codeName = (code: number): string => h3ErrorName(code) ?? `0x${code.toString(16)}`;

/** Runs every HTTP/3 probe in turn; never throws for what the server does. */
export async function runH3Probes(options: H3ProbeOptions): Promise<{ checks: CheckResult[]; probes: ProbeRecord[] }> {
  const checks: CheckResult[] = [];
  const probes: ProbeRecord[] = [];
  const add = (r: { check: CheckResult; record: ProbeRecord }): void => {
    checks.push(r.check);
    probes.push(r.record);
  };
  const frameType = options.profile.frames.SERVER_CERTIFICATE;
  const settingId = options.profile.settings.SETTINGS_HTTP_SERVER_CERT_AUTH;
  const frameName = `SERVER_CERTIFICATE (0x${frameType.toString(16)})`;
  add(
    await probe(options, { ...FRAME_RULE, name: 'client-server-certificate', title: `a ${frameName} from the client closes the connection with H3_FRAME_UNEXPECTED` }, 1, async (w) => {
      const authenticator = await probeAuthenticator(w.transport.keys, options.crypto);
      return { what: `${frameName} on our control stream carrying a well-formed authenticator of this connection (${authenticator.length} bytes)`, frame: encodeFrame(frameType, authenticator) };
    }),
  );
  add(
    await probe(options, { ...FRAME_RULE, name: 'client-server-certificate-garbage', title: `a ${frameName} of random bytes from the client closes the connection with H3_FRAME_UNEXPECTED` }, 1, async () => {
      return { what: `${frameName} on our control stream carrying 64 random bytes`, frame: encodeFrame(frameType, randomBytes(64)) };
    }),
  );
  for (const [name, value] of [['setting-value-2', 2], ['setting-value-max', 0xffffffff]] as const) {
    add(
      await probe(options, { ...SETTING_RULE, name, title: `SETTINGS_HTTP_SERVER_CERT_AUTH (0x${settingId.toString(16)}) = ${value} from the client is H3_SETTINGS_ERROR` }, value, async () => {
        return { what: `our SETTINGS with SETTINGS_HTTP_SERVER_CERT_AUTH (0x${settingId.toString(16)}) = ${value}` };
      }),
    );
  }
  return { checks, probes };
}

async function probe(options: H3ProbeOptions, rule: ProbeRule, settingValue: number, make: (w: H3Watcher) => Promise<{ what: string; frame?: Uint8Array }>): Promise<ReturnType<typeof judgeProbe>> {
  let watcher: H3Watcher;
  try {
    watcher = await H3Watcher.connect(options.target, { anchors: options.anchors, timeoutMs: options.timeoutMs, profile: options.profile, ...(options.connectAddress ? { connectAddress: options.connectAddress } : {}), ...(options.crypto ? { crypto: options.crypto } : {}) });
  } catch (e) {
    return judgeProbe(rule, { what: 'nothing: no connection' }, { serverSupports: undefined, closed: true, stillServes: false, error: `no QUIC connection with ALPN h3: ${(e as Error).message}` }, codeName);
  }
  try {
    watcher.start(settingValue);
    await watcher.waitForSettings(options.timeoutMs);
    const serverSupports = watcher.settings.length > 0 ? watcher.value1At !== undefined : undefined;
    // A silent server is not probed further; one that closed on our SETTINGS is judged by its close.
    if (serverSupports === undefined && !watcher.closed) return judgeProbe(rule, { what: 'nothing' }, { serverSupports, closed: false, stillServes: false, error: `no SETTINGS from the server within ${options.timeoutMs} ms` }, codeName);
    let sent: { what: string; frame?: Uint8Array };
    try {
      sent = await make(watcher);
    } catch (e) {
      return judgeProbe(rule, { what: 'nothing' }, { serverSupports, closed: watcher.closed, stillServes: false, error: `the probe could not be made: ${(e as Error).message}` }, codeName);
    }
    if (sent.frame) watcher.sendOnControl(sent.frame);
    // A server acts on the control stream as it reads it; the request after it shows whether it still serves.
    await watcher.quiet(options.waitMs, options.timeoutMs);
    const answer = watcher.closed ? undefined : await watcher.request(new URL(options.target.origin), options.timeoutMs);
    await watcher.quiet(options.waitMs, options.timeoutMs);
    const close = watcher.closedBy && watcher.closedBy.by !== 'local' ? watcher.closedBy : undefined;
    const outcome: ProbeOutcome = {
      serverSupports,
      closed: close !== undefined,
      ...(close && close.app && close.code !== H3ErrorCode.H3_NO_ERROR ? { errorCode: close.code } : {}),
      ...(close && !close.app && close.by !== 'idle' && close.code !== 0 ? { transportCode: close.code } : {}),
      stillServes: answer?.status !== undefined && close === undefined,
    };
    return judgeProbe(rule, { what: sent.what, ...(sent.frame ? { bytes: hexEvidence(sent.frame) } : {}) }, outcome, codeName);
  } finally {
    if (!watcher.closed) await watcher.close(H3ErrorCode.H3_NO_ERROR, '');
  }
}
