import { normalRecords } from './data';

/** What a hot swap under load saw. */
export interface SwapReport {
  /** Answers by `status version`. */
  answers: Map<string, number>;
  /** Answers that were not a 200 naming one of the two versions with one result per record, and failed promotes. */
  wrong: string[];
  promotes: number;
}

/**
 * Promotes `v1` and `v2` of model `m` back and forth every 40 ms through `promoteBase` for `ms`,
 * while 8 clients score batches of 1, 16, 64 and 300 records (three features f0-f2), spread over
 * `scoreBases`.
 */
export async function swapUnderLoad(scoreBases: string[], promoteBase: string, v1: string, v2: string, ms: number): Promise<SwapReport> {
  const sizes = [1, 16, 64, 300];
  const bodies = sizes.map((n) => JSON.stringify({ records: normalRecords(n, 3, 10 + n) }));
  const answers = new Map<string, number>();
  const wrong: string[] = [];
  const end = Date.now() + ms;
  let promotes = 0;
  const client = async (c: number): Promise<void> => {
    const base = scoreBases[c % scoreBases.length] as string;
    for (let i = c; Date.now() < end; i++) {
      const size = i % sizes.length;
      const res = await fetch(`${base}/v1/models/m/score`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: bodies[size] });
      const body = (await res.json()) as { version?: string; results?: unknown[] };
      const key = `${res.status} ${body.version}`;
      answers.set(key, (answers.get(key) ?? 0) + 1);
      if (res.status !== 200 || (body.version !== v1 && body.version !== v2) || body.results?.length !== sizes[size]) wrong.push(`${key} ${JSON.stringify(body).slice(0, 200)}`);
    }
  };
  const swapper = async (): Promise<void> => {
    for (let i = 0; Date.now() < end; i++) {
      const res = await fetch(`${promoteBase}/v1/models/m/versions/${i % 2 === 0 ? v1 : v2}/promote`, { method: 'POST' });
      if (res.status !== 200) wrong.push(`promote: ${res.status} ${await res.text()}`);
      promotes++;
      await new Promise((r) => setTimeout(r, 40));
    }
  };
  await Promise.all([swapper(), ...Array.from({ length: 8 }, (_, c) => client(c))]);
  return { answers, wrong, promotes };
}
