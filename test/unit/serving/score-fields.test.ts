import { openApiDocument } from '../../../src/api/openapi';
import { scoreAnswerSchema, scoreResultAnswer } from '../../../src/api/responses';
import { resultsOf, SCORE_FIELDS, type ScoredRows } from '../../../src/nce';
import { answerBody, CSV_HEADER, csvAnswer, scoreAnswer, writeAnswer } from '../../../src/serving/answer-writer';

/** Every field of a result, in the one order SCORE_FIELDS gives. */
const names = SCORE_FIELDS.map((f) => f.name);

/** `n` rows with a density and without, flagged and not. */
function rows(n: number): ScoredRows {
  const ood = Uint8Array.from({ length: n }, (_, i) => i % 2);
  return {
    score: Float64Array.from({ length: n }, (_, i) => -i / 3),
    logRatio: Float64Array.from({ length: n }, (_, i) => i / 7),
    logDensity: Float64Array.from({ length: n }, (_, i) => (i % 3 === 0 ? -Infinity : -i / 11)),
    percentile: Float64Array.from({ length: n }, (_, i) => i / n),
    ood,
    flagged: ood.reduce((a, b) => a + b, 0),
  };
}

const head = { model: 'm', version: 'v1' };
const text = (b: string | Buffer): string => (typeof b === 'string' ? b : b.toString('utf8'));
const answered = (b: string | Buffer): Record<string, unknown>[] => (scoreAnswerSchema.parse(JSON.parse(text(b))) as { results: Record<string, unknown>[] }).results;

describe('the fields of a score result, defined once in SCORE_FIELDS', () => {
  it('are the fields resultsOf gives, in order', () => {
    for (const r of resultsOf(rows(4))) expect(Object.keys(r)).toEqual(names);
  });

  it('are the fields every JSON writer writes (one string, the byte writer, from results), each answer valid under the answer schema', () => {
    for (const n of [1, 16, 17, 300]) {
      const scored = rows(n);
      for (const body of [answerBody(head, scored), writeAnswer(head, scored)]) {
        const results = answered(body);
        expect(results).toHaveLength(n);
        for (const r of results) expect(Object.keys(r)).toEqual(names);
      }
      const explained = resultsOf(scored).map((r) => ({ ...r, contributions: { a: 0.5 } }));
      for (const r of answered(scoreAnswer(head, explained))) expect(Object.keys(r)).toEqual([...names, 'contributions']);
    }
  });

  it('are the columns of the CSV writer (the API answer and nce-ood score)', () => {
    expect(CSV_HEADER).toBe(names.join(','));
    const lines = csvAnswer(rows(5)).trim().split('\n');
    expect(lines[0]).toBe(CSV_HEADER);
    // Each row holds what the JSON answer holds, in the same order: no density is an empty field.
    const json = answered(writeAnswer(head, rows(5)));
    expect(lines.slice(1)).toEqual(json.map((r) => names.map((n) => (r[n] === null ? '' : String(r[n]))).join(',')));
  });

  it('are the properties of the answer schema and of the OpenAPI document, with the description given there', () => {
    expect(Object.keys(scoreResultAnswer.shape)).toEqual([...names, 'contributions']);
    const doc = openApiDocument() as { components: { schemas: { ScoreAnswer: { properties: { results: { items: { properties: Record<string, { description?: string }> } } } } } } };
    const documented = doc.components.schemas.ScoreAnswer.properties.results.items.properties;
    expect(Object.keys(documented)).toEqual([...names, 'contributions']);
    for (const f of SCORE_FIELDS) expect(documented[f.name]?.description).toBe(f.description);
  });
});
