import { randomBytes } from 'node:crypto';
import * as http2 from 'node:http2';
import * as tls from 'node:tls';
import type { CryptoProvider } from '../../../crypto/provider.js';
import { H2ErrorCode, h2ErrorName } from '../../../errors.js';
import { keysFromTlsSocket } from '../../../exporter/tls-socket.js';
import { DEFAULT_OPTIONS_STAR_NAMES, parseTokenList, SERVER_CAPABILITY } from '../../../flows/options-star/names.js';
import type { Setting } from '../../../h2/settings.js';
import { encodeFrame } from '../../../h2/wire/frame-header.js';
import type { H2Profile } from '../../../h2/profile.js';
import { probeAuthenticator } from '../probe-identity.js';
import { judgeProbe, type ProbeOutcome, type ProbeRule } from '../probes.js';
import { DRAFT, hexEvidence, OPTIONS_STAR, RFC9113, type CheckResult, type ProbeRecord } from '../report.js';
import { exchange } from './exchange.js';
import { RawH2Peer, type RawReaction } from './raw-peer.js';

// `check --probe` over HTTP/2: each probe on a fresh TLS connection of its own (raw frames, so that values
// node:http2 would refuse to send can be sent), and a verdict on how the server reacted. The error codes
// expected where the draft names none are the project's (spec-notes/secondary-server-certs-h2.md, C1, C2).

export interface H2ProbeOptions {
  target: URL;
  ca?: string | string[];
  insecure?: boolean;
  connectAddress?: string;
  timeoutMs: number;
  waitMs: number;
  profile: H2Profile;
  crypto?: CryptoProvider;
}

const FRAME_RULE = {
  section: `${DRAFT} §3.2; ${RFC9113} §5.4.1`,
  expectedCode: H2ErrorCode.PROTOCOL_ERROR,
  expectedName: 'PROTOCOL_ERROR',
  ignoreSection: `${RFC9113} §5.5`,
  ignoreTitle: 'a server without the extension ignores a frame of unknown type',
} as const;
const SETTING_RULE = {
  section: `${DRAFT} §4.1; ${RFC9113} §5.4.1`,
  expectedCode: H2ErrorCode.PROTOCOL_ERROR,
  expectedName: 'PROTOCOL_ERROR',
  ignoreSection: `${RFC9113} §6.5.2`,
  ignoreTitle: 'a server without the extension ignores an unknown setting',
} as const;

const codeName = (code: number): string => h2ErrorName(code) ?? `0x${code.toString(16)}`;

/** Runs every HTTP/2 probe in turn; never throws for what the server does. */
export async function runH2Probes(options: H2ProbeOptions): Promise<{ checks: CheckResult[]; probes: ProbeRecord[] }> {
  const checks: CheckResult[] = [];
  const probes: ProbeRecord[] = [];
  const add = (r: { check: CheckResult; record: ProbeRecord }): void => {
    checks.push(r.check);
    probes.push(r.record);
  };
  const settingId = options.profile.settings.SETTINGS_HTTP_SERVER_CERT_AUTH;
  const frameType = options.profile.frames.SERVER_CERTIFICATE;
  const supportSettings: Setting[] = [{ id: settingId, value: 1 }];
  const frameName = `SERVER_CERTIFICATE (0x${frameType.toString(16)})`;

  add(
    await frameProbe(options, { ...FRAME_RULE, name: 'client-server-certificate', title: `a ${frameName} from the client closes the connection with PROTOCOL_ERROR` }, supportSettings, async (peer) => {
      const authenticator = await probeAuthenticator(keysFromTlsSocket(peer.socket), options.crypto);
      return { what: `${frameName} on stream 0 carrying a well-formed authenticator of this connection (${authenticator.length} bytes)`, frame: encodeFrame(frameType, 0, 0, authenticator) };
    }),
  );
  add(
    await frameProbe(options, { ...FRAME_RULE, name: 'client-server-certificate-garbage', title: `a ${frameName} of random bytes from the client closes the connection with PROTOCOL_ERROR` }, supportSettings, async () => {
      return { what: `${frameName} on stream 0 carrying 64 random bytes`, frame: encodeFrame(frameType, 0, 0, randomBytes(64)) };
    }),
  );
  for (const [name, value] of [['setting-value-2', 2], ['setting-value-max', 0xffffffff]] as const) {
    add(
      await frameProbe(options, { ...SETTING_RULE, name, title: `SETTINGS_HTTP_SERVER_CERT_AUTH (0x${settingId.toString(16)}) = ${value} from the client is PROTOCOL_ERROR` }, [{ id: settingId, value }], async () => {
        return { what: `our SETTINGS with SETTINGS_HTTP_SERVER_CERT_AUTH (0x${settingId.toString(16)}) = ${value}` };
      }),
    );
  }
  add(await optionsStarProbe(options));
  return { checks, probes };
}

