import * as http from 'node:http';
import type { TLSSocket } from 'node:tls';
import { equalBytes } from '../../codec/writer.js';
import type { CryptoProvider } from '../../crypto/provider.js';
import { ConnectionState, createRequest, validateAuthenticator } from '../../ea/index.js';
import { BodyTooLarge, EmptyAuthenticator, OptionsStarBadResponse, OptionsStarStatus, RequestTimeout } from '../../errors.js';
import type { AuthenticatorKeys } from '../../exporter/keys.js';
import { keysFromTlsSocket } from '../../exporter/tls-socket.js';
import type { AuthorityAnswer, SecondaryCertConnection } from '../../h2/client.js';
import type { H3SecondaryCertConnection } from '../../h3/client.js';
import { CertificatePolicy, type AcceptedCertificate, type OcspOutcome, type SctOutcome, type Stapled } from '../../pki/policy.js';
import { stapledOf } from '../../pki/stapled.js';
import { parseIpAddress } from '../../pki/names.js';
import {
  DEFAULT_OPTIONS_STAR_NAMES,
  makeOptionsStarNames,
  mediaTypeOf,
  originWithPort,
  parseTokenList,
  serializeSfString,
  type OptionsStarNames,
} from './names.js';

// The client side of our OPTIONS * profile (spec-notes/options-star.md): ask the server at the other end of an
// open TLS connection to prove an origin. The request is a ClientCertificateRequest naming the host, with a
// fresh context; the answer is validated with this connection's exporter and RFC 9261 state, and an
// accepted certificate then counts for the connection exactly as one from a SERVER_CERTIFICATE frame.

export interface ProveOriginOptions {
  names?: Partial<OptionsStarNames>;
  /** Schemes to offer in signature_algorithms (default: all this library supports). */
  signatureSchemes?: readonly number[];
  /**
   * Schemes to offer in signature_algorithms_cert: the certificates' own signatures must be among them
   * (RFC 9261 section 5.2.1); a chain that does not fit is refused. Default: the extension is not sent.
   */
  signatureSchemesCert?: readonly number[];
  /**
   * Ask for the leaf's OCSP response (status_request) and SCTs (signed_certificate_timestamp) in the request:
   * the server staples them if it has them, and the certificate policy (the connection's `stapling`, or
   * the HTTP/1.1 `policy`) judges them. Default false.
   */
  requestOcsp?: boolean;
  requestScts?: boolean;
  /** Time allowed for the answer (default 10 s). */
  timeoutMs?: number;
  /** Largest response body accepted (default 64 KiB, as for SERVER_CERTIFICATE). */
  maxResponseSize?: number;
  crypto?: CryptoProvider;
}

/**
 * - proven: the server proved the origin's host, and the certificate passed the policy. For HTTP/2,
 *   `authority` says whether requests for the origin may now use the connection (ports, ORIGIN, DNS, 421).
 * - refused: an empty authenticator, the server has no certificate for it (RFC 9261 section 6).
 * - rejected: a valid authenticator whose certificate the policy refused, or that does not cover the host.
 * - not-supported: the server does not speak the profile (415, 404, 405, 501, or an answer of another type).
 */
export type ProveOriginResult =
  | { outcome: 'proven'; origin: string; names: string[]; authority?: AuthorityAnswer; ocsp?: OcspOutcome; sct?: SctOutcome }
  | { outcome: 'refused'; origin: string; reason: string }
  | { outcome: 'rejected'; origin: string; names: string[]; reason: string }
  | { outcome: 'not-supported'; origin: string; status: number; reason: string };

/** What `discover*` learned: the capability tokens the server listed (empty: unsupported). */
export interface OptionsStarCapability {
  status: number;
  capabilities: string[];
  /** Whether the server answers ClientCertificateRequests (the `server` token). */
  server: boolean;
}

/** One HTTP exchange, whatever the HTTP version. */
interface Exchange {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Uint8Array;
}
type Send = (headers: Record<string, string>, body: Uint8Array | undefined) => Promise<Exchange>;
/** One OPTIONS * over an HTTP/2 or HTTP/3 connection's request(). */
type OptionsStarRequest = (
  headers: Record<string, string>,
  init: { body?: Uint8Array; timeoutMs: number; maxBodySize: number },
) => Promise<{ status: number; headers: Exchange['headers']; body: Buffer }>;

const DEFAULT_TIMEOUT_MS = 10_000;
const DEFAULT_MAX_RESPONSE = 64 * 1024;
/** Statuses that mean "this server does not do OPTIONS * authentication". */
const NOT_SUPPORTED = new Set([404, 405, 415, 501]);

