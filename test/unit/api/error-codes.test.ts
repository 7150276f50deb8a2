import { toAppError, toProblem } from '../../../src/api/errors';
import { messageOf } from '../../../src/nce';
import { failureCode } from '../../../src/queue';

const errnoError = (code: string): Error => Object.assign(new Error(`${code}: something at /srv/models/m/x`), { code });

describe('one table of store conditions', () => {
  it.each([
    ['ENOSPC', 'STORAGE_FULL', 507],
    ['EDQUOT', 'STORAGE_FULL', 507],
    ['EROFS', 'STORE_UNAVAILABLE', 503],
    ['EACCES', 'STORE_UNAVAILABLE', 503],
    ['EIO', 'STORE_UNAVAILABLE', 503],
    ['ENOENT', 'STORE_UNAVAILABLE', 503],
  ])('%s reads as %s both in an API answer (%i) and in a failed job', (errno, code, status) => {
    const problem = toProblem(toAppError(errnoError(errno)));
    expect(problem).toMatchObject({ code, status });
    // The detail names the errno but never a server path.
    expect(problem.detail).toContain(errno);
    expect(problem.detail).not.toContain('/srv');
    expect(failureCode(errnoError(errno))).toBe(code);
  });

  it('an errno that says nothing about the store is internal: a 500 without its message, and INTERNAL in a job', () => {
    const problem = toProblem(toAppError(errnoError('ECONNRESET')));
    expect(problem).toMatchObject({ code: 'INTERNAL', status: 500, detail: 'Internal error' });
    expect(failureCode(errnoError('ECONNRESET'))).toBe('INTERNAL');
  });
});

describe('messageOf', () => {
  it("gives an Error's message and anything else as a string", () => {
    expect(messageOf(new RangeError('out of range'))).toBe('out of range');
    expect(messageOf('plain')).toBe('plain');
    expect(messageOf(42)).toBe('42');
  });
});
