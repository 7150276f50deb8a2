import { NceError } from './errors';

/** One feature value: a number, a category name, or null for missing. */
export type FieldValue = number | string | null;

/** A tabular record: feature name -> value. */
export type DataRecord = Readonly<Record<string, FieldValue>>;

/** A numeric feature and its robust scaling, fitted on training data. */
export interface NumericFeature {
  name: string;
  kind: 'numeric';
  /** Median of the training values. */
  center: number;
  /** Robust spread (IQR / 1.349, falling back to MAD, then standard deviation, then 1). */
  scale: number;
  /** Whether training data had missing values (the model then sees a missing indicator). */
  hasMissing: boolean;
}

/** A categorical feature: the known categories, most frequent first. */
export interface CategoricalFeature {
  name: string;
  kind: 'categorical';
  /** Known categories; anything else falls in the "other" bucket. */
  categories: string[];
  hasMissing: boolean;
  /**
   * Whether training values fell in the "other" bucket (more distinct values than are kept, or
   * values seen once where such values are common, see {@link SchemaOptions.unseenShare}): then an
   * unseen category is an ordinary "other"; without, it is a value training never had.
   * Absent in artifacts from before it was recorded: taken as true.
   */
  hasOther?: boolean;
  /**
   * How many distinct training values the "other" bucket holds. log q spreads the bucket's
   * probability evenly over them and one more for values never seen (see the Detector), so a
   * value of the bucket is scored as one value, not at the whole bucket's frequency, which put a
   * rare or new id above a frequent known one. Absent (artifacts from before it was recorded, and
   * features without the bucket): the bucket scores as one category.
   */
  otherValues?: number;
}

/** One feature of the schema. */
export type Feature = NumericFeature | CategoricalFeature;

/** The names of the categorical ones among features (or a dataset's column contracts), in order. */
export function categoricalNames(columns: readonly { name: string; kind: string }[]): string[] {
  return columns.filter((c) => c.kind === 'categorical').map((c) => c.name);
}

/** A decimal number as CSV writers write one: sign, digits, point, exponent; not hex, octal or binary. */
export const DECIMAL_TEXT = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;

/** Any character beyond ASCII: only such texts can have more than one Unicode form. */
const NON_ASCII = /[\u0080-\uffff]/;

/** Whether a name or text may have another Unicode form (it holds a character beyond ASCII): a field of such a name is looked up under its other forms too (see {@link fieldOf}). */
export function hasOtherForms(text: string): boolean {
  return NON_ASCII.test(text);
}

/** A boolean as writers spell it: JSON's and JavaScript's "true", pandas' "True", Excel's "TRUE". */
const BOOLEAN_TEXT = /^(true|false)$/i;

/** Whitespace at either end of a text. */
const PADDED = /^\s|\s$/;

/**
 * A category text in one form, so that spellings of one value are one category: without
 * whitespace at either end (as CSV fields are read: " web" sent as JSON is "web"), Unicode texts in
 * NFC ("Zürich" typed on one system and on another, where the ü is a u and a combining diaeresis
 * as macOS file names have it), and booleans in lower case (a JSON `true` is "true", pandas writes
 * "True" to CSV, Excel "TRUE").
 */
export function canonicalText(v: string): string {
  const t = PADDED.test(v) ? v.trim() : v;
  if (NON_ASCII.test(t)) return t.normalize('NFC');
  return BOOLEAN_TEXT.test(t) ? t.toLowerCase() : t;
}

/**
 * A field or column name in one Unicode form (NFC), so that "Größe" typed on one system and sent
 * from another, where the ö is an o and a combining diaeresis (as macOS writes it), name one
 * column. Unlike category texts, whitespace and case are kept: they are part of a name.
 */
export function canonicalName(name: string): string {
  return NON_ASCII.test(name) ? name.normalize('NFC') : name;
}

/**
 * The value of the field `name` of a record, found under its own key or, when the record has no
 * such key, under a key of another Unicode form of it (see {@link canonicalName}); undefined when
 * neither is there.
 */
export function fieldOf(record: DataRecord, name: string): FieldValue | undefined {
  if (Object.prototype.hasOwnProperty.call(record, name)) return record[name];
  if (!NON_ASCII.test(name)) return undefined;
  const want = name.normalize('NFC');
  for (const key of Object.keys(record)) if (NON_ASCII.test(key) && key.normalize('NFC') === want) return record[key];
  return undefined;
}

/**
 * The index of each category, under its own text, its {@link canonicalText} (a category stored
 * before texts were made canonical, such as "True", is found as "true" too) and, for a category
 * that spells a decimal number, that number's own text: "4.0" is found as "4" (pandas writes a
 * column of integer codes with a missing value as floats, "4.0", while clients send 4), "02134"
 * as "2134". A text is taken under its own spelling first, so categories "4" and "4.0" both kept
 * are two. See {@link categoryCode}.
 */
