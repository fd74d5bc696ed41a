// 0-RTT over HTTP/3: off unless both ends opt in; with both, a resumed connection's first safe request for
// its own origin goes in early data, while everything that needs an authenticator waits for the handshake
// (no SERVER_CERTIFICATE in early data, no secondary origin, no OPTIONS *: 425 from the server when a
// client sends them early anyway). A UDP relay holds each datagram 40 ms each way, so data sent before
// the server's answer is really early.
import 'reflect-metadata';
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { TestPki, type IssuedIdentity } from '../../src/testing/test-pki.js';
import { createH3SecondaryCertServer, type H3SecondaryCertServer } from '../../src/h3/server.js';
import { connectH3 } from '../../src/h3/client.js';
import { H3Session } from '../../src/h3/session.js';
import { connectQuic } from '../../src/h3/transport/index.js';
import { udpDelayRelay, type UdpDelayRelay } from '../helpers/udp-delay.js';

let pki: TestPki;
let a: IssuedIdentity;
let b: IssuedIdentity;

before(async () => {
  pki = await TestPki.create();
  a = await pki.issue({ dnsNames: ['a.example'], keyType: 'p256' });
  b = await pki.issue({ dnsNames: ['b.example'], keyType: 'p256' });
});

interface Served {
  server: H3SecondaryCertServer;
  relay: UdpDelayRelay;
  /** Each request the handler saw: "host path early". */
  seen: string[];
  /** For each SERVER_CERTIFICATE sent: was its connection still in early data. */
  sentInEarlyData: boolean[];
  close(): Promise<void>;
}

async function serve(earlyData: boolean): Promise<Served> {
  const seen: string[] = [];
  const sentInEarlyData: boolean[] = [];
  const server = await createH3SecondaryCertServer(
    { cert: a.chainPem, key: a.keyPem, identities: [{ chain: b.chainDer, key: b.keyPkcs8Der }], earlyData },
    (req, res) => {
      seen.push(`${req.authority.replace(/:\d+$/, '')} ${req.path} ${req.earlyData ? 'early' : 'after'}`);
      return res.end(200, { 'content-type': 'text/plain' }, req.earlyData ? 'early' : 'after');
    },
  );
  server.on('certificateSent', (e: { connection: { transport: { inEarlyData: boolean } } }) => sentInEarlyData.push(e.connection.transport.inEarlyData));
  const relay = await udpDelayRelay({ host: '127.0.0.1', port: server.port }, 40);
  return {
    server,
    relay,
    seen,
    sentInEarlyData,
    close: async () => {
      relay.close();
      await server.close(0);
    },
  };
}

/** One connection through the relay: a GET for a.example, then (optionally) one for b.example; the answers. */
async function connectVia(s: Served, tickets: Map<string, Uint8Array>, earlyData: boolean, alsoB = false): Promise<string[]> {
  const origin = `https://a.example:${s.relay.port}`;
  const conn = await connectH3(`${origin}/`, { ca: [pki.caPem], connectAddress: '127.0.0.1', sessionTickets: tickets, earlyData });
  try {
    const answers = [(await conn.request(`${origin}/a`)).body.toString()];
    if (alsoB) {
      await conn.settled();
      answers.push((await conn.request(`https://b.example:${s.relay.port}/b`)).body.toString());
    }
    await new Promise((r) => setTimeout(r, 150));
    return answers;
  } finally {
    await conn.close();
  }
}

test('0-RTT is off unless both ends opt in: a resumed connection without the client\'s or the server\'s consent sends nothing early', async () => {
  const plain = await serve(false);
  try {
    const tickets = new Map<string, Uint8Array>();
    await connectVia(plain, tickets, true);
    assert.equal(tickets.size, 1, 'the server gave a ticket to resume with');
    assert.deepEqual(await connectVia(plain, tickets, true), ['after'], 'the server did not opt in');
  } finally {
    await plain.close();
  }
  const willing = await serve(true);
  try {
    const tickets = new Map<string, Uint8Array>();
    await connectVia(willing, tickets, false);
    assert.deepEqual(await connectVia(willing, tickets, false), ['after'], 'the client did not opt in');
    assert.deepEqual(willing.seen, ['a.example /a after', 'a.example /a after']);
  } finally {
    await willing.close();
  }
});

test('with both opted in, a resumed connection sends its first GET for its own origin in early data; the secondary origin waits for the handshake, and SERVER_CERTIFICATE is only sent after it', async () => {
  const s = await serve(true);
  try {
    const tickets = new Map<string, Uint8Array>();
    assert.deepEqual(await connectVia(s, tickets, true, true), ['after', 'after'], 'the first connection has no ticket yet');
    assert.deepEqual(await connectVia(s, tickets, true, true), ['early', 'after']);
    assert.deepEqual(s.seen.slice(2), ['a.example /a early', 'b.example /b after']);
    assert.ok(s.sentInEarlyData.length >= 2, 'b.example was proven on both connections');
    assert.deepEqual(s.sentInEarlyData.filter((x) => x), [], 'no SERVER_CERTIFICATE in early data');
  } finally {
    await s.close();
  }
});

test('a request for a secondary origin, or OPTIONS *, that arrives in early data is answered 425 Too Early; the origin of the TLS certificate is served', async () => {
  const s = await serve(true);
  try {
    const tickets = new Map<string, Uint8Array>();
    await connectVia(s, tickets, true);
    const ticket = tickets.get(`a.example:${s.relay.port}`);
    assert.ok(ticket);
    // A raw client that does not hold these back: three requests written in early data.
    const transport = await connectQuic({ host: '127.0.0.1', port: s.relay.port, servername: 'a.example', ca: pki.caPem, session: ticket, earlyData: true });
    assert.equal(transport.inEarlyData, true);
    const session = new H3Session(transport, {});
    session.start();
    const ask = async (method: string, authority: string, path: string): Promise<string> => {
      const stream = transport.openStream('bidi');
      const writer = stream.writable!.getWriter();
      await writer.write(session.headersFrame([
        { name: ':method', value: method },
        { name: ':scheme', value: 'https' },
        { name: ':authority', value: authority },
        { name: ':path', value: path },
      ]));
      await writer.close();
      let status = '';
      await session.readMessage(stream.readable!, { headers: (m) => void (status = m.pseudo[':status'] ?? ''), data: () => undefined });
      return status;
    };
    const statuses = await Promise.all([ask('GET', 'b.example', '/b'), ask('OPTIONS', 'a.example', '*'), ask('GET', 'a.example', '/a')]);
    assert.deepEqual(statuses, ['425', '425', '200']);
    assert.ok(s.seen.includes('a.example /a early'), s.seen.join('; '));
    assert.ok(!s.seen.some((x) => x.startsWith('b.example')), 'the handler never saw the early b.example request');
    await transport.close(0);
  } finally {
    await s.close();
  }
});
