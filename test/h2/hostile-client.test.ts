// Our HTTP/2 client against a hostile server (raw TLS and raw frames, test/helpers/hostile-h2-server.ts).
// Each case checks three things: (a) the typed error, with its code, at the client's API (the connection's
// 'protocolError' and 'certificate' events, a request's rejection); (b) how the connection ended, as the
// hostile server saw it: the code the draft or RFC 9113 names, in exactly one GOAWAY; (c) the process goes
// on: a connection to a good server opened before the case still serves, and fresh connections are served.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { connect, createSecondaryCertServer, H2ErrorCode, type CertificateEvent, type ClientOptions, type SecondaryCertConnection } from '../../src/h2/index.js';
import { H2ConnectionError, SecondaryCertsError } from '../../src/errors.js';
import { defaultCrypto } from '../../src/crypto/index.js';
import type { CryptoProvider } from '../../src/crypto/provider.js';
import { DEFAULT_PROFILE } from '../../src/h2/profile.js';
import { TestPki, type IssuedIdentity } from '../../src/testing/test-pki.js';
import { headerOnly } from '../helpers/raw-h2.js';
import { SERVER_CERT_AUTH, SERVER_CERTIFICATE, startHostileServer, type HostileConnection, type HostileScript, type HostileServer } from '../helpers/hostile-h2-server.js';

const SERVER_CERTIFICATE_INVALID = DEFAULT_PROFILE.errors.SERVER_CERTIFICATE_INVALID;
const lookup = async (): Promise<string[]> => ['127.0.0.1'];

let pki: TestPki;
let a: IssuedIdentity;
let b: IssuedIdentity;
let hostile: HostileServer;
let goodPort: number;
let stopGood: () => Promise<void>;
let bystander: SecondaryCertConnection;

before(async () => {
  pki = await TestPki.create();
  a = await pki.issue({ dnsNames: ['a.example'] });
  b = await pki.issue({ dnsNames: ['b.example'] });
  hostile = await startHostileServer(a);
  const good = await createSecondaryCertServer({ key: a.keyPem, cert: a.chainPem, identities: [{ chain: b.chainPem, key: b.keyPem }] });
  good.server.on('stream', (stream) => {
    stream.respond({ ':status': 200 });
    stream.end('ok');
  });
  await new Promise<void>((r) => good.server.listen(0, '127.0.0.1', r));
  goodPort = (good.server.address() as AddressInfo).port;
  stopGood = () => new Promise((r) => good.server.close(() => r()));
  // Open through every case: a hostile connection must not disturb another one of the same process.
  bystander = await connect(`https://a.example:${goodPort}/`, { ca: [pki.caPem], lookup });
});

after(async () => {
  await bystander.close();
  await hostile.close();
  await stopGood();
});

/** Resolves with `p`, or fails once `ms` passed: a hang fails the test instead of stalling the suite. */
async function within<T>(p: Promise<T>, what: string, ms = 5000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: nothing within ${ms} ms`)), ms)));
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** What the client reported on one connection, recorded from the start. */
interface Observed {
  connection: SecondaryCertConnection;
  server: HostileConnection;
  protocolErrors: H2ConnectionError[];
  certificates: CertificateEvent[];
  closed: Promise<void>;
}

/** Opens our client to the hostile server, whose end of the connection runs `script`. */
async function openHostile(script: HostileScript, options: Partial<ClientOptions> = {}): Promise<Observed> {
  const accepted = hostile.next(script);
  const connection = await connect(`https://a.example:${hostile.port}/`, { ca: [pki.caPem], lookup, ...options });
  const protocolErrors: H2ConnectionError[] = [];
  const certificates: CertificateEvent[] = [];
  connection.on('protocolError', (e) => protocolErrors.push(e));
  connection.on('certificate', (e) => certificates.push(e));
  const closed = new Promise<void>((r) => (connection.closed ? r() : connection.once('close', () => r())));
  return { connection, server: await accepted, protocolErrors, certificates, closed };
}

