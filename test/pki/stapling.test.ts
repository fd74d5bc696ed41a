// Stapled OCSP responses (RFC 6960) and SCTs (RFC 6962), judged by src/pki/ocsp.ts, src/pki/sct.ts and the
// certificate policy's stapling options. Every response and SCT is signed for real by the test PKI (as the
// issuer, as a delegated responder, as a test CT log); each failure has its own code.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as fc from 'fast-check';
import { OCSPResponseStatus } from '@peculiar/asn1-ocsp';
import { CertificatePolicy, type CertificatePolicyOptions } from '../../src/pki/policy.js';
import { checkOcspResponse } from '../../src/pki/ocsp.js';
import { checkSctList, CtLogSet, parseSctList } from '../../src/pki/sct.js';
import { CertificateRejected } from '../../src/errors.js';
import { TestCtLog, TestPki, type IssuedIdentity } from '../../src/testing/test-pki.js';

let pki: TestPki;
let other: TestPki;
let leaf: IssuedIdentity;
let viaIntermediate: IssuedIdentity;
let sibling: IssuedIdentity;
let logA: TestCtLog;
let logB: TestCtLog;
let unknownLog: TestCtLog;
const hour = 3600e3;

before(async () => {
  pki = await TestPki.create();
  other = await TestPki.create({ commonName: 'another CA' });
  leaf = await pki.issue({ dnsNames: ['b.example'] });
  viaIntermediate = await pki.issue({ dnsNames: ['c.example'], viaIntermediate: true });
  sibling = await pki.issue({ dnsNames: ['d.example'] });
  [logA, logB, unknownLog] = await Promise.all([TestCtLog.create(), TestCtLog.create(), TestCtLog.create()]);
});

const policy = (options: Partial<CertificatePolicyOptions> = {}) => new CertificatePolicy({ trustAnchors: [pki.caPem], role: 'server', ...options });

async function rejects(p: Promise<unknown> | (() => unknown), code: string): Promise<void> {
  await assert.rejects(async () => (typeof p === 'function' ? p() : p), (e: unknown) => e instanceof CertificateRejected && e.code === code);
}

// ---- OCSP ----

test('a good OCSP response signed by the issuer is accepted and reported, directly and below an intermediate', async () => {
  for (const id of [leaf, viaIntermediate]) {
    const accepted = await policy({ ocsp: 'require' }).check(id.chainDer, { ocspResponse: pki.ocspResponse(id) });
    assert.equal(accepted.ocsp?.status, 'good');
    assert.equal(accepted.ocsp?.status === 'good' && accepted.ocsp.responder, 'issuer');
  }
});

test('a good OCSP response signed by a delegated responder with id-kp-OCSPSigning is accepted', async () => {
  const responder = await pki.ocspResponder(leaf);
  const accepted = await policy({ ocsp: 'require' }).check(leaf.chainDer, { ocspResponse: pki.ocspResponse(leaf, { responder }) });
  assert.equal(accepted.ocsp?.status === 'good' && accepted.ocsp.responder, 'delegated');
});

test('a revoked certificate is refused with ERR_CERT_REVOKED when OCSP is required, and reported when only reported', async () => {
  const ocspResponse = pki.ocspResponse(leaf, { status: 'revoked' });
  await rejects(policy({ ocsp: 'require' }).check(leaf.chainDer, { ocspResponse }), 'ERR_CERT_REVOKED');
  const reported = await policy({ ocsp: 'report' }).check(leaf.chainDer, { ocspResponse });
  assert.equal(reported.ocsp?.status, 'failed');
  assert.equal(reported.ocsp?.status === 'failed' && reported.ocsp.code, 'ERR_CERT_REVOKED');
});

test('an OCSP response of status unknown is ERR_CERT_OCSP_UNKNOWN', async () => {
  await rejects(policy({ ocsp: 'require' }).check(leaf.chainDer, { ocspResponse: pki.ocspResponse(leaf, { status: 'unknown' }) }), 'ERR_CERT_OCSP_UNKNOWN');
});

