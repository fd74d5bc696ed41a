import { hex } from '../../../codec/writer.js';
import { defaultCrypto } from '../../../crypto/index.js';
import { HASH_LENGTH, type CryptoProvider, type PublicKeyHandle } from '../../../crypto/provider.js';
import { parseAuthenticator, type ParsedAuthenticator } from '../../../ea/validate.js';
import { finishedMac, signedContent } from '../../../ea/transcript.js';
import type { AuthenticatorKeys, RoleKeys } from '../../../exporter/keys.js';
import { isTls13Scheme, keyTypeForScheme, schemeName, SUPPORTED_SCHEMES } from '../../../tls/signature-scheme.js';
import { hexEvidence, RFC9261, type CheckResult, type CheckStatus } from '../report.js';

// Each RFC 9261 rule for a spontaneous server authenticator, checked on its own so that a report shows
// every rule an authenticator breaks, not only the first (validateAuthenticator stops at the first). The
// arithmetic is the library's (transcript.ts); what is new here is the diagnosis, e.g. an authenticator
// whose Finished verifies only with the client's exporter labels: a server using the wrong exporter.

export interface SpontaneousCheckInput {
  keys: AuthenticatorKeys;
  authenticator: Uint8Array;
  /** Prefix of the check ids, e.g. `frame1`. */
  id: string;
  /** Said after each title, e.g. `(frame #1)`. */
  where: string;
  /** Contexts (hex) of the authenticators already seen on this connection; this one's is added. */
  seenContexts: Set<string>;
  /** Schemes our ClientHello offered (default: the schemes this library implements). */
  offeredSchemes?: readonly number[];
  /** Extension types our ClientHello offered for certificate entries (default: none). */
  offeredEntryExtensions?: readonly number[];
  crypto?: CryptoProvider;
}

export interface SpontaneousCheckOutcome {
  checks: CheckResult[];
  /** True when every RFC 9261 check passed. */
  valid: boolean;
  /** The chain, when the Certificate parsed (DER, leaf first). */
  chain?: Uint8Array[];
  scheme?: number;
}

const EMPTY = new Uint8Array(0);

