import type { Target } from './oracle.js';

export async function h3ServerTarget(): Promise<Target> {
  throw new Error('not yet');
}
export async function h3ClientTarget(): Promise<Target> {
  throw new Error('not yet');
}