test('a stale OCSP response (nextUpdate passed, thisUpdate ahead, or too old without nextUpdate) is ERR_CERT_OCSP_STALE, and the clock is configurable', async () => {
  const minute = 60e3;
  const past = pki.ocspResponse(leaf, { thisUpdate: new Date(Date.now() - 50 * minute), nextUpdate: new Date(Date.now() - 40 * minute) });
  await rejects(policy({ ocsp: 'require' }).check(leaf.chainDer, { ocspResponse: past }), 'ERR_CERT_OCSP_STALE');
  // The same response, judged with a clock from before its nextUpdate, is good.
  const earlier = await policy({ ocsp: 'require', now: () => new Date(Date.now() - 45 * minute) }).check(leaf.chainDer, { ocspResponse: past });
  assert.equal(earlier.ocsp?.status, 'good');
  const ahead = pki.ocspResponse(leaf, { thisUpdate: new Date(Date.now() + hour) });
  await rejects(policy({ ocsp: 'require' }).check(leaf.chainDer, { ocspResponse: ahead }), 'ERR_CERT_OCSP_STALE');
  const noNext = pki.ocspResponse(leaf, { thisUpdate: new Date(Date.now() - 2 * hour), nextUpdate: null });
  assert.equal(checkOcspResponse(noNext, leaf.certDer, pki.caDer).nextUpdate, undefined);
  assert.equal((await policy({ ocsp: 'require' }).check(leaf.chainDer, { ocspResponse: noNext })).ocsp?.status, 'good');
  await rejects(policy({ ocsp: 'require', ocspMaxAgeMs: hour }).check(leaf.chainDer, { ocspResponse: noNext }), 'ERR_CERT_OCSP_STALE');
});

test('a response signed by a responder without id-kp-OCSPSigning, or by another CA, is ERR_CERT_OCSP_WRONG_RESPONDER', async () => {
  const noEku = await pki.ocspResponder(leaf, { ocspSigning: false });
  await rejects(policy({ ocsp: 'require' }).check(leaf.chainDer, { ocspResponse: pki.ocspResponse(leaf, { responder: noEku }) }), 'ERR_CERT_OCSP_WRONG_RESPONDER');
  // A responder delegated by another CA: its certificate was not issued by the leaf's issuer.
  const otherLeaf = await other.issue({ dnsNames: ['x.example'] });
  const foreign = await other.ocspResponder(otherLeaf);
  await rejects(policy({ ocsp: 'require' }).check(leaf.chainDer, { ocspResponse: pki.ocspResponse(leaf, { responder: foreign }) }), 'ERR_CERT_OCSP_WRONG_RESPONDER');
  await rejects(policy({ ocsp: 'require' }).check(leaf.chainDer, { ocspResponse: pki.ocspResponse(leaf, { responder: other }) }), 'ERR_CERT_OCSP_WRONG_RESPONDER');
});

test('a response whose signature does not verify is ERR_CERT_OCSP_BAD_SIGNATURE', async () => {
  await rejects(policy({ ocsp: 'require' }).check(leaf.chainDer, { ocspResponse: pki.ocspResponse(leaf, { corruptSignature: true }) }), 'ERR_CERT_OCSP_BAD_SIGNATURE');
  const responder = await pki.ocspResponder(leaf);
  await rejects(policy({ ocsp: 'require' }).check(leaf.chainDer, { ocspResponse: pki.ocspResponse(leaf, { responder, corruptSignature: true }) }), 'ERR_CERT_OCSP_BAD_SIGNATURE');
});

test('a response about another certificate is ERR_CERT_OCSP_CERT_ID_MISMATCH', async () => {
  await rejects(policy({ ocsp: 'require' }).check(leaf.chainDer, { ocspResponse: pki.ocspResponse(leaf, { certIdFor: sibling }) }), 'ERR_CERT_OCSP_CERT_ID_MISMATCH');
  // The right serial, the wrong issuer: checked directly against another CA's certificate as the issuer.
  await rejects(() => checkOcspResponse(pki.ocspResponse(leaf), leaf.certDer, other.caDer), 'ERR_CERT_OCSP_CERT_ID_MISMATCH');
});