function peerOptions(options: H2ProbeOptions, settings: Setting[]): Parameters<typeof RawH2Peer.connect>[0] {
  const host = options.target.hostname.replace(/^\[|\]$/g, '');
  return {
    host: options.connectAddress ?? host,
    port: Number(options.target.port || 443),
    servername: /^[0-9.]+$/.test(host) || host.includes(':') ? undefined : host,
    ...(options.ca ? { ca: options.ca } : {}),
    insecure: options.insecure ?? false,
    timeoutMs: options.timeoutMs,
    settings,
  };
}

/** One probe: a fresh connection with `settings`, then (once the server's SETTINGS came) what `make` gives. */
async function frameProbe(
  options: H2ProbeOptions,
  rule: ProbeRule,
  settings: Setting[],
  make: (peer: RawH2Peer) => Promise<{ what: string; frame?: Uint8Array }>,
): Promise<ReturnType<typeof judgeProbe>> {
  let peer: RawH2Peer;
  try {
    peer = await RawH2Peer.connect(peerOptions(options, settings));
  } catch (e) {
    return judgeProbe(rule, { what: 'nothing: no connection' }, { serverSupports: undefined, closed: true, stillServes: false, error: `no TLS 1.3 connection with ALPN h2: ${(e as Error).message}` }, codeName);
  }
  try {
    const gotSettings = await peer.waitForSettings(options.timeoutMs);
    const serverSupports = gotSettings ? peer.serverValue(options.profile.settings.SETTINGS_HTTP_SERVER_CERT_AUTH) === 1 : undefined;
    // A silent server is not probed further; one that closed on our SETTINGS is judged by its GOAWAY.
    if (!gotSettings && !peer.closed) return judgeProbe(rule, { what: 'nothing' }, { serverSupports, closed: false, stillServes: false, error: `no SETTINGS from the server within ${options.timeoutMs} ms` }, codeName);
    let sent: { what: string; frame?: Uint8Array };
    try {
      sent = await make(peer);
    } catch (e) {
      return judgeProbe(rule, { what: 'nothing' }, { serverSupports, closed: peer.closed, stillServes: false, error: `the probe could not be made: ${(e as Error).message}` }, codeName);
    }
    if (sent.frame) peer.write(sent.frame);
    const reaction: RawReaction = await peer.reaction(options.waitMs, options.timeoutMs);
    const outcome: ProbeOutcome = {
      serverSupports,
      closed: reaction.closed,
      ...(reaction.goaway && reaction.goaway.code !== H2ErrorCode.NO_ERROR ? { errorCode: reaction.goaway.code } : {}),
      stillServes: reaction.pingAnswered && !reaction.closed,
    };
    return judgeProbe(rule, { what: sent.what, ...(sent.frame ? { bytes: hexEvidence(sent.frame) } : {}) }, outcome, codeName);
  } finally {
    peer.destroy();
  }
}

/**
 * OPTIONS * with a body that is not an authenticator request, where the server offers OPTIONS *
 * authentication: a 400, and the connection still serves (an HTTP-level refusal, not a connection error).
 */