/**
 * Asks the server of an HTTP/2 connection to prove `origin` over OPTIONS * (no extension frames needed).
 * An accepted certificate joins the connection's certificates (`acceptChain`), so `authorityFor` then
 * answers for it with the same rules as for SERVER_CERTIFICATE. Protocol failures reject with typed
 * errors: the RFC 9261 validation errors (BadFinished, BadSignature, ...), OptionsStarStatus (400, 421,
 * 425, 5xx), OptionsStarBadResponse, RequestTimeout.
 */
export async function proveOrigin(connection: SecondaryCertConnection, origin: string | URL, options: ProveOriginOptions = {}): Promise<ProveOriginResult> {
  return proveOnConnection(connection, () => connection.keys(), h2Send(connection, options), origin, options);
}

/**
 * proveOrigin over HTTP/3: the same OPTIONS * exchange on a request stream of `connection`, validated with
 * its QUIC connection's exporter; an accepted certificate joins the connection's certificates the same way.
 */
export async function proveOriginOverH3(connection: H3SecondaryCertConnection, origin: string | URL, options: ProveOriginOptions = {}): Promise<ProveOriginResult> {
  return proveOnConnection(connection, () => connection.transport.keys, h3Send(connection, options), origin, options);
}

/** Capability discovery over HTTP/3: a bodiless OPTIONS *. */
export async function discoverOptionsStarOverH3(connection: H3SecondaryCertConnection, options: ProveOriginOptions = {}): Promise<OptionsStarCapability> {
  return discover(h3Send(connection, options), options);
}

/** What proving on a client connection of either protocol needs of it. */
type ProvingConnection = Pick<SecondaryCertConnection, 'closed' | 'state' | 'certificates' | 'acceptChain' | 'authorityFor'>;

async function proveOnConnection(connection: ProvingConnection, keys: () => AuthenticatorKeys, send: Send, origin: string | URL, options: ProveOriginOptions): Promise<ProveOriginResult> {
  const url = originUrl(origin);
  if (connection.closed) throw new OptionsStarBadResponse('the connection is closed');
  const result = await prove(keys(), connection.state, url, send, options, async (chain, stapled) => {
    // A certificate the connection already holds is not added again (a proof asked twice), but a new staple is judged.
    const held = sameLeaf(connection.certificates, chain);
    if (held && stapled.ocspResponse === undefined && stapled.sctList === undefined) return { names: namesOf(held), covered: held.covers(hostOf(url)) };
    const event = await connection.acceptChain(chain, stapled);
    if (!event.accepted) return { names: event.names, reason: event.reason ?? 'not accepted' };
    return { names: event.names, covered: sameLeaf(connection.certificates, chain)?.covers(hostOf(url)) ?? false, ...stapling(event) };
  });
  if (result.outcome !== 'proven') return result;
  return { ...result, authority: await connection.authorityFor(url.origin) };
}

/** Capability discovery over HTTP/2: a bodiless OPTIONS * (spec-notes/options-star.md). */
export async function discoverOptionsStar(connection: SecondaryCertConnection, options: ProveOriginOptions = {}): Promise<OptionsStarCapability> {
  return discover(h2Send(connection, options), options);
}

// ---- HTTP/1.1 over https ----

export interface Http1ProveOptions extends ProveOriginOptions {
  /** How proven certificates are judged: trust anchors, or a policy of your own (role 'server'). */
  ca?: ReadonlyArray<string | Uint8Array>;
  policy?: CertificatePolicy;
  /** The Host field: the authority the connection is already authoritative for (default: its SNI name and port). */
  authority?: string;
}

interface Http1Record {
  state: ConnectionState;
  certificates: AcceptedCertificate[];
}
const http1Records = new WeakMap<TLSSocket, Http1Record>();

function http1Record(socket: TLSSocket): Http1Record {
  let record = http1Records.get(socket);
  if (!record) {
    record = { state: new ConnectionState('client'), certificates: [] };
    http1Records.set(socket, record);
  }
  return record;
}

/**
 * Asks the server of an idle HTTP/1.1 TLS connection (keep-alive) to prove `origin` over OPTIONS *. The
 * socket's RFC 9261 state and proven certificates are kept per socket (`certificatesProvenOn`). A timeout
 * or an oversized answer destroys the socket: HTTP/1.1 cannot cancel one exchange otherwise.
 */
