// The RFC 8941 / RFC 9651 subset RFC 9440 uses: Byte Sequence Items and Lists of them, strict about the
// syntax, lenient only where the RFC asks parsers to be (padding), bounded in size, typed errors only.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fc from 'fast-check';
import { parseBinaryItem, parseBinaryList, serializeBinaryItem, serializeBinaryList } from '../../src/flows/client-cert-field/sf-binary.js';
import { FieldTooLarge, MalformedField } from '../../src/errors.js';
import { returnsOrThrowsTyped } from '../helpers/assert-typed.js';

const bytes = (...b: number[]) => new Uint8Array(b);
const text = (s: string) => new TextEncoder().encode(s);

test('serialization is :base64: with padding; a List joins members with ", "', () => {
  assert.equal(serializeBinaryItem(bytes(1, 2, 3)), ':AQID:');
  assert.equal(serializeBinaryItem(text('hello')), ':aGVsbG8=:');
  assert.equal(serializeBinaryItem(new Uint8Array(0)), '::');
  assert.equal(serializeBinaryList([bytes(1, 2, 3), text('hi')]), ':AQID:, :aGk=:');
  assert.equal(serializeBinaryList([]), '');
  // A view into a larger buffer serializes only its own bytes.
  assert.equal(serializeBinaryItem(new Uint8Array([9, 1, 2, 3, 9]).subarray(1, 4)), ':AQID:');
});

test('an Item parses with surrounding spaces, without padding, and with parameters (dropped)', () => {
  assert.deepEqual(parseBinaryItem(':AQID:'), bytes(1, 2, 3));
  assert.deepEqual(parseBinaryItem('  :aGVsbG8=:  '), text('hello'));
  assert.deepEqual(parseBinaryItem(':aGVsbG8:'), text('hello'), 'padding may be left out');
  assert.deepEqual(parseBinaryItem(':aGVsbG9=:'), text('hello'), 'non-zero pad bits are accepted');
  assert.deepEqual(parseBinaryItem('::'), new Uint8Array(0));
  const withParameters = ':AQID:;a=1;b;c="q\\"\\\\";d=?0;e=tok/x:y;f=:AA==:;g=-1.5;h=@1700000000;i=%"caf%c3%a9";*j=*';
  assert.deepEqual(parseBinaryItem(withParameters), bytes(1, 2, 3));
  assert.deepEqual(parseBinaryItem(':AQID:; a=1'), bytes(1, 2, 3), 'spaces after ";" are allowed');
  assert.deepEqual(parseBinaryItem([':AQID:']), bytes(1, 2, 3), 'one field line as an array');
});

test('an Item that is not exactly one Byte Sequence is refused with MalformedField', () => {
  const bad: Array<[string, RegExp]> = [
    ['', /value is empty/],
    ['AQID', /Token, not a Byte Sequence/],
    ['"AQID"', /String, not a Byte Sequence/],
    ['12', /number, not a Byte Sequence/],
    ['?1', /Boolean/],
    ['@1', /Date/],
    ['(:AQID:)', /Inner List/],
    ['\t:AQID:', /no item/],
    [':AQID', /no closing colon/],
    [':AQ-D:', /not base64/],
    [':AQ ID:', /not base64/],
    [':A:', /impossible length/],
    [':AQ=:', /impossible length/],
    [':AQ==AA:', /misplaced '='/],
    [':AQ===:', /misplaced '='/],
    [':AQID: x', /unexpected "x"/],
    [':AQID:, :AQID:', /unexpected ","/],
    [':AQID:\t', /unexpected "\\t"/],
    [':AQID:;A=1', /parameter key cannot start with "A"/],
    [':AQID:;a=', /parameter value cannot start with the end/],
    [':AQID:;a=1.2345', /more than 3 digits after/],
    [':AQID:;a=1234567890123.5', /more than 12 digits before/],
    [':AQID:;a=1234567890123456', /more than 15 digits/],
    [':AQID:;a=1.', /ends with its point/],
    [':AQID:;a=-', /needs a digit/],
    [':AQID:;a="x', /no closing quote/],
    [':AQID:;a="\\x"', /escapes "x"/],
    [':AQID:;a="é"', /outside printable ASCII/],
    [':AQID:;a=?2', /\?0 or \?1/],
    [':AQID:;a=@1.5', /must be an Integer/],
    [':AQID:;a=%"%C3%A9"', /bad %-escape/],
    [':AQID:;a=%"%ff"', /not UTF-8/],
    [':AQID:;a=%x', /expected '"'/],
  ];
  for (const [input, message] of bad) {
    assert.throws(() => parseBinaryItem(input, { fieldName: 'Client-Cert' }), (e: unknown) => {
      assert.ok(e instanceof MalformedField, `${JSON.stringify(input)} threw ${String(e)}`);
      assert.equal(e.code, 'ERR_MALFORMED_FIELD');
      assert.equal(e.field, 'Client-Cert');
      assert.match(e.message, message, JSON.stringify(input));
      return true;
    });
  }
  // A singleton: two field lines are refused even when each is fine on its own.
  assert.throws(() => parseBinaryItem([':AQID:', ':AQID:']), /one field line, not 2/);
  assert.throws(() => parseBinaryItem([]), /one field line, not 0/);
});

