import assert from 'node:assert/strict';
import { SecondaryCertsError } from '../../src/errors.js';

/** Runs fn; it may return, or throw a SecondaryCertsError. Anything else (TypeError, RangeError...) fails. */
export function returnsOrThrowsTyped(fn: () => unknown): void {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof SecondaryCertsError)) assert.fail(`threw an untyped error: ${e instanceof Error ? e.stack : String(e)}`);
  }
}

/** Every strict prefix of `bytes` must make `parse` throw a SecondaryCertsError. */
export function everyPrefixFails(bytes: Uint8Array, parse: (b: Uint8Array) => unknown): void {
  for (let n = 0; n < bytes.length; n++) {
    assert.throws(() => parse(bytes.subarray(0, n)), SecondaryCertsError, `prefix of ${n}/${bytes.length} bytes parsed`);
  }
}
