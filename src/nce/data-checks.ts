import { type DataRecord, DECIMAL_TEXT, type Feature } from './schema';

/**
 * Texts that spreadsheets, exporters and people write for a value that is missing ("n/a", "NA",
 * "null", "-", "?", an empty string), compared trimmed and in lower case.
 */
const MISSING_MARKERS = new Set(['', 'na', 'n/a', 'n.a.', '#n/a', 'null', 'none', 'nil', 'missing', 'unknown', 'undefined', '-', '--', '?', '.']);

/** Whether a text is a common way of writing a missing value (see {@link MISSING_MARKERS}). */
export function isMissingMarker(text: string): boolean {
  return MISSING_MARKERS.has(text.trim().toLowerCase());
}

/**
 * The first text of a column whose only texts mark a missing value ("n/a", "NA", "-"), with how
 * many values are numbers, how many such texts and how many distinct ones; null for a column with
 * any other text, or none. Read as categories, such a column's numbers would be unrelated labels,
 * and a model of it could not tell an extreme value from a usual one; one with no numbers yet is a
 * column of missing values, to which numbers appended later would be categories too.
 */
export function missingMarkers(values: readonly unknown[]): { first: number; numbers: number; markers: number; distinct: number } | null {
  let numbers = 0;
  let markers = 0;
  let first = -1;
  const seen = new Set<string>();
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (typeof v === 'number') numbers++;
    else if (typeof v === 'string') {
      if (!isMissingMarker(v)) return null;
      markers++;
      seen.add(v);
      if (first < 0) first = i;
    }
  }
  return markers > 0 ? { first, numbers, markers, distinct: seen.size } : null;
}

/** Fewest records from which a column's order or range can say it is an identifier. */
const MIN_ROWS = 20;

/**
 * What in training data will make a model flag new records for a reason the user did not mean,
 * one sentence per column, for the training summary:
 * - a numeric column that rises (or falls) with every row, or whose values are every integer of
 *   one range once each: a row number, an id or a timestamp. New records lie beyond its training
 *   range and read as out of distribution whatever else they hold;
 * - a column with one value only, or empty in every record (several: one sentence each): it
 *   carries nothing, and a new record with any other value reads as out of distribution;
 * - a text column with a different value in every record: an id or free text, which says nothing
 *   of a new record (and a file of another separator read as one column looks so);
 * - a column of numbers with missing values written as text ("n/a"), read as categories (see
 *   {@link missingMarkers}); a dataset's contract refuses it, a file given to the
 *   command line's eval does not.
 * - a column named as a label usually is (`label`, `class`, `target`, `is_anomaly` ...) and holding
 *   at most {@link LABEL_MAX_VALUES} distinct values, as classes or a flag do: a label among the
 *   features is learnt as one, and every record scored must carry it.
 * Nothing is changed: the user decides, with `exclude`.
 */
