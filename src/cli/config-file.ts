import { readFileSync } from 'node:fs';
import { messageOf, NceError, resolveTrainingConfig, type TrainingConfig } from '../nce';
import { fileProblem } from '../store';
import { UsageError } from './args';

/** Reads and validates a training config JSON file; no file means every default. */
export function readTrainingConfig(file: string | undefined): TrainingConfig {
  if (file === undefined) return resolveTrainingConfig({});
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e: unknown) {
    // A file that cannot be read, as a data file that cannot: exit code 1 (a flag misused is 2).
    throw new NceError('INVALID_CONFIG', `${file}: cannot read config: ${fileProblem(e)}`);
  }
  let json: unknown;
  try {
    // A byte-order mark, as Windows Notepad saves UTF-8, is not part of the JSON (data files drop it too).
    json = JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch (e: unknown) {
    throw new UsageError(`${file}: config is not valid JSON (${messageOf(e)})`);
  }
  try {
    return resolveTrainingConfig(json);
  } catch (e: unknown) {
    // A config the engine refuses is a usage error like one that does not parse: exit code 2 for both.
    throw new UsageError(`${file}: ${messageOf(e)}`);
  }
}