test('bytes that are no OCSP response, trailing bytes and an unsuccessful status are refused with their codes', async () => {
  const good = pki.ocspResponse(leaf);
  for (const bad of [new Uint8Array([1, 2, 3]), new Uint8Array([...good, 0]), good.subarray(0, good.length - 1)]) {
    await rejects(() => checkOcspResponse(bad, leaf.certDer, pki.caDer), 'ERR_CERT_OCSP_MALFORMED');
  }
  await rejects(() => checkOcspResponse(pki.ocspResponse(leaf, { responseStatus: OCSPResponseStatus.tryLater }), leaf.certDer, pki.caDer), 'ERR_CERT_OCSP_UNSUCCESSFUL');
});

test('OCSP required but none stapled is ERR_CERT_OCSP_MISSING; reported, it is absent; ignored by default', async () => {
  await rejects(policy({ ocsp: 'require' }).check(leaf.chainDer), 'ERR_CERT_OCSP_MISSING');
  assert.deepEqual((await policy({ ocsp: 'report' }).check(leaf.chainDer)).ocsp, { status: 'absent' });
  const ignored = await policy().check(leaf.chainDer, { ocspResponse: pki.ocspResponse(leaf, { status: 'revoked' }) });
  assert.equal(ignored.ocsp, undefined);
});

// ---- SCTs ----

test('valid SCTs from two distinct logs satisfy minSctLogs 2, and each is reported', async () => {
  const sctList = TestCtLog.list([logA.sct(leaf.certDer), logB.sct(leaf.certDer)]);
  const accepted = await policy({ ctLogs: [{ key: logA.publicKeyDer, name: 'A' }, { key: logB.publicKeyDer, name: 'B' }], minSctLogs: 2 }).check(leaf.chainDer, { sctList });
  assert.equal(accepted.sct?.validLogs, 2);
  assert.deepEqual(accepted.sct?.scts.map((v) => v.valid && v.log), ['A', 'B']);
});

test('an SCT with a bad signature does not count (ERR_CERT_SCT_BAD_SIGNATURE), and too few logs is ERR_CERT_SCT_TOO_FEW_LOGS', async () => {
  const logs = [{ key: logA.publicKeyDer }, { key: logB.publicKeyDer }];
  const sctList = TestCtLog.list([logA.sct(leaf.certDer), logB.sct(leaf.certDer, { corruptSignature: true })]);
  const reported = await policy({ ctLogs: logs }).check(leaf.chainDer, { sctList });
  assert.equal(reported.sct?.validLogs, 1);
  assert.equal(reported.sct?.scts[1]?.valid === false && reported.sct.scts[1].code, 'ERR_CERT_SCT_BAD_SIGNATURE');
  await rejects(policy({ ctLogs: logs, minSctLogs: 2 }).check(leaf.chainDer, { sctList }), 'ERR_CERT_SCT_TOO_FEW_LOGS');
  // An SCT over another certificate does not verify for this one.
  const forOther = checkSctList(TestCtLog.list([logA.sct(sibling.certDer)]), leaf.certDer, new CtLogSet(logs));
  assert.equal(forOther.scts[0]?.valid === false && forOther.scts[0].code, 'ERR_CERT_SCT_BAD_SIGNATURE');
});

test('an SCT from an unknown log is ERR_CERT_SCT_UNKNOWN_LOG and does not count', async () => {
  const sctList = TestCtLog.list([unknownLog.sct(leaf.certDer)]);
  const reported = await policy({ ctLogs: [{ key: logA.publicKeyDer }] }).check(leaf.chainDer, { sctList });
  assert.equal(reported.sct?.scts[0]?.valid === false && reported.sct.scts[0].code, 'ERR_CERT_SCT_UNKNOWN_LOG');
  await rejects(policy({ ctLogs: [{ key: logA.publicKeyDer }], minSctLogs: 1 }).check(leaf.chainDer, { sctList }), 'ERR_CERT_SCT_TOO_FEW_LOGS');
});