export function categoryIndex(categories: readonly string[]): Map<string, number> {
  const index = new Map<string, number>();
  const under = (key: string, i: number): void => {
    if (!index.has(key)) index.set(key, i);
  };
  categories.forEach((c, i) => under(c, i));
  categories.forEach((c, i) => under(canonicalText(c), i));
  categories.forEach((c, i) => {
    const number = numberOfText(c);
    if (number !== undefined) under(String(number), i);
  });
  return index;
}

/**
 * The finite number a decimal text spells ("4.0", " 02134", "1e3"), or undefined, also for a text
 * of more significant digits than a double holds exactly (15): two long ids that differ in their
 * last digits are two codes, not one number.
 */
function numberOfText(text: string): number | undefined {
  const t = text.trim();
  if (!DECIMAL_TEXT.test(t)) return undefined;
  const significant = t.replace(/^[+-]/, '').replace(/e.*$/i, '').replace('.', '').replace(/^0+/, '').replace(/0+$/, '');
  if (significant.length > 15) return undefined;
  const n = Number(t);
  return Number.isFinite(n) ? n : undefined;
}

/**
 * The code of a value (a finite number, or a text) among categories indexed by
 * {@link categoryIndex}, or undefined when it is none of them: its text as written, then, for a
 * text, the number it spells (the text "04" is the category "4" or "4.0"), then its canonical
 * form. A number is found by its own text (4 is "4", or "4.0" when only that is a category).
 */
export function categoryCode(index: ReadonlyMap<string, number>, value: string | number): number | undefined {
  const exact = index.get(String(value));
  if (exact !== undefined || typeof value === 'number') return exact;
  const number = numberOfText(value);
  return (number === undefined ? undefined : index.get(String(number))) ?? index.get(canonicalText(value));
}

/** Most categories a categorical feature keeps; rarer ones share the "other" bucket. */
export const MAX_CATEGORIES = 64;

/** How {@link inferSchema} treats categories. */
export interface SchemaOptions {
  /**
   * Where a category field's values seen once are more than this share of its values, values
   * never seen are common there: a new record carries one about that often (the Good-Turing
   * estimate of the unseen mass: the share of records whose value no other record has, as holding
   * each out in turn would find). Such values then pool into the field's "other" category, trained
   * on and scored at that frequency, instead of each being a value training never had, which is
   * always flagged: a 60-row reference with 30 countries would otherwise flag about a third of
   * clean records. Unset: no pooling (every value seen is a category).
   */
  unseenShare?: number;
}

/**
 * Infers the feature schema from records and fits the preprocessing on them: a feature is numeric
 * when every present value is a number, categorical when any value is a string.
 * @param records - training records; every record must carry the same keys
 * @param columns - feature names in order (default: the keys of the first record)
 */
export function inferSchema(records: readonly DataRecord[], columns?: readonly string[], options: SchemaOptions = {}): Feature[] {
  if (records.length === 0) throw new NceError('INSUFFICIENT_DATA', 'inferSchema: no records to learn a schema from');
  const names = columns ?? Object.keys(records[0]);
  if (names.length === 0) throw new NceError('INSUFFICIENT_DATA', 'inferSchema: records have no fields');
  const inferred = names.map((name) => inferFeature(records, name, options));
  const share = options.unseenShare;
  if (share !== undefined) {
    // A record carries a value never seen in any of the fields that keep them about as often as
    // the sum of their shares: nine fields of 1% each flag 9% of clean records, each field alone
    // below the share. Pooled from the field where they are commonest on, until the rest are not.
    const open = inferred.map((f, j) => ({ j, novelty: f.novelty })).filter((f) => f.novelty > 0);
    let total = open.reduce((sum, f) => sum + f.novelty, 0);
    for (const { j, novelty } of open.sort((a, b) => b.novelty - a.novelty || a.j - b.j)) {
      if (total <= share) break;
      inferred[j] = inferFeature(records, names[j], options, true);
      total -= novelty;
    }
  }
  return inferred.map((f) => f.feature);
}

/**
 * One feature's schema, and its novelty: the share of its present values seen once (the
 * Good-Turing estimate of how often a new record's value there is one never seen), for a category
 * field that keeps such values apart (0 otherwise). `pool` pools them into "other" whatever their share.
 */
