// Which hosts a certificate's subjectAltName covers (RFC 9110 section 4.3.4, RFC 6125 section 6.4): exact
// names, left-most-label wildcards only, IP literals against iPAddress entries only, origins with ports.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fc from 'fast-check';
import { formatIpAddress, hostCoveredBy, normalizeHost, originCoveredBy, parseIpAddress, type SubjectNames } from '../../src/pki/names.js';

const dns = (...dnsNames: string[]): SubjectNames => ({ dnsNames, ipAddresses: [] });
const ips = (...ipAddresses: string[]): SubjectNames => ({ dnsNames: [], ipAddresses });

test('an exact name matches case-insensitively, with one trailing dot ignored on either side', () => {
  assert.equal(hostCoveredBy('a.example', dns('a.example')), true);
  assert.equal(hostCoveredBy('A.EXAMPLE', dns('a.example')), true);
  assert.equal(hostCoveredBy('a.example', dns('A.Example')), true);
  assert.equal(hostCoveredBy('a.example.', dns('a.example')), true);
  assert.equal(hostCoveredBy('a.example', dns('a.example.')), true);
  assert.equal(hostCoveredBy('a.example..', dns('a.example')), false);
  assert.equal(hostCoveredBy('b.example', dns('a.example')), false);
  assert.equal(hostCoveredBy('example', dns('a.example')), false);
  assert.equal(hostCoveredBy('x.a.example', dns('a.example')), false);
  assert.equal(hostCoveredBy('', dns('a.example')), false);
  assert.equal(hostCoveredBy('.', dns('.')), false);
});

test('*.example.com covers one whole left-most label and nothing else', () => {
  const names = dns('*.example.com');
  assert.equal(hostCoveredBy('a.example.com', names), true);
  assert.equal(hostCoveredBy('xn--bcher-kva.example.com', names), true);
  assert.equal(hostCoveredBy('A.Example.COM.', names), true);
  assert.equal(hostCoveredBy('example.com', names), false);
  assert.equal(hostCoveredBy('.example.com', names), false);
  assert.equal(hostCoveredBy('a.b.example.com', names), false);
  assert.equal(hostCoveredBy('a.example.org', names), false);
  assert.equal(hostCoveredBy('aexample.com', names), false);
  // A host is never a pattern: '*' in the host matches nothing.
  assert.equal(hostCoveredBy('*.example.com', names), false);
});

test('partial-label wildcards, wildcards elsewhere and wildcards over one label are refused', () => {
  for (const pattern of ['a*.example.com', '*a.example.com', 'a*b.example.com', 'xn--*.example.com']) {
    for (const host of ['a.example.com', 'ab.example.com', 'aab.example.com', 'xn--a.example.com']) {
      assert.equal(hostCoveredBy(host, dns(pattern)), false, `${pattern} must not cover ${host}`);
    }
  }
  assert.equal(hostCoveredBy('a.b.example.com', dns('a.*.example.com')), false);
  assert.equal(hostCoveredBy('a.b.example.com', dns('*.*.example.com')), false);
  assert.equal(hostCoveredBy('a.example.com', dns('*.example.*')), false);
  assert.equal(hostCoveredBy('a.example.com', dns('*..example.com')), false);
  // Fewer than two labels after the '*': '*.com' would cover a whole top-level domain.
  assert.equal(hostCoveredBy('example.com', dns('*.com')), false);
  assert.equal(hostCoveredBy('example.com', dns('*.com.')), false);
  assert.equal(hostCoveredBy('com', dns('*')), false);
  assert.equal(hostCoveredBy('com', dns('*.')), false);
});

test('IPv4 literals match iPAddress entries only, by value', () => {
  assert.equal(hostCoveredBy('10.0.0.1', ips('10.0.0.1')), true);
  assert.equal(hostCoveredBy('10.0.0.1.', ips('10.0.0.1')), true);
  assert.equal(hostCoveredBy('10.0.0.2', ips('10.0.0.1')), false);
  // Never a dNSName, written out or through a wildcard.
  assert.equal(hostCoveredBy('10.0.0.1', dns('10.0.0.1')), false);
  assert.equal(hostCoveredBy('10.0.0.1', dns('*.0.0.1')), false);
  // And an iPAddress entry never covers a DNS name.
  assert.equal(hostCoveredBy('a.example', { dnsNames: [], ipAddresses: ['a.example'] }), false);
  // Forms that some parsers read differently (octal, shortened, hex) match nothing.
  assert.equal(hostCoveredBy('010.0.0.1', ips('10.0.0.1', '8.0.0.1')), false);
  assert.equal(hostCoveredBy('10.1', ips('10.0.0.1')), false);
  assert.equal(hostCoveredBy('0xa.0.0.1', ips('10.0.0.1')), false);
  assert.equal(hostCoveredBy('256.0.0.1', ips('0.0.0.1')), false);
});

