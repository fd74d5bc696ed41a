// An HTTP/2 server with the extension that answers every request 200 "ok", for the tests that send it
// what a peer must not: it records the connection errors it raises, and says whether a fresh connection
// is still served.
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { createSecondaryCertServer, connect, type SecondaryCertServer } from '../../src/h2/index.js';
import type { H2ConnectionError } from '../../src/errors.js';
import type { TestPki, IssuedIdentity } from '../../src/testing/test-pki.js';

export interface OkH2Server {
  port: number;
  extension: SecondaryCertServer;
  /** Connection errors the server raised, in order (tests clear it). */
  errors: H2ConnectionError[];
  /** A fresh connection from our client gets its 200. */
  freshConnectionServed(): Promise<void>;
  stop(): Promise<void>;
}

export async function okH2Server(pki: TestPki, tls: IssuedIdentity, identities: IssuedIdentity[] = []): Promise<OkH2Server> {
  const created = await createSecondaryCertServer({ key: tls.keyPem, cert: tls.chainPem, identities: identities.map((i) => ({ chain: i.chainPem, key: i.keyPem })) });
  const errors: H2ConnectionError[] = [];
  created.extension.on('protocolError', (e) => errors.push(e));
  created.server.on('stream', (stream) => {
    stream.respond({ ':status': 200 });
    stream.end('ok');
  });
  await new Promise<void>((r) => created.server.listen(0, '127.0.0.1', r));
  const port = (created.server.address() as AddressInfo).port;
  return {
    port,
    extension: created.extension,
    errors,
    async freshConnectionServed() {
      const c = await connect(`https://a.example:${port}/`, { ca: [pki.caPem], lookup: async () => ['127.0.0.1'] });
      try {
        assert.equal((await c.request(`https://a.example:${port}/`)).status, 200);
      } finally {
        await c.close();
      }
    },
    stop: () => new Promise((r) => created.server.close(() => r())),
  };
}

/** Waits for the peer to close, at most `ms` (a hang fails the test instead of stalling the suite). */
export async function closedWithin<T>(closed: Promise<T>, ms = 5000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`not closed within ${ms} ms`)), ms)));
  try {
    return await Promise.race([closed, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
