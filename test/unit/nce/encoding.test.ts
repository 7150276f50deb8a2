import fc from 'fast-check';
import { encode, fieldReader, type FieldValue, inferSchema, layoutOf } from '../../../src/nce';
import { networkInput } from '../../../src/nce/encoding';
import { binner } from '../../../src/nce/reference';
import { robustScale } from '../../../src/nce/schema';

describe('inferSchema', () => {
  it('types a feature numeric when every value is a number, categorical when any is a string', () => {
    const schema = inferSchema([
      { a: 1, b: 'x', c: null },
      { a: 2, b: 3, c: 4 },
      { a: 3, b: 'x', c: 5 },
    ]);
    expect(schema.map((f) => [f.name, f.kind, f.hasMissing])).toEqual([
      ['a', 'numeric', false],
      ['b', 'categorical', false],
      ['c', 'numeric', true],
    ]);
    expect(schema[1].kind === 'categorical' && schema[1].categories).toEqual(['x', '3']);
  });

  it('with unseenShare, pools the values seen once into "other" where they are more than that share of a field\'s values', () => {
    // 10 of 40 values seen once (25%): pooled at 0.01; 'a' and 'b' (15 each) stay categories.
    const records = Array.from({ length: 40 }, (_, i) => ({ c: i < 15 ? 'a' : i < 30 ? 'b' : `once${i}`, d: i % 2 ? 'x' : 'y' }));
    expect(inferSchema(records, ['c', 'd'], { unseenShare: 0.01 })).toMatchObject([
      { name: 'c', categories: ['a', 'b'], hasOther: true, otherValues: 10 },
      { name: 'd', categories: ['x', 'y'], hasOther: false },
    ]);
    expect(inferSchema(records, ['d'], { unseenShare: 0.01 })[0]).not.toHaveProperty('otherValues');
    // Above the share asked for, or without it, every value seen is a category and an unseen one is novel.
    expect(inferSchema(records, ['c'], { unseenShare: 0.3 })[0]).toMatchObject({ hasOther: false });
    expect((inferSchema(records, ['c'])[0] as { categories: string[] }).categories).toHaveLength(12);
  });

  it('with unseenShare, pools across fields too: where values seen once are rare in each field but their shares sum above it, from the commonest on', () => {
    // 200 records, 9 fields: field j has j + 1 values seen once (0.5% to 4.5% of its values),
    // together 22.5% of records; at 0.051, fields are pooled from the ninth down until the rest sum to at most that.
    const records = Array.from({ length: 200 }, (_, i) => Object.fromEntries(Array.from({ length: 9 }, (_, j) => [`f${j}`, i <= j ? `once${i}` : ['a', 'b', 'c'][i % 3]])));
    const names = Array.from({ length: 9 }, (_, j) => `f${j}`);
    const pooled = inferSchema(records, names, { unseenShare: 0.051 }).map((f) => f.kind === 'categorical' && f.hasOther);
    // Kept apart: f0..f3 (0.5 + 1 + 1.5 + 2 = 5%); pooled: f4..f8.
    expect(pooled).toEqual([false, false, false, false, true, true, true, true, true]);
    // One field alone, at the same share per field, is below the share and keeps its values apart.
    expect(inferSchema(records, ['f8'], { unseenShare: 0.05 })[0]).toMatchObject({ hasOther: false });
  });

  it('when a training value is not finite, names the record and field', () => {
    expect(() => inferSchema([{ a: 1 }, { a: NaN }])).toThrow(expect.objectContaining({ code: 'INVALID_RECORD', record: 1, field: 'a' }));
  });

  it('when finite training values lie further apart than the largest number, says the column cannot be scaled and names a record holding one', () => {
    const records = Array.from({ length: 30 }, (_, i) => ({ a: i % 2 ? 1.7e308 : -1.7e308, b: i }));
    expect(() => inferSchema(records)).toThrow(expect.objectContaining({ code: 'INVALID_RECORD', record: 0, field: 'a', message: expect.stringContaining('field "a" cannot be scaled') }));
    // Large values close together scale as any others.
    expect(inferSchema(records.map((r, i) => ({ ...r, a: 1.7e308 - i * 1e292 })))[0]).toMatchObject({ kind: 'numeric' });
  });
});

