import { cronProblem } from '../../../src/queue';

describe('cronProblem', () => {
  it('takes the crons both modes\' schedulers read, and names what is wrong with the rest', () => {
    for (const cron of ['0 3 * * *', '*/2 * * * * *', '0 0 L * *', '0 0 * * 5L', '0 0 * * 1#2', '30 8 * * MON-FRI']) expect([cron, cronProblem(cron)]).toEqual([cron, null]);
    // Read by croner (embedded) but not by cron-parser (BullMQ's schedulers): refused in both modes.
    for (const cron of ['0 0 15W * *', '0 0 LW * *', '0 0 ? ? *', '0 0 * * 0#1,5#5']) expect(cronProblem(cron)).toContain(`"${cron}": `);
    expect(cronProblem('0 0 30 2 *')).toBe('"0 0 30 2 *" never fires');
    expect(cronProblem('0 0 *')).toContain('has 3 fields');
    // croner's refusals in the cron's own terms: a trailing year (Quartz) is read as day-of-week.
    expect(cronProblem('0 0 1 1 * 2030')).toBe('"0 0 1 1 * 2030": invalid value for dayOfWeek: 2030 (with 6 fields: second minute hour day-of-month month day-of-week; a year is not taken)');
    expect(cronProblem('*/0 * * * *')).toMatch(/^"\*\/0 \* \* \* \*": syntax error, illegal stepping: 0 \(fields: minute hour/);
  });
});
