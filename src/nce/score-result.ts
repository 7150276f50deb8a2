import type { ScoredRows } from './detector';

/**
 * How a result field reads its row's value from the column of the same name in {@link ScoredRows}:
 * `number` as it is; `share` as it is, within [0, 1]; `numberOrNull` null where it is not finite
 * (no density outside a bounded noise); `flag` true where it is 1.
 */
export type ScoreFieldKind = 'number' | 'share' | 'numberOrNull' | 'flag';

/** The per-row columns of {@link ScoredRows}. */
type Column = { [K in keyof ScoredRows]: ScoredRows[K] extends ArrayLike<number> ? K : never }[keyof ScoredRows];

/** One field of a record's result. */
export interface ScoreField {
  name: Column;
  kind: ScoreFieldKind;
  description: string;
}

/**
 * The fields of one record's scoring result, in the order answers give them: the one definition
 * that {@link ScoreResult}, {@link resultsOf}, the API's answer writers (JSON and CSV, also the
 * command line's) and its OpenAPI answer schema are made from. A field added here is a column of
 * {@link ScoredRows} of the same name.
 */
export const SCORE_FIELDS = [
  { name: 'score', kind: 'number', description: 'the OOD score in nats; higher is more like the reference data' },
  { name: 'logRatio', kind: 'number', description: 'log p_data(x) - log q(x): the classifier logit + log nu' },
  { name: 'logDensity', kind: 'numberOrNull', description: 'logRatio + log q(x); null where the noise has no density' },
  { name: 'percentile', kind: 'share', description: 'share of held-out reference records scoring lower' },
  { name: 'ood', kind: 'flag', description: 'score below the calibrated threshold' },
] as const satisfies readonly ScoreField[];

/** A field's value in a result. */
type ValueOf<K extends ScoreFieldKind> = K extends 'flag' ? boolean : K extends 'numberOrNull' ? number | null : number;

/** One record's result: a value per {@link SCORE_FIELDS}, and with `explain` its per-feature contributions. */
export type ScoreResult = { [F in (typeof SCORE_FIELDS)[number] as F['name']]: ValueOf<F['kind']> } & {
  /** Per-feature contributions to score minus the baseline record's score (with `explain`). */
  contributions?: Record<string, number>;
};

/** A field's value from its column's number. */
export function resultValue(kind: ScoreFieldKind, x: number): number | boolean | null {
  if (kind === 'flag') return x === 1;
  if (kind === 'numberOrNull') return Number.isFinite(x) ? x : null;
  return x;
}

/** Each row's result. */
export function resultsOf(rows: ScoredRows): ScoreResult[] {
  const n = rows.score.length;
  const out: ScoreResult[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const r: Record<string, number | boolean | null> = {};
    for (const f of SCORE_FIELDS) r[f.name] = resultValue(f.kind, rows[f.name][i]);
    // Built field by field from SCORE_FIELDS, which the type is made from.
    out[i] = r as unknown as ScoreResult;
  }
  return out;
}
