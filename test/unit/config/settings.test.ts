import { loadSettings, SettingsError } from '../../../src/config';

describe('loadSettings', () => {
  it('with an empty environment, gives every default', () => {
    expect(loadSettings({})).toEqual({
      PORT: 8080,
      MODELS_DIR: './models',
      DATASETS_DIR: './data',
      MAX_BODY_BYTES: 1 << 20,
      MAX_DATASET_BYTES: 64 << 20,
      MAX_BATCH_RECORDS: 10_000,
      QUALITY_GATE_MIN_VAL_AUC: 0.5,
      QUALITY_GATE_MAX_AUC_DROP: 0.05,
      LOG_LEVEL: 'info',
    });
  });

  it('parses API_KEYS into scoped keys', () => {
    expect(loadSettings({ API_KEYS: 'admin:aaaaaaaa, score:bbbbbbbb' }).API_KEYS).toEqual([
      { scope: 'admin', key: 'aaaaaaaa' },
      { scope: 'score', key: 'bbbbbbbb' },
    ]);
  });

  it('when several values are bad, names every variable at once', () => {
    try {
      loadSettings({ PORT: 'eighty', API_KEYS: 'root:x', TF_BACKEND: 'gpu', MAX_BATCH_RECORDS: '0' });
      throw new Error('expected SettingsError');
    } catch (e: unknown) {
      expect(e).toBeInstanceOf(SettingsError);
      const problems = (e as SettingsError).problems.join('\n');
      for (const v of ['PORT', 'API_KEYS', 'TF_BACKEND', 'MAX_BATCH_RECORDS']) expect(problems).toContain(v);
    }
  });
});
