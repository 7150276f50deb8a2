import { spawnSync } from 'node:child_process';
import { closeSync, cpSync, openSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createRng } from '../../src/nce/random';

const BIN = resolve(__dirname, '../../bin/nce-ood.js');
let dir: string;

function cli(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...process.env, MODELS_DIR: join(dir, 'registry') } });
}

/** A CSV of two correlated numeric features and a category; with a split, test rows 0-9 are anomalies. */
function datasetCsv(withSplit: boolean): string {
  const rng = createRng(3);
  const lines = [withSplit ? 'x,y,kind,label,split' : 'x,y,kind'];
  for (let i = 0; i < 400; i++) {
    const test = i < 60;
    const anomaly = withSplit && test && i < 10;
    const a = rng.normal();
    const x = anomaly ? 6 + rng.normal() : a;
    const y = anomaly ? -6 + rng.normal() : a + 0.2 * rng.normal();
    const kind = rng.uniform() < 0.5 ? 'p' : 'q';
    const row = `${x.toFixed(4)},${y.toFixed(4)},${kind}`;
    lines.push(withSplit ? `${row},${anomaly ? 1 : 0},${test ? 'test' : 'train'}` : row);
  }
  return lines.join('\n') + '\n';
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'nce-cli-'));
  await writeFile(join(dir, 'eval.csv'), datasetCsv(true));
  await writeFile(join(dir, 'train.csv'), datasetCsv(false));
  await writeFile(join(dir, 'fast.json'), JSON.stringify({ epochs: 5 }));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('nce-ood COMMAND --help', () => {
  it('prints the command\'s usage and what it does, and exits 0', () => {
    for (const command of ['train', 'score', 'eval', 'report']) {
      const r = cli(command, '--help');
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`^usage: nce-ood ${command} +\\(?--`));
    }
    expect(cli('--help').stdout).toContain('nce-ood COMMAND --help');
  });
});

describe('nce-ood --version', () => {
  it('prints the package version', () => {
    const r = cli('--version');
    expect(r.status).toBe(0);
    const pkg = JSON.parse(readFileSync(resolve(__dirname, '../../package.json'), 'utf8')) as { version: string };
    expect(r.stdout.trim()).toBe(`nce-ood ${pkg.version}`);
  });
});

