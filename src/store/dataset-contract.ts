import { type DataRecord, inferSchema, NceError } from '../nce';

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
 * The contract of a new dataset, from its records, read as the engine reads features
 * (`inferSchema`): a column is categorical when any value is a string, numeric otherwise; null is
 * allowed where the records had one. A dataset without records (possible in a store, not through
 * the API) gets numeric columns that are never missing.
 */
export function contractOf(columns: readonly string[], records: readonly DataRecord[]): ColumnContract[] {
  if (records.length === 0) return columns.map((name) => ({ name, kind: 'numeric', missing: false }));
  return inferSchema(records, columns).map((f) =>
    f.kind === 'numeric' ? { name: f.name, kind: 'numeric', missing: f.hasMissing } : { name: f.name, kind: 'categorical', missing: f.hasMissing, categories: f.categories },
  );
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
        throw new NceError('INVALID_RECORD', `record ${i + offset} field "${c.name}" is ${JSON.stringify(v)}, but the dataset's contract says numeric`, { record: i + offset, field: c.name });
      }
    }
  });
}
