import fc from 'fast-check';
import { acceptedScoreRequest, parseScoreRequest, scoreRequestSchema } from '../../../src/api/score-request';

/** JSON values shaped like score requests, with every way of being wrong mixed in. */
const field = fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.string(), fc.constant(null), fc.boolean(), fc.constant({}), fc.constant([1]));
const key = fc.oneof(fc.string(), fc.constantFrom('a', 'records', 'explain', '__proto__', 'constructor', 'toString', '0'));
const record = fc.oneof({ weight: 5, arbitrary: fc.dictionary(key, fc.oneof({ weight: 6, arbitrary: fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.string(), fc.constant(null)) }, field)) }, { weight: 1, arbitrary: fc.jsonValue() });
const body = fc.oneof(
  { weight: 6, arbitrary: fc.record({ records: fc.array(record, { maxLength: 4 }), explain: fc.oneof(fc.boolean(), fc.constant('yes')) }, { requiredKeys: ['records'] }) },
  { weight: 1, arbitrary: fc.record({ records: fc.array(record, { maxLength: 3 }), extra: fc.jsonValue() }) },
  { weight: 1, arbitrary: fc.dictionary(key, fc.array(record, { maxLength: 2 })) },
  { weight: 1, arbitrary: fc.jsonValue() },
);

describe('parseScoreRequest', () => {
  it('accepts exactly the bodies the schema accepts (bodies as JSON.parse gives them)', () => {
    fc.assert(
      fc.property(body, (value) => {
        const text = JSON.stringify(value) ?? 'null';
        const bySchema = scoreRequestSchema.safeParse(JSON.parse(text));
        const accepted = acceptedScoreRequest(JSON.parse(text));
        expect(accepted !== null).toBe(bySchema.success);
        // What the engine is given: the schema's output, but for the __proto__ keys it drops.
        if (accepted && !text.includes('__proto__')) expect(accepted).toEqual(bySchema.data);
      }),
      { numRuns: 3000 },
    );
  });

  it('names the record and field of a bad value', () => {
    const body = JSON.parse('{"records":[{"a":1},{"a":1,"b":{"x":2}}]}') as unknown;
    expect(() => parseScoreRequest(body)).toThrow(expect.objectContaining({ code: 'INVALID_RECORD', pointer: '/records/1/b' }));
  });

  it('points at an unknown key of the body, naming the key likely meant', () => {
    const misspelt = JSON.parse('{"records":[{"a":1}],"explian":true}') as unknown;
    expect(() => parseScoreRequest(misspelt)).toThrow(expect.objectContaining({ code: 'INVALID_REQUEST', pointer: '/explian', message: 'unknown field "explian" (did you mean "explain"?)' }));
    // A misspelt required key: the one it meant is missing too, and named.
    const missing = JSON.parse('{"recrods":[{"a":1}]}') as unknown;
    expect(() => parseScoreRequest(missing)).toThrow(expect.objectContaining({ pointer: '/recrods', message: 'unknown field "recrods" (did you mean "records"?)' }));
    // Case aside.
    const shouted = JSON.parse('{"records":[{"a":1}],"EXPLAIN":true}') as unknown;
    expect(() => parseScoreRequest(shouted)).toThrow(expect.objectContaining({ pointer: '/EXPLAIN', message: 'unknown field "EXPLAIN" (did you mean "explain"?)' }));
    // The columns form's key too.
    expect(() => parseScoreRequest(JSON.parse('{"colums":{"a":[1]}}'))).toThrow(expect.objectContaining({ pointer: '/colums', message: 'unknown field "colums" (did you mean "columns"?)' }));
    // Nothing near: the keys the body takes are listed instead.
    const other = JSON.parse('{"records":[{"a":1}],"model":"m"}') as unknown;
    expect(() => parseScoreRequest(other)).toThrow(expect.objectContaining({ pointer: '/model', message: 'unknown field "model"; the body takes records, explain, columns' }));
  });

  it('takes a JSON boolean as the category "true" or "false", as a CSV file spells it', () => {
    const body = JSON.parse('{"records":[{"foreign":true,"amount":3},{"foreign":false,"amount":null}]}') as unknown;
    expect(parseScoreRequest(body).records).toEqual([{ foreign: 'true', amount: 3 }, { foreign: 'false', amount: null }]);
    const odd = JSON.parse('{"records":[{"foreign":true,"amount":{}}]}') as unknown;
    expect(() => parseScoreRequest(odd)).toThrow(expect.objectContaining({ code: 'INVALID_RECORD', pointer: '/records/0/amount', message: expect.stringContaining('a boolean') }));
  });

  it('passes a valid body through unchanged', () => {
    const body = { records: [{ a: 1, b: 'x', c: null }], explain: true };
    expect(parseScoreRequest(body)).toBe(body);
  });
});