describe('robustScale', () => {
  it('one huge outlier moves neither the center nor the spread much (reference: median 3, IQR 2 -> 2/1.349)', () => {
    const { center, scale } = robustScale(Float64Array.from([1, 2, 3, 4, 5, 1e9]));
    expect(center).toBeCloseTo(3.5, 10);
    expect(scale).toBeCloseTo(2.5 / 1.349, 10);
  });

  it('falls back to MAD, then standard deviation, then 1 when the spread is zero', () => {
    expect(robustScale(Float64Array.from([0, 0, 0, 0, 0, 0, 0, 10])).scale).toBeGreaterThan(0);
    expect(robustScale(Float64Array.from([5, 5, 5])).scale).toBe(1);
  });
});

describe('encode and networkInput', () => {
  const schema = inferSchema([
    { n: 0, c: 'a', m: 1 },
    { n: 2, c: 'b', m: null },
    { n: 4, c: 'a', m: 3 },
  ]);

  it('scales numerics, flags missing values and one-hot encodes categories with unseen and missing buckets', () => {
    const layout = layoutOf(schema);
    // n, m, then c's one-hot over [a, b, other, missing], then m's missing flag.
    expect(layout.inputWidth).toBe(2 + 1 + 4);
    const e = encode(schema, [
      { n: 2, c: 'b', m: null },
      { n: 2, c: 'zzz', m: 2 },
      { n: 2, c: null, m: 2 },
    ]);
    const x = Array.from(networkInput(layout, e));
    expect(x.slice(0, 7)).toEqual([0, 0, 0, 1, 0, 0, 1]);
    expect(x.slice(7, 14)).toEqual([0, 0, 0, 0, 1, 0, 0]);
    expect(x.slice(14, 21)).toEqual([0, 0, 0, 0, 0, 1, 0]);
  });

  it('when a numeric field holds a string, names the record (with offset) and field', () => {
    expect(() => encode(schema, [{ n: 1, c: 'a', m: 1 }, { n: '1', c: 'a', m: 1 }], 10)).toThrow(
      expect.objectContaining({ code: 'INVALID_RECORD', record: 11, field: 'n', message: 'record 11 field "n" must be a number (got the text "1": send numbers as JSON numbers (1, not "1"))' }),
    );
    expect(() => encode(schema, [{ n: '1,575.00', c: 'a', m: 1 }])).toThrow(expect.objectContaining({ message: expect.stringMatching(/got the text "1,575.00": a number written with formatting .* send plain numbers\)$/) }));
    // A JSON boolean reaches the engine as the category text it stands for, and is quoted as such.
    expect(() => encode(schema, [{ n: 'true', c: 'a', m: 1 }])).toThrow(expect.objectContaining({ message: 'record 0 field "n" must be a number (got the text "true", as a JSON boolean is read)' }));
    expect(() => encode(schema, [{ n: 'x'.repeat(100), c: 'a', m: 1 }])).toThrow(expect.objectContaining({ message: `record 0 field "n" must be a number (got the text "${'x'.repeat(40)}…")` }));
  });

  it('names the first bad record, then its first bad field, whatever the order of the features', () => {
    // schema order: n, c, m. Record 1 is bad in m (a later feature) and record 2 in n.
    const records = [
      { n: 1, c: 'a', m: 1 },
      { n: 1, c: 'a', m: Infinity },
      { n: 'x', c: 'a', m: 1 },
    ];
    expect(() => encode(schema, records)).toThrow(expect.objectContaining({ code: 'INVALID_RECORD', record: 1, field: 'm' }));
    expect(() => encode(schema, [{ n: 1, c: 'a', m: 1 }, { n: 1, m: 1 }])).toThrow(
      expect.objectContaining({ record: 1, field: 'c', message: expect.stringContaining('missing field "c"') }),
    );
    expect(() => encode(schema, [{ n: 1, c: { x: 1 }, m: 1 }] as never)).toThrow(expect.objectContaining({ record: 0, field: 'c' }));
    expect(() => encode(schema, [{ n: 1, c: 'a', m: 1 }, null] as never)).toThrow(expect.objectContaining({ record: 1, message: 'record 1 must be an object' }));
    expect(() => encode(schema, [{ n: 'x', c: 'a', m: 1 }, null] as never)).toThrow(expect.objectContaining({ record: 0, field: 'n' }));
  });

  it('reads fields of any name as themselves, quotes, backslashes and line breaks included', () => {
    const names = ['a"b', 'c\\d', 'e\nf', "g'h", '${x}', '</script>', '__proto__', 'constructor', '0', ''];
    const record = JSON.parse(JSON.stringify(Object.fromEntries(names.map((n, i) => [n, i])))) as Record<string, number>;
    const into: (FieldValue | undefined)[] = [];
    fieldReader(names)(record, into);
    // JSON.parse makes "__proto__" an own property, which shadows the prototype's accessor.
    expect(into).toEqual(names.map((_, i) => i));
    fc.assert(
      fc.property(fc.uniqueArray(fc.string(), { maxLength: 8 }), (keys) => {
        const named = keys.filter((k) => k !== '__proto__');
        const r = Object.fromEntries(named.map((k, i) => [k, i]));
        const out: (FieldValue | undefined)[] = [];
        fieldReader(named)(r, out);
        expect(out).toEqual(named.map((k) => r[k]));
      }),
    );
  });
});


