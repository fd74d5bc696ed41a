// A client without the extension (node:http2 here, curl or a browser elsewhere) asks for the other names
// through SNI: createSecondaryCertServer answers the TLS handshake with the certificate of the identity
// that covers the name, over real TLS on loopback.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as http2 from 'node:http2';
import * as tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { TestPki } from '../../src/testing/test-pki.js';
import { createSecondaryCertServer } from '../../src/h2/server.js';
import { nodeCrypto } from '../../src/crypto/index.js';

async function plainGet(port: number, ca: string, servername: string): Promise<{ san: string | undefined; status: number; body: string }> {
  const session = http2.connect(`https://${servername}:${port}`, { ca, servername, host: '127.0.0.1' } as http2.SecureClientSessionOptions);
  try {
    const san = await new Promise<string | undefined>((resolve, reject) => {
      session.once('connect', () => resolve((session.socket as tls.TLSSocket).getPeerCertificate().subjectaltname));
      session.once('error', reject);
    });
    const stream = session.request({ ':path': '/', ':authority': `${servername}:${port}` });
    let body = '';
    stream.setEncoding('utf8');
    stream.on('data', (c: string) => (body += c));
    const status = await new Promise<number>((resolve, reject) => {
      stream.once('response', (h) => resolve(Number(h[':status'])));
      stream.once('error', reject);
    });
    await new Promise((r) => stream.once('end', r));
    return { san, status, body };
  } finally {
    session.destroy();
  }
}

test('a plain client asking for a secondary name through SNI gets that identity\'s certificate; a signer-only identity and other names get the default', async () => {
  const pki = await TestPki.create();
  const [a, b, c, d] = await Promise.all(['a.example', 'b.example', 'c.example', 'd.example'].map((n) => pki.issue({ dnsNames: [n] })));
  const wildcard = await pki.issue({ dnsNames: ['*.w.example'] });
  const cSigner = await nodeCrypto.signerFromPrivateKey(c!.keyPkcs8Der);
  const dContext = tls.createSecureContext({ key: d!.keyPem, cert: d!.chainPem });
  const { server } = await createSecondaryCertServer({
    key: a!.keyPem,
    cert: a!.chainPem,
    // The user's callback still decides first: it serves d.example, and nothing else.
    SNICallback: (name, cb) => cb(null, name === 'd.example' ? dContext : undefined),
    identities: [
      { chain: b!.chainDer, key: b!.keyPkcs8Der },
      { chain: c!.chainPem, signer: cSigner },
      { chain: wildcard.chainPem, key: wildcard.keyPem },
    ],
  });
  server.on('stream', (stream, headers) => {
    stream.respond({ ':status': 200 });
    stream.end(`hello from ${String(headers[':authority'])}`);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  try {
    const rb = await plainGet(port, pki.caPem, 'b.example');
    assert.deepEqual(rb, { san: 'DNS:b.example', status: 200, body: `hello from b.example:${port}` });
    // The identity-matching rule is the library's one: a wildcard covers one label.
    assert.equal((await plainGet(port, pki.caPem, 'x.w.example')).san, 'DNS:*.w.example');
    assert.equal((await plainGet(port, pki.caPem, 'd.example')).san, 'DNS:d.example');
    assert.equal((await plainGet(port, pki.caPem, 'a.example')).san, 'DNS:a.example');
    // No key: c.example cannot be served over TLS, so the handshake shows a.example's certificate.
    await assert.rejects(plainGet(port, pki.caPem, 'c.example'), { code: 'ERR_TLS_CERT_ALTNAME_INVALID' });
    await assert.rejects(plainGet(port, pki.caPem, 'x.y.w.example'), { code: 'ERR_TLS_CERT_ALTNAME_INVALID' });
  } finally {
    await new Promise((r) => server.close(r));
  }
});

test('curl over HTTP/2, asking for b.example through SNI, gets b.example\'s certificate and a 200', async (t) => {
  const { execFile } = await import('node:child_process');
  const { promisify } = await import('node:util');
  const { writeFile, mkdtemp, rm } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const run = promisify(execFile);
  if (await run('curl', ['--version']).then(() => false, () => true)) return t.skip('curl is not installed');
  const pki = await TestPki.create();
  const [a, b] = await Promise.all(['a.example', 'b.example'].map((n) => pki.issue({ dnsNames: [n] })));
  const { server } = await createSecondaryCertServer({ key: a!.keyPem, cert: a!.chainPem, identities: [{ chain: b!.chainPem, key: b!.keyPem }] });
  server.on('stream', (stream, headers) => {
    stream.respond({ ':status': 200 });
    stream.end(`hello from ${String(headers[':authority'])}`);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const dir = await mkdtemp(join(tmpdir(), 'sni-'));
  try {
    await writeFile(join(dir, 'ca.pem'), pki.caPem);
    // Verification on: curl accepts the handshake only with a certificate for b.example.
    const { stdout } = await run('curl', ['-sS', '--http2', '--cacert', join(dir, 'ca.pem'), '--resolve', `b.example:${port}:127.0.0.1`, '-w', ' %{http_code} %{http_version}', `https://b.example:${port}/`]);
    assert.equal(stdout, `hello from b.example:${port} 200 2`);
  } finally {
    await rm(dir, { recursive: true, force: true });
    await new Promise((r) => server.close(r));
  }
});
