import { distance } from 'fastest-levenshtein';
import { isFormattedNumber, isJsonNumberText } from './data-checks';
import { NceError } from './errors';
import { float32, float64, int32 } from './arrays';
import { categoryCode, categoryIndex, type DataRecord, type Feature, fieldOf, type FieldReader, type FieldValue, fieldReader } from './schema';

/**
 * Records in the model's space. Numeric features are robust-scaled (missing -> 0, the median);
 * every discrete field (a missing indicator of a numeric feature, or a categorical feature) is an
 * integer code.
 */
export interface Encoded {
  n: number;
  /** n x numericCount, row-major. */
  numeric: Float64Array;
  /** n x discrete fields, row-major. */
  codes: Int32Array;
  /**
   * n x features (schema order), 1 where the record has a value training never had: a null in a
   * feature that was never missing, or a category outside those seen in a feature whose training
   * values all were among them. Absent: none (training rows, noise).
   */
  novel?: Uint8Array;
}

/** A discrete field of the encoding: which feature it comes from and how many codes it has. */
export interface DiscreteField {
  feature: string;
  /** `missing` codes 0 = present, 1 = missing; `categorical` codes are category indices. */
  role: 'missing' | 'categorical';
  size: number;
  /** For a numeric feature's missing indicator: its numeric column. */
  numericIndex?: number;
}

/** The layout of the encoding, derived from the schema. */
export interface Layout {
  numeric: string[];
  discrete: DiscreteField[];
  /** Width of the network input: numeric columns + one column per missing flag + one-hot widths. */
  inputWidth: number;
}

/** Codes of a categorical feature with K known categories: 0..K-1 known, K other/unseen, K+1 missing. */
export function categoricalSize(k: number): number {
  return k + 2;
}

/** Derives the encoding layout from a fitted schema. */
export function layoutOf(schema: readonly Feature[]): Layout {
  const numeric: string[] = [];
  const discrete: DiscreteField[] = [];
  for (const f of schema) {
    if (f.kind === 'numeric') {
      numeric.push(f.name);
      if (f.hasMissing) discrete.push({ feature: f.name, role: 'missing', size: 2, numericIndex: numeric.length - 1 });
    } else {
      discrete.push({ feature: f.name, role: 'categorical', size: categoricalSize(f.categories.length) });
    }
  }
  let inputWidth = numeric.length;
  for (const f of discrete) inputWidth += f.role === 'missing' ? 1 : f.size;
  return { numeric, discrete, inputWidth };
}

/**
 * Encodes records with a fitted schema. A wrong type or non-finite number is an INVALID_RECORD
 * error naming the record and field; null is a missing value; an unseen category is "other".
 * @param offset - added to record indices in error messages (for batches that are slices)
 */
export function encode(schema: readonly Feature[], records: readonly DataRecord[], offset = 0): Encoded {
  return encoderFor(schema)(records, offset);
}

/** {@link encode} for one schema, with its layout, field reader and category lookups built once (a served model scores many batches). */
export function encoderFor(schema: readonly Feature[]): (records: readonly DataRecord[], offset?: number) => Encoded {
  const layout = layoutOf(schema);
  const plan: EncodingPlan = {
    schema,
    dn: layout.numeric.length,
    dd: layout.discrete.length,
    read: fieldReader(schema.map((f) => f.name)),
    lookups: schema.map((f) => (f.kind === 'categorical' ? categoryIndex(f.categories) : null)),
    center: Float64Array.from(schema, (f) => (f.kind === 'numeric' ? f.center : 0)),
    scale: Float64Array.from(schema, (f) => (f.kind === 'numeric' ? f.scale : 1)),
    role: Uint8Array.from(schema, (f) => (f.kind === 'categorical' ? CATEGORICAL : f.hasMissing ? NUMERIC_WITH_MISSING : NUMERIC)),
    novelNull: Uint8Array.from(schema, (f) => (f.hasMissing ? 0 : 1)),
    novelOther: Uint8Array.from(schema, (f) => (f.kind === 'categorical' && f.hasOther === false ? 1 : 0)),
  };
  return (records, offset = 0) => encodeWith(plan, records, offset);
}

