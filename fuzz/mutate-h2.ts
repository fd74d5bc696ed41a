import type { Rng } from './rng.js';
import type { RawFrame } from './h2-raw.js';

// Mutations of one HTTP/2 frame: each changes one thing a parser must not trust. A frame may get several.

type Mutation = (rng: Rng, f: RawFrame) => RawFrame[];

const withPayload = (f: RawFrame, payload: Uint8Array, note: string): RawFrame => ({ ...f, payload, claimedLength: undefined, mutations: [...f.mutations, note] });
const note = (f: RawFrame, m: string, change: Partial<RawFrame>): RawFrame => ({ ...f, ...change, mutations: [...f.mutations, m] });

const MUTATIONS: [string, number, Mutation][] = [
  ['bitflip', 5, (rng, f) => {
    if (f.payload.length === 0) return [withPayload(f, rng.bytes(1), 'bitflip on empty: 1 random byte')];
    const p = f.payload.slice();
    const n = rng.range(1, 8);
    const at: number[] = [];
    for (let i = 0; i < n; i++) {
      const bit = rng.int(p.length * 8);
      p[bit >> 3]! ^= 1 << (bit & 7);
      at.push(bit);
    }
    return [withPayload(f, p, `bitflip bits ${at.join('/')}`)];
  }],
  ['byte', 3, (rng, f) => {
    if (f.payload.length === 0) return [f];
    const p = f.payload.slice();
    const i = rng.int(p.length);
    p[i] = rng.pick([0x00, 0xff, 0x7f, 0x80, 0x01, 0xfe]);
    return [withPayload(f, p, `byte ${i}=0x${p[i]!.toString(16)}`)];
  }],
  ['truncate', 4, (rng, f) => {
    const n = rng.int(f.payload.length);
    return [withPayload(f, f.payload.subarray(0, n), `truncated to ${n}`)];
  }],
  ['trailing', 3, (rng, f) => {
    const extra = rng.bytes(rng.range(1, 64));
    const p = new Uint8Array(f.payload.length + extra.length);
    p.set(f.payload);
    p.set(extra, f.payload.length);
    return [withPayload(f, p, `${extra.length} trailing bytes`)];
  }],
  ['insert', 2, (rng, f) => {
    const at = rng.int(f.payload.length + 1);
    const extra = rng.bytes(rng.range(1, 16));
    const p = new Uint8Array(f.payload.length + extra.length);
    p.set(f.payload.subarray(0, at));
    p.set(extra, at);
    p.set(f.payload.subarray(at), at + extra.length);
    return [withPayload(f, p, `${extra.length} bytes inserted at ${at}`)];
  }],
  ['length+', 3, (rng, f) => {
    const claim = f.payload.length + rng.range(1, 64);
    return [note(f, `length field +${claim - f.payload.length}`, { claimedLength: claim })];
  }],
  ['length-', 3, (rng, f) => {
    if (f.payload.length === 0) return [f];
    const claim = rng.int(f.payload.length);
    return [note(f, `length field ${claim} of ${f.payload.length}`, { claimedLength: claim })];
  }],
  ['huge', 2, (rng, f) => {
    const claim = rng.pick([16_385, 65_536, 66_561, 1_048_576, 16_777_215, rng.range(16_385, 16_777_215)]);
    return [note(f, `length field ${claim} (oversize claim)`, { claimedLength: claim })];
  }],
  ['type', 2, (rng, f) => {
    const type = rng.chance(0.5) ? rng.int(256) : rng.range(0xf0, 0xff);
    return [note(f, `type 0x${type.toString(16)}`, { type })];
  }],
  ['flags', 3, (rng, f) => {
    const flags = rng.int(256);
    return [note(f, `flags 0x${flags.toString(16)}`, { flags })];
  }],
  ['stream', 3, (rng, f) => {
    const streamId = rng.pick([0, 1, 2, 3, 5, 0x7fffffff, 0x80000000, 0x80000001, rng.u32()]);
    return [note(f, `stream id ${streamId >>> 0}`, { streamId })];
  }],
  ['random-payload', 2, (rng, f) => [withPayload(f, rng.bytes(rng.length(4096)), 'random payload')]],
  ['empty', 1, (_rng, f) => [withPayload(f, new Uint8Array(0), 'empty payload')]],
  ['duplicate', 1, (_rng, f) => [note(f, 'sent twice (1)', {}), note(f, 'sent twice (2)', {})]],
];

const TOTAL = MUTATIONS.reduce((s, [, w]) => s + w, 0);

function pickMutation(rng: Rng): Mutation {
  let r = rng.int(TOTAL);
  for (const [, w, m] of MUTATIONS) {
    if (r < w) return m;
    r -= w;
  }
  return MUTATIONS[0]![2];
}

/** The frame as generated (about one time in four) or with one to three mutations. */
export function mutateH2(rng: Rng, f: RawFrame): RawFrame[] {
  if (rng.chance(0.25)) return [f];
  let frames = [f];
  const n = rng.range(1, 3);
  for (let i = 0; i < n; i++) {
    const k = rng.int(frames.length);
    frames = [...frames.slice(0, k), ...pickMutation(rng)(rng, frames[k]!), ...frames.slice(k + 1)];
  }
  return frames;
}