describe('categorical codes that spell numbers', () => {
  const zip = (categories: string[]) => [{ name: 'zip', kind: 'categorical' as const, categories, hasMissing: false, hasOther: false }];

  it('match a category exactly as written first, else the number they spell (how models trained before text was kept stored them)', () => {
    const legacy = zip(['2134', '2.1', 'A']);
    const e = encode(legacy, [{ zip: '02134' }, { zip: '2.10' }, { zip: 2134 }, { zip: '0x10' }, { zip: '9' }]);
    expect(Array.from(e.codes)).toEqual([0, 1, 0, 3, 3]);
    expect(Array.from(e.novel ?? [])).toEqual([0, 0, 0, 1, 1]);
    // Both spellings known: each is its own category.
    const both = zip(['02134', '2134']);
    expect(Array.from(encode(both, [{ zip: '02134' }, { zip: '2134' }, { zip: 2134 }]).codes)).toEqual([0, 1, 1]);
  });

  it('a category written as a float ("4.0", as pandas writes integer codes of a column with a missing value) is the number 4 and the texts "4" and "04", in encoding and in drift bins', () => {
    const weekday = [{ name: 'weekday', kind: 'categorical' as const, categories: ['3.0', '4.0', '5.0'], hasMissing: false, hasOther: false }];
    const e = encode(weekday, [{ weekday: 4 }, { weekday: '4' }, { weekday: '04' }, { weekday: '4.0' }, { weekday: 4.5 }, { weekday: 6 }]);
    expect(Array.from(e.codes)).toEqual([1, 1, 1, 1, 3, 3]);
    expect(Array.from(e.novel ?? [])).toEqual([0, 0, 0, 0, 1, 1]);
    const bin = binner({ name: 'weekday', kind: 'categorical', categories: ['3.0', '4.0', '5.0'], shares: [0.3, 0.3, 0.4, 0, 0] });
    expect([4, '4', '04', '4.0', 6, null].map((v) => bin(v))).toEqual([1, 1, 1, 1, 3, 4]);
    // Both spellings kept in training are two categories, each found as written; the number goes to its own text.
    const both = [{ ...weekday[0], categories: ['4', '4.0'] }];
    expect(Array.from(encode(both, [{ weekday: '4.0' }, { weekday: '4' }, { weekday: 4 }]).codes)).toEqual([1, 0, 0]);
    // Ids longer than a double holds are codes as written: two that differ in their last digits are two.
    const ids = [{ ...weekday[0], name: 'id', categories: ['12345678901234567890', '0.1000000000000000055'] }];
    expect(Array.from(encode(ids, [{ id: '12345678901234567000' }, { id: Number('12345678901234567891') }, { id: '12345678901234567890' }, { id: 0.1 }]).codes)).toEqual([2, 2, 0, 2]);
  });
});