describe('nce-ood eval', () => {
  it('prints exactly one JSON line with AUROC, AUPRC, the AUROC of each NCE quantity, row counts, timings and backend', () => {
    const r = cli('eval', '--data', join(dir, 'eval.csv'), '--config', join(dir, 'fast.json'));
    expect(r.status).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const report = JSON.parse(lines[0]);
    expect(Object.keys(report)).toEqual(['auroc', 'auprc', 'aurocOf', 'atThreshold', 'trainRows', 'testRows', 'fitSeconds', 'scoreRowsPerSecond', 'backend']);
    expect(report.atThreshold).toEqual({ threshold: expect.any(Number), targetFpr: 0.01, falsePositiveRate: expect.any(Number), recall: expect.any(Number) });
    // Shares of the test rows of each label flagged: the far anomalies more often than the normal rows.
    expect(report.atThreshold.falsePositiveRate).toBeGreaterThanOrEqual(0);
    expect(report.atThreshold.recall).toBeGreaterThan(report.atThreshold.falsePositiveRate);
    expect(report.atThreshold.recall).toBeLessThanOrEqual(1);
    expect(Object.keys(report.aurocOf)).toEqual(['logRatio', 'logDensity', 'logQ']);
    // The default score is logDensity: the same ranking, the same AUROC.
    expect(report.aurocOf.logDensity).toBeCloseTo(report.auroc, 9);
    expect(report.trainRows).toBe(340);
    expect(report.testRows).toBe(60);
    expect(report.auroc).toBeGreaterThan(0.9);
    expect(['tensorflow', 'wasm', 'cpu']).toContain(report.backend);
    expect(r.stderr).toMatch(/epoch 1\/5/);
  });

  it('--categorical measures codes written as numbers as train models them: a code never seen between two seen ones is found', async () => {
    // Zones 1 and 3 in training; the anomalies are zone 2, which as a number lies between them.
    const rng = createRng(8);
    const lines = ['x,zone,label,split'];
    for (let i = 0; i < 300; i++) {
      const test = i < 60;
      const anomaly = test && i < 10;
      lines.push(`${rng.normal().toFixed(4)},${anomaly ? 2 : rng.uniform() < 0.5 ? 1 : 3},${anomaly ? 1 : 0},${test ? 'test' : 'train'}`);
    }
    await writeFile(join(dir, 'zones.csv'), lines.join('\n') + '\n');
    const declared = cli('eval', '--data', join(dir, 'zones.csv'), '--config', join(dir, 'fast.json'), '--categorical', 'zone');
    expect(declared.status).toBe(0);
    expect(JSON.parse(declared.stdout).auroc).toBeGreaterThan(0.95);
    // Read as numbers instead, another model: its classifier's ratio ranks the test rows otherwise.
    const asNumbers = cli('eval', '--data', join(dir, 'zones.csv'), '--config', join(dir, 'fast.json'));
    expect(JSON.parse(asNumbers.stdout).aurocOf.logRatio).not.toBeCloseTo(JSON.parse(declared.stdout).aurocOf.logRatio, 6);
    const wrong = cli('eval', '--data', join(dir, 'zones.csv'), '--categorical', 'label');
    expect(wrong.status).toBe(2);
    expect(wrong.stderr).toContain('--categorical names "label", which is not a feature column');
  });

  it('when the label column does not exist, exits non-zero with one line naming it', () => {
    const r = cli('eval', '--data', join(dir, 'eval.csv'), '--label-column', 'target');
    expect(r.status).not.toBe(0);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('missing column "target"');
  });

  it('a split value other than train or test is named with its line, not dropped; a config file that is not there exits 1, as a data file', async () => {
    const lines = datasetCsv(true).trimEnd().split('\n');
    lines[5] = lines[5].replace(/,test$/, ',Test');
    await writeFile(join(dir, 'odd-split.csv'), lines.join('\n') + '\n');
    const odd = cli('eval', '--data', join(dir, 'odd-split.csv'));
    expect(odd.status).toBe(1);
    expect(odd.stderr.trim().split('\n')).toEqual([expect.stringMatching(/odd-split\.csv:6: column "split" must be train or test, got "Test"$/)]);
    // Test rows only: said in words, not an internal function's complaint.
    await writeFile(join(dir, 'test-only.csv'), datasetCsv(true).trimEnd().split('\n').filter((l, i) => i === 0 || l.endsWith(',test')).join('\n') + '\n');
    const testOnly = cli('eval', '--data', join(dir, 'test-only.csv'));
    expect(testOnly.status).toBe(1);
    expect(testOnly.stderr.trim()).toMatch(/test-only\.csv:1: no rows whose "split" is "train": eval trains on those/);
    const absent = cli('eval', '--data', join(dir, 'eval.csv'), '--config', join(dir, 'no-such.json'));
    expect(absent.status).toBe(1);
    expect(absent.stderr).toContain('no-such.json: cannot read config');
  });
});

