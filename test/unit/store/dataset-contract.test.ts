import { checkContract, type ColumnContract, withCategories } from '../../../src/store/dataset-contract';

const contract: ColumnContract[] = [
  { name: 'amount', kind: 'numeric', missing: false },
  { name: 'channel', kind: 'categorical', missing: false, categories: ['web', 'store'] },
];

/** The message checkContract refuses one record with `amount` set so. */
function refusal(amount: string): string {
  try {
    checkContract(contract, [{ amount, channel: 'web' }]);
  } catch (e: unknown) {
    return (e as Error).message;
  }
  throw new Error(`${JSON.stringify(amount)} was not refused`);
}

describe('checkContract', () => {
  it.each(['12', ' 95', '-0.5', '1E3', '0'])('when a numeric field is the JSON number literal %j as text, advises sending it as a JSON number', (text) => {
    expect(refusal(text)).toBe(`record 0 field "amount" is the text ${JSON.stringify(text)}, a number sent as text, but the dataset's contract says numeric: send it as a JSON number (${text.trim()}, not ${JSON.stringify(text)})`);
  });

  // Number() reads each of these as a number; none of them is one in JSON (or a finite one).
  it.each(['0x10', '0b101', '0o17', 'Infinity', '+5', '.5', '7.', '007', '1e400', '1_000'])('when a numeric field is %j, which JSON does not write as a number, calls it not a number without advice about JSON', (text) => {
    expect(refusal(text)).toBe(`record 0 field "amount" is ${JSON.stringify(text)}, not a number, but the dataset's contract says numeric`);
  });
});

describe('withCategories', () => {
  it('when a dataset contract is given, stores a new category in its canonical form and a known one as the contract spells it', () => {
    // A JSON true reaches the store as the text "true" (see booleanCategory).
    const records = [{ channel: 'TRUE' }, { channel: 'true' }, { channel: 'Gro\u0308\u00dfe ' }, { channel: ' WEB' }, { channel: ' web' }, { channel: 7 }];

    const stored = withCategories(records, ['channel'], contract);

    expect(stored.map((r) => r.channel)).toEqual(['true', 'true', 'Gr\u00f6\u00dfe', 'WEB', 'web', '7']);
  });

  it('when no contract is given (a new dataset), keeps the texts as written', () => {
    expect(withCategories([{ floor: 'TRUE' }, { floor: 4 }], ['floor']).map((r) => r.floor)).toEqual(['TRUE', '4']);
  });
});