/** (a) and (b) for a connection error: one typed error at the API, and one GOAWAY with `code` on the wire. */
async function assertConnectionError(o: Observed, code: number, causeCodes?: readonly string[]): Promise<H2ConnectionError> {
  await within(o.closed, 'the client closing the connection');
  await within(o.server.closed, 'the TCP connection ending');
  assert.equal(o.protocolErrors.length, 1, `one protocolError, got ${o.protocolErrors.map((e) => e.message).join('; ')}`);
  const error = o.protocolErrors[0]!;
  assert.ok(error instanceof H2ConnectionError);
  assert.equal(error.code, 'ERR_H2_CONNECTION');
  assert.equal(error.wireCode, code, `wire code 0x${error.wireCode.toString(16)}: ${error.message}`);
  if (causeCodes) {
    assert.ok(error.cause instanceof SecondaryCertsError, `a typed cause, got ${String(error.cause)}`);
    assert.ok(causeCodes.includes(error.cause.code), `cause ${error.cause.code}: ${error.cause.message}`);
  }
  assert.deepEqual(o.server.goaways(), [code], 'exactly one GOAWAY, with the connection error');
  // A request on the closed connection fails typed too, at once.
  const late = await within(o.connection.request(`https://a.example:${hostile.port}/`).then(() => undefined, (e: unknown) => e), 'a request after the error');
  assert.ok(late instanceof SecondaryCertsError, `a typed rejection, got ${String(late)}`);
  assert.equal(late.code, 'ERR_STREAM_CLOSED');
  return error;
}

/** (c): the bystander connection still serves, and fresh connections (good server, hostile port) are served. */
async function processGoesOn(): Promise<void> {
  assert.equal((await within(bystander.request(`https://a.example:${goodPort}/`), 'the bystander request')).status, 200);
  for (const port of [goodPort, hostile.port]) {
    const fresh = await connect(`https://a.example:${port}/`, { ca: [pki.caPem], lookup });
    try {
      assert.equal((await within(fresh.request(`https://a.example:${port}/`), 'a fresh request')).status, 200);
    } finally {
      await fresh.close();
    }
  }
}

/** The usual start of a hostile script: the server's SETTINGS with the extension, requests answered. */
function negotiate(server: HostileConnection): void {
  server.sendSettings();
  server.serveRequests();
}

/** Bytes from a fixed-seed xorshift: "random", and the same on every run. */
function pseudoRandomBytes(n: number, seed = 0x2545f491): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** A CryptoProvider that counts the signature verifications the client does. */
function countingCrypto(): { crypto: CryptoProvider; verifies: () => number } {
  let verifies = 0;
  const crypto: CryptoProvider = {
    ...defaultCrypto(),
    name: `${defaultCrypto().name} (counting)`,
    verify: (...args) => {
      verifies++;
      return defaultCrypto().verify(...args);
    },
  };
  return { crypto, verifies: () => verifies };
}

test('SERVER_CERTIFICATE of random bytes: SERVER_CERTIFICATE_INVALID at the API and in one GOAWAY', async () => {
  const o = await openHostile((s) => {
    negotiate(s);
    s.sendServerCertificate(pseudoRandomBytes(300));
  });
  await assertConnectionError(o, SERVER_CERTIFICATE_INVALID, ['ERR_MALFORMED', 'ERR_UNEXPECTED_MESSAGE']);
  await processGoesOn();
});

test('a truncated authenticator (its last 5 bytes cut) is SERVER_CERTIFICATE_INVALID, ERR_MALFORMED', async () => {
  const o = await openHostile(async (s) => {
    negotiate(s);
    const whole = await s.authenticator(b);
    s.sendServerCertificate(whole.subarray(0, whole.length - 5));
  });
  await assertConnectionError(o, SERVER_CERTIFICATE_INVALID, ['ERR_MALFORMED']);
  await processGoesOn();
});

test('an authenticator with 3 trailing bytes is SERVER_CERTIFICATE_INVALID, ERR_MALFORMED', async () => {
  const o = await openHostile(async (s) => {
    negotiate(s);
    const whole = await s.authenticator(b);
    s.sendServerCertificate(Buffer.concat([whole, Buffer.from([0, 0, 0])]));
  });
  await assertConnectionError(o, SERVER_CERTIFICATE_INVALID, ['ERR_MALFORMED']);
  await processGoesOn();
});