test('every strict prefix of a Byte Sequence fails', () => {
  const encoded = serializeBinaryItem(text('a certificate, say'));
  for (let n = 0; n < encoded.length; n++) {
    assert.throws(() => parseBinaryItem(encoded.slice(0, n)), MalformedField, `prefix ${n}`);
  }
});

test('a List: members with OWS around commas, several field lines, the empty List', () => {
  assert.deepEqual(parseBinaryList(':AQID:, :aGk=:'), [bytes(1, 2, 3), text('hi')]);
  assert.deepEqual(parseBinaryList(':AQID:,:aGk=:'), [bytes(1, 2, 3), text('hi')]);
  assert.deepEqual(parseBinaryList(' :AQID: \t,\t :aGk=:;p=1 '), [bytes(1, 2, 3), text('hi')]);
  assert.deepEqual(parseBinaryList([':AQID:', ':aGk=:, ::']), [bytes(1, 2, 3), text('hi'), new Uint8Array(0)]);
  assert.deepEqual(parseBinaryList(''), []);
  assert.deepEqual(parseBinaryList('   '), []);
  assert.deepEqual(parseBinaryList([]), []);
  for (const [input, message] of [
    [':AQID:,', /ends with a comma/],
    [':AQID:, ', /ends with a comma/],
    [',:AQID:', /member 0 is no item/],
    [':AQID:,,:AQID:', /member 1 is no item/],
    [':AQID: :AQID:', /expected ','/],
    [':AQID:, (:AQID:)', /member 1 is an Inner List/],
    [':AQID:, tok', /member 1 is a Token/],
  ] as const) {
    assert.throws(() => parseBinaryList(input), (e: unknown) => e instanceof MalformedField && message.test(e.message), input);
  }
  // Lines are combined before parsing, so an empty line makes a List with an empty member: refused.
  assert.throws(() => parseBinaryList([':AQID:', '']), MalformedField);
});

