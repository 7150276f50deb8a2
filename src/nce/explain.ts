import type { Detector } from './detector';
import { type Encoded, encode } from './encoding';
import { permutation, createRng } from './random';
import type { DataRecord } from './schema';

/** Feature orderings averaged per record (in reversed pairs); more = less sampling noise. */
export const DEFAULT_PERMUTATIONS = 8;

/** Numeric values an explanation scores at once: bounds its memory on wide models (8 MB a chunk). */
const EXPLAIN_CHUNK_VALUES = 1 << 20;

/** One record's explanation. */
export interface Explanation {
  /** Feature -> contribution in nats; they sum to `score - baselineScore`. */
  contributions: Record<string, number>;
  /**
   * Score of the baseline record: every numeric at its median, and every discrete field (a
   * category, whether a value is missing) at its most likely value (see `Detector.usualCodes`), so
   * a column empty in every record has a missing baseline, not a value it never had, and a rare id
   * of an "other" bucket is not the baseline of an id column.
   */
  baselineScore: number;
  score: number;
}

/**
 * Per-feature contributions to each record's score by Shapley value sampling: features move from
 * the baseline record to the record's values one at a time in random orders, and each feature is
 * credited the score change its move caused, averaged over orders. Every order telescopes, so the
 * contributions sum exactly (up to float rounding) to score minus the baseline's score.
 * @param permutations - orders per record, used as reversed pairs (default 8)
 * @param seed - fixes the orders, so one record always gets one explanation (default 0)
 * @param chunkValues - numeric values scored at once (default 2^20); the result does not depend on it
 */
export function explain(detector: Detector, records: readonly DataRecord[], permutations = DEFAULT_PERMUTATIONS, seed = 0, chunkValues = EXPLAIN_CHUNK_VALUES): Explanation[] {
  const schema = detector.state.schema;
  const layout = detector.layout;
  const dn = layout.numeric.length;
  const dd = layout.discrete.length;
  const d = schema.length;
  // Which numeric column and discrete fields each feature owns.
  const owns = schema.map((f) => ({
    numeric: layout.numeric.indexOf(f.name),
    discrete: layout.discrete.flatMap((g, j) => (g.feature === f.name ? [j] : [])),
  }));
  const enc = encode(schema, records);
  const pairs = Math.max(1, Math.ceil(permutations / 2));
  const orders: Int32Array[] = [];
  const rng = createRng(seed);
  for (let p = 0; p < pairs; p++) {
    const o = permutation(d, rng);
    orders.push(o, Int32Array.from(o).reverse());
  }
  const usual = detector.usualCodes();
  const rowsPerRecord = 1 + orders.length * d;
  // Each row moves one feature from the row before (its numeric column, or none for a category),
  // except the baseline and each order's first row, taken in full: a Gaussian q then costs O(d) a
  // row, and a record O(d^2) instead of O(d^3) (a 768-feature embedding model: ms, not seconds).
  const path = new Int32Array(rowsPerRecord).fill(-2);
  let at = 1;
  for (const order of orders) {
    for (let k = 0; k < d; k++, at++) if (k > 0) path[at] = owns[order[k]].numeric;
  }
  const chunkRows = Math.min(rowsPerRecord, Math.max(2, Math.floor(chunkValues / Math.max(1, dn))));
  const chunk = {
    numeric: new Float64Array(chunkRows * dn),
    codes: new Int32Array(chunkRows * dd),
    novel: new Uint8Array(chunkRows * d),
  };
  const chunkPath = new Int32Array(chunkRows);
  return records.map((_, r) => {
    const s = new Float64Array(rowsPerRecord);
    let filled = 0;
    let done = 0;
    // Rows are scored a chunk at a time, each chunk's first row taken in full, so a record's
    // memory stays that of a chunk however wide the model (all 1 + 8 d rows of a 2,048-feature
    // model at once: about 270 MB a record).
    const flush = (): void => {
      chunkPath.set(path.subarray(done, done + filled));
      chunkPath[0] = -2;
      const part: Encoded = {
        n: filled,
        numeric: chunk.numeric.subarray(0, filled * dn),
        codes: chunk.codes.subarray(0, filled * dd),
        novel: chunk.novel.subarray(0, filled * d),
      };
      s.set(detector.evaluate(part, chunkPath.subarray(0, filled)).score.subarray(0, filled), done);
      done += filled;
      filled = 0;
    };
    const push = (numeric: Float64Array, codes: Int32Array, novel: Uint8Array): void => {
      chunk.numeric.set(numeric, filled * dn);
      chunk.codes.set(codes, filled * dd);
      chunk.novel.set(novel, filled * d);
      if (++filled === chunkRows) flush();
    };
    push(new Float64Array(dn), usual, new Uint8Array(d));
    for (const order of orders) {
      const numeric = new Float64Array(dn);
      const codes = Int32Array.from(usual);
      // A value training never had moves in with its feature, and with it the score's novelty term.
      const novel = new Uint8Array(d);
      for (const f of order) {
        const o = owns[f];
        if (o.numeric >= 0) numeric[o.numeric] = enc.numeric[r * dn + o.numeric];
        for (const j of o.discrete) codes[j] = enc.codes[r * dd + j];
        novel[f] = enc.novel?.[r * d + f] ?? 0;
        push(numeric, codes, novel);
      }
    }
    if (filled > 0) flush();
    const totals = new Float64Array(d);
    let row = 1;
    for (const order of orders) {
      let prev = s[0];
      for (const f of order) {
        totals[f] += s[row] - prev;
        prev = s[row];
        row++;
      }
    }
    const contributions: Record<string, number> = {};
    schema.forEach((f, i) => (contributions[f.name] = totals[i] / orders.length));
    return { contributions, baselineScore: s[0], score: s[rowsPerRecord - 1] };
  });
}