async function optionsStarProbe(options: H2ProbeOptions): Promise<{ check: CheckResult; record: ProbeRecord }> {
  const names = DEFAULT_OPTIONS_STAR_NAMES;
  const id = 'probe.options-star-bad-body';
  const section = OPTIONS_STAR;
  const title = 'OPTIONS * with a body that is no ClientCertificateRequest gets 400, and the connection goes on';
  // A ClientCertificateRequest header claiming 16 bytes, followed by 4.
  const body = new Uint8Array([0x11, 0x00, 0x00, 0x10, ...randomBytes(4)]);
  const record: ProbeRecord = { name: 'options-star-bad-body', sent: `OPTIONS * with ${names.requestMediaType} and ${body.length} bytes that do not parse`, bytes: hexEvidence(body), serverSupports: null, reaction: { closed: false, stillServes: false } };
  const done = (status: CheckResult['status'], detail: string): { check: CheckResult; record: ProbeRecord } => {
    record.reaction.detail = detail;
    return { check: { id, section, title, status, detail, ...(status === 'fail' ? { evidence: hexEvidence(body) } : {}) }, record };
  };
  const p = peerOptions(options, []);
  let socket: tls.TLSSocket;
  try {
    socket = await new Promise<tls.TLSSocket>((resolve, reject) => {
      const s = tls.connect({ host: p.host, port: p.port, ...(p.servername ? { servername: p.servername } : {}), ...(p.ca ? { ca: p.ca } : {}), rejectUnauthorized: !p.insecure, ALPNProtocols: ['h2'], minVersion: 'TLSv1.3' });
      const timer = setTimeout(() => {
        s.destroy();
        reject(new Error(`no TLS handshake within ${options.timeoutMs} ms`));
      }, options.timeoutMs);
      s.once('secureConnect', () => (clearTimeout(timer), resolve(s)));
      s.once('error', (e) => (clearTimeout(timer), reject(e)));
    });
  } catch (e) {
    return done('skip', `no TLS 1.3 connection with ALPN h2: ${(e as Error).message}`);
  }
  const session = http2.connect(options.target.origin, { createConnection: () => socket, remoteCustomSettings: [] });
  let goaway: number | undefined;
  session.on('goaway', (code: number) => (goaway = code));
  session.on('error', () => {
    // Seen in the exchanges and the GOAWAY.
  });
  try {
    const base = { ':method': 'OPTIONS', ':scheme': 'https', ':authority': options.target.host, ':path': '*', 'max-forwards': '0' };
    const discovery = await exchange(session, base, undefined, options.timeoutMs);
    const offered = discovery.status >= 200 && discovery.status < 300 && parseTokenList(discovery.headers[names.capabilityField]).includes(SERVER_CAPABILITY);
    if (!offered) return done('skip', discovery.error ? `discovery failed: ${discovery.error}` : `the server does not offer OPTIONS * authentication (status ${discovery.status})`);
    const answer = await exchange(session, { ...base, 'content-type': names.requestMediaType }, body, options.timeoutMs);
    const after = await exchange(session, base, undefined, options.timeoutMs);
    record.reaction.stillServes = after.status >= 200 && after.status < 300;
    record.reaction.closed = session.closed || session.destroyed;
    if (answer.status) record.reaction.status = answer.status;
    if (goaway !== undefined && goaway !== H2ErrorCode.NO_ERROR) {
      record.reaction.errorCode = goaway;
      record.reaction.errorName = codeName(goaway);
    }
    const ok = answer.status === 400 && record.reaction.stillServes && record.reaction.errorCode === undefined;
    const detail = answer.error
      ? `no answer: ${answer.error}`
      : `status ${answer.status}${record.reaction.errorCode !== undefined ? `, then GOAWAY ${codeName(record.reaction.errorCode)}` : ''}${record.reaction.stillServes ? ', and the connection still serves' : ', and the connection stopped serving'}`;
    return done(ok ? 'pass' : 'fail', detail);
  } finally {
    session.destroy();
    socket.destroy();
  }
}