export function dataWarnings(records: readonly DataRecord[], schema: readonly Feature[]): string[] {
  if (records.length < MIN_ROWS) return [];
  const warnings: string[] = [];
  for (const f of schema) {
    // A label holds a few classes or a flag; a coordinate named y, or a measured target, many values.
    if (LABEL_NAMES.test(f.name) && fewValues(records, f.name)) {
      warnings.push(`column "${f.name}" is named like the records' label: it is a feature of this model, learnt with the others, and every record scored must carry it; if it labels the records (known anomalies, classes), leave it out with exclude (the command line leaves a column named label out by default)`);
    }
  }
  const constant: string[] = [];
  const empty: string[] = [];
  const writtenMissing = new Map<string, MarkedColumn>();
  for (const f of schema) {
    const values = records.map((r) => r[f.name]);
    if (values.every((v) => v === null || v === undefined)) {
      empty.push(f.name);
      continue;
    }
    const marked = f.kind === 'numeric' ? null : missingMarkers(values);
    if (marked && marked.numbers > 0) {
      const text = values[marked.first] as string;
      warnings.push(`column "${f.name}" is numbers but for ${JSON.stringify(text)}${marked.distinct > 1 ? ' and the like' : ''} in ${marked.markers} of ${values.length} records, so it is read as categories: the model takes its numbers for unrelated labels and cannot flag an extreme value there; write a missing value as an empty cell (JSON null)`);
      continue;
    }
    const present = values.filter((v) => v !== null && v !== undefined);
    if (present.length <= SPARSE_SHARE * values.length) {
      warnings.push(`column "${f.name}" is empty in ${values.length - present.length} of ${values.length} records: its few values say little, and a new record with a value there may be flagged for it alone; leave it out with exclude unless that is meant`);
      continue;
    }
    const looks = f.kind === 'numeric' ? null : misreadText(f.name, present);
    if (typeof looks === 'string') warnings.push(looks);
    else if (looks) writtenMissing.set(f.name, looks);
    if (looks) continue;
    if (present.length < values.length) continue;
    if (values.every((v) => v === values[0])) {
      constant.push(f.name);
      continue;
    }
    if (f.kind !== 'numeric') {
      if (new Set(values).size === values.length) {
        warnings.push(`column "${f.name}" holds a different text in every record, like an id or free text: its values say nothing of a new record's, and a model of it alone flags nothing; leave it out with exclude unless that is meant (a CSV file separated by another character than commas reads as one such column)`);
      }
      continue;
    }
    const numbers = values as number[];
    const range = enumerated(numbers);
    const like = monotonic(numbers) ? `${numbers[1] > numbers[0] ? 'rises' : 'falls'} with every record, like a row number, an id or a timestamp` : range ? `holds every integer from ${range.min} to ${range.max} once, like a row number or an id` : null;
    if (like) warnings.push(`column "${f.name}" ${like}: new records will lie beyond its training range and be flagged for it alone; leave it out with exclude unless that is meant`);
  }
  warnings.push(...markedWarnings(writtenMissing));
  if (constant.length > 0) {
    warnings.push(`${constant.length === 1 ? `column ${named(constant)} has` : `columns ${named(constant)} have`} one value in every record: a new record with another value there will be flagged for it alone; leave ${constant.length === 1 ? 'it' : 'them'} out with exclude unless that is meant`);
  }
  if (empty.length > 0) {
    warnings.push(`${empty.length === 1 ? `column ${named(empty)} is` : `columns ${named(empty)} are`} empty in every record: a new record with any value there will be flagged for it alone; leave ${empty.length === 1 ? 'it' : 'them'} out with exclude unless that is meant`);
  }
  return warnings;
}

/** Most distinct values a column named like a label holds for the label warning: classes or a flag, not a measurement. */
const LABEL_MAX_VALUES = 20;

/** Whether the records hold at most {@link LABEL_MAX_VALUES} distinct values in the field `name`. */
function fewValues(records: readonly DataRecord[], name: string): boolean {
  const seen = new Set<unknown>();
  for (const r of records) {
    const v = r[name];
    if (v === null || v === undefined) continue;
    seen.add(v);
    if (seen.size > LABEL_MAX_VALUES) return false;
  }
  return true;
}

/** Names a column of labels usually has, whatever their case. */
const LABEL_NAMES = /^(labels?|class|target|y|outlier|anomaly|is_?anomaly|is_?outlier|ground_?truth|is_?fraud)$/i;

/** Largest share of records with a value at which a column counts as almost empty. */
const SPARSE_SHARE = 0.05;

/** Most distinct integers a column of codes holds beside its texts (floors, grades, classes). */
const MAX_CODES = 50;

/** Share of a column's texts that must look alike (dates, formatted numbers) for it to be said so. */
const LOOKS_SHARE = 0.8;

/** ISO dates and times ("2023-01-05", "2023-01-05T10:00:00Z") and day/month/year ones ("01/05/2023", "5.1.23 10:00"). */
const DATE = /^(\d{4}-\d{1,2}-\d{1,2}([T ]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?\s?(Z|[+-]\d{2}:?\d{2})?)?|\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}([ T]\d{1,2}:\d{2}(:\d{2})?)?)$/;