test('an authenticator made for connection A and replayed on connection B is SERVER_CERTIFICATE_INVALID on B, and A keeps its certificate', async () => {
  let made!: Uint8Array;
  const first = await openHostile(async (s) => {
    negotiate(s);
    made = await s.authenticator(b);
    s.sendServerCertificate(made);
  });
  await within(first.server.roundTrip(), 'connection A reading its frames');
  await first.connection.settled();
  assert.deepEqual(first.certificates, [{ names: ['b.example'], accepted: true }]);
  const second = await openHostile((s) => {
    negotiate(s);
    s.sendServerCertificate(made);
  });
  // B's exporter values differ, so the Finished MAC (checked before the signature) fails.
  await assertConnectionError(second, SERVER_CERTIFICATE_INVALID, ['ERR_BAD_FINISHED']);
  assert.deepEqual(second.certificates, []);
  assert.equal((await first.connection.authorityFor(`https://b.example:${hostile.port}`)).ok, true);
  assert.equal((await within(first.connection.request(`https://b.example:${hostile.port}/`), 'a request on A')).status, 200);
  assert.deepEqual(first.server.goaways(), []);
  await first.connection.close();
  await processGoesOn();
});

test('the same authenticator twice on one connection: the first is accepted, the second is SERVER_CERTIFICATE_INVALID, ERR_CONTEXT_REUSED', async () => {
  const o = await openHostile(async (s) => {
    negotiate(s);
    const once = await s.authenticator(b);
    s.sendServerCertificate(once);
    s.sendServerCertificate(once);
  });
  await assertConnectionError(o, SERVER_CERTIFICATE_INVALID, ['ERR_CONTEXT_REUSED']);
  assert.deepEqual(o.certificates, [{ names: ['b.example'], accepted: true }]);
  await processGoesOn();
});

/**
 * A valid RFC 9261 authenticator whose certificate the policy refuses: not a connection error (draft
 * section 6.2), the certificate is not used. The 'certificate' event says why; the connection serves on.
 */
async function assertRefusedNotFatal(identity: IssuedIdentity, reasonCode: string): Promise<void> {
  const o = await openHostile(async (s) => {
    negotiate(s);
    s.sendServerCertificate(await s.authenticator(identity));
  });
  await within(o.server.roundTrip(), 'the client reading the frame');
  await o.connection.settled();
  assert.equal(o.certificates.length, 1);
  assert.equal(o.certificates[0]!.accepted, false);
  assert.deepEqual(o.certificates[0]!.names, ['b.example']);
  assert.match(o.certificates[0]!.reason ?? '', new RegExp(`^${reasonCode}: `));
  assert.deepEqual(o.protocolErrors, []);
  assert.equal((await o.connection.authorityFor(`https://b.example:${hostile.port}`)).ok, false);
  assert.equal((await within(o.connection.request(`https://a.example:${hostile.port}/`), 'a request after it')).status, 200);
  assert.deepEqual(o.server.goaways(), [], 'no GOAWAY while the connection is in use');
  await o.connection.close();
  await within(o.server.closed, 'the TCP connection ending');
  assert.deepEqual(o.server.goaways(), [H2ErrorCode.NO_ERROR], 'one GOAWAY(NO_ERROR), from our close()');
  await processGoesOn();
}

test('an expired chain in a valid authenticator is not used and not a connection error: ERR_CERT_EXPIRED in the certificate event', async () => {
  const day = 24 * 3600e3;
  const expired = await pki.issue({ dnsNames: ['b.example'], notBefore: new Date(Date.now() - 3 * day), notAfter: new Date(Date.now() - day) });
  await assertRefusedNotFatal(expired, 'ERR_CERT_EXPIRED');
});

test('an untrusted chain in a valid authenticator is not used and not a connection error: ERR_CERT_UNTRUSTED in the certificate event', async () => {
  const stranger = await (await TestPki.create({ commonName: 'not our CA' })).issue({ dnsNames: ['b.example'] });
  await assertRefusedNotFatal(stranger, 'ERR_CERT_UNTRUSTED');
});

