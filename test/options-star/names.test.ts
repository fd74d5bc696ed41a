// The names of our OPTIONS * profile and the small structured-field pieces it uses (RFC 9651 String and
// List of Tokens), with property tests.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  DEFAULT_OPTIONS_STAR_NAMES,
  makeOptionsStarNames,
  mediaTypeOf,
  originWithPort,
  parseSfString,
  parseTokenList,
  serializeSfString,
} from '../../src/flows/options-star/names.js';
import { InvalidProfile } from '../../src/errors.js';

test('the default names are those of spec-notes/options-star.md (and of the Go peer)', () => {
  assert.deepEqual({ ...DEFAULT_OPTIONS_STAR_NAMES }, {
    requestMediaType: 'application/exported-authenticator-request',
    authenticatorMediaType: 'application/exported-authenticator',
    capabilityField: 'exported-auth',
    originField: 'exported-auth-origin',
  });
  assert.ok(Object.isFrozen(DEFAULT_OPTIONS_STAR_NAMES));
});

test('makeOptionsStarNames: lower-cases, and refuses bad tokens and clashes with InvalidProfile', () => {
  assert.equal(makeOptionsStarNames({ capabilityField: 'X-EA' }).capabilityField, 'x-ea');
  assert.equal(makeOptionsStarNames({ requestMediaType: 'Application/Vnd.X+req' }).requestMediaType, 'application/vnd.x+req');
  for (const bad of [{ capabilityField: 'has space' }, { originField: '' }, { requestMediaType: 'nosubtype' }, { authenticatorMediaType: 'a/b/c' },
    { requestMediaType: DEFAULT_OPTIONS_STAR_NAMES.authenticatorMediaType }, { originField: DEFAULT_OPTIONS_STAR_NAMES.capabilityField }, { capabilityField: 7 as never }]) {
    assert.throws(() => makeOptionsStarNames(bad), InvalidProfile, JSON.stringify(bad));
  }
});

test('mediaTypeOf drops parameters and case; parseTokenList reads SF lists of tokens', () => {
  assert.equal(mediaTypeOf(' Application/X ; charset=utf-8'), 'application/x');
  assert.equal(mediaTypeOf(undefined), undefined);
  assert.deepEqual(parseTokenList('server, client;v=1'), ['server', 'client']);
  assert.deepEqual(parseTokenList(['server', 'client']), ['server', 'client']);
  assert.deepEqual(parseTokenList('"quoted", 1abc, server'), ['server']);
  assert.deepEqual(parseTokenList(undefined), []);
});

test('SF String: round trip for any printable ASCII; anything else is refused', () => {
  fc.assert(fc.property(fc.stringMatching(/^[\x20-\x7e]*$/), (s) => parseSfString(serializeSfString(s)) === s), { numRuns: 300 });
  assert.equal(parseSfString('"a\\"b";p=1'), 'a"b');
  for (const bad of ['abc', '"open', '"bad\\n"', '"x" y', '"\u00e9"']) assert.equal(parseSfString(bad), undefined, bad);
  assert.throws(() => serializeSfString('\u00e9'), TypeError);
  fc.assert(fc.property(fc.string(), (s) => { parseSfString(s); return true; }), { numRuns: 300 });
});

test('originWithPort always writes the port', () => {
  assert.equal(originWithPort(new URL('https://b.example/')), 'https://b.example:443');
  assert.equal(originWithPort(new URL('https://B.example:8443/x')), 'https://b.example:8443');
});
