import { X509Certificate } from 'node:crypto';
import type { CryptoProvider } from '../../../crypto/provider.js';
import type { AuthenticatorKeys } from '../../../exporter/keys.js';
import { keysFromTlsSocket } from '../../../exporter/tls-socket.js';
import { DEFAULT_PROFILE, type H2Profile } from '../../../h2/profile.js';
import { leafNames, sanNames } from '../../../pki/identity.js';
import { originOf, startReport } from '../common.js';
import { CertificateJudge, clientCloseCode, judgeConnection, judgeFrames, judgeOrigins, judgeServerClose, judgeSettings, provenOrigins } from '../judges/index.js';
import { OPTIONS_STAR, type CheckReport } from '../report.js';
import { checkOptionsStar } from './options-star.js';
import { runH2Probes } from './probes.js';
import { h2Terms } from './terms.js';
import { H2Watcher } from './watcher.js';

// The conformance checker: one connection to a server, as a client that supports the extension, but one
// that only watches. It never closes the connection over what it sees (SecondaryCertConnection would, on
// the first bad authenticator), so every frame is recorded and judged; then it asks for the origins it was
// given on the same connection, optionally tries OPTIONS *, and only then says goodbye, with the error
// code a conforming client would have used.

export interface CheckOptions {
  /** Trust anchors (PEM) for the TLS certificate and every secondary certificate; default: the system's. */
  ca?: string | string[];
  /** Accept any TLS certificate, and record secondary chains without judging them. */
  insecure?: boolean;
  /** Origins (or host names) to request on the same connection. */
  origins?: string[];
  /** Origins (or host names) to ask for with OPTIONS * (our proposal). */
  optionsStar?: string[];
  /** Connect here instead of resolving the URL's host (which stays the SNI and :authority). */
  connectAddress?: string;
  /** Limit for the TLS handshake, the server's SETTINGS, and each request (default 10 s). */
  timeoutMs?: number;
  /** How long the server may stay quiet before its certificates are taken as all sent (default 300 ms). */
  waitMs?: number;
  /** Also run the probes (h2/probes.ts), each on a fresh connection of its own, after the watched one. */
  probe?: boolean;
  profile?: H2Profile;
  crypto?: CryptoProvider;
}

const DEFAULT_TIMEOUT_MS = 10_000;
const DEFAULT_WAIT_MS = 300;

/** Checks the server at `url` (https://HOST:PORT). Never throws for what the server does; bad options throw TypeError. */
export async function checkServer(url: string | URL, options: CheckOptions = {}): Promise<CheckReport> {
  const target = new URL(url);
  if (target.protocol !== 'https:' || target.hostname === '') throw new TypeError(`the target must be an https URL, not ${String(url)}`);
  const origins = (options.origins ?? []).map((o) => originOf(o, target));
  const optionsStarOrigins = (options.optionsStar ?? []).map((o) => originOf(o, target));
  const profile = options.profile ?? DEFAULT_PROFILE;
  const terms = h2Terms(profile);
  const settingId = profile.settings.SETTINGS_HTTP_SERVER_CERT_AUTH;
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const crypto = options.crypto ? { crypto: options.crypto } : {};
  const { report, finish } = startReport<CheckReport>('h2', target, options.connectAddress, {
    setting: settingId,
    frame: profile.frames.SERVER_CERTIFICATE,
    errorCode: profile.errors.SERVER_CERTIFICATE_INVALID,
  });

  let watcher: H2Watcher;
  try {
    watcher = await H2Watcher.connect(target, { ...options, timeoutMs, profile });
  } catch (e) {
    report.error = `no TLS 1.3 connection with ALPN h2: ${(e as Error).message}`;
    return finish('unreachable');
  }
  const { session, tlsSocket } = watcher;
  const cipher = tlsSocket.getCipher();
  // Read once: on Node 20.20 a second getPeerX509Certificate() (and any getPeerCertificate() after it) is empty.
  const raw = tlsSocket.getPeerCertificate(false)?.raw;
  const tlsLeaf = raw ? new X509Certificate(raw) : undefined;
  report.tls = { protocol: String(tlsSocket.getProtocol()), cipher: cipher.standardName ?? cipher.name, alpn: String(tlsSocket.alpnProtocol), peerNames: sanNames(tlsLeaf) };
  await watcher.waitForServer(timeoutMs, options.waitMs ?? DEFAULT_WAIT_MS);

  judgeConnection(report, terms, `${report.tls.protocol}, ${report.tls.cipher}, ALPN ${report.tls.alpn}`);
  judgeSettings(report, watcher, terms, settingId, timeoutMs);

  let keys: AuthenticatorKeys | undefined;
  let keysProblem = '';
  try {
    keys = keysFromTlsSocket(tlsSocket);
  } catch (e) {
    keysProblem = (e as Error).message;
  }
  const certificates = new CertificateJudge(options, () => tlsLeaf);
  const found = await judgeFrames(report, watcher, { terms, settingId, serverCertificateType: profile.frames.SERVER_CERTIFICATE, keys, keysProblem, certificates, ...crypto }, new Set());
  // Only the origins a client would send here; without the extension, none.
  const answers = await watcher.request(report.extension === 'supported' ? provenOrigins(origins, certificates) : [], timeoutMs);
  judgeOrigins(report, terms, origins, answers, certificates);

  if (optionsStarOrigins.length > 0) {
    if (!keys || watcher.closed) {
      report.checks.push({ id: 'options.discovery', section: OPTIONS_STAR, title: 'capability discovery', status: 'skip', detail: watcher.closed ? 'the connection is closed' : `no exporter: ${keysProblem}` });
    } else {
      const out = await checkOptionsStar(
        { session, keys, authority: target.host, judge: certificates.insecure ? undefined : (chain, h) => certificates.judgeFor(chain, h), namesOf: leafNames, timeoutMs, ...crypto },
        optionsStarOrigins,
      );
      report.checks.push(...out.checks);
      report.certificates.push(...out.certificates);
    }
  }

  if (watcher.goaway) {
    const g = (report.goaway = watcher.goaway);
    judgeServerClose(report, terms, { idle: false, app: true, code: g.code, description: `GOAWAY code 0x${g.code.toString(16)}${g.debug ? ` "${g.debug}"` : ''}` });
  }
  // Goodbye with the code a conforming client would have used.
  await watcher.close(clientCloseCode(terms, found).code);
  if (options.probe) {
    const waitMs = options.waitMs ?? DEFAULT_WAIT_MS;
    const out = await runH2Probes({ target, ...(options.ca ? { ca: options.ca } : {}), insecure: options.insecure ?? false, ...(options.connectAddress ? { connectAddress: options.connectAddress } : {}), timeoutMs, waitMs, profile, ...crypto });
    report.checks.push(...out.checks);
    report.probes.push(...out.probes);
  }
  return finish();
}
