// Authenticators built and validated per second, per scheme and provider, beside raw node:crypto sign and
// verify with the same key over a message of the same size. The ratio is what the RFC 9261 part costs on
// top of the signature itself (target with the node provider: at least 0.85).
import * as nodeCrypto_ from 'node:crypto';
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

/** node:crypto sign and verify calls for one scheme, as a raw baseline. */
function rawOps(scheme: number, keyPem: string, certPem: string, message: Uint8Array) {
  const priv = nodeCrypto_.createPrivateKey(keyPem);
  const pub = new nodeCrypto_.X509Certificate(certPem).publicKey;
  const alg = scheme === SignatureScheme.ed25519 ? null : scheme === SignatureScheme.ecdsa_secp384r1_sha384 ? 'sha384' : 'sha256';
  const pss = scheme === SignatureScheme.rsa_pss_rsae_sha256 ? { padding: nodeCrypto_.constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 } : {};
  const signature = nodeCrypto_.sign(alg, message, { key: priv, ...pss });
  return {
    sign: () => nodeCrypto_.sign(alg, message, { key: priv, ...pss }),
    verify: () => nodeCrypto_.verify(alg, message, { key: pub, ...pss }, signature),
  };
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
    const raw = rawOps(scheme, id.keyPem, id.certPem, message);
    for (const crypto of [nodeCrypto, portableCrypto] as CryptoProvider[]) {
      options.log?.(`authenticator: ${schemeName(scheme)} [${crypto.name}]`);
      const base = await crypto.signerFromPrivateKey(id.keyPkcs8Der);
      const signer = { schemes: [scheme], sign: base.sign.bind(base) };
      const build = () => createAuthenticator({ keys, creator: 'server', certificateChain: id.chainDer, signer, crypto });
      const sample = await build();
      const validate = () => validateAuthenticator({ keys, creator: 'server', authenticator: sample, crypto });
      // Warm-up (not counted): every operation once through the JIT and the caches before measuring.
      rateSync(raw.sign, ms / 3);
      await rate(build, ms / 3);
      rateSync(raw.verify, ms / 3);
      await rate(validate, ms / 3);
      const r = { rawSign: [] as number[], build: [] as number[], rawVerify: [] as number[], validate: [] as number[] };
      // Alternate the baseline and the measured operation, so drift affects both alike; each ratio is the
      // median of the ratios of adjacent windows.
      for (let i = 0; i < rounds; i++) {
        r.rawSign.push(rateSync(raw.sign, ms));
        r.build.push(await rate(build, ms));
        r.rawVerify.push(rateSync(raw.verify, ms));
        r.validate.push(await rate(validate, ms));
      }
      const ratios = (a: number[], b: number[]) => median(a.map((v, i) => v / b[i]!));
      rows.push({
        scheme: schemeName(scheme),
        provider: crypto.name,
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