/** What encoding with one schema needs, built once. */
interface EncodingPlan {
  schema: readonly Feature[];
  /** Numeric columns and discrete fields of the encoding. */
  dn: number;
  dd: number;
  read: FieldReader;
  lookups: readonly (Map<string, number> | null)[];
  /** Per feature, what the loop reads of it, unpacked from the schema's objects: their two shapes make every read of them polymorphic. */
  center: Float64Array;
  scale: Float64Array;
  role: Uint8Array;
  /** Per feature, 1 where a null, or an unseen category, is a value training never had. */
  novelNull: Uint8Array;
  novelOther: Uint8Array;
}

const NUMERIC = 0;
const NUMERIC_WITH_MISSING = 1;
const CATEGORICAL = 2;

function encodeWith(plan: EncodingPlan, records: readonly DataRecord[], offset: number): Encoded {
  const { schema, dn, dd, read, lookups, center, scale, role, novelNull, novelOther } = plan;
  const n = records.length;
  const d = schema.length;
  const numeric = float64(n * dn);
  const codes = int32(n * dd);
  const novel = new Uint8Array(n * d);
  const values: (FieldValue | undefined)[] = new Array(d);
  // Record by record, each read by the schema's compiled reader; the first bad field, in record
  // order, is found by checkRecords.
  for (let i = 0; i < n; i++) {
    const r = records[i];
    if (r === null || typeof r !== 'object' || Array.isArray(r)) checkRecords(schema, records, offset);
    read(r, values);
    let ni = i * dn;
    let di = i * dd;
    for (let j = 0; j < d; j++) {
      // A number, string or null is the record's own: Object.prototype holds none of them.
      const v = values[j];
      const kind = role[j];
      if (kind !== CATEGORICAL) {
        if (typeof v === 'number' && Number.isFinite(v)) {
          numeric[ni] = clampScaled((v - center[j]) / scale[j]);
        } else if (v === null) {
          numeric[ni] = 0;
          if (kind === NUMERIC_WITH_MISSING) codes[di] = 1;
          novel[i * d + j] = novelNull[j];
        } else {
          checkRecords(schema, records, offset);
        }
        ni++;
        if (kind === NUMERIC_WITH_MISSING) di++;
      } else {
        const k = (schema[j] as Extract<Feature, { kind: 'categorical' }>).categories.length;
        if (typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v))) {
          const lookup = lookups[j];
          const code = lookup ? categoryCode(lookup, v) : undefined;
          codes[di] = code ?? k;
          if (code === undefined) novel[i * d + j] = novelOther[j];
        } else if (v === null) {
          codes[di] = k + 1;
          novel[i * d + j] = novelNull[j];
        } else {
          checkRecords(schema, records, offset);
        }
        di++;
      }
    }
  }
  return { n, numeric, codes, novel };
}

/** A value that is not a number, as an error message names it: a text quoted (shortened past 40 characters), else its type. */
function gotValue(v: unknown): string {
  if (typeof v !== 'string') return v === undefined ? 'undefined' : typeof v;
  // A JSON boolean is read as the category "true" or "false": the client may have sent one.
  const boolean = /^(true|false)$/i.test(v) ? ', as a JSON boolean is read' : '';
  // "38.5" in JSON: a number sent as a string (a CSV body reads it as the number).
  const hint = isJsonNumberText(v)
    ? `: send numbers as JSON numbers${v.length > 40 ? '' : ` (${v.trim()}, not "${v}")`}`
    : isFormattedNumber(v)
      ? ': a number written with formatting (thousands separators, a decimal comma, a currency or per cent sign); send plain numbers'
      : '';
  return `the text ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}${boolean}${hint}`;
}

/**
 * What a record that lacks `name` sent instead, if it looks meant for it: a key no feature has
 * that equals `name` but for case, or is within two edits of it. Field names match exactly.
 */
function misspelt(record: DataRecord, name: string, schema: readonly Feature[]): string {
  const known = new Set(schema.map((f) => f.name));
  const near = Object.keys(record).filter((k) => !known.has(k) && (k.toLowerCase() === name.toLowerCase() || (name.length > 3 && distance(k, name) <= 2)));
  return near.length > 0 ? ` (it has "${near[0]}": field names must match the model's exactly, case included)` : '';
}

