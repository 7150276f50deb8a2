import { type Feature, inferSchema } from '../../../src/nce';
import { schemaChange } from '../../../src/queue/train-job';

const numeric = (name: string, hasMissing = false): Feature => ({ name, kind: 'numeric', center: 0, scale: 1, hasMissing });

describe('schemaChange', () => {
  const current = ['amount', 'hour', 'size_band'].map((n) => numeric(n));

  it('names only the features removed and added, not both whole lists', () => {
    const next = ['amount', 'hour', 'texture_band'].map((n) => numeric(n));
    expect(schemaChange(current, next)).toBe('features removed "size_band"; added "texture_band"');
    expect(schemaChange(current, current.slice(0, 2))).toBe('features removed "size_band"');
  });

  it('names every difference, not only the first: a column left out and another read as categories', () => {
    const next: Feature[] = [numeric('amount'), { name: 'hour', kind: 'categorical', categories: ['1', '2'], hasMissing: false }];
    expect(schemaChange(current, next)).toBe('features removed "size_band"; feature "hour" was numeric and is now categorical');
    expect(schemaChange(current, [numeric('amount', true), numeric('hour', true), numeric('size_band')])).toBe('feature "amount" now has missing values; feature "hour" now has missing values');
  });

  it('takes the same features in another order as no change: clients send fields by name (an export whose columns moved)', () => {
    const next = ['hour', 'size_band', 'amount'].map((n) => numeric(n));
    expect(schemaChange(current, next)).toBeNull();
    expect(schemaChange(current, [numeric('hour', true), numeric('size_band'), numeric('amount')])).toBe('feature "hour" now has missing values');
  });

  it('names a feature whose missing values changed, and is null when nothing did', () => {
    expect(schemaChange(current, [numeric('amount'), numeric('hour', true), numeric('size_band')])).toBe('feature "hour" now has missing values');
    expect(schemaChange(current, current.map((f) => ({ ...f })))).toBeNull();
  });

  it('a column empty in every record that fills, or one that empties, is a change: what the model flags and refuses changes', () => {
    const empty = Array.from({ length: 30 }, (_, i) => ({ x: i % 7, note: null }));
    const filled = Array.from({ length: 30 }, (_, i) => ({ x: i % 7, note: i / 3 }));
    expect(schemaChange(inferSchema(empty), inferSchema(empty))).toBeNull();
    expect(schemaChange(inferSchema(empty), inferSchema(filled))).toBe('feature "note" was empty in every record (any value flagged as never seen) and is now numeric');
    expect(schemaChange(inferSchema(filled), inferSchema(empty))).toBe('feature "note" was numeric and is now empty in every record (any value will be flagged as never seen)');
    expect(schemaChange(inferSchema(empty), inferSchema(filled.map((r) => ({ ...r, note: `n${r.x}` }))))).toBe('feature "note" was empty in every record (any value flagged as never seen) and is now categorical');
    // A column of texts is still not one of numbers.
    expect(schemaChange(inferSchema(filled), inferSchema(filled.map((r) => ({ ...r, note: `n${r.x}` }))))).toBe('feature "note" was numeric and is now categorical');
  });
});
