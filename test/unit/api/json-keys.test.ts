import fc from 'fast-check';
import { repeatedKey } from '../../../src/api/json-keys';

describe('repeatedKey', () => {
  it('finds nothing in any JSON.stringify output, whose objects never repeat a key, whatever the strings hold', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        expect(repeatedKey(JSON.stringify(v))).toBeNull();
        expect(repeatedKey(JSON.stringify(v, null, 2))).toBeNull();
      }),
      { numRuns: 500 },
    );
  });

  it('points at the second of two equal keys of one object, at any depth, escapes decoded', () => {
    expect(repeatedKey('{"records":[{"a":1},{"a":2,"b":1,"a":3}]}')).toBe('/records/1/a');
    expect(repeatedKey('{"records":[{"a":1}],"records":[{"a":2}]}')).toBe('/records');
    expect(repeatedKey('{"columns":{"x":[1],"y":[2],"x":[3]}}')).toBe('/columns/x');
    expect(repeatedKey('{"\\u0061":1,"a":2}')).toBe('/a');
    expect(repeatedKey('{ "a/b" : 1 , "a/b" : 2 }')).toBe('/a~1b');
    expect(repeatedKey('[[1,2],[3,{"k":1,"k":2}]]')).toBe('/1/1/k');
    // Equal keys in different objects, and keys' text inside strings, are no repeat.
    expect(repeatedKey('{"a":{"x":1},"b":{"x":2},"c":[{"x":3},{"x":4}]}')).toBeNull();
    expect(repeatedKey('{"a":"\\"a\\":1","b":"a\\\\","c":"{\\"a\\":2,\\"a\\":3}"}')).toBeNull();
    expect(repeatedKey('{"a":"x\\\\","a":1}')).toBe('/a');
  });
});
