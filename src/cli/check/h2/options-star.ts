import type { ClientHttp2Session } from 'node:http2';
import type { CryptoProvider } from '../../../crypto/provider.js';
import { createRequest, validateAuthenticator } from '../../../ea/index.js';
import { EmptyAuthenticator, SecondaryCertsError } from '../../../errors.js';
import type { AuthenticatorKeys } from '../../../exporter/keys.js';
import { DEFAULT_OPTIONS_STAR_NAMES, mediaTypeOf, originWithPort, parseTokenList, serializeSfString, SERVER_CAPABILITY } from '../../../flows/options-star/names.js';
import { schemeName } from '../../../tls/signature-scheme.js';
import { exchange } from './exchange.js';
import { DRAFT, hexEvidence, OPTIONS_STAR, RFC9261, type CertificateRecord, type CheckResult } from '../report.js';

// `--options-star ORIGIN`: asks the server to prove an origin over OPTIONS * (the project's proposal,
// spec-notes/options-star.md), on the checker's connection, and validates the answer with RFC 9261 and the request.

export interface OptionsStarCheckContext {
  session: ClientHttp2Session;
  keys: AuthenticatorKeys;
  /** The :authority the connection is already authoritative for. */
  authority: string;
  /** Judges a validated chain: accepted (with whether it covers the host), or why not; undefined: --insecure. */
  judge: ((chain: Uint8Array[], host: string) => Promise<{ accepted: boolean; covers: boolean; names: string[]; reason?: string }>) | undefined;
  /** Names of the leaf, for --insecure. */
  namesOf: (leaf: Uint8Array) => string[];
  timeoutMs: number;
  crypto?: CryptoProvider;
}

export async function checkOptionsStar(ctx: OptionsStarCheckContext, origins: URL[]): Promise<{ checks: CheckResult[]; certificates: CertificateRecord[] }> {
  const names = DEFAULT_OPTIONS_STAR_NAMES;
  const checks: CheckResult[] = [];
  const certificates: CertificateRecord[] = [];
  const base = { ':method': 'OPTIONS', ':scheme': 'https', ':authority': ctx.authority, ':path': '*', 'max-forwards': '0' };

  const discovery = await exchange(ctx.session, base, undefined, ctx.timeoutMs);
  const tokens = discovery.status >= 200 && discovery.status < 300 ? parseTokenList(discovery.headers[names.capabilityField]) : [];
  const supported = tokens.includes(SERVER_CAPABILITY);
  checks.push({
    id: 'options.discovery',
    section: OPTIONS_STAR,
    title: `capability discovery (${names.capabilityField}: ${SERVER_CAPABILITY})`,
    status: supported ? 'pass' : 'skip',
    detail: discovery.error
      ? `no answer: ${discovery.error}`
      : supported
        ? `status ${discovery.status}, ${names.capabilityField}: ${tokens.join(', ')}`
        : `the server does not offer OPTIONS * authentication (status ${discovery.status}, ${names.capabilityField}: ${tokens.join(', ') || 'absent'}); asking anyway`,
  });

  for (const url of origins) {
    const host = url.hostname;
    const id = `options[${host}]`;
    let request;
    try {
      request = createRequest({ creator: 'client', serverName: host, ...(ctx.crypto ? { crypto: ctx.crypto } : {}) });
    } catch (e) {
      checks.push({ id: `${id}.request`, section: OPTIONS_STAR, title: `ask for ${host}`, status: 'skip', detail: `cannot ask: ${(e as Error).message}` });
      continue;
    }
    const answer = await exchange(
      ctx.session,
      { ...base, 'content-type': names.requestMediaType, [names.originField]: serializeSfString(originWithPort(url)) },
      request.bytes,
      ctx.timeoutMs,
    );
    const type = mediaTypeOf(answer.headers['content-type']);
    if (answer.error || answer.status !== 200 || type !== names.authenticatorMediaType) {
      // A server without the profile (404, 405, 415, 501, another type) is not wrong; anything else is.
      const unsupported = !answer.error && [404, 405, 415, 501].includes(answer.status);
      checks.push({
        id: `${id}.answer`,
        section: OPTIONS_STAR,
        title: `answers a ClientCertificateRequest for ${host} with an authenticator`,
        status: unsupported || !supported ? 'skip' : 'fail',
        detail: answer.error ?? `status ${answer.status}, content-type ${type ?? 'none'}`,
      });
      continue;
    }
    checks.push({ id: `${id}.answer`, section: OPTIONS_STAR, title: `answers a ClientCertificateRequest for ${host} with an authenticator`, status: 'pass', detail: `${answer.body.length} bytes of ${type}` });
    let validated;
    try {
      validated = await validateAuthenticator({ keys: ctx.keys, creator: 'server', authenticator: new Uint8Array(answer.body), request, ...(ctx.crypto ? { crypto: ctx.crypto } : {}) });
    } catch (e) {
      const declined = e instanceof EmptyAuthenticator;
      checks.push({
        id: `${id}.validate`,
        section: `${RFC9261} §7.4`,
        title: `authenticator for ${host} validates against the request`,
        status: declined ? 'skip' : 'fail',
        detail: declined ? `the server declined with an empty authenticator (RFC 9261 §6): it has no certificate for ${host}` : e instanceof SecondaryCertsError ? `${e.code}: ${e.message}` : String(e),
        evidence: hexEvidence(answer.body),
      });
      continue;
    }
    checks.push({ id: `${id}.validate`, section: `${RFC9261} §7.4`, title: `authenticator for ${host} validates against the request`, status: 'pass', detail: `${schemeName(validated.scheme)}, chain of ${validated.chain.length}` });
    const leaf = validated.chain[0] as Uint8Array;
    const record: CertificateRecord = { frame: 0, via: 'OPTIONS *', names: ctx.namesOf(leaf), chainLength: validated.chain.length, valid: true, scheme: schemeName(validated.scheme) };
    if (ctx.judge) {
      const j = await ctx.judge(validated.chain, host);
      record.accepted = j.accepted;
      if (j.reason) record.reason = j.reason;
      const ok = j.accepted && j.covers;
      checks.push({
        id: `${id}.certificate`,
        section: `${DRAFT} §6.2`,
        title: `certificate proven for ${host} is acceptable and covers it`,
        status: ok ? 'pass' : 'fail',
        detail: ok ? `accepted: ${j.names.join(', ')}` : j.accepted ? `accepted, but it covers ${j.names.join(', ')}, not ${host}` : `not accepted: ${j.reason ?? ''}`,
      });
    }
    certificates.push(record);
  }
  return { checks, certificates };
}
