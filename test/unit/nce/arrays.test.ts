import fc from 'fast-check';
import { float32, float64, int32, owned, uint8 } from '../../../src/nce/arrays';

const makers = { float64, float32, int32, uint8 };
type Made = ReturnType<(typeof makers)[keyof typeof makers]>;

describe('scoring arrays', () => {
  it('are zeroed, of the asked length, and never share an element, however many of whatever size are made', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.constantFrom(...(Object.keys(makers) as (keyof typeof makers)[])), fc.nat({ max: 600 })), { minLength: 1, maxLength: 400, size: 'max' }), (asks) => {
        const made: Made[] = asks.map(([kind, n]) => makers[kind](n));
        // A mark per array that every element type holds exactly.
        const mark = (i: number): number => (i % 255) + 1;
        made.forEach((a, i) => {
          expect(a.length).toBe(asks[i]?.[1]);
          expect(a.every((v) => v === 0)).toBe(true);
          a.fill(mark(i));
        });
        // Each still holds exactly what was written into it: no region was handed out twice.
        made.forEach((a, i) => expect(a.every((v) => v === mark(i))).toBe(true));
      }),
      { numRuns: 100 },
    );
  });

  it('are made owners of their buffer, with the same values, by owned()', () => {
    const small = float64(3);
    small.set([1, 2, 3]);
    expect(small.buffer.byteLength).toBeGreaterThan(small.byteLength);
    const mine = owned(small);
    expect(mine.buffer.byteLength).toBe(mine.byteLength);
    expect([...mine]).toEqual([1, 2, 3]);
    const large = float64(10_000);
    expect(owned(large)).toBe(large);
  });
});