describe('category texts in other Unicode forms', () => {
  it('are one category: "Zürich" with a combining diaeresis (NFD, as macOS writes it) is the "Zürich" of training, in training data and in new records', () => {
    const composed = 'Z\u00fcrich';
    const decomposed = 'Zu\u0308rich';
    const records = [...Array.from({ length: 30 }, () => ({ city: composed })), ...Array.from({ length: 10 }, () => ({ city: decomposed })), { city: 'Bern' }];
    const [city] = inferSchema(records);
    expect(city).toMatchObject({ kind: 'categorical', categories: [composed, 'Bern'] });
    const e = encode([city!], [{ city: decomposed }, { city: composed }, { city: 'Zurich' }]);
    expect(Array.from(e.codes)).toEqual([0, 0, 2]);
    expect(Array.from(e.novel ?? [])).toEqual([0, 0, 1]);
  });
});

describe('field names in other Unicode forms', () => {
  const composed = 'Gr\u00f6\u00dfe';
  const decomposed = 'Gro\u0308\u00dfe';

  it('name one field: a record keyed in NFD scores as the NFC one, and a model whose name is NFD reads NFC keys', () => {
    const schema = inferSchema(Array.from({ length: 10 }, (_, i) => ({ [composed]: 1.5 + i / 10, a: i })));
    const nfc = encode(schema, [{ [composed]: 1.7, a: 2 }]);
    const nfd = encode(schema, [{ [decomposed]: 1.7, a: 2 }]);
    expect(Array.from(nfd.numeric)).toEqual(Array.from(nfc.numeric));
    const into: (FieldValue | undefined)[] = [];
    fieldReader([decomposed, 'a', 'b'])({ [composed]: 3, a: 4 }, into);
    expect(into).toEqual([3, 4, undefined]);
    // Its own key wins over another form of it; a name absent in every form is still missing.
    fieldReader([composed])({ [decomposed]: 1, [composed]: 2 }, into);
    expect(into[0]).toBe(2);
    expect(() => encode(schema, [{ Grosse: 1, a: 2 }])).toThrow(`record 0 is missing field "${composed}"`);
  });
});

describe('a missing field', () => {
  it('names what the record sent instead when it looks meant for it: the name in other case, or within two edits', () => {
    const schema = inferSchema(Array.from({ length: 10 }, (_, i) => ({ amount: i, channel: i % 2 ? 'web' : 'app' })));
    expect(() => encode(schema, [{ Amount: 1, channel: 'web' }])).toThrow('record 0 is missing field "amount" (it has "Amount": field names must match the model\'s exactly, case included)');
    expect(() => encode(schema, [{ amount: 1, chanel: 'web' }])).toThrow('(it has "chanel"');
    expect(() => encode(schema, [{ amount: 1, colour: 'web' }])).toThrow(/is missing field "channel"$/);
  });
});

describe('boolean spellings', () => {
  it('are one category: JSON true ("true"), pandas True, Excel TRUE; a model whose categories kept "True" finds "true" too', () => {
    const records = [...Array.from({ length: 20 }, () => ({ card: 'True' })), ...Array.from({ length: 10 }, () => ({ card: 'FALSE' })), { card: 'false' }];
    const [card] = inferSchema(records);
    expect(card).toMatchObject({ kind: 'categorical', categories: ['true', 'false'] });
    expect(Array.from(encode([card!], [{ card: 'true' }, { card: 'True' }, { card: 'TRUE' }, { card: 'False' }, { card: 'yes' }]).codes)).toEqual([0, 0, 0, 1, 2]);
    // Whitespace at either end, as CSV fields are read: " web" is "web".
    expect(Array.from(encode([card!], [{ card: ' true' }, { card: 'False ' }]).codes)).toEqual([0, 1]);
    const legacy = [{ name: 'card', kind: 'categorical' as const, categories: ['True', 'False'], hasMissing: false, hasOther: false }];
    expect(Array.from(encode(legacy, [{ card: 'true' }, { card: 'False' }, { card: 'false' }]).codes)).toEqual([0, 1, 1]);
  });
});