test('IPv6 literals match iPAddress entries in any text form, with or without brackets', () => {
  const names = ips('2001:db8::1', '::1');
  for (const host of ['2001:db8::1', '[2001:db8::1]', '2001:DB8:0:0:0:0:0:1', '2001:0db8:0000::0001', '::1', '[0:0:0:0:0:0:0:1]']) {
    assert.equal(hostCoveredBy(host, names), true, host);
  }
  for (const host of ['2001:db8::2', '[2001:db8::1', '2001:db8::1%eth0', '2001:db8:::1', '1:2:3:4:5:6:7:8:9', '::1::']) {
    assert.equal(hostCoveredBy(host, names), false, host);
  }
  // An IPv4-mapped IPv6 address is a different iPAddress (16 bytes against 4).
  assert.equal(hostCoveredBy('::ffff:10.0.0.1', ips('10.0.0.1')), false);
  assert.equal(hostCoveredBy('::ffff:10.0.0.1', ips('::ffff:a00:1')), true);
  assert.equal(hostCoveredBy('::1', dns('::1')), false);
});

test('IPv6 addresses are printed in the RFC 5952 form', () => {
  const canonical = (text: string) => formatIpAddress(parseIpAddress(text)!);
  assert.equal(canonical('2001:0DB8:0:0:1:0:0:1'), '2001:db8::1:0:0:1');
  assert.equal(canonical('2001:db8:0:0:0:0:2:1'), '2001:db8::2:1');
  assert.equal(canonical('2001:db8:0:1:1:1:1:1'), '2001:db8:0:1:1:1:1:1');
  assert.equal(canonical('0:0:0:0:0:0:0:0'), '::');
  assert.equal(canonical('1:0:0:0:0:0:0:0'), '1::');
  assert.equal(normalizeHost('[::FFFF:10.0.0.1]'), '::ffff:a00:1');
  assert.equal(normalizeHost('A.Example.'), 'a.example');
  assert.equal(normalizeHost('a..example'), undefined);
  assert.throws(() => formatIpAddress(new Uint8Array(5)), RangeError);
});

test('origins: the port does not matter, only https counts, and the host is read as a URL reads it', () => {
  const names: SubjectNames = { dnsNames: ['a.example', '*.b.example'], ipAddresses: ['127.0.0.1', '2001:db8::1'] };
  assert.equal(originCoveredBy('https://a.example:8443', names), true);
  assert.equal(originCoveredBy('https://a.example', names), true);
  assert.equal(originCoveredBy('https://A.EXAMPLE.:443', names), true);
  assert.equal(originCoveredBy('https://x.b.example:8443', names), true);
  assert.equal(originCoveredBy(new URL('https://x.b.example'), names), true);
  assert.equal(originCoveredBy('https://127.0.0.1:8443', names), true);
  assert.equal(originCoveredBy('https://[2001:db8:0::1]:8443', names), true);
  // WHATWG URL turns "127.1" into 127.0.0.1, so the origin is that address.
  assert.equal(originCoveredBy('https://127.1', names), true);
  assert.equal(originCoveredBy('http://a.example', names), false);
  assert.equal(originCoveredBy('https://c.example:8443', names), false);
  assert.equal(originCoveredBy('not a url', names), false);
  assert.equal(originCoveredBy('', names), false);
});

test('property: no string throws, whatever the host or the entries', () => {
  const names: SubjectNames = { dnsNames: ['*.example.com', 'b.example', '*', 'x*.y.z'], ipAddresses: ['::1', '10.0.0.1', 'junk'] };
  const anyString = fc.string({ unit: 'binary', maxLength: 80 });
  fc.assert(
    fc.property(anyString, anyString, (host, entry) => {
      assert.equal(typeof hostCoveredBy(host, names), 'boolean');
      assert.equal(typeof hostCoveredBy('a.example.com', { dnsNames: [entry], ipAddresses: [entry] }), 'boolean');
      assert.equal(typeof originCoveredBy(`https://${host}`, names), 'boolean');
      normalizeHost(host);
      parseIpAddress(host);
    }),
    { numRuns: 400 },
  );
});

test('property: a DNS name covers itself in any case, and its parent wildcard covers it', () => {
  fc.assert(
    fc.property(fc.domain(), (name) => {
      assert.equal(hostCoveredBy(name, dns(name)), true);
      assert.equal(hostCoveredBy(name.toUpperCase(), dns(name)), true);
      assert.equal(hostCoveredBy(`${name}.`, dns(name)), true);
      assert.equal(hostCoveredBy(name, dns(`*.${name}`)), false);
      const parent = name.slice(name.indexOf('.') + 1);
      assert.equal(hostCoveredBy(name, dns(`*.${parent}`)), parent.includes('.'));
    }),
    { numRuns: 300 },
  );
});

test('property: an IP address covers itself in the canonical form, and never as a dNSName', () => {
  fc.assert(
    fc.property(fc.oneof(fc.ipV4(), fc.ipV6()), (address) => {
      const bytes = parseIpAddress(address);
      assert.ok(bytes, address);
      assert.deepEqual(parseIpAddress(formatIpAddress(bytes)), bytes);
      assert.equal(hostCoveredBy(address, ips(formatIpAddress(bytes))), true);
      assert.equal(hostCoveredBy(address, dns(address)), false);
    }),
    { numRuns: 300 },
  );
});
