import { cronProblem } from '../../../src/queue';

describe('cronProblem', () => {
  it('takes the crons both modes\' schedulers read, and names what is wrong with the rest', () => {
    for (const cron of ['0 3 * * *', '*/2 * * * * *', '0 0 L * *', '0 0 * * 5L', '0 0 * * 1#2', '30 8 * * MON-FRI']) expect([cron, cronProblem(cron)]).toEqual([cron, null]);
    // Read by croner (embedded) but not by cron-parser (BullMQ's schedulers): refused in both modes.
    for (const cron of ['0 0 15W * *', '0 0 LW * *', '0 0 ? ? *', '0 0 * * 0#1,5#5']) expect(cronProblem(cron)).toContain(`"${cron}": `);
    expect(cronProblem('0 0 30 2 *')).toBe('"0 0 30 2 *" never fires');
    expect(cronProblem('0 0 *')).toContain('has 3 fields');
    // croner's refusals in the cron's own terms: a trailing year (Quartz) is read as day-of-week.
    expect(cronProblem('0 0 1 1 * 2030')).toBe('"0 0 1 1 * 2030": day-of-week "2030" is out of range: it takes 0-7 (0 and 7 are Sunday), or SUN-SAT (with 6 fields: second minute hour day-of-month month day-of-week; a year is not taken)');
    // The field as written, not croner's value for it, which counts days of the month and months from 0.
    expect(cronProblem('0 0 32 * *')).toBe('"0 0 32 * *": day-of-month "32" is out of range: it takes 1-31, or L (fields: minute hour day-of-month month day-of-week)');
    expect(cronProblem('0 0 * 0 *')).toContain('month "0" is out of range: it takes 1-12, or JAN-DEC');
    expect(cronProblem('0 0 1-40 * *')).toContain('day-of-month "1-40" is out of range');
    expect(cronProblem('0 0 0 * *')).toContain('day-of-month "0" is out of range');
    expect(cronProblem('0 61 * * * *')).toContain('minute "61" is out of range: it takes 0-59 (with 6 fields');
    expect(cronProblem('*/0 * * * *')).toMatch(/^"\*\/0 \* \* \* \*": syntax error, illegal stepping: 0 \(fields: minute hour/);
  });
});
