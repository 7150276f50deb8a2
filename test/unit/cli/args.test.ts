import { columnList } from '../../../src/cli/args';
import { parseCsv } from '../../../src/store';

describe('columnList', () => {
  it("reads names in the Unicode form a CSV header's are read in, so a name copied in NFD from a file names its column", () => {
    const nfd = 'Gro\u0308\u00dfe';
    const table = parseCsv(`${nfd},b\n1,2\n`, 'f.csv');
    const names = columnList(` ${nfd} , b,,`);
    expect(names).toEqual(['Gr\u00f6\u00dfe', 'b']);
    expect(names.every((n) => table.columns.includes(n))).toBe(true);
  });
});