/** Checks one spontaneous authenticator (a SERVER_CERTIFICATE payload) against RFC 9261. */
export async function checkSpontaneousAuthenticator(input: SpontaneousCheckInput): Promise<SpontaneousCheckOutcome> {
  const crypto = input.crypto ?? defaultCrypto();
  const checks: CheckResult[] = [];
  const add = (name: string, section: string, title: string, status: CheckStatus, detail: string, evidence?: string): void => {
    checks.push({ id: `${input.id}.${name}`, section: `${RFC9261} ${section}`, title: `${title} ${input.where}`, status, detail, ...(evidence ? { evidence } : {}) });
  };
  const notReached = (why: string): void => {
    for (const [name, section, title] of LATER_CHECKS) add(name, section, title, 'skip', `not checked: ${why}`);
  };

  let parsed: ParsedAuthenticator;
  try {
    parsed = parseAuthenticator(input.authenticator, HASH_LENGTH[input.keys.hash]);
  } catch (e) {
    add('structure', '§5.2', 'authenticator is Certificate, CertificateVerify, Finished', 'fail', (e as Error).message, hexEvidence(input.authenticator));
    notReached('the authenticator does not parse');
    return { checks, valid: false };
  }
  if (parsed.kind === 'empty') {
    add('structure', '§5.2', 'authenticator is Certificate, CertificateVerify, Finished', 'fail', 'a lone Finished: an empty authenticator only answers a request (RFC 9261 §6), it proves nothing spontaneously', hexEvidence(input.authenticator));
    notReached('an empty authenticator');
    return { checks, valid: false };
  }
  add('structure', '§5.2', 'authenticator is Certificate, CertificateVerify, Finished', 'pass', `${input.authenticator.length} bytes, ${parsed.certificate.entries.length} certificate entries`);

  const { certificate, certificateVerify } = parsed;
  const contextHex = hex(certificate.context);
  if (input.seenContexts.has(contextHex)) {
    add('context', '§7.4', 'context not reused', 'fail', 'an authenticator with this certificate_request_context was already received on this connection (RFC 9261 §5.2.1 asks for a unique one)', contextHex || '(empty context)');
  } else {
    add('context', '§7.4', 'context not reused', 'pass', `${certificate.context.length}-byte context, first use on this connection`, contextHex || '(empty context)');
  }
  input.seenContexts.add(contextHex);

  const leaf = certificate.entries[0]?.certData;
  if (!leaf) add('certificates', '§5.2.1', 'certificate_list not empty', 'fail', 'the Certificate holds no certificate');
  else add('certificates', '§5.2.1', 'certificate_list not empty', 'pass', `${certificate.entries.length} certificate(s)`);

  const offeredExt = input.offeredEntryExtensions ?? [];
  const unsolicited = certificate.entries.flatMap((e) => e.extensions.map((x) => x.type)).filter((t) => !offeredExt.includes(t));
  if (unsolicited.length > 0) {
    add('extensions', '§5.2.1', 'entry extensions were offered in the ClientHello', 'fail', `CertificateEntry extensions not offered: ${[...new Set(unsolicited)].join(', ')}`);
  } else {
    add('extensions', '§5.2.1', 'entry extensions were offered in the ClientHello', 'pass', 'none unsolicited');
  }

  const scheme = certificateVerify.scheme;
  let key: PublicKeyHandle | undefined;
  let keyProblem: string | undefined;
  if (leaf) {
    try {
      key = await crypto.publicKeyFromCertificate(leaf);
    } catch (e) {
      keyProblem = `the leaf's public key cannot be used: ${(e as Error).message}`;
    }
  } else {
    keyProblem = 'there is no leaf certificate';
  }
  const offered = input.offeredSchemes ?? SUPPORTED_SCHEMES;
  const schemeEvidence = hexEvidence(parsed.certificateVerifyRaw.subarray(0, 6));
  const schemeProblem = !isTls13Scheme(scheme)
    ? `${schemeName(scheme)} is not a TLS 1.3 scheme`
    : !offered.includes(scheme)
      ? `${schemeName(scheme)} was not offered`
      : key && keyTypeForScheme(scheme) !== key.type
        ? `${schemeName(scheme)} does not fit the leaf's ${key.type} key`
        : keyProblem;
  add('scheme', '§5.2.2', 'signature scheme is TLS 1.3, offered, and fits the key', schemeProblem ? 'fail' : 'pass', schemeProblem ?? schemeName(scheme), schemeEvidence);

  const server = input.keys.server;
  const finishedWith = (role: RoleKeys): boolean =>
    crypto.timingSafeEqual(finishedMac(crypto, input.keys.hash, role.handshakeContext, role.finishedKey, EMPTY, parsed.certificateRaw, parsed.certificateVerifyRaw), parsed.verifyData);
  const signatureWith = async (role: RoleKeys): Promise<boolean> => {
    if (!key || keyTypeForScheme(scheme) !== key.type) return false;
    try {
      return await crypto.verify(scheme, key, signedContent(crypto, input.keys.hash, role.handshakeContext, EMPTY, parsed.certificateRaw), certificateVerify.signature);
    } catch {
      return false;
    }
  };

  const finishedOk = finishedWith(server);
  add('finished', '§5.2.3', 'Finished verifies', finishedOk ? 'pass' : 'fail', finishedOk ? 'HMAC with the server Finished MAC key' : 'verify_data differs from the HMAC with this connection\'s server Finished MAC key', hexEvidence(parsed.verifyData));

  let signatureOk = false;
  if (!key || keyTypeForScheme(scheme) !== key.type) {
    add('signature', '§5.2.2', 'signature', 'skip', `not checked: ${keyProblem ?? 'the scheme does not fit the key'}`);
  } else {
    signatureOk = await signatureWith(server);
    add('signature', '§5.2.2', 'signature', signatureOk ? 'pass' : 'fail', signatureOk ? `CertificateVerify verifies with the leaf's key (${schemeName(scheme)})` : 'CertificateVerify does not verify with the leaf\'s key over this connection\'s server handshake context', hexEvidence(certificateVerify.signature));
  }

  // Which exporter values was it made with? Only said when there is evidence either way.
  if (finishedOk) {
    add('exporter', '§5.1', "made with the server's exporter values", 'pass', 'the Finished verifies with the "EXPORTER-server authenticator finished key"');
  } else if (finishedWith(input.keys.client)) {
    add('exporter', '§5.1', "made with the server's exporter values", 'fail', 'wrong exporter: the Finished verifies with the CLIENT labels ("EXPORTER-client authenticator ...") of this connection');
  } else {
    add('exporter', '§5.1', "made with the server's exporter values", 'skip', 'cannot tell: the Finished verifies with neither label set of this connection (another connection\'s exporter, or a corrupt MAC)');
  }

  const valid = checks.every((c) => c.status === 'pass');
  return { checks, valid, chain: certificate.entries.map((e) => e.certData), scheme };
}

/** The checks after `structure`, skipped when the authenticator cannot be read. */
const LATER_CHECKS: [string, string, string][] = [
  ['context', '§7.4', 'context not reused'],
  ['certificates', '§5.2.1', 'certificate_list not empty'],
  ['extensions', '§5.2.1', 'entry extensions were offered in the ClientHello'],
  ['scheme', '§5.2.2', 'signature scheme is TLS 1.3, offered, and fits the key'],
  ['finished', '§5.2.3', 'Finished verifies'],
  ['signature', '§5.2.2', 'signature'],
  ['exporter', '§5.1', "made with the server's exporter values"],
];
