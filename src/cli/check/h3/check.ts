import { X509Certificate } from 'node:crypto';
import { rootCertificates } from 'node:tls';
import type { CryptoProvider } from '../../../crypto/provider.js';
import { h3ErrorName } from '../../../errors.js';
import { DEFAULT_H3_PROFILE, type H3Profile } from '../../../h3/profile.js';
import { sanNames } from '../../../pki/identity.js';
import { originOf, startReport } from '../common.js';
import { CertificateJudge, clientCloseCode, judgeConnection, judgeFrames, judgeOrigins, judgeServerClose, judgeSettings, judgeStreamRules, provenOrigins, type Answer } from '../judges/index.js';
import { formatReport, type CheckReport } from '../report.js';
import { runH3Probes } from './probes.js';
import { h3Terms } from './terms.js';
import { H3Watcher, RFC9114 } from './watcher.js';

// The conformance checker over HTTP/3: the watcher (watcher.ts) records what the server sends, the judges
// shared with HTTP/2 judge it; the origins are requested on the same connection, and only then does it
// close, with the code a conforming client would have used.

export interface H3CheckOptions {
  /** Trust anchors (PEM) for the QUIC handshake and every secondary certificate; default: the system's. */
  ca?: string | string[];
  /** Origins (or host names) to request on the same connection, besides the target itself. */
  origins?: string[];
  /** Connect here instead of resolving the URL's host (which stays the SNI and :authority). */
  connectAddress?: string;
  /** Limit for the handshake, the server's SETTINGS and each request (default 10 s). */
  timeoutMs?: number;
  /** How long the server may stay quiet before its certificates are taken as all sent (default 300 ms). */
  waitMs?: number;
  /** Also run the probes (h3/probes.ts), each on a fresh connection of its own, after the watched one. */
  probe?: boolean;
  profile?: H3Profile;
  crypto?: CryptoProvider;
}

/** The report over HTTP/3: the same schema, with clientClose or serverClose set. */
export type H3CheckReport = CheckReport;

const DEFAULT_TIMEOUT_MS = 10_000;
const DEFAULT_WAIT_MS = 300;

