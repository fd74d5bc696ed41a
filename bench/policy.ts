// CertificatePolicy.check per chain, beside what node:crypto alone needs to check the same chain's
// signatures: parse every received certificate with X509Certificate and verify it with its issuer's public
// key (the trust anchor's key made once, as a policy holds it). The cost ratio is the policy's time over
// that floor (the target: under 1 ms per chain). A client makes one policy per connection, so the cost of
// a new policy and its first check is shown too.
import { X509Certificate } from 'node:crypto';
import { CertificatePolicy } from '../src/pki/policy.js';
import { TestPki, type TestKeyType } from '../src/testing/test-pki.js';
import { median, rate, rateSync, type Row } from './table.js';

const keyTypes: TestKeyType[] = ['p256', 'ed25519', 'rsa2048'];

export async function run(options: { rounds?: number; ms?: number; log?: (s: string) => void } = {}): Promise<Row[]> {
  const rounds = options.rounds ?? 7;
  const ms = options.ms ?? 150;
  const rows: Row[] = [];
  for (const keyType of keyTypes) {
    // The CA has the same key type as the leaf, so a chain of 2 is all one algorithm.
    const pki = await TestPki.create({ keyType });
    for (const length of [1, 2]) {
      options.log?.(`policy: ${keyType}, ${length} certificate(s)`);
      const id = await pki.issue({ dnsNames: ['b.example'], keyType, viaIntermediate: length === 2 });
      const policy = new CertificatePolicy({ trustAnchors: [pki.caPem], role: 'server' });
      const anchorKey = new X509Certificate(pki.caDer).publicKey;
      const nodeVerify = () => {
        const certs = id.chainDer.map((der) => new X509Certificate(der));
        certs.forEach((cert, i) => {
          if (!cert.verify(certs[i + 1]?.publicKey ?? anchorKey)) throw new Error('does not verify');
        });
      };
      const check = () => policy.check(id.chainDer);
      const fresh = () => new CertificatePolicy({ trustAnchors: [pki.caPem], role: 'server' }).check(id.chainDer);
      rateSync(nodeVerify, ms / 3);
      await rate(check, ms / 3);
      await rate(fresh, ms / 3);
      const base: number[] = [];
      const measured: number[] = [];
      const fresher: number[] = [];
      for (let i = 0; i < rounds; i++) {
        base.push(rateSync(nodeVerify, ms));
        measured.push(await rate(check, ms));
        fresher.push(await rate(fresh, ms));
      }
      const ratio = median(measured.map((v, i) => base[i]! / v));
      rows.push({
        chain: `${keyType} x${length}`,
        'node verify µs': 1e6 / median(base),
        'policy.check µs': 1e6 / median(measured),
        'cost ratio': ratio,
        'new policy + check µs': 1e6 / median(fresher),
      });
    }
  }
  return rows;
}
