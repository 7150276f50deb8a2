/** A seeded pseudo-random source: the only randomness the engine uses, so one seed gives one model. */
export interface Rng {
  /** Uniform on [0, 1). */
  uniform(): number;
  /** Standard normal. */
  normal(): number;
  /** Uniform integer on [0, n). */
  int(n: number): number;
  /** A new 32-bit seed drawn from this stream, for an independent child stream. */
  fork(): Rng;
}

/**
 * Creates a seeded generator (sfc32, seeded through splitmix32).
 * @param seed - any integer; equal seeds give equal streams
 */
export function createRng(seed: number): Rng {
  if (!Number.isFinite(seed)) throw new RangeError(`createRng: seed must be a finite number, got ${seed}`);
  let s = Math.trunc(seed) >>> 0;
  const splitmix = (): number => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
  let a = splitmix();
  let b = splitmix();
  let c = splitmix();
  let d = splitmix();
  const next32 = (): number => {
    const t = (((a + b) >>> 0) + d) >>> 0;
    d = (d + 1) >>> 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) >>> 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) >>> 0;
    return t;
  };
  for (let i = 0; i < 12; i++) next32();
  let spare: number | null = null;
  const rng: Rng = {
    uniform: () => next32() / 4294967296,
    normal: () => {
      if (spare !== null) {
        const v = spare;
        spare = null;
        return v;
      }
      // Box-Muller; 1 - u keeps the logarithm finite.
      const u = 1 - rng.uniform();
      const v = rng.uniform();
      const r = Math.sqrt(-2 * Math.log(u));
      spare = r * Math.sin(2 * Math.PI * v);
      return r * Math.cos(2 * Math.PI * v);
    },
    int: (n: number) => Math.floor(rng.uniform() * n),
    fork: () => createRng(next32()),
  };
  return rng;
}

/** Shuffles `a` in place (Fisher-Yates) and returns it. */
export function shuffle<T extends { length: number; [i: number]: number }>(a: T, rng: Rng): T {
  for (let i = a.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const t = a[i];
    a[i] = a[j];
    a[j] = t;
  }
  return a;
}

/** The integers 0..n-1 in random order. */
export function permutation(n: number, rng: Rng): Int32Array {
  const p = new Int32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  return shuffle(p, rng);
}

/** Draws an index with probability proportional to `weights` (which sum to 1). */
export function pick(weights: ArrayLike<number>, rng: Rng): number {
  let u = rng.uniform();
  for (let c = 0; c < weights.length - 1; c++) {
    u -= weights[c];
    if (u < 0) return c;
  }
  return weights.length - 1;
}
