// Authenticators built and validated per second, per scheme and provider, beside a raw sign and verify
// with the same key over a message of the same size by the library the provider itself uses: node:crypto
// for the node provider; noble (Ed25519, ECDSA) or WebCrypto (RSA-PSS) for the portable one. The ratio is
// what the RFC 9261 part costs on top of the signature itself (target with the node provider: at least 0.85).
import * as nodeCrypto_ from 'node:crypto';
import { ed25519 } from '@noble/curves/ed25519.js';
import { p256, p384 } from '@noble/curves/nist.js';
import { nodeCrypto, portableCrypto, type CryptoProvider } from '../src/crypto/index.js';
import { createAuthenticator, validateAuthenticator } from '../src/ea/index.js';
import { keysFromExporterSecret } from '../src/exporter/exporter-secret.js';
import { SignatureScheme, schemeName } from '../src/tls/signature-scheme.js';
import { TestPki, type TestKeyType } from '../src/testing/test-pki.js';
import { median, rate, rateSync, type Row } from './table.js';

const cases: [TestKeyType, number][] = [
  ['ed25519', SignatureScheme.ed25519],
  ['p256', SignatureScheme.ecdsa_secp256r1_sha256],
  ['p384', SignatureScheme.ecdsa_secp384r1_sha384],
  ['rsa2048', SignatureScheme.rsa_pss_rsae_sha256],
];

interface RawOps {
  /** Which library the calls go to, for the table. */
  baseline: string;
  sign(): unknown;
  verify(): unknown;
  /** The calls return promises (WebCrypto). */
  async: boolean;
}

/** node:crypto sign and verify calls for one scheme, as the node provider's raw baseline. */
function nodeRawOps(scheme: number, keyPem: string, certPem: string, message: Uint8Array): RawOps {
  const priv = nodeCrypto_.createPrivateKey(keyPem);
  const pub = new nodeCrypto_.X509Certificate(certPem).publicKey;
  const alg = scheme === SignatureScheme.ed25519 ? null : scheme === SignatureScheme.ecdsa_secp384r1_sha384 ? 'sha384' : 'sha256';
  const pss = scheme === SignatureScheme.rsa_pss_rsae_sha256 ? { padding: nodeCrypto_.constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 } : {};
  const signature = nodeCrypto_.sign(alg, message, { key: priv, ...pss });
  return {
    baseline: 'node:crypto',
    sign: () => nodeCrypto_.sign(alg, message, { key: priv, ...pss }),
    verify: () => nodeCrypto_.verify(alg, message, { key: pub, ...pss }, signature),
    async: false,
  };
}

const b64url = (s: string | undefined): Uint8Array => new Uint8Array(Buffer.from(s ?? '', 'base64url'));

/** noble's own sign and verify (WebCrypto's for RSA-PSS), as the portable provider's raw baseline. */
async function portableRawOps(scheme: number, keyPem: string, message: Uint8Array): Promise<RawOps> {
  const jwk = nodeCrypto_.createPrivateKey(keyPem).export({ format: 'jwk' });
  if (scheme === SignatureScheme.rsa_pss_rsae_sha256) {
    const subtle = globalThis.crypto.subtle;
    const alg = { name: 'RSA-PSS', hash: 'SHA-256' };
    const priv = await subtle.importKey('jwk', jwk, alg, false, ['sign']);
    const pub = await subtle.importKey('jwk', { kty: jwk.kty!, n: jwk.n!, e: jwk.e! }, alg, false, ['verify']);
    const params = { name: 'RSA-PSS', saltLength: 32 };
    const signature = await subtle.sign(params, priv, message);
    return { baseline: 'WebCrypto', sign: () => subtle.sign(params, priv, message), verify: () => subtle.verify(params, pub, signature, message), async: true };
  }
  const d = b64url(jwk.d);
  if (scheme === SignatureScheme.ed25519) {
    const pub = b64url(jwk.x);
    const signature = ed25519.sign(message, d);
    return { baseline: 'noble', sign: () => ed25519.sign(message, d), verify: () => ed25519.verify(signature, message, pub), async: false };
  }
  const curve = scheme === SignatureScheme.ecdsa_secp384r1_sha384 ? p384 : p256;
  const pub = new Uint8Array([4, ...b64url(jwk.x), ...b64url(jwk.y)]);
  const signature = curve.sign(message, d);
  return { baseline: 'noble', sign: () => curve.sign(message, d), verify: () => curve.verify(signature, message, pub), async: false };
}

export async function run(options: { rounds?: number; ms?: number; log?: (s: string) => void } = {}): Promise<Row[]> {
  // Many short rounds rather than a few long ones: on a shared machine a burst of other work then spoils
  // one pair of windows, which the median drops, instead of a third of the measurement.
  const rounds = options.rounds ?? 9;
  const ms = options.ms ?? 150;
  const pki = await TestPki.create();
  const keys = keysFromExporterSecret(nodeCrypto, 'sha256', new Uint8Array(32).fill(7));
  const rows: Row[] = [];
  for (const [keyType, scheme] of cases) {
    const id = await pki.issue({ dnsNames: ['b.example'], keyType });
    // The signed content of a CertificateVerify: 64 spaces, the context string, a zero byte, a hash.
    const message = new Uint8Array(64 + 'Exported Authenticator'.length + 1 + 32).fill(0x20);
    for (const crypto of [nodeCrypto, portableCrypto] as CryptoProvider[]) {
      const raw = crypto === nodeCrypto ? nodeRawOps(scheme, id.keyPem, id.certPem, message) : await portableRawOps(scheme, id.keyPem, message);
      const rawRate = (op: () => unknown, t: number) => (raw.async ? rate(op, t) : Promise.resolve(rateSync(op, t)));
      options.log?.(`authenticator: ${schemeName(scheme)} [${crypto.name}]`);
      const base = await crypto.signerFromPrivateKey(id.keyPkcs8Der);
      const signer = { schemes: [scheme], sign: base.sign.bind(base) };
      const build = () => createAuthenticator({ keys, creator: 'server', certificateChain: id.chainDer, signer, crypto });
      const sample = await build();
      const validate = () => validateAuthenticator({ keys, creator: 'server', authenticator: sample, crypto });
      // Warm-up (not counted): every operation once through the JIT and the caches before measuring.
      await rawRate(raw.sign, ms / 3);
      await rate(build, ms / 3);
      await rawRate(raw.verify, ms / 3);
      await rate(validate, ms / 3);
      const r = { rawSign: [] as number[], build: [] as number[], rawVerify: [] as number[], validate: [] as number[] };
      // Alternate the baseline and the measured operation, so drift affects both alike; each ratio is the
      // median of the ratios of adjacent windows.
      for (let i = 0; i < rounds; i++) {
        r.rawSign.push(await rawRate(raw.sign, ms));
        r.build.push(await rate(build, ms));
        r.rawVerify.push(await rawRate(raw.verify, ms));
        r.validate.push(await rate(validate, ms));
      }
      const ratios = (a: number[], b: number[]) => median(a.map((v, i) => v / b[i]!));
      rows.push({
        scheme: schemeName(scheme),
        provider: crypto.name,
        baseline: raw.baseline,
        'raw sign/s': Math.round(median(r.rawSign)),
        'build/s': Math.round(median(r.build)),
        'build ratio': ratios(r.build, r.rawSign),
        'raw verify/s': Math.round(median(r.rawVerify)),
        'validate/s': Math.round(median(r.validate)),
        'validate ratio': ratios(r.validate, r.rawVerify),
      });
    }
  }
  return rows;
}
