import type { Detector } from './detector';
import { type Encoded, encode } from './encoding';
import { permutation, createRng } from './random';
import type { DataRecord } from './schema';

/** Feature orderings averaged per record (in reversed pairs); more = less sampling noise. */
export const DEFAULT_PERMUTATIONS = 8;

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
 */
export function explain(detector: Detector, records: readonly DataRecord[], permutations = DEFAULT_PERMUTATIONS, seed = 0): Explanation[] {
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
  return records.map((_, r) => {
    const batch: Encoded = {
      n: rowsPerRecord,
      numeric: new Float64Array(rowsPerRecord * dn),
      codes: new Int32Array(rowsPerRecord * dd),
      novel: new Uint8Array(rowsPerRecord * d),
    };
    batch.codes.set(usual);
    let row = 1;
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
        batch.numeric.set(numeric, row * dn);
        batch.codes.set(codes, row * dd);
        batch.novel?.set(novel, row * d);
        row++;
      }
    }
    const s = detector.evaluate(batch, path).score;
    const totals = new Float64Array(d);
    row = 1;
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
