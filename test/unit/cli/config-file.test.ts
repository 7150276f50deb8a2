import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UsageError } from '../../../src/cli/args';
import { readTrainingConfig } from '../../../src/cli/config-file';

describe('readTrainingConfig', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nce-config-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads a config file saved with a UTF-8 byte-order mark (Windows Notepad) as the same config without it', () => {
    const plain = join(dir, 'plain.json');
    const marked = join(dir, 'marked.json');
    writeFileSync(plain, '{"epochs":3}');
    writeFileSync(marked, '\uFEFF{"epochs":3}');
    expect(readTrainingConfig(marked).epochs).toBe(3);
    expect(readTrainingConfig(marked)).toEqual(readTrainingConfig(plain));
  });

  it('refuses a file that is not JSON, or a config the engine refuses, as a usage error naming the file', () => {
    const broken = join(dir, 'broken.json');
    writeFileSync(broken, '\uFEFF{"epochs":');
    expect(() => readTrainingConfig(broken)).toThrow(UsageError);
    expect(() => readTrainingConfig(broken)).toThrow(/broken\.json: config is not valid JSON/);
    const unknown = join(dir, 'unknown.json');
    writeFileSync(unknown, '{"epoch":3}');
    expect(() => readTrainingConfig(unknown)).toThrow(/unknown\.json: .*epoch/);
  });
});