test('SERVER_CERTIFICATE on stream 1 is PROTOCOL_ERROR, and it is not validated', async () => {
  const counting = countingCrypto();
  const o = await openHostile(async (s) => {
    negotiate(s);
    s.sendServerCertificate(await s.authenticator(b), 1);
  }, { crypto: counting.crypto });
  await assertConnectionError(o, H2ErrorCode.PROTOCOL_ERROR);
  assert.equal(counting.verifies(), 0);
  assert.deepEqual(o.certificates, []);
  await processGoesOn();
});

test('SERVER_CERTIFICATE as the server\'s first frame, before any SETTINGS, is an invalid connection preface: PROTOCOL_ERROR (RFC 9113 section 3.4)', async () => {
  const counting = countingCrypto();
  const o = await openHostile(async (s) => {
    const made = await s.authenticator(b);
    s.sendServerCertificate(made);
    negotiate(s);
  }, { crypto: counting.crypto });
  await assertConnectionError(o, H2ErrorCode.PROTOCOL_ERROR);
  assert.equal(counting.verifies(), 0);
  assert.deepEqual(o.certificates, []);
  await processGoesOn();
});

test('SERVER_CERTIFICATE after a SETTINGS without the setting, before the one with it, is PROTOCOL_ERROR (rosomakho-00 section 4.2): not validated, one GOAWAY', async () => {
  const counting = countingCrypto();
  const o = await openHostile(async (s) => {
    s.sendSettings([]);
    s.sendServerCertificate(await s.authenticator(b));
    s.sendSettings([{ id: SERVER_CERT_AUTH, value: 1 }]);
    s.serveRequests();
  }, { crypto: counting.crypto });
  await assertConnectionError(o, H2ErrorCode.PROTOCOL_ERROR);
  assert.equal(counting.verifies(), 0);
  assert.deepEqual(o.certificates, []);
  await processGoesOn();
});

test('a SERVER_CERTIFICATE header claiming 16 MB, over our SETTINGS_MAX_FRAME_SIZE, is FRAME_SIZE_ERROR at the API and in one GOAWAY', async () => {
  const o = await openHostile((s) => {
    negotiate(s);
    s.write(headerOnly(SERVER_CERTIFICATE, 0xffffff));
  });
  await assertConnectionError(o, H2ErrorCode.FRAME_SIZE_ERROR);
  await processGoesOn();
});

test('a GOAWAY(NO_ERROR) while an authenticator\'s signature is being checked: no connection error, the refused request fails with ERR_STREAM_CLOSED, and no policy work is spent on the closed connection', async () => {
  // The client's signature check waits for the test, so the GOAWAY lands mid-validation every time.
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  let verifying!: () => void;
  const verifyStarted = new Promise<void>((r) => (verifying = r));
  const crypto: CryptoProvider = {
    ...defaultCrypto(),
    verify: async (...args) => {
      verifying();
      await released;
      return defaultCrypto().verify(...args);
    },
  };
  let policyChecks = 0;
  const o = await openHostile(async (s) => {
    s.sendSettings();
    s.sendServerCertificate(await s.authenticator(b));
  }, { crypto, now: () => (policyChecks++, new Date()) });
  const pending = o.connection.request(`https://a.example:${hostile.port}/`);
  const rejected = pending.then(() => undefined, (e: unknown) => e);
  await within(verifyStarted, 'validation starting');
  await within(o.server.until(() => o.server.requestStreams().length > 0), 'the request reaching the server');
  o.server.sendGoaway(H2ErrorCode.NO_ERROR, 0);
  const error = await within(rejected, 'the pending request settling');
  assert.ok(error instanceof SecondaryCertsError, `a typed rejection, got ${String(error)}`);
  assert.equal(error.code, 'ERR_STREAM_CLOSED');
  await within(o.closed, 'the client closing');
  release();
  await o.connection.settled();
  assert.deepEqual(o.protocolErrors, []);
  assert.equal(policyChecks, 0, 'no certificate policy for a connection already closed');
  assert.deepEqual(o.certificates, []);
  await within(o.server.closed, 'the TCP connection ending');
  assert.deepEqual(o.server.goaways(), [H2ErrorCode.NO_ERROR], 'one GOAWAY, our graceful answer to the server\'s');
  await processGoesOn();
});

