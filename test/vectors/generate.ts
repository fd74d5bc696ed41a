// Writes RFC 9261 vectors in the shared format (test/vectors/FORMAT.md), made by this project's code:
// every scheme we sign with, authenticators made by servers and by clients (each side's exporter
// labels), empty authenticators, SHA-256 and SHA-384 connections, and a few that must be rejected.
// The Go EA package (interop/go/ea) checks them (test/interop/go-ea-vectors.test.ts), and its own
// generator writes the reverse set, which our runner checks.
//
//   node dist/test/vectors/generate.js DIR     (npm run vectors:generate -- DIR)
//
// Ed25519 is deterministic, so those vectors carry the private key and a runner rebuilds them byte for
// byte; ECDSA and RSA-PSS signatures are randomised, so those carry no key and are validated only.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { nodeCrypto } from '../../src/crypto/index.js';
import type { HashName } from '../../src/crypto/provider.js';
import { hex } from '../../src/codec/writer.js';
import { createAuthenticator, createEmptyAuthenticator, createRequest } from '../../src/ea/index.js';
import { keysFromExporterSecret } from '../../src/exporter/exporter-secret.js';
import type { Role } from '../../src/exporter/keys.js';
import { SignatureScheme } from '../../src/tls/signature-scheme.js';
import { TestPki, type TestKeyType } from '../../src/testing/index.js';

interface Spec {
  name: string;
  description: string;
  hash: HashName;
  creator: Role;
  /** Answer a request (made by the other side), or spontaneous (servers only). */
  requested: boolean;
  key?: TestKeyType;
  /** The request allows only this scheme (so the chosen one is certain). */
  scheme?: number;
  expect: 'valid' | 'empty' | 'invalid';
  /** For invalid vectors: how a valid authenticator is broken. */
  breakIt?: (authenticator: Uint8Array) => Uint8Array;
  /** For invalid vectors: sign, then flip the signature's last bit (Finished is computed over the damage). */
  badSignature?: boolean;
}

const flipLast = (a: Uint8Array): Uint8Array => {
  const b = a.slice();
  b[b.length - 1] = (b[b.length - 1] ?? 0) ^ 0x01;
  return b;
};

const SPECS: Spec[] = [
  { name: 'ours-server-spontaneous-p256', description: 'Spontaneous server authenticator, ECDSA P-256 leaf (ecdsa_secp256r1_sha256).', hash: 'sha256', creator: 'server', requested: false, key: 'p256', expect: 'valid' },
  { name: 'ours-server-spontaneous-p384-sha384', description: 'Spontaneous server authenticator on a SHA-384 connection, ECDSA P-384 leaf (ecdsa_secp384r1_sha384).', hash: 'sha384', creator: 'server', requested: false, key: 'p384', expect: 'valid' },
  { name: 'ours-server-spontaneous-ed25519-sha384', description: 'Spontaneous server authenticator on a SHA-384 connection, Ed25519 leaf.', hash: 'sha384', creator: 'server', requested: false, key: 'ed25519', expect: 'valid' },
  { name: 'ours-server-requested-rsa-pss', description: 'Server authenticator answering a ClientCertificateRequest (type 17) allowing only rsa_pss_rsae_sha256, RSA-2048 leaf.', hash: 'sha256', creator: 'server', requested: true, key: 'rsa2048', scheme: SignatureScheme.rsa_pss_rsae_sha256, expect: 'valid' },
  { name: 'ours-server-requested-rsa-pss-sha384', description: 'Server authenticator on a SHA-384 connection answering a ClientCertificateRequest allowing only rsa_pss_rsae_sha384.', hash: 'sha384', creator: 'server', requested: true, key: 'rsa2048', scheme: SignatureScheme.rsa_pss_rsae_sha384, expect: 'valid' },
  { name: 'ours-client-requested-ed25519', description: 'Client authenticator (client exporter labels) answering a CertificateRequest (type 13), Ed25519 leaf.', hash: 'sha256', creator: 'client', requested: true, key: 'ed25519', expect: 'valid' },
  { name: 'ours-client-requested-p256', description: 'Client authenticator answering a CertificateRequest (type 13) allowing only ecdsa_secp256r1_sha256.', hash: 'sha256', creator: 'client', requested: true, key: 'p256', scheme: SignatureScheme.ecdsa_secp256r1_sha256, expect: 'valid' },
  { name: 'ours-client-requested-p384-sha384', description: 'Client authenticator on a SHA-384 connection, ECDSA P-384 leaf.', hash: 'sha384', creator: 'client', requested: true, key: 'p384', scheme: SignatureScheme.ecdsa_secp384r1_sha384, expect: 'valid' },
  { name: 'ours-client-requested-rsa-pss', description: 'Client authenticator answering a CertificateRequest allowing only rsa_pss_rsae_sha256, RSA-2048 leaf.', hash: 'sha256', creator: 'client', requested: true, key: 'rsa2048', scheme: SignatureScheme.rsa_pss_rsae_sha256, expect: 'valid' },
  { name: 'ours-client-empty', description: 'Empty client authenticator (a lone Finished with the client labels): the client refuses a CertificateRequest.', hash: 'sha256', creator: 'client', requested: true, expect: 'empty' },
  { name: 'ours-server-empty-sha384', description: 'Empty server authenticator on a SHA-384 connection, refusing a ClientCertificateRequest.', hash: 'sha384', creator: 'server', requested: true, expect: 'empty' },
  { name: 'ours-server-bad-signature-p256', description: 'Spontaneous server authenticator whose CertificateVerify signature is damaged under a correct Finished: the signature check must reject it.', hash: 'sha256', creator: 'server', requested: false, key: 'p256', expect: 'invalid', badSignature: true },
  { name: 'ours-client-bad-finished', description: 'Client authenticator whose Finished MAC has its last bit flipped: must be rejected.', hash: 'sha256', creator: 'client', requested: true, key: 'ed25519', expect: 'invalid', breakIt: flipLast },
];