export async function proveOriginOverHttp1(socket: TLSSocket, origin: string | URL, options: Http1ProveOptions): Promise<ProveOriginResult> {
  const url = originUrl(origin);
  const policy = options.policy ?? (options.ca ? new CertificatePolicy({ trustAnchors: options.ca, role: 'server' }) : undefined);
  if (!policy) throw new TypeError('proveOriginOverHttp1 needs `ca` or `policy` to judge the certificate');
  if (policy.role !== 'server') throw new TypeError("the policy must check server certificates (role 'server')");
  const record = http1Record(socket);
  return prove(keysFromTlsSocket(socket), record.state, url, h1Send(socket, options), options, async (chain, stapled) => {
    const held = sameLeaf(record.certificates, chain);
    if (held && stapled.ocspResponse === undefined && stapled.sctList === undefined) return { names: namesOf(held), covered: held.covers(hostOf(url)) };
    let accepted: AcceptedCertificate;
    try {
      accepted = await policy.check(chain, stapled);
    } catch (e) {
      return { names: [], reason: e instanceof Error ? `${(e as { code?: string }).code ?? ''}: ${e.message}` : String(e) };
    }
    if (!held) record.certificates.push(accepted);
    return { names: namesOf(accepted), covered: accepted.covers(hostOf(url)), ...stapling(accepted) };
  });
}

/** Capability discovery over an HTTP/1.1 TLS connection. */
export async function discoverOptionsStarOverHttp1(socket: TLSSocket, options: ProveOriginOptions & { authority?: string } = {}): Promise<OptionsStarCapability> {
  return discover(h1Send(socket, options), options);
}

/** Certificates proven with OPTIONS * on an HTTP/1.1 socket and accepted by the policy. */
export function certificatesProvenOn(socket: TLSSocket): readonly AcceptedCertificate[] {
  return http1Records.get(socket)?.certificates ?? [];
}

// ---- the flow, whatever the transport ----

type Acceptance = { names: string[]; covered: boolean; ocsp?: OcspOutcome; sct?: SctOutcome } | { names: string[]; reason: string };

function stapling(from: { ocsp?: OcspOutcome | undefined; sct?: SctOutcome | undefined }): { ocsp?: OcspOutcome; sct?: SctOutcome } {
  return { ...(from.ocsp ? { ocsp: from.ocsp } : {}), ...(from.sct ? { sct: from.sct } : {}) };
}

async function prove(
  keys: AuthenticatorKeys,
  state: ConnectionState,
  url: URL,
  send: Send,
  options: ProveOriginOptions,
  accept: (chain: Uint8Array[], stapled: Stapled) => Promise<Acceptance>,
): Promise<ProveOriginResult> {
  const names = options.names ? makeOptionsStarNames(options.names) : DEFAULT_OPTIONS_STAR_NAMES;
  const origin = url.origin;
  const host = hostOf(url);
  const request = createRequest({
    creator: 'client',
    serverName: host,
    state,
    ...(options.requestOcsp ? { statusRequest: true } : {}),
    ...(options.requestScts ? { signedCertificateTimestamp: true } : {}),
    ...(options.signatureSchemes ? { signatureSchemes: options.signatureSchemes } : {}),
    ...(options.signatureSchemesCert ? { signatureSchemesCert: options.signatureSchemesCert } : {}),
    ...(options.crypto ? { crypto: options.crypto } : {}),
  });
  const answer = await send(
    { 'content-type': names.requestMediaType, 'max-forwards': '0', [names.originField]: serializeSfString(originWithPort(url)) },
    request.bytes,
  );
  if (NOT_SUPPORTED.has(answer.status)) return { outcome: 'not-supported', origin, status: answer.status, reason: reasonOf(answer) };
  if (answer.status < 200 || answer.status > 299) throw new OptionsStarStatus(answer.status, `OPTIONS * answered ${answer.status}: ${reasonOf(answer)}`);
  // A 2xx of another type is a server that routed OPTIONS * like any request: it does not speak the profile.
  if (answer.status !== 200 || mediaTypeOf(answer.headers['content-type']) !== names.authenticatorMediaType) {
    return { outcome: 'not-supported', origin, status: answer.status, reason: `a ${answer.status} answer of type ${String(answer.headers['content-type'] ?? 'none')}` };
  }
  let chain: Uint8Array[];
  let stapled: Stapled;
  try {
    let entries;
    ({ chain, entries } = await validateAuthenticator({
      keys,
      creator: 'server',
      authenticator: answer.body,
      request,
      state,
      ...(options.crypto ? { crypto: options.crypto } : {}),
    }));
    stapled = stapledOf(entries[0]);
  } catch (e) {
    if (e instanceof EmptyAuthenticator) return { outcome: 'refused', origin, reason: `the server has no certificate it will prove for ${host}` };
    throw e;
  }
  const accepted = await accept(chain, stapled);
  if ('reason' in accepted) return { outcome: 'rejected', origin, names: accepted.names, reason: accepted.reason };
  if (!accepted.covered) return { outcome: 'rejected', origin, names: accepted.names, reason: `the certificate proven does not cover ${host}` };
  return { outcome: 'proven', origin, names: accepted.names, ...stapling(accepted) };
}