test('a GOAWAY(PROTOCOL_ERROR) from the server while an authenticator is being checked: the connection closes, the request fails with ERR_STREAM_CLOSED, the code is at the API (connection.goaway), nothing is held or reported', async () => {
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  let verifying!: () => void;
  const verifyStarted = new Promise<void>((r) => (verifying = r));
  const crypto: CryptoProvider = {
    ...defaultCrypto(),
    verify: async (...args) => {
      verifying();
      await released;
      return defaultCrypto().verify(...args);
    },
  };
  const o = await openHostile(async (s) => {
    s.sendSettings();
    s.sendServerCertificate(await s.authenticator(b));
  }, { crypto });
  const rejected = o.connection.request(`https://a.example:${hostile.port}/`).then(() => undefined, (e: unknown) => e);
  await within(verifyStarted, 'validation starting');
  o.server.sendGoaway(H2ErrorCode.PROTOCOL_ERROR, 0);
  const error = await within(rejected, 'the pending request settling');
  assert.ok(error instanceof SecondaryCertsError, `a typed rejection, got ${String(error)}`);
  assert.equal(error.code, 'ERR_STREAM_CLOSED');
  await within(o.closed, 'the client closing');
  release();
  await o.connection.settled();
  assert.deepEqual(o.protocolErrors, [], 'the server\'s error, not ours');
  assert.deepEqual(o.connection.goaway, { code: H2ErrorCode.PROTOCOL_ERROR, lastStreamId: 0 }, 'the server\'s code, at the API');
  assert.deepEqual(o.certificates, []);
  assert.deepEqual(o.connection.certificates, []);
  await within(o.server.closed, 'the TCP connection ending');
  assert.deepEqual(o.server.goaways(), [H2ErrorCode.NO_ERROR], 'one GOAWAY: our close, no error of ours');
  await processGoesOn();
});

test('an authenticator over maxAuthenticatorSize (64 KiB) but within our SETTINGS_MAX_FRAME_SIZE is ENHANCE_YOUR_CALM, unvalidated', async () => {
  const counting = countingCrypto();
  const o = await openHostile((s) => {
    negotiate(s);
    s.sendServerCertificate(pseudoRandomBytes(64 * 1024 + 1));
  }, { crypto: counting.crypto });
  await assertConnectionError(o, H2ErrorCode.ENHANCE_YOUR_CALM);
  assert.equal(counting.verifies(), 0);
  await processGoesOn();
});

test('the connection dropped in the middle of a SERVER_CERTIFICATE: nothing validated, the pending request fails with ERR_STREAM_CLOSED (not a status NaN), the connection closes', async () => {
  const counting = countingCrypto();
  const o = await openHostile(async (s) => {
    s.sendSettings();
    const made = await s.authenticator(b);
    await s.until(() => s.requestStreams().length > 0);
    // The header claims the whole authenticator; half of it follows, then TLS close_notify and FIN.
    s.write(Buffer.concat([headerOnly(SERVER_CERTIFICATE, made.length), made.subarray(0, made.length >> 1)]));
    s.socket.end();
  }, { crypto: counting.crypto });
  const error = await within(o.connection.request(`https://a.example:${hostile.port}/`).then(() => undefined, (e: unknown) => e), 'the pending request settling');
  assert.ok(error instanceof SecondaryCertsError, `a typed rejection, got ${String(error)}`);
  assert.equal(error.code, 'ERR_STREAM_CLOSED');
  await within(o.closed, 'the client closing');
  await o.connection.settled();
  assert.equal(counting.verifies(), 0);
  assert.deepEqual(o.certificates, []);
  assert.deepEqual(o.protocolErrors, []);
  await within(o.server.closed, 'the TCP connection ending');
  assert.deepEqual(o.server.goaways(), [], 'the server left: nothing to tell it');
  await processGoesOn();
});

