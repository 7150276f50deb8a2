import { parseCsv, parseCsvStream, typeField } from '../../../src/store/csv-parser';

describe('typeField', () => {
  it.each([
    ['3.5', 3.5],
    [' -2e3 ', -2000],
    ['', null],
    ['  ', null],
    ['red', 'red'],
    [' web ', 'web'],
    ['NaN', 'NaN'],
    ['Infinity', 'Infinity'],
    ['1e400', '1e400'],
    ['.5', 0.5],
    ['7.', 7],
    ['+4', 4],
    ['0x10', '0x10'],
    ['0b101', '0b101'],
    ['0o17', '0o17'],
    ['1_000', '1_000'],
    ['1,5', '1,5'],
  ])('types %j as %j', (raw, expected) => {
    expect(typeField(raw)).toEqual(expected);
  });
});

describe('parseCsv', () => {
  it('reads a header, numbers, categories, missing values and quoted fields with their line numbers', () => {
    const t = parseCsv('a,b,c\n1,x,\n2,"y, z",3\n', 'f.csv');
    expect(t.columns).toEqual(['a', 'b', 'c']);
    expect(t.records).toEqual([
      { a: 1, b: 'x', c: null },
      { a: 2, b: 'y, z', c: 3 },
    ]);
    expect(t.lines).toEqual([2, 3]);
  });

  it('names the line a row ends on as an editor counts it: CRLF, LF and a lone CR are one line break each, inside quoted fields too, whole or streamed in any chunks', async () => {
    const cases: [string, number[]][] = [
      ['a,b\r\n"x\r\ny",1\r\nz,2\r\n', [3, 4]],
      ['a,b\n"x\r\ny",1\nz,2', [3, 4]],
      ['\ufeffa,b\r\n\r\n"x\r\ny",1\r\nz,2\r\n', [4, 5]],
      ['a,b\n"\u00fc\ny\nw",1\n\nz,2\n', [4, 6]],
      ['a,b\r"x",1\r"y",2\r', [2, 3]],
    ];
    for (const [text, lines] of cases) {
      expect({ text, lines: parseCsv(text).lines }).toEqual({ text, lines });
      // Streamed a byte (or a few) at a time: a CRLF split between chunks is still one break.
      for (const size of [1, 2, 5]) {
        const bytes = Buffer.from(text);
        const chunks = Array.from({ length: Math.ceil(bytes.length / size) }, (_, i) => bytes.subarray(i * size, (i + 1) * size));
        const streamed = await parseCsvStream((async function* () { yield* chunks; })());
        expect({ text, size, lines: streamed.lines }).toEqual({ text, size, lines });
      }
    }
    // An error after a multi-line field names the row's own line, csv-parse's own errors too.
    expect(() => parseCsv('a,b\r\n"x\r\ny",1\r\n3\r\n', 'win.csv')).toThrow('win.csv:4: row has 1 fields but the header has 2');
    expect(() => parseCsv('a,b\r\n"x\r\ny",1\r\n"x\r\ny",1\r\n1,"bad"x\r\n', 'win.csv')).toThrow(/^win\.csv:6: malformed CSV: .*at line 6\b/);
    expect(() => parseCsv('a,b\n1,2\r\n3,4\r\n5,"bad"x', 'mixed.csv')).toThrow(/^mixed\.csv:4: malformed CSV/);
    const bad = Buffer.from('a,b\r\n"x\r\ny",1\r\n1,"bad"x\r\n');
    await expect(parseCsvStream((async function* () { for (let i = 0; i < bad.length; i += 3) yield bad.subarray(i, i + 3); })(), 'win.csv')).rejects.toThrow(/^win\.csv:4: malformed CSV/);
  });

  it('strips a byte-order mark from the header', () => {
    expect(parseCsv('\ufeffa,b\n1,2\n').columns).toEqual(['a', 'b']);
  });

  it('when a row is ragged, names the file and its line', () => {
    expect(() => parseCsv('a,b\n1,2\n3\n', 'data.csv')).toThrow('data.csv:3: row has 1 fields but the header has 2');
  });

  it('when the first row is numbers, says the header is missing', () => {
    expect(() => parseCsv('1,2\n3,4\n', 'data.csv')).toThrow(/data\.csv:1: header column 1 is the number "1"/);
  });

  it('when the file is empty or a quote is unclosed, says so with the line', () => {
    expect(() => parseCsv('', 'e.csv')).toThrow('e.csv:1: empty file');
    expect(() => parseCsv('a,b\n1,"2\n', 'q.csv')).toThrow(/^q\.csv:\d+: malformed CSV/);
    // A quote inside an unquoted field names its column counted from 1.
    expect(() => parseCsv('a,b\n1,x"y"\n', 'q.csv')).toThrow(/^q\.csv:2: malformed CSV: a quote is found on column 2 at line 2/);
  });

  it('reads fields written with spaces after the separator, quoted ones too, keeping spaces inside quotes', () => {
    const t = parseCsv('"Amount (€)", "näme" ,hour\n38.5, "web" ,14\n1 ,  " x, y ",2\n', 'f.csv');
    expect(t.columns).toEqual(['Amount (€)', 'näme', 'hour']);
    expect(t.records).toEqual([
      { 'Amount (€)': 38.5, näme: 'web', hour: 14 },
      { 'Amount (€)': 1, näme: 'x, y', hour: 2 },
    ]);
  });

  it('when the header is one column holding semicolons or tabs, says the file has another separator', () => {
    expect(() => parseCsv('amount;channel;hour\n38.5;web;14\n', 's.csv')).toThrow('s.csv:1: the header is one column, "amount;channel;hour": fields are separated by commas, and this file looks separated by ";"');
    expect(() => parseCsv('amount\tchannel\n1\t2\n', 't.csv')).toThrow(/looks separated by "\\t"/);
    // One column is fine, and so is a semicolon inside one of several names.
    expect(parseCsv('amount\n1\n').columns).toEqual(['amount']);
    expect(parseCsv('a;b,c\n1,2\n').columns).toEqual(['a;b', 'c']);
  });

  it('reads a header name in NFD (as macOS tools write it) as its NFC form, so the two forms are one column, a repeated one', () => {
    const t = parseCsv('Gro\u0308\u00dfe,b\n1,2\n', 'f.csv');
    expect(t.columns).toEqual(['Gr\u00f6\u00dfe', 'b']);
    expect(t.records[0]).toEqual({ 'Gr\u00f6\u00dfe': 1, b: 2 });
    expect(() => parseCsv('Gro\u0308\u00dfe,Gr\u00f6\u00dfe\n1,2\n', 'f.csv')).toThrow('duplicate column');
  });

  it('says NUL bytes in the header may be UTF-16 text without its byte-order mark', () => {
    expect(() => parseCsv(Buffer.from('a,b\n1,2\n', 'utf16le').toString('utf8'), 'f.csv')).toThrow(/UTF-16 without its byte-order mark/);
  });

  it('when a column name repeats, names it and where', () => {
    expect(() => parseCsv('a,b,a\n1,2,3\n', 'd.csv')).toThrow('d.csv:1: duplicate column "a" (header columns 1 and 3)');
  });

  it('says what the usual spreadsheet and pandas habits are when the header is not one: an unnamed index, trailing commas, a separator line, a title line', () => {
    expect(() => parseCsv(',a,b\n0,1,2\n', 'p.csv')).toThrow(/p\.csv:1: header column 1 is empty: an index written without a name\? \(pandas: to_csv\(index=False\); R: write\.csv\(x, row\.names = FALSE\)\)/);
    expect(() => parseCsv('a,b,\n1,2,\n', 't.csv')).toThrow(/t\.csv:1: header column 3 is empty: does every line end with a comma/);
    expect(() => parseCsv('a,,b\n1,2,3\n', 'm.csv')).toThrow(/m\.csv:1: header column 2 is empty: name every column/);
    expect(() => parseCsv('sep=,\na,b\n1,2\n', 's.csv')).toThrow(/s\.csv:1: the first line is "sep=,", a spreadsheet's separator hint, not a header: delete that line/);
    expect(() => parseCsv('a,b\n1,2\na,b\n3,4\n', 'j.csv')).toThrow(/j\.csv:3: the header repeats here \(files joined one after another\?\)/);
    expect(() => parseCsv('Monthly export\na,b\n1,2\n', 'h.csv')).toThrow(/h\.csv:2: row has 2 fields but the header has 1: is the first line \("Monthly export"\) a title above the header\?/);
  });
});

describe('parseCsv with text columns', () => {
  it('keeps the fields of the columns named as written, trimmed (empty: missing), and types the others', () => {
    const t = parseCsv('zip,fw,amount\n02134, 2.10 ,7\n2134,,08\n', 'x.csv', ['zip', 'fw']);
    expect(t.records).toEqual([
      { zip: '02134', fw: '2.10', amount: 7 },
      { zip: '2134', fw: null, amount: 8 },
    ]);
  });
});

describe('parseCsvStream and the event loop', () => {
  it('gives the event loop turns while it parses rows it already holds: a timer set as it starts fires long before it ends', async () => {
    // 300,000 short rows in one chunk: csv-parse hands them over with no turn of the event loop of its own.
    const text = Buffer.from(`a,b\n${Array.from({ length: 300_000 }, (_, i) => `${i % 97},${i % 13}`).join('\n')}\n`);
    let rows = 0;
    let rowsWhenFired = -1;
    setTimeout(() => {
      rowsWhenFired = rows;
    }, 0);
    const table = await parseCsvStream(
      (async function* () {
        yield text;
      })(),
      'big.csv',
      [],
      (_columns, n) => {
        rows = n;
      },
    );
    expect(table.records).toHaveLength(300_000);
    expect(rowsWhenFired).toBeGreaterThanOrEqual(0);
    expect(rowsWhenFired).toBeLessThan(300_000);
  });
});