async function discover(send: Send, options: ProveOriginOptions): Promise<OptionsStarCapability> {
  const names = options.names ? makeOptionsStarNames(options.names) : DEFAULT_OPTIONS_STAR_NAMES;
  const answer = await send({ 'max-forwards': '0' }, undefined);
  const capabilities = answer.status >= 200 && answer.status <= 299 ? parseTokenList(answer.headers[names.capabilityField]) : [];
  return { status: answer.status, capabilities, server: capabilities.includes('server') };
}

function originUrl(origin: string | URL): URL {
  const url = new URL(origin);
  if (url.protocol !== 'https:') throw new TypeError(`only https origins can be proven: ${url.href}`);
  // server_name carries DNS names only (RFC 6066 section 3); an IP address cannot be asked for.
  if (parseIpAddress(hostOf(url))) throw new TypeError(`an IP address cannot be named in server_name: ${url.hostname}`);
  return url;
}

function sameLeaf(held: readonly AcceptedCertificate[], chain: readonly Uint8Array[]): AcceptedCertificate | undefined {
  const leaf = chain[0];
  return leaf === undefined ? undefined : held.find((c) => c.chain[0] !== undefined && equalBytes(c.chain[0], leaf));
}

function namesOf(cert: AcceptedCertificate): string[] {
  return cert.dnsNames.concat(cert.ipAddresses);
}

function hostOf(url: URL): string {
  return url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
}

function reasonOf(answer: Exchange): string {
  const type = mediaTypeOf(answer.headers['content-type']);
  const text = type === 'text/plain' ? new TextDecoder().decode(answer.body.subarray(0, 300)).trim() : '';
  return text || `status ${answer.status}`;
}

// ---- transports ----

function h2Send(connection: SecondaryCertConnection, options: ProveOriginOptions): Send {
  return multiplexedSend(options, (headers, init) => connection.request(connection.origin, { method: 'OPTIONS', headers: { ':path': '*', ...headers }, ...init }));
}

function h3Send(connection: H3SecondaryCertConnection, options: ProveOriginOptions): Send {
  return multiplexedSend(options, (headers, init) => connection.request(connection.origin, { method: 'OPTIONS', path: '*', headers, ...init }));
}

/**
 * OPTIONS * over a connection's request(), HTTP/2 or HTTP/3 (`request` adds the method and the target):
 * :authority is the connection's own origin, never the one being asked for; failures come out typed.
 */
function multiplexedSend(options: ProveOriginOptions, request: OptionsStarRequest): Send {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const maxSize = options.maxResponseSize ?? DEFAULT_MAX_RESPONSE;
  return async (headers, body) => {
    try {
      const r = await request({ ...headers, ...(body ? { 'content-length': String(body.length) } : {}) }, { ...(body ? { body } : {}), timeoutMs, maxBodySize: maxSize });
      return { status: r.status, headers: r.headers, body: new Uint8Array(r.body) };
    } catch (e) {
      if (e instanceof RequestTimeout) throw new RequestTimeout(`no OPTIONS * answer in ${timeoutMs} ms`, { cause: e });
      if (e instanceof BodyTooLarge) throw new OptionsStarBadResponse(`the OPTIONS * answer is larger than ${maxSize} bytes`, { cause: e });
      throw new OptionsStarBadResponse(`the OPTIONS * stream failed: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
  };
}

function h1Send(socket: TLSSocket, options: ProveOriginOptions & { authority?: string }): Send {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const maxSize = options.maxResponseSize ?? DEFAULT_MAX_RESPONSE;
  const authority = options.authority ?? `${socket.servername || socket.remoteAddress}:${socket.remotePort}`;
  return (headers, body) =>
    new Promise((resolve, reject) => {
      // Our socket, no agent. Without an agent Node sends "Connection: close" unless told otherwise, and this
      // connection must live on: the origin it proves is served on it.
      const req = http.request({
        createConnection: () => socket,
        method: 'OPTIONS',
        path: '*',
        headers: { host: authority, connection: 'keep-alive', ...headers, ...(body ? { 'content-length': String(body.length) } : {}) },
      });
      const fail = (e: Error): void => {
        reject(e);
        socket.destroy();
      };
      req.setTimeout(timeoutMs, () => fail(new RequestTimeout(`no OPTIONS * answer in ${timeoutMs} ms`)));
      req.on('error', (e) => reject(new OptionsStarBadResponse(`the OPTIONS * request failed: ${e.message}`, { cause: e })));
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > maxSize) fail(new OptionsStarBadResponse(`the OPTIONS * answer is larger than ${maxSize} bytes`));
          else chunks.push(chunk);
        });
        res.on('error', (e) => reject(new OptionsStarBadResponse(`the OPTIONS * answer failed: ${e.message}`, { cause: e })));
        res.on('end', () => {
          req.setTimeout(0);
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: new Uint8Array(Buffer.concat(chunks)) });
        });
      });
      req.end(body);
    });
}