test('bounds: field length and List members give FieldTooLarge, the limits themselves pass', () => {
  const item = serializeBinaryItem(new Uint8Array(300)); // 402 characters
  assert.equal(item.length, 402);
  assert.equal(parseBinaryItem(item, { maxLength: 402 }).length, 300);
  assert.throws(() => parseBinaryItem(item, { maxLength: 401, fieldName: 'Client-Cert' }), (e: unknown) => e instanceof FieldTooLarge && e.code === 'ERR_FIELD_TOO_LARGE' && e.field === 'Client-Cert');
  // Combined lines count the ", " between them.
  assert.equal(parseBinaryList([':AA==:', ':AA==:'], { maxLength: 14 }).length, 2);
  assert.throws(() => parseBinaryList([':AA==:', ':AA==:'], { maxLength: 13 }), FieldTooLarge);
  const four = serializeBinaryList([bytes(1), bytes(2), bytes(3), bytes(4)]);
  assert.equal(parseBinaryList(four, { maxMembers: 4 }).length, 4);
  assert.throws(() => parseBinaryList(four, { maxMembers: 3 }), /more than 3 members/);
  assert.equal(parseBinaryList(':AQID:'.repeat(1) + ', :AQID:'.repeat(15)).length, 16, 'default: 16 members');
  assert.throws(() => parseBinaryList(':AQID:' + ', :AQID:'.repeat(16)), FieldTooLarge);
  assert.throws(() => parseBinaryItem(':' + 'A'.repeat(16384) + ':'), FieldTooLarge, 'default: 16384 characters');
  // Misuse of the API is a RangeError/TypeError, not a field error.
  assert.throws(() => parseBinaryItem(':AA==:', { maxLength: -1 }), RangeError);
  assert.throws(() => parseBinaryList(':AA==:', { maxMembers: 1.5 }), RangeError);
  assert.throws(() => serializeBinaryItem('AQID' as unknown as Uint8Array), TypeError);
});

// ---- properties ----

const runs = { numRuns: 300 };
const someBytes = fc.uint8Array({ maxLength: 600 });
// Characters that matter to the grammar, plus a few that do not belong in it at all.
const fieldChar = fc.constantFrom(...':;,=()"\\?@%*-. \tAQIDaz09+/é\u0000'.split(''));

test('property: parse(serialize(bytes)) gives the bytes back, for Items and Lists', () => {
  fc.assert(
    fc.property(someBytes, (b) => {
      assert.deepEqual(parseBinaryItem(serializeBinaryItem(b), { maxLength: 1000 }), b);
    }),
    runs,
  );
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ maxLength: 100 }), { maxLength: 16 }), (list) => {
      assert.deepEqual(parseBinaryList(serializeBinaryList(list)), list);
    }),
    runs,
  );
});

test('property: OWS, split field lines, unpadded base64 and parameters do not change the value', () => {
  const ows = fc.constantFrom('', ' ', '\t', ' \t ');
  const parameter = fc.constantFrom('', ';a', ';a=1', ';b="x,y"', ';c=:AA==:;d=?1', '; e=tok');
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.uint8Array({ maxLength: 60 }), parameter, ows, ows, fc.boolean()), { minLength: 1, maxLength: 8 }), fc.boolean(), (members, split) => {
      const texts = members.map(([b, p, before, after, unpadded]) => {
        const item = serializeBinaryItem(b);
        return `${before}${unpadded ? item.replace(/=/g, '') : item}${p}${after}`;
      });
      // Leading and trailing whitespace of the whole field must be SP only.
      const lines = split ? texts.map((t) => t.trim()) : [texts.join(',').replace(/^[ \t]+|[ \t]+$/g, '')];
      assert.deepEqual(parseBinaryList(lines), members.map(([b]) => b));
    }),
    runs,
  );
});

test('property: any string gives a value or a typed error, never a crash', () => {
  fc.assert(
    fc.property(fc.string({ unit: fieldChar, maxLength: 80 }), (s) => {
      returnsOrThrowsTyped(() => parseBinaryItem(s));
      returnsOrThrowsTyped(() => parseBinaryList(s));
      returnsOrThrowsTyped(() => parseBinaryList([s, s]));
    }),
    runs,
  );
  fc.assert(
    fc.property(fc.string({ maxLength: 80 }), (s) => {
      returnsOrThrowsTyped(() => parseBinaryItem(s));
      returnsOrThrowsTyped(() => parseBinaryList(s));
    }),
    runs,
  );
});

test('property: a valid field with one character changed parses to a value or a typed error', () => {
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ maxLength: 40 }), { minLength: 1, maxLength: 4 }), fc.nat(), fieldChar, (list, at, c) => {
      const field = serializeBinaryList(list) + ';k="v"';
      const i = at % field.length;
      const mutated = field.slice(0, i) + c + field.slice(i + 1);
      returnsOrThrowsTyped(() => parseBinaryList(mutated));
      returnsOrThrowsTyped(() => parseBinaryItem(mutated));
    }),
    runs,
  );
});