/** Numbers written with thousands separators, a decimal comma, a currency sign or a per cent sign ("53,360", "33,6", "$178.15", "40%"). */
const FORMATTED_NUMBER = /^[-+]?\s*[$€£¥]?\s*[-+]?(\d{1,3}([,. '\u00a0]\d{3})+|\d+)([.,]\d+)?\s*(%|[$€£¥]|EUR|USD)?$/i;

/** A currency or per cent sign in a number's text. */
const CURRENCY_OR_PERCENT = /[$€£¥%]|EUR|USD/i;

/** The value of an integer written in thousands groups ("1,575", "12 000 000"), else null. */
function groupedValue(text: string): number | null {
  const m = /^([-+]?\d{1,3})((?:[,. '\u00a0]\d{3})+)$/.exec(text.trim());
  return m ? Number(m[1] + m[2].replace(/[^\d]/g, '')) : null;
}

/**
 * Whether a text is a finite number as JSON writes it ("12", "-0.5", "1e3"; spaces around it
 * aside): only then can "send it as a JSON number" be followed. Number() reads more ("0x10",
 * "0b101", "Infinity", "+5", ".5"), none of which JSON allows; and a CSV field that is a decimal
 * number was read as one, so only a JSON or NDJSON body can hold such a text.
 */
export function isJsonNumberText(v: string): boolean {
  const t = v.trim();
  return /^-?(0|[1-9]\d*)(\.\d+)?(e[+-]?\d+)?$/i.test(t) && Number.isFinite(Number(t));
}

/** Whether a text is a number written with formatting (see {@link FORMATTED_NUMBER}), not a plain decimal one. */
export function isFormattedNumber(text: string): boolean {
  const t = text.trim();
  return FORMATTED_NUMBER.test(t) && !DECIMAL_TEXT.test(t);
}

/**
 * Why a categorical column's texts are likely misread, as a warning, or null: dates, numbers
 * written with formatting, numbers mixed with other texts, or a way of writing a missing value
 * kept as a category. Read as categories, none of them can be flagged for an extreme value: a
 * date or an amount never seen scores as an ordinary rare label.
 */
function misreadText(name: string, present: readonly unknown[]): string | MarkedColumn | null {
  const texts = present.filter((v): v is string => typeof v === 'string').map((t) => t.trim());
  const measured = present.filter((v): v is number => typeof v === 'number');
  const numbers = measured.length;
  const example = (match: (t: string) => boolean): string => JSON.stringify(texts.find(match));
  if (texts.length > 0 && numbers === 0) {
    const dates = texts.filter((t) => DATE.test(t)).length;
    if (dates >= LOOKS_SHARE * texts.length) {
      return `column "${name}" holds dates (${example((t) => DATE.test(t))}), read as categories: a date never seen scores as an ordinary rare value, so a record of another year is not flagged for it; leave it out with exclude, or send what matters of it as numbers (an age in days, a day of the week)`;
    }
  }
  const other = texts.filter((t) => !isMissingMarker(t));
  const some = [...new Set(other)].slice(0, 3).map((t) => JSON.stringify(t)).join(', ');
  // Measurements (fractions, or many distinct values) with texts among them; a few integer codes
  // with a text code among them ("G" for a ground floor) are categories as they are.
  const measurements = measured.some((x) => !Number.isInteger(x)) || new Set(measured).size > MAX_CODES;
  // Numbers written with formatting: alone; or beside plain ones that are measurements, or that
  // the formatted ones outgrow (the larger amounts with thousands separators, "1,575" beside 735,
  // however many of each), or that they carry a currency or per cent sign for. Not "1,2" beside
  // codes 1 to 3 (a multiple choice), nor "02 134" beside zip codes written plain.
  const largest = measured.reduce((a, b) => Math.max(a, b), -Infinity);
  const formattedAmounts = (t: string): boolean => CURRENCY_OR_PERCENT.test(t) || (groupedValue(t) ?? -Infinity) > largest;
  if (other.length > 0 && other.filter(isFormattedNumber).length >= LOOKS_SHARE * other.length && (numbers === 0 || measurements || other.some(formattedAmounts))) {
    return numbers === 0
      ? `column "${name}" holds numbers written with formatting (${example(isFormattedNumber)}: thousands separators, a decimal comma, a currency or per cent sign), read as categories: an extreme amount scores as an ordinary rare label and is not flagged; send plain numbers (a decimal point, nothing else)`
      : `column "${name}" is plain numbers in ${numbers} of its ${present.length} values and numbers written with formatting in the rest (${some}: thousands separators, a decimal comma, a currency or per cent sign), so it is read as categories: the model takes its numbers for unrelated labels and cannot flag an extreme value there; send plain numbers (a decimal point, nothing else)`;
  }
  if (numbers >= 0.5 * present.length && other.length > 0 && measurements) {
    return `column "${name}" is numbers in ${numbers} of its ${present.length} values and text in the rest (${some}), so it is read as categories: the model takes its numbers for unrelated labels and cannot flag an extreme value there; write missing values as empty cells (JSON null) and keep texts out of a numeric column`;
  }
  const markers = texts.filter(isMissingMarker);
  // A marker at least as common as every other value is the column's own category ("none" of
  // none, untreated and resistant), not a stand-in for a value someone left out.
  const counts = new Map<string, number>();
  for (const t of texts) counts.set(t, (counts.get(t) ?? 0) + 1);
  const commonest = Math.max(0, ...[...counts].filter(([t]) => !isMissingMarker(t)).map(([, c]) => c));
  const ownCategory = markers.length > 0 && [...counts].some(([t, c]) => isMissingMarker(t) && c >= commonest);
  if (markers.length > 0 && numbers === 0 && !ownCategory) return { marker: markers[0], alike: new Set(markers).size > 1, count: markers.length, of: present.length };
  return null;
}

/** A column whose texts write a missing value one way ("NA"), kept as a category (see {@link misreadText}). */
interface MarkedColumn {
  marker: string;
  /** Other ways too ("NA" and "n/a"). */
  alike: boolean;
  count: number;
  of: number;
}

/**
 * The warnings of columns that write a missing value as text: one per column, or one for all
 * the columns that write it alike (R's exports write "NA" in every column of y/n answers: sixteen
 * warnings of one thing were a wall of text).
 */
function markedWarnings(marked: ReadonlyMap<string, MarkedColumn>): string[] {
  const byMarker = new Map<string, [string, MarkedColumn][]>();
  for (const [name, m] of marked) byMarker.set(m.marker, [...(byMarker.get(m.marker) ?? []), [name, m]]);
  return [...byMarker].map(([marker, columns]) => {
    const quoted = JSON.stringify(marker);
    const cost = `a record sent with null there is flagged as a missing value training never had; send ${quoted} as the data does, or upload missing values as empty cells (JSON null)`;
    if (columns.length === 1) {
      const [[name, m]] = columns;
      return `column "${name}" holds ${quoted}${m.alike ? ' and the like' : ''} in ${m.count} of its ${m.of} values, a way of writing a missing value, kept as a category of its own: ${cost}`;
    }
    const count = columns.reduce((sum, [, m]) => sum + m.count, 0);
    return `columns ${named(columns.map(([name]) => name))} hold ${quoted} (in ${count} values in all), a way of writing a missing value, kept as a category of its own in each: ${cost}`;
  });
}

/** Up to five column names, quoted, then how many more. */
function named(columns: readonly string[]): string {
  const quoted = columns.slice(0, 5).map((c) => `"${c}"`).join(', ');
  return columns.length <= 5 ? quoted : `${quoted} and ${columns.length - 5} more`;
}

/** Strictly increasing or strictly decreasing in row order. */
function monotonic(xs: readonly number[]): boolean {
  const up = xs[1] > xs[0];
  for (let i = 1; i < xs.length; i++) if (up ? !(xs[i] > xs[i - 1]) : !(xs[i] < xs[i - 1])) return false;
  return true;
}

/** The range of distinct integers that fill it exactly (a shuffled row number), or null. */
function enumerated(xs: readonly number[]): { min: number; max: number } | null {
  if (!xs.every(Number.isInteger)) return null;
  // A loop, not Math.min(...xs): spreading a few hundred thousand arguments overflows the stack.
  let min = Infinity;
  let max = -Infinity;
  for (const x of xs) {
    min = Math.min(min, x);
    max = Math.max(max, x);
  }
  return max - min + 1 === xs.length && new Set(xs).size === xs.length ? { min, max } : null;
}