describe('nce-ood train and score', () => {
  it('trains a model directory (its parent folders made too, as in the README\'s out/my-model), then scores a CSV into one result row per input row, in order', async () => {
    const out = join(dir, 'model');
    const t = cli('train', '--data', join(dir, 'train.csv'), '--artifact', out, '--config', join(dir, 'fast.json'));
    expect(t.status).toBe(0);
    expect((await readdir(out)).sort()).toEqual(['manifest.json', 'weights.bin']);
    expect(t.stderr).not.toContain('replacing');
    const nested = join(dir, 'out', 'my-model');
    expect(cli('train', '--data', join(dir, 'train.csv'), '--artifact', nested, '--config', join(dir, 'fast.json')).status).toBe(0);
    expect((await readdir(nested)).sort()).toEqual(['manifest.json', 'weights.bin']);
    // Trained again into the same folder: the model there is replaced, and that is said.
    const again = cli('train', '--data', join(dir, 'train.csv'), '--artifact', nested, '--config', join(dir, 'fast.json'));
    expect([again.status, again.stderr]).toEqual([0, expect.stringMatching(/saved .*my-model \(ood threshold -?[\d.]+\), replacing the model that was there\n$/)]);

    await writeFile(join(dir, 'probe.csv'), 'kind,y,x\np,0,0\nq,-6,6\np,,0.1\n');
    const s = cli('score', '--artifact', out, '--data', join(dir, 'probe.csv'));
    expect(s.status).toBe(0);
    expect(s.stderr).toMatch(/scored 3 records with .*model, backend (tensorflow|wasm|cpu)/);
    const rows = s.stdout.trim().split('\n');
    expect(rows[0]).toBe('score,logRatio,logDensity,percentile,ood');
    expect(rows).toHaveLength(4);
    const [normal, far] = rows.slice(1).map((l) => l.split(','));
    expect(Number(far[0])).toBeLessThan(Number(normal[0]));
    expect(far[4]).toBe('true');
    expect(normal[4]).toBe('false');
    // --data - reads standard input: the same rows; one record is "1 record".
    const piped = spawnSync(process.execPath, [BIN, 'score', '--artifact', out, '--data', '-'], { encoding: 'utf8', input: 'kind,y,x\np,0,0\nq,-6,6\np,,0.1\n' });
    expect(piped.status).toBe(0);
    expect(piped.stdout).toBe(s.stdout);
    const one = spawnSync(process.execPath, [BIN, 'score', '--artifact', out, '--data', '-'], { encoding: 'utf8', input: 'kind,y,x\np,0,0\n' });
    expect(one.stderr).toMatch(/scored 1 record with /);
    const ragged = spawnSync(process.execPath, [BIN, 'score', '--artifact', out, '--data', '-'], { encoding: 'utf8', input: 'kind,y,x\np,0\n' });
    expect(ragged.stderr.trim()).toMatch(/^nce-ood score: standard input:2: /);
    // A value the model cannot read is named in the same words (not as the file "-").
    const text = spawnSync(process.execPath, [BIN, 'score', '--artifact', out, '--data', '-'], { encoding: 'utf8', input: 'kind,y,x\np,0,0\np,abc,0\n' });
    expect(text.stderr.trim()).toMatch(/^nce-ood score: standard input:3: column "y": /);
  });

  it('ends quietly when the reader closes the pipe early (score ... | head -1)', async () => {
    const out = join(dir, 'piped');
    expect(cli('train', '--data', join(dir, 'train.csv'), '--artifact', out, '--config', join(dir, 'fast.json')).status).toBe(0);
    await writeFile(join(dir, 'many.csv'), 'x,y,kind\n' + '0.1,0.2,p\n'.repeat(100_000));
    const r = spawnSync('sh', ['-c', `"${process.execPath}" "${BIN}" score --artifact "${out}" --data "${join(dir, 'many.csv')}" | head -1`], { encoding: 'utf8' });
    expect(r.stdout).toBe('score,logRatio,logDensity,percentile,ood\n');
    expect(r.stderr).not.toMatch(/EPIPE|Error/);
  });

  it('when a scored row has text in a numeric column, exits non-zero naming file, line and column', async () => {
    const out = join(dir, 'model');
    await writeFile(join(dir, 'bad.csv'), 'x,y,kind\n0,0,p\n1,abc,q\n');
    const s = cli('score', '--artifact', out, '--data', join(dir, 'bad.csv'));
    expect(s.status).toBe(1);
    expect(s.stderr.trim().split('\n')).toHaveLength(1);
    expect(s.stderr).toMatch(/bad\.csv:3: column "y"/);
  });

  it('when the scored file lacks a trained column or has a ragged row, exits non-zero with file and line', async () => {
    const out = join(dir, 'model');
    await writeFile(join(dir, 'nocol.csv'), 'x,kind\n0,p\n');
    expect(cli('score', '--artifact', out, '--data', join(dir, 'nocol.csv')).stderr).toMatch(/nocol\.csv:1: missing column "y"/);
    await writeFile(join(dir, 'ragged.csv'), 'x,y,kind\n0,0,p\n0,0\n');
    const r = cli('score', '--artifact', out, '--data', join(dir, 'ragged.csv'));
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/ragged\.csv:3: row has 2 fields/);
    // Latin-1 bytes (0xFF, 0xE9) are not read as replacement characters in a header or a value.
    await writeFile(join(dir, 'latin1.csv'), Buffer.concat([Buffer.from([0xff]), Buffer.from('x,y,kind\n0,0,caf'), Buffer.from([0xe9, 0x0a])]));
    const latin = cli('score', '--artifact', out, '--data', join(dir, 'latin1.csv'));
    expect(latin.status).toBe(1);
    expect(latin.stderr).toMatch(/latin1\.csv.*not UTF-8 text from line 1, byte 1 \(0xFF\) on: .*iconv -f WINDOWS-1252 -t UTF-8/);
    // UTF-16 (Excel's "Unicode text") is named as such, with the conversion that fixes it.
    await writeFile(join(dir, 'utf16.csv'), Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('x,y,kind\n0,0,a\n', 'utf16le')]));
    const utf16 = cli('score', '--artifact', out, '--data', join(dir, 'utf16.csv'));
    expect(utf16.status).toBe(1);
    expect(utf16.stderr).toMatch(/utf16\.csv.*is UTF-16 text .*iconv -f UTF-16 -t UTF-8/);
  });

  it('train refuses a numeric column with a few texts, naming file, line and field, and trains it as categories with --categorical', async () => {
    const rows = ['amount,channel'];
    for (let i = 0; i < 200; i++) rows.push(`${i === 50 || i === 120 ? 'x' : (20 + (i % 37)).toFixed(1)},${i % 2 ? 'web' : 'pos'}`);
    await writeFile(join(dir, 'stray.csv'), rows.join('\n') + '\n');
    const out = join(dir, 'stray-model');
    const r = cli('train', '--data', join(dir, 'stray.csv'), '--artifact', out, '--config', join(dir, 'fast.json'));
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    // Record 50 is on line 52 (the header is line 1).
    expect(r.stderr).toMatch(/stray\.csv:52: .*field "amount" is "x", but 198 of the column's 200 values are numbers.*pass --categorical amount\. Nothing was trained\./);
    await expect(readdir(out)).rejects.toThrow();
    // Missing values written as "n/a" in every 7th row (86% numbers, under the 90% line): refused too.
    await writeFile(join(dir, 'marked.csv'), rows.map((row, i) => (i === 0 ? row : row.replace(/^[^,]*/, i % 7 === 0 ? 'n/a' : String(i)))).join('\n') + '\n');
    const marked = cli('train', '--data', join(dir, 'marked.csv'), '--artifact', out, '--config', join(dir, 'fast.json'));
    expect(marked.status).toBe(1);
    expect(marked.stderr).toMatch(/marked\.csv:8: .*field "amount" is "n\/a", which reads as a missing value, and the column holds numbers \(172 of its 200 values\) and such texts only \(28: "n\/a"\).*empty cells/);
    await expect(readdir(out)).rejects.toThrow();
    const declared = cli('train', '--data', join(dir, 'stray.csv'), '--artifact', out, '--config', join(dir, 'fast.json'), '--categorical', 'amount');
    expect(declared.status).toBe(0);
    const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')) as { schema: { name: string; kind: string }[] };
    expect(manifest.schema.find((f) => f.name === 'amount')?.kind).toBe('categorical');
    expect(cli('train', '--data', join(dir, 'stray.csv'), '--artifact', out, '--categorical', 'nosuch').stderr).toContain('--categorical names "nosuch"');
  });

  it('a flag given twice exits 2 naming it, and a failed write of the output is one line and exit 1', () => {
    const twice = cli('train', '--data', join(dir, 'train.csv'), '--data', join(dir, 'eval.csv'), '--artifact', join(dir, 'never'));
    expect(twice.status).toBe(2);
    expect(twice.stderr).toContain('--data is given 2 times');
    const full = spawnSync('sh', ['-c', `"${process.execPath}" "${BIN}" --version > /dev/full`], { encoding: 'utf8' });
    expect(full.status).toBe(1);
    expect(full.stderr.trim()).toBe('nce-ood: cannot write the output: no space left on the device (ENOSPC)');
  });

  it('train refuses, before training, an output folder a file stands at, naming the flag and the path', () => {
    const file = join(dir, 'train.csv');
    for (const path of [file, join(file, 'model')]) {
      const r = cli('train', '--data', file, '--artifact', path, '--config', join(dir, 'fast.json'));
      expect(r.status).toBe(2);
      expect(r.stderr.trim().split('\n')).toEqual([expect.stringMatching(new RegExp(`^nce-ood train: --artifact ${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: (it is a file, not a folder|a folder in its path is a file \\(ENOTDIR\\))`))]);
    }
    // A folder no one can make one in, whatever the permissions say (root passes them all).
    const proc = cli('train', '--data', file, '--artifact', '/proc/nce-ood-nope/model', '--config', join(dir, 'fast.json'));
    expect({ status: proc.status, stderr: proc.stderr.trim() }).toEqual({ status: 2, stderr: expect.stringMatching(/^nce-ood train: --artifact \/proc\/nce-ood-nope\/model: cannot write in \/proc \(/) });
    expect(proc.stderr).not.toContain('epoch');
    const models = spawnSync(process.execPath, [BIN, 'train', '--data', file, '--model', 'm'], { encoding: 'utf8', env: { ...process.env, MODELS_DIR: file } });
    expect(models.status).toBe(2);
    expect(models.stderr.trim()).toBe(`nce-ood train: MODELS_DIR ${file}: it is a file, not a folder (see nce-ood --help)`);
  });

  it('score --keep refuses an input column named as a result column, which would repeat in the header', async () => {
    await writeFile(join(dir, 'scored-before.csv'), 'x,y,kind,score\n0,0,p,1\n');
    for (const keep of ['all', 'x,score']) {
      const r = cli('score', '--artifact', join(dir, 'model'), '--data', join(dir, 'scored-before.csv'), '--keep', keep);
      expect(r.status).toBe(2);
      expect(r.stderr).toContain('the column "score", which the results have too');
    }
    expect(cli('score', '--artifact', join(dir, 'model'), '--data', join(dir, 'scored-before.csv'), '--keep', 'x').stdout.split('\n')[0]).toBe('x,score,logRatio,logDensity,percentile,ood');
  });

  it('report --values without --data exits 2 saying why', () => {
    const r = cli('report', '--model', 'any', '--values', '--out', join(dir, 'r.html'));
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('--values lists the values of --data\'s records: give --data too');
  });

  it('eval refuses test rows of one label before training', async () => {
    await writeFile(join(dir, 'onelabel.csv'), datasetCsv(true).replace(/,1,test/g, ',0,test'));
    const r = cli('eval', '--data', join(dir, 'onelabel.csv'));
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/every test row has "label" 0: AUROC and AUPRC need test rows of both labels/);
    // An empty label on a test row is named as one, not as "null".
    const lines = datasetCsv(true).trimEnd().split('\n');
    const at = lines.findIndex((l) => /,[01],test$/.test(l));
    lines[at] = lines[at].replace(/,[01],test$/, ',,test');
    await writeFile(join(dir, 'nolabel.csv'), lines.join('\n') + '\n');
    const empty = cli('eval', '--data', join(dir, 'nolabel.csv'));
    expect(empty.status).toBe(1);
    expect(empty.stderr).toMatch(new RegExp(`nolabel\\.csv:${at + 1}: column "label" must be 0 or 1 on a test row, got an empty cell`));
    // Text on a test row where the train rows hold numbers: named by its line, before any training.
    lines[at] = lines[at].replace(/^[^,]+,/, 'rotary,').replace(/,,test$/, ',0,test');
    await writeFile(join(dir, 'texttest.csv'), lines.join('\n') + '\n');
    const text = cli('eval', '--data', join(dir, 'texttest.csv'));
    expect(text.status).toBe(1);
    expect(text.stderr).toMatch(new RegExp(`texttest\\.csv:${at + 1}: column "x": .*"rotary".*pass --categorical x`));
    expect(text.stderr).not.toContain('epoch 1/');
  });

  it('a config file\'s exclude joins --exclude (and its default), and the model\'s config records them all', async () => {
    await writeFile(join(dir, 'exclude.json'), JSON.stringify({ epochs: 2, exclude: ['kind'] }));
    const out = join(dir, 'excluded');
    const t = cli('train', '--data', join(dir, 'eval.csv'), '--artifact', out, '--config', join(dir, 'exclude.json'));
    expect(t.status).toBe(0);
    expect(t.stderr).toContain('left out: kind, label, split');
    const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')) as { schema: { name: string }[]; config: { exclude: string[] } };
    expect(manifest.schema.map((f) => f.name)).toEqual(['x', 'y']);
    expect(manifest.config.exclude).toEqual(['kind', 'label', 'split']);
    // --exclude replaces the default exclusions: what it leaves in of them is said to be a feature.
    const partly = cli('train', '--data', join(dir, 'eval.csv'), '--artifact', join(dir, 'partly'), '--config', join(dir, 'exclude.json'), '--exclude', 'label');
    expect(partly.status).toBe(0);
    expect(partly.stderr).toContain('(split is a feature: --exclude replaces the default label,split; name it too to leave it out)');
    // Not where --exclude "" asked to keep them.
    const kept = cli('train', '--data', join(dir, 'eval.csv'), '--artifact', join(dir, 'kept'), '--config', join(dir, 'exclude.json'), '--exclude', '');
    expect(kept.status).toBe(0);
    expect(kept.stderr).not.toContain('--exclude replaces the default');
  });

  it('when a flag is unknown or missing, exits 2 with one line naming it', () => {
    const bad = cli('train', '--data', 'x.csv', '--out', 'y', '--epochs', '3');
    expect(bad.status).toBe(2);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    expect(bad.stderr).toContain("'--epochs'");
    const notColumn = cli('train', '--data', join(dir, 'eval.csv'), '--artifact', join(dir, 'never'), '--exclude', 'label,nosuch');
    expect(notColumn.status).toBe(2);
    expect(notColumn.stderr).toContain('--exclude names "nosuch", which is not a column');
    const missing = cli('score', '--data', 'x.csv');
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain('give exactly one of --model NAME or --artifact DIR');
    // --model is a registry name in every command; a folder given there is pointed to --artifact.
    const folder = cli('score', '--model', join(dir, 'model'), '--data', 'x.csv');
    expect(folder.status).toBe(2);
    expect(folder.stderr).toContain(`for a folder, use --artifact ${join(dir, 'model')}`);
  });

  it('a config file that does not parse and one the engine refuses both exit 2 with one line naming the file', async () => {
    await writeFile(join(dir, 'broken.json'), '{"epochs": ');
    await writeFile(join(dir, 'wrong.json'), '{"epochs": -3}');
    for (const [file, says] of [['broken.json', 'not valid JSON'], ['wrong.json', 'epochs']] as const) {
      const r = cli('train', '--data', join(dir, 'eval.csv'), '--artifact', join(dir, 'never'), '--config', join(dir, file));
      expect(r.status).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toContain(file);
      expect(r.stderr).toContain(says);
    }
  });

  it('train --model keeps a version whose schema changed as a candidate, and --allow-schema-change accepts it', async () => {
    expect(cli('train', '--data', join(dir, 'train.csv'), '--model', 'schemas', '--config', join(dir, 'fast.json')).status).toBe(0);
    const lines = datasetCsv(false).trimEnd().split('\n');
    await writeFile(join(dir, 'wider.csv'), lines.map((l, i) => `${l},${i === 0 ? 'extra' : i % 5}`).join('\n') + '\n');
    const changed = cli('train', '--data', join(dir, 'wider.csv'), '--model', 'schemas', '--config', join(dir, 'fast.json'));
    expect(changed.status).toBe(3);
    expect(changed.stderr).toMatch(/SCHEMA_CHANGED: .*extra.*; train with --allow-schema-change to accept it/);
    const accepted = cli('train', '--data', join(dir, 'wider.csv'), '--model', 'schemas', '--config', join(dir, 'fast.json'), '--allow-schema-change');
    expect(accepted.status).toBe(0);
    expect(accepted.stderr).toMatch(/now current/);
    expect(cli('train', '--data', join(dir, 'train.csv'), '--artifact', join(dir, 'schemas-out'), '--allow-schema-change').stderr).toContain('--allow-schema-change applies to --model');
  });

  it('train --model goes through the quality gate (--force promotes anyway), leaves label and split out, and score --model scores the current version with the columns --keep names', async () => {
    // A gate no model passes: the version stays a candidate, as the API would keep it.
    const strict = { ...process.env, MODELS_DIR: join(dir, 'registry'), QUALITY_GATE_MIN_VAL_AUC: '1' };
    const trainGated = (...extra: string[]) => spawnSync(process.execPath, [BIN, 'train', '--data', join(dir, 'eval.csv'), '--model', 'gated', '--config', join(dir, 'fast.json'), ...extra], { encoding: 'utf8', env: strict });
    const refused = trainGated();
    // Saved, but not served: exit code 3, so a pipeline can tell.
    expect(refused.status).toBe(3);
    expect(refused.stderr).toContain('left out: label, split');
    // An eval file's test rows and anomalies are trained on too: said, with what to do instead.
    expect(refused.stderr).toMatch(/note: every row is trained on, \d+ of them not marked train in the split column \(\d+ of those labelled 1\); `nce-ood eval` trains on the train rows/);
    expect(refused.stderr).toMatch(/as a candidate, not current: validation AUC .* below the gate's minimum 1/);
    // The same training again: the gate would refuse it again, so it does not train or save a copy.
    const before = readdirSync(join(dir, 'registry', 'gated')).sort();
    const repeated = trainGated();
    expect(repeated.status).toBe(3);
    expect(repeated.stderr).toMatch(/was trained on the same records with the same config and stays a candidate, not current: validation AUC .* below the gate's minimum 1 .*nothing saved/);
    expect(repeated.stderr).not.toContain('training on');
    expect(readdirSync(join(dir, 'registry', 'gated')).sort()).toEqual(before);
    const none = cli('score', '--model', 'gated', '--data', join(dir, 'train.csv'));
    expect(none.stderr).toContain('no model "gated"');
    expect(none.status).toBe(1);
    const forced = trainGated('--force');
    expect(forced.status).toBe(0);
    expect(forced.stderr).toMatch(/now current/);
    const current = readFileSync(join(dir, 'registry', 'gated', 'CURRENT'), 'utf8').trim();
    const manifest = JSON.parse(readFileSync(join(dir, 'registry', 'gated', current, 'manifest.json'), 'utf8')) as { schema: { name: string }[] };
    expect(manifest.schema.map((f) => f.name)).toEqual(['x', 'y', 'kind']);
    // The same file and config as the current version's: nothing new to keep, as a training job does.
    const registered = readdirSync(join(dir, 'registry', 'gated')).sort();
    const again = trainGated('--force');
    expect(again.status).toBe(0);
    expect(again.stderr).toContain(`model gated version ${current} in ${join(dir, 'registry')} was trained on the same records with the same config and stays current: nothing saved`);
    // Known before training: it does not train.
    expect(again.stderr).not.toContain('training on');
    expect(readdirSync(join(dir, 'registry', 'gated')).sort()).toEqual(registered);
    // Files that cannot be read or written: one line in words, exit 1.
    const noFile = cli('score', '--model', 'gated', '--data', join(dir, 'nope.csv'));
    expect(noFile.status).toBe(1);
    expect(noFile.stderr.trim()).toBe(`nce-ood score: ${join(dir, 'nope.csv')}: cannot read the file: no such file or folder (ENOENT)`);
    // A file of a few rows is too few to rank feature drift on (DRIFT_MIN_RECORDS, as the console).
    await writeFile(join(dir, 'two.csv'), 'x,y,kind\n0,0,p\n9,-9,q\n');
    expect(cli('report', '--model', 'gated', '--data', join(dir, 'two.csv'), '--out', join(dir, 'two.html')).status).toBe(0);
    const embedded = /<script type="application\/json" id="console-data">(.*?)<\/script>/s.exec(readFileSync(join(dir, 'two.html'), 'utf8'))?.[1] ?? '';
    const drift = (JSON.parse(embedded) as { console: { drift: { psi: number | null; features: { psi: number | null }[] } } }).console.drift;
    expect(drift.psi).toBeNull();
    expect(drift.features.every((f) => f.psi === null)).toBe(true);
    // Without --data: a report of the model alone, which names no data file.
    expect(cli('report', '--model', 'gated', '--out', join(dir, 'alone.html')).status).toBe(0);
    const alone = readFileSync(join(dir, 'alone.html'), 'utf8');
    expect(JSON.parse(/<script type="application\/json" id="console-data">(.*?)<\/script>/s.exec(alone)?.[1] ?? '{}')).toMatchObject({ source: { file: null, rows: 0 } });
    expect(alone).toMatch(/<title>nce-ood report: gated [^,<]+<\/title>/);
    const noFolder = cli('report', '--model', 'gated', '--out', join(dir, 'no-such-folder', 'r.html'));
    expect(noFolder.status).toBe(1);
    expect(noFolder.stderr.trim()).toBe(`nce-ood report: cannot write ${join(dir, 'no-such-folder', 'r.html')}: no such file or folder (ENOENT)`);
    // The registry's model folder given as an artifact: pointed to --model, or to one version's folder.
    const folder = cli('score', '--artifact', join(dir, 'registry', 'gated'), '--data', join(dir, 'train.csv'));
    expect(folder.status).toBe(1);
    expect(folder.stderr).toContain(`is a model folder of a registry, not one version: score its current version with MODELS_DIR=${join(dir, 'registry')} and --model gated`);

    await writeFile(join(dir, 'ids.csv'), ['id,x,y,kind,note', 'a-1,0,0,p,"plain, with a comma"', 'a-2,6,-6,q,"say ""hi"""', ''].join('\n'));
    const kept = cli('score', '--model', 'gated', '--data', join(dir, 'ids.csv'), '--keep', 'id,note');
    expect(kept.status).toBe(0);
    const lines = kept.stdout.trim().split('\n');
    expect(lines[0]).toBe('id,note,score,logRatio,logDensity,percentile,ood');
    expect(lines[1]).toMatch(/^a-1,"plain, with a comma",-?\d/);
    expect(lines[2]).toMatch(/^a-2,"say ""hi""",-?\d/);
    // The far record scores lower: the kept columns did not shift the score columns.
    const score = (line: string): number => Number(line.split(',').at(-5));
    expect(score(lines[2]!)).toBeLessThan(score(lines[1]!));
    expect(cli('score', '--model', 'gated', '--data', join(dir, 'ids.csv'), '--keep', 'all').stdout.split('\n')[0]).toBe('id,x,y,kind,note,score,logRatio,logDensity,percentile,ood');
    expect(cli('score', '--model', 'gated', '--data', join(dir, 'ids.csv'), '--keep', 'ident').stderr).toContain('--keep names "ident"');
    expect(cli('score', '--model', 'gated', '--data', join(dir, 'ids.csv'), '--keep', 'id,note,id').stderr).toContain('--keep names "id" twice');
    expect(cli('score', '--model', 'gated', '--data', join(dir, 'ids.csv'), '--keep', ',').stderr).toContain('--keep "," names no column');
    const unset = cli('score', '--model', 'gated', '--data=');
    expect([unset.status, unset.stderr.trim()]).toEqual([2, 'nce-ood score: --data is given an empty value (see nce-ood --help)']);
    // Kept columns are echoed as written: ids past 2^53, leading zeros, numbers in other spellings
    // (read as numbers, 9007199254740993 would print as ...992 and 000123 as 123); the scores are those of the typed file.
    await writeFile(join(dir, 'raw-ids.csv'), ['txn,acct,x,y,kind', '9007199254740993,000123,0,0,p', '9007199254740995,1e3,6,-6,q', ''].join('\n'));
    const raw = cli('score', '--model', 'gated', '--data', join(dir, 'raw-ids.csv'), '--keep', 'txn,acct,x');
    expect(raw.status).toBe(0);
    const rawLines = raw.stdout.trim().split('\n');
    expect(rawLines.map((l) => l.split(',').slice(0, 3).join(','))).toEqual(['txn,acct,x', '9007199254740993,000123,0', '9007199254740995,1e3,6']);
    const plain = cli('score', '--model', 'gated', '--data', join(dir, 'raw-ids.csv')).stdout.trim().split('\n');
    expect(rawLines.map((l) => l.split(',').slice(3).join(','))).toEqual(plain);
    // A report never overwrites its --data file.
    const unwritten = readFileSync(join(dir, 'raw-ids.csv'), 'utf8');
    // Named through a link, or read on standard input from it: the same file, refused.
    symlinkSync(join(dir, 'raw-ids.csv'), join(dir, 'raw-link.csv'));
    const over = cli('report', '--model', 'gated', '--data', join(dir, 'raw-ids.csv'), '--out', join(dir, 'raw-link.csv'));
    expect(over.status).toBe(2);
    expect(over.stderr).toContain('is the --data file: the report would overwrite it');
    const input = openSync(join(dir, 'raw-ids.csv'), 'r');
    const piped = spawnSync(process.execPath, [BIN, 'report', '--model', 'gated', '--data', '-', '--out', join(dir, 'raw-ids.csv')], { encoding: 'utf8', env: { ...process.env, MODELS_DIR: join(dir, 'registry') }, stdio: [input, 'pipe', 'pipe'] });
    closeSync(input);
    expect([piped.status, piped.stderr]).toEqual([2, expect.stringContaining('is the --data file')]);
    expect(readFileSync(join(dir, 'raw-ids.csv'), 'utf8')).toBe(unwritten);
    // Another file of the same name elsewhere is not.
    expect(cli('report', '--model', 'gated', '--data', join(dir, 'raw-ids.csv'), '--out', join(dir, 'raw-ids.html')).status).toBe(0);
    // A damaged current version (a byte of its weights changed) is named, model and version, by score and report.
    cpSync(join(dir, 'registry'), join(dir, 'damaged'), { recursive: true });
    const weights = join(dir, 'damaged', 'gated', current, 'weights.bin');
    const bytes = readFileSync(weights);
    bytes[0] ^= 0xff;
    writeFileSync(weights, bytes);
    const damaged = { ...process.env, MODELS_DIR: join(dir, 'damaged') };
    for (const args of [['score', '--model', 'gated', '--data', join(dir, 'ids.csv')], ['report', '--model', 'gated', '--out', join(dir, 'damaged.html')]]) {
      const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: damaged });
      expect([r.status, r.stderr.trim().split('\n')]).toEqual([1, [expect.stringMatching(new RegExp(`^nce-ood ${args[0]}: model "gated" version ${current} cannot be loaded: .*sha256.*make another version current`))]]);
    }
  });
});
