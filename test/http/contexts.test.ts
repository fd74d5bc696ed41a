// The RFC 9261 contexts a connection remembers are bounded on both ends, and the bound is an option:
// past it, a server sends no more authenticators (certificateNotSent) and a client refuses the next one
// (ERR_TOO_MANY_CONTEXTS, which ends the connection like any authenticator that does not validate).
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { TestPki, type IssuedIdentity } from '../../src/testing/test-pki.js';
import { createSecondaryCertServer } from '../../src/h2/server.js';
import { connect } from '../../src/h2/client.js';
import type { H2ConnectionError } from '../../src/errors.js';

let pki: TestPki;
const ids: Record<string, IssuedIdentity> = {};

before(async () => {
  pki = await TestPki.create();
  for (const name of ['a.example', 'b.example', 'c.example', 'd.example']) ids[name] = await pki.issue({ dnsNames: [name] });
});

async function serve(maxContexts?: number) {
  const { server, extension } = await createSecondaryCertServer({
    key: ids['a.example']!.keyPem,
    cert: ids['a.example']!.chainPem,
    identities: ['b.example', 'c.example', 'd.example'].map((n) => ({ chain: ids[n]!.chainDer, key: ids[n]!.keyPkcs8Der })),
    ...(maxContexts !== undefined ? { maxContexts } : {}),
  });
  server.on('sessionError', () => {});
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    extension,
    port,
    close: () => new Promise<void>((resolve) => {
      for (const c of extension.connections) c.session.destroy();
      server.close(() => resolve());
    }),
  };
}

test('a server with maxContexts 2 sends two of its three authenticators on a connection, and says why not the third', async () => {
  const s = await serve(2);
  const notSent: string[] = [];
  s.extension.on('certificateNotSent', (e: { reason: string }) => notSent.push(e.reason));
  const conn = await connect(`https://a.example:${s.port}/`, { ca: [pki.caPem], connectAddress: '127.0.0.1' });
  try {
    while (conn.certificates.length < 2) await once(conn, 'certificate');
    while (notSent.length < 1) await new Promise((r) => setTimeout(r, 10));
    await conn.settled();
    assert.equal(conn.certificates.length, 2);
    assert.match(notSent[0]!, /ERR_TOO_MANY_CONTEXTS|contexts/);
  } finally {
    await conn.close();
    await s.close();
  }
});

test('a client with maxContexts 2 refuses the third authenticator with ERR_TOO_MANY_CONTEXTS and closes the connection', async () => {
  const s = await serve();
  const conn = await connect(`https://a.example:${s.port}/`, { ca: [pki.caPem], connectAddress: '127.0.0.1', maxContexts: 2 });
  const [error] = (await once(conn, 'protocolError')) as [H2ConnectionError];
  assert.equal((error.cause as { code?: string } | undefined)?.code, 'ERR_TOO_MANY_CONTEXTS');
  assert.equal(conn.certificates.length, 2);
  await conn.close();
  await s.close();
});