function inferFeature(records: readonly DataRecord[], name: string, options: SchemaOptions, pool = false): { feature: Feature; novelty: number } {
  const numbers: number[] = [];
  const counts = new Map<string, number>();
  let hasString = false;
  let missing = 0;
  for (let i = 0; i < records.length; i++) {
    if (!Object.prototype.hasOwnProperty.call(records[i], name)) {
      throw new NceError('INVALID_RECORD', `record ${i} has no field "${name}"`, { record: i, field: name });
    }
    const v = records[i][name];
    if (v === null) {
      missing++;
    } else if (typeof v === 'number') {
      if (!Number.isFinite(v)) {
        throw new NceError('INVALID_RECORD', `record ${i} field "${name}" is not a finite number`, { record: i, field: name });
      }
      numbers.push(v);
    } else if (typeof v === 'string') {
      hasString = true;
      const text = canonicalText(v);
      counts.set(text, (counts.get(text) ?? 0) + 1);
    } else {
      throw new NceError('INVALID_RECORD', `record ${i} field "${name}" must be a number, a string or null`, { record: i, field: name });
    }
  }
  const hasMissing = missing > 0;
  if (missing === records.length) {
    // Empty in every record: no value was ever seen there, so any value is one never seen (as a
    // category never seen is), not a number placed against a scale no record gave.
    return { feature: { name, kind: 'categorical', categories: [], hasMissing, hasOther: false }, novelty: 0 };
  }
  if (hasString) {
    // Numbers among texts are categories too, counted by their text (only here: a numeric
    // column's hundreds of thousands of values are never turned into texts).
    for (const v of numbers) counts.set(String(v), (counts.get(String(v)) ?? 0) + 1);
    let singletons = 0;
    for (const c of counts.values()) if (c === 1) singletons++;
    const pooled = pool || (options.unseenShare !== undefined && singletons > options.unseenShare * (records.length - missing));
    const categories = [...counts.entries()]
      .filter(([, c]) => !pooled || c > 1)
      .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
      .slice(0, MAX_CATEGORIES)
      .map(([c]) => c);
    const hasOther = pooled || counts.size > MAX_CATEGORIES;
    return {
      feature: { name, kind: 'categorical', categories, hasMissing, hasOther, ...(hasOther ? { otherValues: counts.size - categories.length } : {}) },
      novelty: hasOther ? 0 : singletons / (records.length - missing),
    };
  }
  const { center, scale } = robustScale(Float64Array.from(numbers));
  if (!Number.isFinite(center) || !Number.isFinite(scale)) {
    // Finite values whose differences are not (±1.7e308 apart): no scale can be taken of them.
    let at = 0;
    for (let i = 1; i < records.length; i++) if (Math.abs(Number(records[i][name]) || 0) > Math.abs(Number(records[at][name]) || 0)) at = i;
    throw new NceError('INVALID_RECORD', `field "${name}" cannot be scaled: its values lie further apart than the largest number (record ${at} holds ${String(records[at][name])}); rescale the column (for instance divide it by a power of ten) or leave it out with exclude`, { record: at, field: name });
  }
  return { feature: { name, kind: 'numeric', center, scale, hasMissing }, novelty: 0 };
}

/**
 * Median and a robust spread of `values`, so that a few extreme reference values cannot wreck the
 * scaling the way they wreck a mean and standard deviation.
 */
export function robustScale(values: Float64Array): { center: number; scale: number } {
  if (values.length === 0) return { center: 0, scale: 1 };
  const s = Float64Array.from(values).sort();
  const center = quantileSorted(s, 0.5);
  const iqr = quantileSorted(s, 0.75) - quantileSorted(s, 0.25);
  if (iqr > 0) return { center, scale: iqr / 1.349 };
  const dev = s.map((v) => Math.abs(v - center)).sort();
  const mad = quantileSorted(dev, 0.5) * 1.4826;
  if (mad > 0) return { center, scale: mad };
  let m = 0;
  for (const v of s) m += v;
  m /= s.length;
  let v2 = 0;
  for (const v of s) v2 += (v - m) * (v - m);
  const sd = Math.sqrt(v2 / s.length);
  return { center, scale: sd > 0 ? sd : 1 };
}

/** Linear-interpolated quantile of sorted values, q in [0, 1]. */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  const pos = (n - 1) * Math.min(1, Math.max(0, q));
  const lo = Math.floor(pos);
  const hi = Math.min(n - 1, lo + 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/**
 * Copies the fields `names` of a record into `into`, in order (undefined where a field is absent),
 * a field under another Unicode form of its name included (see {@link fieldOf}).
 */
export type FieldReader = (record: DataRecord, into: (FieldValue | undefined)[]) => void;

/**
 * A {@link FieldReader} compiled for `names`: each field is read at its own property access, which
 * V8 resolves once for records of one shape, where `record[name]` with a changing `name` at one site
 * is a generic lookup every time (measured on Node 20: 9 fields of 1,000 records in 7 us against
 * 146 us). The names enter the code as JSON string literals, so any name is read as itself. It
 * compiles code at run time: a Node started with --disallow-code-generation-from-strings cannot
 * encode records (none of the project's entry points or images sets it).
 */
export function fieldReader(names: readonly string[]): FieldReader {
  // A name beyond ASCII may come in another Unicode form: looked up so only when it is not there.
  const body = names
    .map((name, j) => `into[${j}] = record[${JSON.stringify(name)}];${NON_ASCII.test(name) ? ` if (into[${j}] === undefined) into[${j}] = fieldOf(record, ${JSON.stringify(name)});` : ''}`)
    .join('\n');
  return (new Function('fieldOf', `return function read(record, into) {\n${body}\n};`) as (lookup: typeof fieldOf) => FieldReader)(fieldOf);
}