test('two SCTs from one log count as one log', async () => {
  const sctList = TestCtLog.list([logA.sct(leaf.certDer), logA.sct(leaf.certDer, { at: new Date(Date.now() - 1000) })]);
  const logs = [{ key: logA.publicKeyDer }, { key: logB.publicKeyDer }];
  assert.equal((await policy({ ctLogs: logs }).check(leaf.chainDer, { sctList })).sct?.validLogs, 1);
  await rejects(policy({ ctLogs: logs, minSctLogs: 2 }).check(leaf.chainDer, { sctList }), 'ERR_CERT_SCT_TOO_FEW_LOGS');
});

test('an SCT timestamped in the future is ERR_CERT_SCT_FUTURE (RFC 6962 section 5.2)', async () => {
  const sctList = TestCtLog.list([logA.sct(leaf.certDer, { at: new Date(Date.now() + hour) })]);
  const report = checkSctList(sctList, leaf.certDer, new CtLogSet([{ key: logA.publicKeyDer }]));
  assert.equal(report.scts[0]?.valid === false && report.scts[0].code, 'ERR_CERT_SCT_FUTURE');
  assert.equal(report.validLogs, 0);
});

test('an SCT list that does not frame is ERR_CERT_SCT_MALFORMED; an SCT inside that does not decode is skipped', async () => {
  for (const bad of [new Uint8Array(0), new Uint8Array([0, 0]), new Uint8Array([0, 5, 0, 3, 1])]) {
    await rejects(() => parseSctList(bad), 'ERR_CERT_SCT_MALFORMED');
  }
  const withJunk = TestCtLog.list([new Uint8Array([7, 7, 7]), logA.sct(leaf.certDer)]);
  const report = checkSctList(withJunk, leaf.certDer, new CtLogSet([{ key: logA.publicKeyDer }]));
  assert.equal(report.scts[0]?.valid === false && report.scts[0].code, 'ERR_CERT_SCT_MALFORMED');
  assert.equal(report.validLogs, 1);
  await rejects(policy({ ctLogs: [{ key: logA.publicKeyDer }], minSctLogs: 1 }).check(leaf.chainDer, { sctList: new Uint8Array([0, 0]) }), 'ERR_CERT_SCT_MALFORMED');
});

test('no SCTs with a required count is ERR_CERT_SCT_TOO_FEW_LOGS; minSctLogs above the configured logs is a RangeError', async () => {
  await rejects(policy({ ctLogs: [{ key: logA.publicKeyDer }], minSctLogs: 1 }).check(leaf.chainDer), 'ERR_CERT_SCT_TOO_FEW_LOGS');
  assert.throws(() => policy({ ctLogs: [{ key: logA.publicKeyDer }], minSctLogs: 2 }), RangeError);
  assert.throws(() => policy({ ocsp: 'always' as never }), TypeError);
});

// ---- responses made by another implementation: OpenSSL's `ocsp` responder ----

const openssl = spawnSync('openssl', ['version']).status === 0;