/**
 * Sends `identities` as valid authenticators, all in one write, and waits for the client to have read
 * them and finished with every one it took.
 */
async function flood(identities: readonly IssuedIdentity[], options: Partial<ClientOptions>): Promise<Observed> {
  let sent!: () => void;
  const allSent = new Promise<void>((r) => (sent = r));
  const o = await openHostile(async (s) => {
    negotiate(s);
    const frames: Uint8Array[] = [];
    for (const id of identities) frames.push(await s.authenticator(id));
    for (const f of frames) s.sendServerCertificate(f);
    sent();
  }, options);
  await within(allSent, 'the hostile server sending', 60_000);
  assert.ok(await within(o.server.roundTrip(), 'the client reading every frame'));
  await within(o.connection.settled(), 'the client finishing what it validates', 60_000);
  return o;
}

test('1000 valid authenticators for distinct names: 64 (maxAuthenticators) are validated and 32 held; the other 936 cost no signature check and no policy work, reported once; the connection serves on', async () => {
  const identities = await Promise.all(Array.from({ length: 1000 }, (_, i) => pki.issue({ dnsNames: [`n${i}.example`], keyType: 'ed25519' })));
  const counting = countingCrypto();
  let policyChecks = 0;
  const o = await flood(identities, { crypto: counting.crypto, now: () => (policyChecks++, new Date()) });
  assert.equal(counting.verifies(), 64, 'CertificateVerify signatures checked');
  assert.equal(policyChecks, 64, 'chains through the certificate policy');
  assert.equal(o.certificates.length, 65);
  assert.equal(o.certificates.filter((e) => e.accepted).length, 32);
  assert.equal(o.connection.certificates.length, 32);
  const limit = o.certificates.filter((e) => e.reason?.startsWith('ERR_TOO_MANY_AUTHENTICATORS: '));
  assert.equal(limit.length, 1, 'the cap reported once');
  assert.deepEqual(limit[0], o.certificates.at(-1));
  assert.deepEqual(o.protocolErrors, []);
  assert.equal((await o.connection.authorityFor(`https://n31.example:${hostile.port}`)).ok, true);
  assert.equal((await o.connection.authorityFor(`https://n32.example:${hostile.port}`)).ok, false);
  assert.equal((await o.connection.authorityFor(`https://n999.example:${hostile.port}`)).ok, false);
  assert.equal((await within(o.connection.request(`https://n0.example:${hostile.port}/`), 'a request after the flood')).status, 200);
  assert.deepEqual(o.server.goaways(), []);
  await o.connection.close();
  await within(o.server.closed, 'the TCP connection ending');
  assert.deepEqual(o.server.goaways(), [H2ErrorCode.NO_ERROR]);
  await processGoesOn();
});

test('maxAuthenticators is the cap: with 3, the 4th and 5th authenticators are not validated, and the 6th is not reported again', async () => {
  const identities = await Promise.all(['c1', 'c2', 'c3', 'c4', 'c5', 'c6'].map((n) => pki.issue({ dnsNames: [`${n}.example`] })));
  const counting = countingCrypto();
  const o = await flood(identities, { crypto: counting.crypto, maxAuthenticators: 3 });
  assert.equal(counting.verifies(), 3);
  assert.deepEqual(o.certificates.slice(0, 3), [
    { names: ['c1.example'], accepted: true },
    { names: ['c2.example'], accepted: true },
    { names: ['c3.example'], accepted: true },
  ]);
  assert.equal(o.certificates.length, 4);
  assert.equal(o.certificates[3]!.accepted, false);
  assert.match(o.certificates[3]!.reason ?? '', /^ERR_TOO_MANY_AUTHENTICATORS: 3 server authenticators already processed/);
  assert.deepEqual(o.protocolErrors, []);
  assert.equal((await within(o.connection.request(`https://c1.example:${hostile.port}/`), 'a request')).status, 200);
  await o.connection.close();
  await processGoesOn();
});
