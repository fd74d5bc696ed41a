import type { CryptoProvider, Signer } from '../../crypto/provider.js';
import { defaultCrypto } from '../../crypto/index.js';
import { createAuthenticator } from '../../ea/index.js';
import type { AuthenticatorKeys } from '../../exporter/keys.js';
import { TestPki } from '../../testing/test-pki.js';

// The certificate a probe proves when it sends, as a client, a SERVER_CERTIFICATE that is a real
// authenticator of the probe's own connection: a throwaway CA and leaf, made once per process. What is
// tested is the frame's sender, not the chain, so nothing about the names matters.

let made: Promise<{ chain: Uint8Array[]; signer: Signer }> | undefined;

async function identity(crypto: CryptoProvider): Promise<{ chain: Uint8Array[]; signer: Signer }> {
  const pki = await TestPki.create({ commonName: 'secondary-certs check probe CA', keyType: 'ed25519' });
  const leaf = await pki.issue({ dnsNames: ['probe.invalid'], keyType: 'ed25519' });
  return { chain: leaf.chainDer, signer: await crypto.signerFromPrivateKey(leaf.keyPem) };
}

/** A well-formed spontaneous authenticator (server labels) over `keys`, as a client must never send one. */
export async function probeAuthenticator(keys: AuthenticatorKeys, crypto: CryptoProvider = defaultCrypto()): Promise<Uint8Array> {
  made ??= identity(crypto);
  const { chain, signer } = await made;
  return createAuthenticator({ keys, creator: 'server', certificateChain: chain, signer, crypto });
}
