// What the public subpaths expose: what users need, nothing internal, no side effect at import.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const dist = (p: string): string => fileURLToPath(new URL(`../../src/${p}`, import.meta.url));

test('the root barrel and the ea, exporter, crypto, pki, h2 and pool subpaths load without reflect-metadata', () => {
  for (const m of ['index.js', 'ea/index.js', 'exporter/index.js', 'crypto/index.js', 'pki/index.js', 'h2/index.js', 'pool/index.js']) {
    // A fresh process each, so one module's side effect cannot hide behind another's.
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', `await import(${JSON.stringify(dist(m))}); console.log(typeof Reflect.getMetadata)`], { encoding: 'utf8' });
    assert.equal(out.trim(), 'undefined', m);
  }
});

test('./h3 exports no session, QPACK or endpoint internals; ./h2 no splicer plumbing; ./pki no test CA', async () => {
  const h3 = Object.keys(await import('../../src/h3/index.js'));
  for (const name of ['H3Session', 'splitMessage', 'encodeFieldSection', 'decodeFieldSection', 'QPACK_STATIC_TABLE', 'huffmanEncode', 'FrameReader', 'connectQuic', 'listenQuic']) assert.ok(!h3.includes(name), `./h3 exports ${name}`);
  for (const name of ['connectH3', 'createH3SecondaryCertServer', 'makeH3Profile', 'H3ConnectionError', 'parseServerCertificate', 'TransportClosed']) assert.ok(h3.includes(name), `./h3 lacks ${name}`);
  const h2 = Object.keys(await import('../../src/h2/index.js'));
  for (const name of ['FrameSplicer', 'connectSpliced', 'spliceServerSession', 'SecondaryCertAgent']) assert.ok(!h2.includes(name), `./h2 exports ${name}`);
  const pki = Object.keys(await import('../../src/pki/index.js'));
  assert.ok(!pki.includes('TestPki'));
  assert.ok(Object.keys(await import('../../src/testing/index.js')).includes('TestPki'));
});

test('the two identity types have two names: client-auth ClientIdentity, Client-Cert fields ClientCertIdentity', () => {
  const field = readFileSync(dist('flows/client-cert-field/index.d.ts'), 'utf8');
  const auth = readFileSync(dist('flows/client-auth/index.d.ts'), 'utf8');
  assert.match(field, /\bClientCertIdentity\b/);
  assert.doesNotMatch(field, /\bClientIdentity\b/);
  assert.match(auth, /\bClientIdentity\b/);
});
