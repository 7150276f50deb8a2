import { cronProblem } from '../../../src/queue';

describe('cronProblem', () => {
  it('takes the crons both modes\' schedulers read, and names what is wrong with the rest', () => {
    for (const cron of ['0 3 * * *', '*/2 * * * * *', '0 0 L * *', '0 0 * * 5L', '0 0 * * 1#2', '30 8 * * MON-FRI']) expect([cron, cronProblem(cron)]).toEqual([cron, null]);
    // Read by croner (embedded) but not by cron-parser (BullMQ's schedulers): refused in both modes.
    for (const cron of ['0 0 15W * *', '0 0 LW * *', '0 0 ? ? *', '0 0 * * 0#1,5#5']) expect(cronProblem(cron)).toContain(`"${cron}": `);
    expect(cronProblem('0 0 30 2 *')).toBe('"0 0 30 2 *" never fires');
    expect(cronProblem('0 0 *')).toContain('has 3 fields');
  });
});
