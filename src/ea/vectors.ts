import type { CryptoProvider, HashName } from '../crypto/provider.js';
import { equalBytes, fromHex, hex } from '../codec/writer.js';
import { createAuthenticator, createEmptyAuthenticator } from './authenticate.js';
import { ConnectionState } from './state.js';
import { parseAuthenticator, validateAuthenticator } from './validate.js';
import { parseRequest } from './request.js';
import { EmptyAuthenticator, SecondaryCertsError } from '../errors.js';
import { keysFromExporterSecret } from '../exporter/exporter-secret.js';
import type { Role } from '../exporter/keys.js';

// Runs RFC 9261 vectors in the format of test/vectors/FORMAT.md. No Node built-ins: the browser test
// bundles this file and runs the same vectors in Chromium.

export interface Vector {
  name: string;
  hash: HashName;
  exporterSecret: Uint8Array;
  creator: Role;
  request: Uint8Array | null;
  context: Uint8Array;
  chain: Uint8Array[];
  privateKey: Uint8Array | null;
  authenticator: Uint8Array;
  expect: 'valid' | 'empty' | 'invalid';
}

export interface VectorResult {
  vector: string;
  provider: string;
  ok: boolean;
  detail: string;
}

/** Reads and checks one vector file; throws TypeError naming the bad field. */
export function parseVector(json: unknown, fallbackName: string): Vector {
  if (typeof json !== 'object' || json === null) throw new TypeError('a vector is a JSON object');
  const v = json as Record<string, unknown>;
  const str = (k: string): string => {
    if (typeof v[k] !== 'string') throw new TypeError(`field "${k}" must be a string`);
    return v[k] as string;
  };
  const bytes = (k: string): Uint8Array => {
    try {
      return fromHex(str(k));
    } catch (e) {
      throw new TypeError(`field "${k}" must be hex`, { cause: e });
    }
  };
  const nullableBytes = (k: string): Uint8Array | null => (v[k] === null || v[k] === undefined ? null : bytes(k));
  const hash = str('hash');
  if (hash !== 'sha256' && hash !== 'sha384') throw new TypeError('field "hash" must be sha256 or sha384');
  const creator = str('creator');
  if (creator !== 'server' && creator !== 'client') throw new TypeError('field "creator" must be server or client');
  const expect = str('expect');
  if (expect !== 'valid' && expect !== 'empty' && expect !== 'invalid') throw new TypeError('field "expect" must be valid, empty or invalid');
  const chain = v['certificate_chain'];
  if (!Array.isArray(chain) || chain.some((c) => typeof c !== 'string')) throw new TypeError('field "certificate_chain" must be an array of hex strings');
  return {
    name: typeof v['name'] === 'string' ? (v['name'] as string) : fallbackName,
    hash,
    exporterSecret: bytes('exporter_secret'),
    creator,
    request: nullableBytes('request'),
    context: bytes('certificate_request_context'),
    chain: (chain as string[]).map((c) => fromHex(c)),
    privateKey: nullableBytes('private_key'),
    authenticator: bytes('authenticator'),
    expect,
  };
}

/** Runs one vector with one provider: build (where the vector allows) and validate. */
export async function runVector(vector: Vector, crypto: CryptoProvider): Promise<VectorResult> {
  const done = (ok: boolean, detail: string): VectorResult => ({ vector: vector.name, provider: crypto.name, ok, detail });
  try {
    const keys = keysFromExporterSecret(crypto, vector.hash, vector.exporterSecret);
    const steps: string[] = [];

    if (vector.expect === 'valid' && vector.privateKey) {
      const signer = await crypto.signerFromPrivateKey(vector.privateKey);
      // Entry extensions are not a field of the format: reuse the vector's own, and offer their types.
      const parsed = parseAuthenticator(vector.authenticator);
      const entryExtensions = parsed.kind === 'certificate' ? parsed.certificate.entries.map((e) => e.extensions) : [];
      const built = await createAuthenticator({
        keys,
        creator: vector.creator,
        certificateChain: vector.chain,
        signer,
        entryExtensions,
        peerOfferedEntryExtensions: entryExtensions.flat().map((e) => e.type),
        crypto,
        ...(vector.request ? { request: vector.request } : { context: vector.context }),
      });
      if (!equalBytes(built, vector.authenticator)) return done(false, `built authenticator differs: ${hex(built).slice(0, 64)}...`);
      steps.push('built byte-exact');
    }
    if (vector.expect === 'empty') {
      if (!vector.request) return done(false, 'an empty-authenticator vector needs a request');
      const built = createEmptyAuthenticator({ keys, creator: vector.creator, request: vector.request, crypto });
      if (!equalBytes(built, vector.authenticator)) return done(false, `built empty authenticator differs: ${hex(built)}`);
      steps.push('built byte-exact');
    }

    const validatorRole: Role = vector.creator === 'server' ? 'client' : 'server';
    const state = new ConnectionState(validatorRole);
    if (vector.request) state.recordRequest(parseRequest(vector.request).context);
    let outcome: 'valid' | 'empty' | 'invalid';
    let why = '';
    try {
      const result = await validateAuthenticator({
        keys,
        creator: vector.creator,
        authenticator: vector.authenticator,
        state,
        crypto,
        ...(vector.request ? { request: vector.request } : {}),
      });
      if (!equalBytes(result.context, vector.context)) return done(false, 'validated, but the context differs from certificate_request_context');
      if (result.chain.length !== vector.chain.length || result.chain.some((c, i) => !equalBytes(c, vector.chain[i]!))) {
        return done(false, 'validated, but the returned chain differs from certificate_chain');
      }
      outcome = 'valid';
    } catch (e) {
      if (e instanceof EmptyAuthenticator) outcome = 'empty';
      else if (e instanceof SecondaryCertsError) {
        outcome = 'invalid';
        why = ` (${e.code}: ${e.message})`;
      } else throw e;
    }
    if (outcome !== vector.expect) return done(false, `expected ${vector.expect}, validation said ${outcome}${why}`);
    steps.push(`validated: ${outcome}${why}`);
    return done(true, steps.join(', '));
  } catch (e) {
    return done(false, `error: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
  }
}