/** Checks the HTTP/3 server at `url` (https://HOST:PORT, UDP). Never throws for what the server does; bad options throw TypeError. */
export async function checkH3Server(url: string | URL, options: H3CheckOptions = {}): Promise<H3CheckReport> {
  const target = new URL(url);
  if (target.protocol !== 'https:' || target.hostname === '') throw new TypeError(`the target must be an https URL, not ${String(url)}`);
  const self = new URL(target.origin);
  const origins = [self, ...(options.origins ?? []).map((o) => originOf(o, target))].filter((o, i, all) => all.findIndex((x) => x.origin === o.origin) === i);
  const profile = options.profile ?? DEFAULT_H3_PROFILE;
  const terms = h3Terms(profile);
  const settingId = profile.settings.SETTINGS_HTTP_SERVER_CERT_AUTH;
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const waitMs = options.waitMs ?? DEFAULT_WAIT_MS;
  const { report, finish } = startReport<H3CheckReport>('h3', target, options.connectAddress, {
    setting: settingId,
    frame: profile.frames.SERVER_CERTIFICATE,
    errorCode: profile.errors.SERVER_CERTIFICATE_INVALID,
  });

  const anchors = options.ca ? ([] as string[]).concat(options.ca) : [...rootCertificates];
  let watcher: H3Watcher;
  try {
    watcher = await H3Watcher.connect(target, { anchors, timeoutMs, profile, ...(options.connectAddress ? { connectAddress: options.connectAddress } : {}), ...(options.crypto ? { crypto: options.crypto } : {}) });
  } catch (e) {
    report.error = `no QUIC connection with ALPN h3: ${(e as Error).message}`;
    return finish('unreachable');
  }
  const { transport } = watcher;
  const tlsLeaf = leafOf(transport.peerCertificates()[0]);
  report.tls = { protocol: 'TLSv1.3', cipher: '(QUIC)', alpn: transport.alpnProtocol, peerNames: sanNames(tlsLeaf) };
  judgeConnection(report, terms, `ALPN ${transport.alpnProtocol}, server certificate for ${report.tls.peerNames.join(', ') || '(no names)'}`);

  watcher.start();
  await watcher.waitForSettings(timeoutMs);
  await watcher.quiet(waitMs, timeoutMs);
  judgeSettings(report, watcher, terms, settingId, timeoutMs);

  const certificates = new CertificateJudge({ ca: anchors }, () => tlsLeaf);
  const judging = { terms, settingId, serverCertificateType: profile.frames.SERVER_CERTIFICATE, keys: transport.keys, certificates, ...(options.crypto ? { crypto: options.crypto } : {}) };
  // The target itself first: its response stream is where a server that misplaces SERVER_CERTIFICATE puts it.
  const answers = new Map<string, Answer>();
  const ask = async (list: URL[]): Promise<void> => {
    for (const origin of list) if (!answers.has(origin.origin) && !watcher.closedBy) answers.set(origin.origin, await watcher.request(origin, timeoutMs));
  };
  await ask([self]);
  await watcher.quiet(waitMs, timeoutMs);
  const contexts = new Set<string>();
  const found = await judgeFrames(report, watcher, judging, contexts);
  // Requests to origins not proven: a 421 is the right answer, so they go last (a server may close on them).
  await ask(provenOrigins(origins, certificates));
  await ask(origins);
  judgeOrigins(report, terms, origins, answers, certificates);
  // Request-stream frames may have come with the later responses too.
  found.wrongStream ||= (await judgeFrames(report, watcher, judging, contexts, found.judged, true)).wrongStream;
  judgeStreamRules(report, terms, `${RFC9114} §4.1, §6.2, §7.2`, watcher.violations);

  const close = watcher.closedBy;
  if (close && close.by !== 'local') {
    report.serverClose = { code: close.code, app: close.app, reason: close.reason };
    const description = `${close.by === 'idle' ? 'idle timeout' : `${close.app ? 'application' : 'transport'} code 0x${close.code.toString(16)}${close.app && h3ErrorName(close.code) ? ` (${h3ErrorName(close.code)})` : ''}`}${close.reason ? ` "${close.reason}"` : ''}`;
    judgeServerClose(report, terms, { idle: close.by === 'idle', app: close.app, code: close.code, description });
  } else {
    // Goodbye with the code a conforming client would have used.
    report.clientClose = clientCloseCode(terms, found, watcher.violations);
    await watcher.close(report.clientClose.code, report.clientClose.reason);
  }
  if (options.probe) {
    const out = await runH3Probes({ target, anchors, timeoutMs, waitMs, profile, ...(options.connectAddress ? { connectAddress: options.connectAddress } : {}), ...(options.crypto ? { crypto: options.crypto } : {}) });
    report.checks.push(...out.checks);
    report.probes.push(...out.probes);
  }
  return finish();
}

/** The text report, with how the connection ended. */
export function formatH3Report(report: H3CheckReport): string {
  const lines = formatReport(report).trimEnd().split('\n');
  const extra: string[] = [];
  if (report.serverClose) extra.push(`the server closed the connection: ${report.serverClose.app ? 'application' : 'transport'} code 0x${report.serverClose.code.toString(16)}${report.serverClose.reason ? ` "${report.serverClose.reason}"` : ''}`);
  if (report.clientClose) extra.push(`closed the connection with 0x${report.clientClose.code.toString(16)} (${report.clientClose.name})${report.clientClose.reason ? `: ${report.clientClose.reason}` : ''}`);
  lines.splice(lines.length - 1, 0, ...extra);
  return `${lines.join('\n')}\n`;
}

function leafOf(der: Uint8Array | undefined): X509Certificate | undefined {
  try {
    return der ? new X509Certificate(der) : undefined;
  } catch {
    return undefined;
  }
}
