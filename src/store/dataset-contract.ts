import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { canonicalText, categoryCode, categoryIndex, type DataRecord, DECIMAL_TEXT, type FieldValue, inferSchema, isFormattedNumber, isJsonNumberText, isMissingMarker, NceError } from '../nce';

/** What a dataset's column may hold, fixed when the dataset is created (PUT). */
export interface ColumnContract {
  name: string;
  /** numeric: numbers only; categorical: strings (numbers are read as their text). */
  kind: 'numeric' | 'categorical';
  /** Whether null (a missing value) is allowed: it was present when the dataset was created. */
  missing: boolean;
  /** Categorical: the most frequent categories seen at creation (at most 64); others may follow. */
  categories?: string[];
}

/**
 * Share of a column's present values that are numbers at or above which a text among them is taken
 * for a bad value of a numeric column (refused) rather than a sign that the column is categorical.
 */
export const NUMERIC_COLUMN_SHARE = 0.9;

/** Texts that spell a number that is not finite ("NaN", "Infinity", "-inf", "1e400"): a numeric column's bad value. */
function isNonFiniteNumberText(v: string): boolean {
  const t = v.trim();
  return /^[+-]?(nan|inf|infinity)$/i.test(t) || Math.abs(Number(t)) === Infinity;
}

/** Who builds a contract, for the words of a refusal. */
export interface ContractCaller {
  /** How this caller's user declares a column categorical. */
  declare: (column: string) => string;
  /** What a refusal leaves undone. */
  outcome: string;
}

/** A dataset created through the API. */
const API_CALLER: ContractCaller = { declare: (c) => `create the dataset with ?categorical=${encodeURIComponent(c)}`, outcome: 'Nothing was stored.' };

/**
 * Refuses a column that is numbers but for a few texts, naming the first: one bad value ("x",
 * "NaN", "1e400") would otherwise make the whole column categorical, and every model of the
 * dataset would then read its numbers as unrelated labels. A column counts as numeric when at
 * least {@link NUMERIC_COLUMN_SHARE} of its present values are numbers, when a text in it
 * spells a non-finite number, or when its only texts are ways of writing a missing value ("n/a",
 * "NA", "-", whatever their share, and with no number yet: numbers appended to it later would be
 * categories).
 * @throws NceError INVALID_RECORD naming the record and field
 */
export function checkMixedColumns(columns: readonly string[], records: readonly DataRecord[], caller: ContractCaller): void {
  for (const name of columns) {
    let numbers = 0;
    let texts = 0;
    let first = -1;
    let nonFinite = -1;
    // Whether every text is a way of writing a missing value.
    let marked = true;
    const spellings = new Set<string>();
    records.forEach((r, i) => {
      const v = r[name];
      if (typeof v === 'number') numbers++;
      else if (typeof v === 'string') {
        texts++;
        if (first < 0) first = i;
        if (nonFinite < 0 && isNonFiniteNumberText(v)) nonFinite = i;
        marked &&= isMissingMarker(v);
        if (spellings.size < 4) spellings.add(JSON.stringify(v));
      }
    });
    if (texts === 0 || (numbers === 0 && !marked)) continue;
    const at = nonFinite >= 0 ? nonFinite : marked || numbers / (numbers + texts) >= NUMERIC_COLUMN_SHARE ? first : -1;
    if (at < 0) continue;
    const text = String(records[at][name]);
    if (marked && nonFinite < 0) {
      const others = numbers > 0 ? `the column holds numbers (${numbers} of its ${numbers + texts} values) and such texts only (${texts}: ${[...spellings].slice(0, 3).join(', ')}${spellings.size > 3 ? ' ...' : ''})` : `so does every other value of the column`;
      throw new NceError(
        'INVALID_RECORD',
        `record ${at} field "${name}" is ${JSON.stringify(text)}, which reads as a missing value, and ${others}: a missing value is null (in CSV, an empty cell); written as text it would make the whole column categories, and its numbers (those appended later too) unrelated labels. Write missing values as empty cells (JSON null)${/^na$/i.test(text.trim()) ? ' (R writes NA unless told: write.csv(x, "file.csv", na = "", row.names = FALSE))' : ''}. If the column holds categories (codes), ${caller.declare(name)}. ${caller.outcome}`,
        { record: at, field: name },
      );
    }
    // "12" in JSON: a number sent as a string.
    const quoted = isJsonNumberText(text)
      ? ` Send numbers as JSON numbers (${text.trim()}, not "${text}").`
      : isFormattedNumber(text)
        ? ` It is a number written with formatting (thousands separators, a decimal comma, a currency or per cent sign): write plain numbers, with a decimal point and nothing else.`
        : '';
    throw new NceError(
      'INVALID_RECORD',
      `record ${at} field "${name}" is ${JSON.stringify(text)}, but ${numbers} of the column's ${numbers + texts} values ${numbers === 1 ? 'is a number' : 'are numbers'}: a numeric column holds finite numbers, and a missing value is null (in CSV, an empty cell).${quoted} If the column holds categories (codes), ${caller.declare(name)}. ${caller.outcome}`,
      { record: at, field: name },
    );
  }
}

/**
 * Refuses a column (not declared categorical) whose every value is a number, or a number written
 * as text, with at least one such text with a fraction, an exponent or a sign ("-0.19", "3.5"),
 * naming the first text: numbers a client serialised as strings (a pandas column of dtype
 * object), which would otherwise be read as categories, most of them too rare to keep, and the
 * column would then tell the model nothing. Texts of digits alone ("02134", "17") stay
 * categories: codes are written so.
 * @throws NceError INVALID_RECORD naming the record and field
 */