/** A CA, a leaf and a delegated responder made by the openssl command, and OCSP responses from its responder. */
function opensslPki(dir: string): { caDer: Uint8Array; leafDer: Uint8Array; respond(index: string, signer: 'ca' | 'responder', byKey?: boolean): Uint8Array } {
  const run = (...args: string[]): void => {
    const r = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8', timeout: 30_000 });
    if (r.status !== 0) throw new Error(`openssl ${args.join(' ')}: ${r.stderr}`);
  };
  writeFileSync(join(dir, 'ext.cnf'), '[responder]\nextendedKeyUsage=OCSPSigning\n');
  run('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'ca.key');
  run('req', '-x509', '-new', '-key', 'ca.key', '-subj', '/CN=openssl test CA', '-days', '2', '-out', 'ca.pem', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
  for (const [name, serial, ext] of [['leaf', '0x1234abcd', undefined], ['responder', '0x99', 'responder']] as const) {
    run('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', `${name}.key`);
    run('req', '-new', '-key', `${name}.key`, '-subj', `/CN=${name}`, '-out', `${name}.csr`);
    run('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-set_serial', serial, '-days', '1', '-out', `${name}.pem`, ...(ext ? ['-extfile', 'ext.cnf', '-extensions', ext] : []));
  }
  run('ocsp', '-issuer', 'ca.pem', '-cert', 'leaf.pem', '-reqout', 'req.der', '-no_nonce');
  const der = (pemFile: string): Uint8Array => new Uint8Array(new X509Certificate(readFileSync(join(dir, pemFile))).raw);
  return {
    caDer: der('ca.pem'),
    leafDer: der('leaf.pem'),
    respond(index, signer, byKey = false) {
      writeFileSync(join(dir, 'index.txt'), index);
      const who = signer === 'ca' ? 'ca' : 'responder';
      run('ocsp', '-index', 'index.txt', '-rsigner', `${who}.pem`, '-rkey', `${who}.key`, '-CA', 'ca.pem', '-reqin', 'req.der', '-respout', 'resp.der', '-ndays', '1', ...(byKey ? ['-resp_key_id'] : []));
      return new Uint8Array(readFileSync(join(dir, 'resp.der')));
    },
  };
}

test('OCSP responses made by the openssl responder, signed by the CA or a delegated responder, named by name or key, are read the same way', { skip: !openssl && 'no openssl command' }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ocsp-openssl-'));
  try {
    const o = opensslPki(dir);
    const good = checkOcspResponse(o.respond('V\t301231000000Z\t\t1234ABCD\tunknown\t/CN=leaf\n', 'ca'), o.leafDer, o.caDer);
    assert.equal(good.responder, 'issuer');
    assert.equal(checkOcspResponse(o.respond('V\t301231000000Z\t\t1234ABCD\tunknown\t/CN=leaf\n', 'responder'), o.leafDer, o.caDer).responder, 'delegated');
    // ResponderID byKey (the SHA-1 of the responder's key) instead of byName, for both signers.
    assert.equal(checkOcspResponse(o.respond('V\t301231000000Z\t\t1234ABCD\tunknown\t/CN=leaf\n', 'ca', true), o.leafDer, o.caDer).responder, 'issuer');
    assert.equal(checkOcspResponse(o.respond('V\t301231000000Z\t\t1234ABCD\tunknown\t/CN=leaf\n', 'responder', true), o.leafDer, o.caDer).responder, 'delegated');
    await rejects(() => checkOcspResponse(o.respond('R\t301231000000Z\t250101000000Z\t1234ABCD\tunknown\t/CN=leaf\n', 'ca'), o.leafDer, o.caDer), 'ERR_CERT_REVOKED');
    // Our CertID matches OpenSSL's for another issuer's certificate only if it is that certificate.
    await rejects(() => checkOcspResponse(o.respond('V\t301231000000Z\t\t1234ABCD\tunknown\t/CN=leaf\n', 'ca'), leaf.certDer, o.caDer), 'ERR_CERT_OCSP_CERT_ID_MISMATCH');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('mutated OCSP responses and SCT lists give typed refusals and nothing else', async () => {
  const logs = new CtLogSet([{ key: logA.publicKeyDer }]);
  const responder = await pki.ocspResponder(leaf);
  const seeds = [pki.ocspResponse(leaf), pki.ocspResponse(leaf, { responder })];
  const sctSeed = TestCtLog.list([logA.sct(leaf.certDer)]);
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 1 }), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }), fc.nat(), (which, flips, cut) => {
      const mutate = (seed: Uint8Array): Uint8Array => {
        const b = new Uint8Array(seed);
        for (const [at, value] of flips) b[at % b.length] = value;
        return cut % 5 === 0 ? b.subarray(0, cut % b.length) : b;
      };
      try {
        checkOcspResponse(mutate(seeds[which]!), leaf.certDer, pki.caDer);
      } catch (e) {
        if (!(e instanceof CertificateRejected)) throw e;
      }
      try {
        checkSctList(mutate(sctSeed), leaf.certDer, logs);
      } catch (e) {
        if (!(e instanceof CertificateRejected)) throw e;
      }
    }),
    { numRuns: 300 },
  );
});