/** Fixed exporter_master_secret values (any bytes of the hash's length will do; fixed so reruns differ only in keys). */
function secretFor(hash: HashName, index: number): Uint8Array {
  const length = hash === 'sha384' ? 48 : 32;
  return Uint8Array.from({ length }, (_, i) => (i * 7 + index * 31 + 1) & 0xff);
}

function contextFor(index: number): Uint8Array {
  return Uint8Array.from({ length: 32 }, (_, i) => (0xa0 + i + index) & 0xff);
}

/** Builds every vector; returns file name to JSON text. */
export async function generateVectors(): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const pki = await TestPki.create({ commonName: 'secondary-certs vector CA' });
  for (const [index, spec] of SPECS.entries()) {
    const exporterSecret = secretFor(spec.hash, index);
    const keys = keysFromExporterSecret(nodeCrypto, spec.hash, exporterSecret);
    const context = contextFor(index);
    // A request is made by the side that does not create the authenticator.
    const requester: Role = spec.creator === 'server' ? 'client' : 'server';
    const request = spec.requested
      ? createRequest({
          creator: requester,
          context,
          crypto: nodeCrypto,
          ...(spec.scheme !== undefined ? { signatureSchemes: [spec.scheme] } : {}),
          ...(requester === 'client' ? { serverName: 'vectors.example' } : {}),
        }).bytes
      : null;
    let chain: Uint8Array[] = [];
    let privateKey: Uint8Array | null = null;
    let authenticator: Uint8Array;
    if (spec.expect === 'empty') {
      authenticator = createEmptyAuthenticator({ keys, creator: spec.creator, request: request!, crypto: nodeCrypto });
    } else {
      const id = await pki.issue({ keyType: spec.key ?? 'ed25519', dnsNames: ['vectors.example'], role: spec.creator === 'client' ? 'client' : 'server' });
      chain = id.chainDer;
      if (spec.key === 'ed25519') privateKey = id.keyPkcs8Der;
      const signer = await nodeCrypto.signerFromPrivateKey(id.keyPkcs8Der);
      const damaged = {
        schemes: signer.schemes,
        sign: async (scheme: number, message: Uint8Array) => flipLast(await signer.sign(scheme, message)),
      };
      authenticator = await createAuthenticator({
        keys,
        creator: spec.creator,
        certificateChain: chain,
        signer: spec.badSignature ? damaged : signer,
        crypto: nodeCrypto,
        ...(request ? { request } : { context }),
      });
      if (spec.breakIt) authenticator = spec.breakIt(authenticator);
      if (spec.expect === 'invalid') privateKey = null;
    }
    const vector = {
      name: spec.name,
      description: `${spec.description} Made by this project's code (test/vectors/generate.ts).`,
      hash: spec.hash,
      exporter_secret: hex(exporterSecret),
      creator: spec.creator,
      request: request ? hex(request) : null,
      certificate_request_context: hex(context),
      certificate_chain: chain.map((c) => hex(c)),
      private_key: privateKey ? hex(privateKey) : null,
      authenticator: hex(authenticator),
      expect: spec.expect,
    };
    out.set(`${spec.name}.json`, `${JSON.stringify(vector, null, 1)}\n`);
  }
  return out;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const dir = process.argv[2];
  if (!dir) {
    console.error('usage: generate.js DIR');
    process.exit(2);
  }
  mkdirSync(dir, { recursive: true });
  for (const [file, text] of await generateVectors()) {
    writeFileSync(join(dir, file), text);
    console.log(`wrote ${join(dir, file)}`);
  }
}