export function checkNumbersAsText(columns: readonly string[], records: readonly DataRecord[], declared: readonly string[]): void {
  for (const name of columns) {
    if (declared.includes(name)) continue;
    let first = -1;
    let decimal = false;
    const all = records.every((r, i) => {
      const v = r[name];
      if (v === null || typeof v === 'number') return true;
      // Not a finite number ("1e400"): the mixed-column check names that one.
      if (typeof v !== 'string' || !DECIMAL_TEXT.test(v) || !Number.isFinite(Number(v))) return false;
      if (first < 0) first = i;
      decimal ||= !/^\d+$/.test(v);
      return true;
    });
    if (!all || !decimal || first < 0) continue;
    const text = records[first][name] as string;
    throw new NceError(
      'INVALID_RECORD',
      `record ${first} field "${name}" is ${JSON.stringify(text)}, a number sent as text, and every value of the column is a number: it would be read as categories, not numbers. Send numbers as JSON numbers${isJsonNumberText(text) ? ` (${text}, not "${text}")` : ''}; if the column holds codes, ${API_CALLER.declare(name)}. ${API_CALLER.outcome}`,
      { record: first, field: name },
    );
  }
}

/**
 * The contract of a new dataset, from its records, read as the engine reads features
 * (`inferSchema`): a column is categorical when any value is a string, numeric otherwise; null is
 * allowed where the records had one. A column of numbers with a few texts is refused
 * (see {@link checkMixedColumns}). A dataset without records (possible in a store, not through
 * the API) gets numeric columns that are never missing.
 * @param categorical - columns declared categorical (`?categorical=`), which stay so though every record misses them
 * @param caller - how the caller's user declares a column categorical, and what a refusal leaves undone
 * @throws NceError INVALID_RECORD naming the record and field
 */
export async function contractOf(
  columns: readonly string[],
  records: readonly DataRecord[],
  categorical: readonly string[] = [],
  caller: ContractCaller = API_CALLER,
): Promise<ColumnContract[]> {
  if (records.length === 0) return columns.map((name) => ({ name, kind: 'numeric', missing: false }));
  checkMixedColumns(columns, records, caller);
  const contract: ColumnContract[] = [];
  for (const name of columns) {
    // A column at a time, the event loop served between them: a dataset of a few hundred thousand
    // rows takes a second to read through.
    await yieldToEventLoop();
    const [f] = inferSchema(records, [name]);
    // A column empty in every record is a feature of no values seen (see inferSchema); its
    // contract is numeric and missing, so that numbers appended later stay numbers, unless it was
    // declared categorical: then texts appended later are its categories.
    const numeric = f.kind === 'numeric' || (f.categories.length === 0 && !categorical.includes(name));
    contract.push(numeric ? { name: f.name, kind: 'numeric', missing: f.hasMissing } : { name: f.name, kind: 'categorical', missing: f.hasMissing, categories: f.categories });
  }
  return contract;
}

/**
 * Checks appended records against a dataset's contract; throws INVALID_RECORD naming the first
 * record and field that breaks it (a text in a numeric column, a null where none is allowed).
 * @param offset - added to record indices in the message (records of a larger request)
 */
export function checkContract(contract: readonly ColumnContract[], records: readonly DataRecord[], offset = 0): void {
  records.forEach((r, i) => {
    for (const c of contract) {
      const v = r[c.name];
      if (v === null || v === undefined) {
        if (!c.missing) {
          throw new NceError('INVALID_RECORD', `record ${i + offset} field "${c.name}" is missing, but the dataset's contract has no missing values there`, { record: i + offset, field: c.name });
        }
      } else if (c.kind === 'numeric' && typeof v !== 'number') {
        // A number written as a JSON string reads as a number to a person: say what it is to the contract.
        const asText = typeof v === 'string' && isJsonNumberText(v);
        const what = asText ? `the text ${JSON.stringify(v)}, a number sent as text` : `${JSON.stringify(v)}, not a number`;
        const fix = asText ? `: send it as a JSON number (${v.trim()}, not ${JSON.stringify(v)})` : '';
        throw new NceError('INVALID_RECORD', `record ${i + offset} field "${c.name}" is ${what}, but the dataset's contract says numeric${fix}`, { record: i + offset, field: c.name });
      }
    }
  });
}

/**
 * The records with the numbers of the columns `names` as their text: columns declared categorical
 * (codes that look like numbers, such as floors 1-30 and "G"), read so by the contract and the
 * engine. With the dataset's `contract`, a value that is no category of it as written but is one
 * as scoring reads it (see `categoryCode`: the number it spells, its canonical text) is stored as
 * that category: 4, "4" or "04" appended to a column whose codes were uploaded as "4.0" (as pandas
 * writes integer codes of a column with a missing value) is "4.0", not a second category that
 * would split the code's records between two at the next training. A value that is none of its
 * categories is stored in its canonical form (see `canonicalText`), as the contract's categories
 * are: "TRUE" in CSV and true in JSON, or a text in NFC and in NFD, appended apart, are stored as
 * one category, not two spellings of it.
 */
export function withCategories(records: readonly DataRecord[], names: readonly string[], contract: readonly ColumnContract[] = []): DataRecord[] {
  if (names.length === 0) return records as DataRecord[];
  const spellings = names.map((c) => contract.find((k) => k.name === c)?.categories ?? []);
  const indexes = spellings.map((categories) => (categories.length > 0 ? categoryIndex(categories) : null));
  return records.map((r) => {
    const out: Record<string, FieldValue> = { ...r };
    names.forEach((c, j) => {
      const v = out[c];
      if (typeof v !== 'number' && typeof v !== 'string') return;
      const index = indexes[j];
      if (!index) {
        out[c] = String(v);
        return;
      }
      const code = categoryCode(index, v);
      out[c] = code === undefined ? canonicalText(String(v)) : spellings[j][code];
    });
    return out;
  });
}
