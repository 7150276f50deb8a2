import { inferSchema } from '../../../src/nce';
import { dataWarnings } from '../../../src/nce/data-checks';
import { createRng, permutation } from '../../../src/nce/random';

describe('dataWarnings', () => {
  const rng = createRng(4);
  const order = permutation(200, createRng(9));
  const records = Array.from({ length: 200 }, (_, i) => ({
    amount: Math.round(rng.normal() * 1000) / 10,
    at: 1_700_000_000 - i * 37 - (i % 5),
    row: order[i]!,
    site: 'eu',
    channel: i % 3 === 0 ? 'web' : 'app',
  }));
  const warnings = dataWarnings(records, inferSchema(records));

  it('names a timestamp that falls with every row, a shuffled row number, and the columns with one value', () => {
    expect(warnings).toHaveLength(3);
    expect(warnings[0]).toMatch(/^column "at" falls with every record/);
    expect(warnings[1]).toMatch(/^column "row" holds every integer from 0 to 199 once/);
    expect(warnings[2]).toMatch(/^column "site" has one value in every record/);
    for (const w of warnings) expect(w).toContain('exclude');
  });

  it('names a column of numbers whose missing values are written as text, which reads as categories; a column of codes with other texts is left alone', () => {
    const marked = records.map(({ amount, channel }, i) => ({ amount: i % 7 === 3 ? (i % 2 ? 'n/a' : ' NA ') : amount, channel }));
    const w = dataWarnings(marked, inferSchema(marked));
    expect(w).toEqual([expect.stringMatching(/^column "amount" is numbers but for "n\/a" and the like in 29 of 200 records, so it is read as categories: .*cannot flag an extreme value.*empty cell \(JSON null\)$/)]);
    const one = records.map(({ amount, channel }, i) => ({ amount: i % 7 === 3 ? 'n/a' : amount, channel }));
    expect(dataWarnings(one, inferSchema(one))[0]).toMatch(/^column "amount" is numbers but for "n\/a" in 29 of 200 records/);
    const codes = records.map(({ channel }, i) => ({ floor: i % 9 === 0 ? 'G' : i % 30, channel }));
    expect(dataWarnings(codes, inferSchema(codes))).toEqual([]);
  });

  it('names a column named as labels are, among the features, whatever its case; not a name that merely holds such a word', () => {
    for (const name of ['label', 'Class', 'is_anomaly', 'isFraud', 'target']) {
      const labelled = records.map(({ amount }, i) => ({ amount, [name]: i % 10 === 0 ? 1 : 0 }));
      expect(dataWarnings(labelled, inferSchema(labelled))).toEqual([expect.stringMatching(new RegExp(`^column "${name}" is named like the records' label: .*leave it out with exclude`))]);
    }
    const named = records.map(({ amount }, i) => ({ amount, class_of_service: i % 2 ? 'a' : 'b', labelled_at: (i % 7) * 1.5 }));
    expect(dataWarnings(named, inferSchema(named))).toEqual([]);
  });

  it('leaves a measurement named like a label alone (a coordinate y): labels are a few classes or a flag', () => {
    const plane = records.map(({ amount }, i) => ({ x: amount, y: Math.sin(i) * 10 }));
    expect(dataWarnings(plane, inferSchema(plane))).toEqual([]);
    // Twenty classes still read as a label.
    const classes = records.map(({ amount }, i) => ({ x: amount, y: i % 20 }));
    expect(dataWarnings(classes, inferSchema(classes))).toEqual([expect.stringMatching(/^column "y" is named like the records' label/)]);
  });

  it('says nothing of ordinary columns, of small data, or of a column that has missing values', () => {
    const plain = records.map(({ amount, channel }) => ({ amount, channel }));
    expect(dataWarnings(plain, inferSchema(plain))).toEqual([]);
    const few = records.slice(0, 19);
    expect(dataWarnings(few, inferSchema(few))).toEqual([]);
    const gappy = records.map((r, i) => ({ ...r, at: i === 5 ? null : r.at, site: i === 7 ? null : r.site, row: i === 9 ? null : r.row }));
    expect(dataWarnings(gappy, inferSchema(gappy))).toEqual([]);
  });

  it('handles a shuffled id of 200,000 rows', () => {
    const ids = permutation(200_000, createRng(3));
    const many = Array.from(ids, (id, i) => ({ id, x: i % 7 }));
    expect(dataWarnings(many, inferSchema(many))).toEqual([expect.stringMatching(/^column "id" holds every integer from 0 to 199999 once/)]);
  });

  it('names a text column with a different value in every record: an id, or a file of another separator read as one column', () => {
    const semi = records.map((r, i) => ({ 'amount;channel;hour': `${r.amount};${r.channel};${i % 24}` }));
    expect(dataWarnings(semi, inferSchema(semi))).toEqual([expect.stringMatching(/^column "amount;channel;hour" holds a different text in every record, like an id or free text/)]);
    const repeated = records.map((r) => ({ amount: r.amount, channel: `${r.channel}-${Math.floor(r.amount) % 5}` }));
    expect(dataWarnings(repeated, inferSchema(repeated))).toEqual([]);
  });

  it('names text columns that are likely misread: dates, formatted numbers, measurements among texts, a missing-value spelling kept as a category, and an almost empty column', () => {
    const messy = records.map((r, i) => ({
      amount: r.amount,
      day: `2023-${String(1 + (i % 12)).padStart(2, '0')}-${String(1 + (i % 28)).padStart(2, '0')}`,
      income: `${Math.floor(10 + i / 3)},${String(100 + i).slice(-3)}`,
      price: `$${(i * 1.37).toFixed(2)}`,
      glucose: i % 7 === 0 ? (i % 2 ? 'x' : 'err') : 60 + r.amount / 10,
      vote: i % 10 === 0 ? 'NA' : i % 3 === 0 ? 'y' : 'n',
      rare: i % 40 === 0 ? r.amount : null,
      zip: ['02134', '10001', '94110'][i % 3],
      code: `${(i % 6) + 1}.0`,
      channel: r.channel,
    }));
    const w = dataWarnings(messy, inferSchema(messy));
    expect(w).toEqual([
      expect.stringMatching(/^column "day" holds dates \("2023-01-01"\), read as categories: a date never seen .* not flagged/),
      expect.stringMatching(/^column "income" holds numbers written with formatting \("10,100": .*send plain numbers/),
      expect.stringMatching(/^column "price" holds numbers written with formatting \("\$0\.00"/),
      expect.stringMatching(/^column "glucose" is numbers in 171 of its 200 values and text in the rest \("err", "x"\), so it is read as categories/),
      expect.stringMatching(/^column "rare" is empty in 195 of 200 records/),
      expect.stringMatching(/^column "vote" holds "NA" in 20 of its 200 values, a way of writing a missing value, kept as a category of its own: a record sent with null there is flagged/),
    ]);
  });

  it('says a column of plain numbers whose larger ones are written with thousands separators is that, not texts among numbers', () => {
    const rows = Array.from({ length: 200 }, (_, i) => ({ proline: i % 4 === 0 ? `1,${String(100 + i).slice(-3)}` : 300 + i * 2.5 }));
    expect(dataWarnings(rows, inferSchema(rows))).toEqual([expect.stringMatching(/^column "proline" is plain numbers in 150 of its 200 values and numbers written with formatting in the rest \("1,100", .*thousands separators.*send plain numbers/)]);
  });

  it('says so too where the formatted numbers are most of the column, or sit beside a few plain integers (an outside probe: both were read as categories unsaid)', () => {
    // Insulin in thousands: 140 of 334 written "1,575", the rest plain integers, many of them 0.
    const half = Array.from({ length: 334 }, (_, i) => ({ insulin: i % 12 < 5 ? `${1 + (i % 3)},${String(500 + i).slice(-3)}` : (i % 29) * 15 }));
    expect(dataWarnings(half, inferSchema(half))).toEqual([expect.stringMatching(/^column "insulin" is plain numbers in 194 of its 334 values and numbers written with formatting in the rest .*send plain numbers/)]);
    const most = Array.from({ length: 100 }, (_, i) => ({ amount: i < 2 ? 0 : `${8 + (i % 5)},${String(100 + i).slice(-3)}` }));
    expect(dataWarnings(most, inferSchema(most))).toEqual([expect.stringMatching(/^column "amount" is plain numbers in 2 of its 100 values and numbers written with formatting/)]);
    // Codes are not: a multiple choice ("1,2" beside 1 to 3), product codes ("5,2" beside 10-15), zip codes with a space beside plain ones.
    const codes = Array.from({ length: 200 }, (_, i) => ({ q5: i % 4 === 0 ? ['1,2', '2,3'][i % 2] : (i % 3) + 1, product: i % 5 === 0 ? '5,2' : 10 + (i % 6), zip: i % 2 ? '02 134' : 10001 + (i % 7) }));
    expect(dataWarnings(codes, inferSchema(codes))).toEqual([]);
  });

  it('takes a marker as common as any other value of its column for the category it is ("none" of edema: none, untreated, resistant)', () => {
    const rows = Array.from({ length: 200 }, (_, i) => ({ edema: i % 10 < 6 ? 'none' : i % 10 < 8 ? 'untreated' : 'resistant', vote: i % 10 < 1 ? 'NA' : i % 2 ? 'y' : 'n' }));
    expect(dataWarnings(rows, inferSchema(rows))).toEqual([expect.stringMatching(/^column "vote" holds "NA" in 20 of its 200 values, a way of writing a missing value/)]);
  });

  it('puts the columns that write a missing value alike in one sentence (an outside probe: R\'s export of 16 y/n answers gave 16 warnings of one thing)', () => {
    const votes = Array.from({ length: 200 }, (_, i) => Object.fromEntries(Array.from({ length: 16 }, (_, j) => [`V${j + 1}`, (i + j) % 10 === 0 ? 'NA' : (i * (j + 1)) % 3 ? 'y' : 'n'])));
    const w = dataWarnings(votes, inferSchema(votes));
    expect(w).toEqual([expect.stringMatching(/^columns "V1", "V2", "V3", "V4", "V5" and 11 more hold "NA" \(in 320 values in all\), a way of writing a missing value, kept as a category of its own in each: a record sent with null there is flagged/)]);
    // Another marker elsewhere is its own sentence.
    const mixed = votes.map((r, i) => ({ ...r, smoker: i % 10 === 3 ? 'n/a' : i % 2 ? 'yes' : 'no' }));
    expect(dataWarnings(mixed, inferSchema(mixed))).toEqual([expect.stringMatching(/^columns "V1"/), expect.stringMatching(/^column "smoker" holds "n\/a" in 20 of its 200 values/)]);
  });

  it('puts many one-value columns in one sentence', () => {
    const wide = records.map((r) => ({ amount: r.amount, ...Object.fromEntries(Array.from({ length: 8 }, (_, j) => [`z${j}`, 0])) }));
    const w = dataWarnings(wide, inferSchema(wide));
    expect(w).toEqual([expect.stringMatching(/^columns "z0", "z1", "z2", "z3", "z4" and 3 more have one value in every record/)]);
  });
});
