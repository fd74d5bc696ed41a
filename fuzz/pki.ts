import { TestPki, type IssuedIdentity } from '../src/testing/test-pki.js';
import { loadIdentity, type LoadedIdentity } from '../src/pki/identity.js';

// One CA for a fuzzing process: a.example (the TLS certificate), b.example and c.example (secondary),
// alice (a client certificate), and a stranger CA's certificate that must be refused.

export interface FuzzPki {
  pki: TestPki;
  ids: Record<'a' | 'b' | 'c' | 'alice' | 'stranger', IssuedIdentity>;
  loaded: Record<'b' | 'c' | 'alice' | 'stranger', LoadedIdentity>;
}

let shared: Promise<FuzzPki> | undefined;

export function fuzzPki(): Promise<FuzzPki> {
  shared ??= (async () => {
    const pki = await TestPki.create({ commonName: 'secondary-certs fuzz CA' });
    const stranger = await TestPki.create({ commonName: 'a stranger CA' });
    const ids = {
      a: await pki.issue({ dnsNames: ['a.example'], keyType: 'p256' }),
      b: await pki.issue({ dnsNames: ['b.example'], keyType: 'p256' }),
      c: await pki.issue({ dnsNames: ['c.example'], keyType: 'ed25519' }),
      alice: await pki.issue({ role: 'client', commonName: 'alice', keyType: 'p256' }),
      stranger: await stranger.issue({ dnsNames: ['b.example'], role: 'both', keyType: 'p256' }),
    };
    const load = (id: IssuedIdentity) => loadIdentity({ chain: id.chainDer, key: id.keyPkcs8Der });
    const loaded = { b: await load(ids.b), c: await load(ids.c), alice: await load(ids.alice), stranger: await load(ids.stranger) };
    return { pki, ids, loaded };
  })();
  return shared;
}