/**
 * Throws the INVALID_RECORD error of the first record (not an object, or then its first field)
 * that cannot be encoded.
 * @throws NceError always (it is only called once a bad field has been seen)
 */
function checkRecords(schema: readonly Feature[], records: readonly DataRecord[], offset: number): never {
  for (let i = 0; i < records.length; i++) {
    const r = records[i];
    if (r === null || typeof r !== 'object' || Array.isArray(r)) throw new NceError('INVALID_RECORD', `record ${i + offset} must be an object`, { record: i + offset });
    for (const f of schema) {
      const at = { record: i + offset, field: f.name };
      const v = fieldOf(r, f.name);
      if (v === undefined) throw new NceError('INVALID_RECORD', `record ${i + offset} is missing field "${f.name}"${misspelt(r, f.name, schema)}`, at);
      if (v === null || (typeof v === 'number' && Number.isFinite(v))) continue;
      if (f.kind === 'numeric') {
        const what = typeof v === 'number' ? 'a finite number' : `a number (got ${gotValue(v)})`;
        throw new NceError('INVALID_RECORD', `record ${i + offset} field "${f.name}" must be ${what}`, at);
      }
      if (typeof v !== 'string') throw new NceError('INVALID_RECORD', `record ${i + offset} field "${f.name}" must be a string, a finite number or null`, at);
    }
  }
  throw new Error('checkRecords found no bad field');
}

/**
 * The network input for encoded rows: numeric columns, then per discrete field either the missing
 * flag or a one-hot block.
 */
export function networkInput(layout: Layout, e: Encoded): Float32Array {
  const dn = layout.numeric.length;
  const dd = layout.discrete.length;
  const w = layout.inputWidth;
  const out = float32(e.n * w);
  for (let i = 0; i < e.n; i++) {
    const o = i * w;
    for (let j = 0; j < dn; j++) out[o + j] = e.numeric[i * dn + j];
    let c = o + dn;
    for (let j = 0; j < dd; j++) {
      const f = layout.discrete[j];
      const code = e.codes[i * dd + j];
      if (f.role === 'missing') {
        out[c] = code;
        c += 1;
      } else {
        out[c + code] = 1;
        c += f.size;
      }
    }
  }
  return out;
}

/** Rows `idx` of an encoding. */
export function takeEncoded(e: Encoded, idx: ArrayLike<number>, layout: Layout): Encoded {
  const dn = layout.numeric.length;
  const dd = layout.discrete.length;
  const numeric = new Float64Array(idx.length * dn);
  const codes = new Int32Array(idx.length * dd);
  for (let i = 0; i < idx.length; i++) {
    const r = idx[i];
    numeric.set(e.numeric.subarray(r * dn, (r + 1) * dn), i * dn);
    codes.set(e.codes.subarray(r * dd, (r + 1) * dd), i * dd);
  }
  return { n: idx.length, numeric, codes };
}

/** Concatenates encodings row-wise. */
export function concatEncoded(parts: readonly Encoded[]): Encoded {
  let n = 0;
  let nl = 0;
  let cl = 0;
  for (const p of parts) {
    n += p.n;
    nl += p.numeric.length;
    cl += p.codes.length;
  }
  const numeric = new Float64Array(nl);
  const codes = new Int32Array(cl);
  let a = 0;
  let b = 0;
  for (const p of parts) {
    numeric.set(p.numeric, a);
    codes.set(p.codes, b);
    a += p.numeric.length;
    b += p.codes.length;
  }
  return { n, numeric, codes };
}

/**
 * Largest scaled value, in robust scales from the median. Farther out every record is equally, and
 * maximally, out of distribution; clamping keeps the float32 network and log q finite for any
 * finite input (1e300 would overflow to Infinity, then NaN).
 */
export const MAX_SCALED = 1e4;

function clampScaled(x: number): number {
  return x > MAX_SCALED ? MAX_SCALED : x < -MAX_SCALED ? -MAX_SCALED : x;
}
