import { createRng } from '../../src/nce/random';
import type { DataRecord } from '../../src/nce';

/** n records of d independent standard normal features f0..f{d-1}, from `seed`. */
export function normalRecords(n: number, d: number, seed: number, scale = 1): DataRecord[] {
  const rng = createRng(seed);
  return Array.from({ length: n }, () => {
    const r: Record<string, number> = {};
    for (let j = 0; j < d; j++) r[`f${j}`] = scale * rng.normal();
    return r;
  });
}

/** A random suffix for names a test creates. */
export function suffix(): string {
  return Math.random().toString(36).slice(2, 8);
}
