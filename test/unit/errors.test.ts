import { AppError, describe as describeError, errorTable, type ErrorCode } from '../../src/errors';
import { toProblem } from '../../src/api/problems';
import { messageOf, NceError, type NceErrorCode } from '../../src/nce';

const errnoError = (code: string): Error => Object.assign(new Error(`${code}: something at /srv/models/m/x`), { code });

describe('the table of error codes', () => {
  it('gives every code an HTTP status of an error, a retry policy, a title and what it means', () => {
    const table = errorTable();
    expect(table.length).toBeGreaterThan(20);
    for (const { code, status, retry, title, help } of table) {
      expect([code, status >= 400 && status <= 599]).toEqual([code, true]);
      expect(typeof retry).toBe('boolean');
      expect(title.length).toBeGreaterThan(5);
      expect(help.length).toBeGreaterThan(20);
      expect(new AppError(code, 'x').status).toBe(status);
      expect(toProblem(new AppError(code, 'x'))).toMatchObject({ code, status, title });
    }
  });

  it('names every code of the engine, which keeps its code, status and retry policy through describe', () => {
    // Every NceErrorCode (the Record makes the compiler check the list is whole).
    const engine: Record<NceErrorCode, true> = { INVALID_ARGUMENT: true, INVALID_CONFIG: true, INVALID_RECORD: true, INSUFFICIENT_DATA: true, ARTIFACT_INVALID: true, ARTIFACT_TAMPERED: true, BACKEND_UNAVAILABLE: true };
    const rows = new Map(errorTable().map((r) => [r.code, r]));
    for (const code of Object.keys(engine) as NceErrorCode[]) {
      const described = describeError(new NceError(code, 'why'));
      expect(described).toMatchObject({ code, status: rows.get(code)?.status, retry: rows.get(code)?.retry });
    }
  });

  it('fails a job at once for bad input and retries one the infrastructure failed', () => {
    const retry = (code: ErrorCode): boolean => new AppError(code, 'x').retry;
    for (const code of ['INVALID_ARGUMENT', 'INVALID_CONFIG', 'INVALID_RECORD', 'INSUFFICIENT_DATA', 'DATASET_NOT_FOUND', 'MODEL_DELETED', 'JOB_CANCELLED', 'VERSION_NOT_FOUND'] as const) expect([code, retry(code)]).toEqual([code, false]);
    for (const code of ['STORE_UNAVAILABLE', 'STORAGE_FULL', 'BACKEND_UNAVAILABLE', 'INTERNAL'] as const) expect([code, retry(code)]).toEqual([code, true]);
  });

  it('answers a record error of the engine with a pointer to its record and field', () => {
    expect(toProblem(describeError(new NceError('INVALID_RECORD', 'record 3 field "a/b" must be a number', { record: 3, field: 'a/b' })))).toMatchObject({ status: 400, code: 'INVALID_RECORD', pointer: '/records/3/a~1b' });
  });

  it('answers an unknown error with a 500 that carries neither its message nor its stack', () => {
    const secret = new TypeError('cannot read x of undefined at /srv/app/dist/secret.js');
    const described = describeError(secret);
    expect(described).toMatchObject({ code: 'INTERNAL', status: 500, isOperational: false, cause: secret });
    const body = JSON.stringify(toProblem(described));
    expect(body).not.toContain('secret');
    expect(body).not.toContain('at ');
    expect(toProblem(described)).toMatchObject({ code: 'INTERNAL', status: 500, detail: 'Internal error' });
  });
});

describe('one table of store conditions', () => {
  it.each([
    ['ENOSPC', 'STORAGE_FULL', 507],
    ['EDQUOT', 'STORAGE_FULL', 507],
    ['EROFS', 'STORE_UNAVAILABLE', 503],
    ['EACCES', 'STORE_UNAVAILABLE', 503],
    ['EIO', 'STORE_UNAVAILABLE', 503],
    ['ENOENT', 'STORE_UNAVAILABLE', 503],
    ['EFBIG', 'STORAGE_FULL', 507],
    ['EMFILE', 'STORE_UNAVAILABLE', 503],
    ['ENFILE', 'STORE_UNAVAILABLE', 503],
  ])('%s reads as %s both in an API answer (%i) and in a failed job', (errno, code, status) => {
    const problem = toProblem(describeError(errnoError(errno)));
    expect(problem).toMatchObject({ code, status });
    // The detail names the errno but never a server path.
    expect(problem.detail).toContain(errno);
    expect(problem.detail).not.toContain('/srv');
    expect(describeError(errnoError(errno)).code).toBe(code);
    if (errno === 'EMFILE') expect(problem.detail).toContain('out of open files');
  });

  it('an errno that says nothing about the store is internal: a 500 without its message, and INTERNAL in a job', () => {
    const problem = toProblem(describeError(errnoError('ECONNRESET')));
    expect(problem).toMatchObject({ code: 'INTERNAL', status: 500, detail: 'Internal error' });
    expect(describeError(errnoError('ECONNRESET')).code).toBe('INTERNAL');
  });
});

describe('messageOf', () => {
  it("gives an Error's message and anything else as a string", () => {
    expect(messageOf(new RangeError('out of range'))).toBe('out of range');
    expect(messageOf('plain')).toBe('plain');
    expect(messageOf(42)).toBe('42');
  });
});
