import { loadSettings, SettingsError } from '../../../src/config';

describe('loadSettings', () => {
  it('with an empty environment, gives every default', () => {
    expect(loadSettings({})).toEqual({
      PORT: 8080,
      HTTP_HEADERS_TIMEOUT_MS: 20_000,
      HTTP_REQUEST_TIMEOUT_MS: 120_000,
      HTTP_MAX_CONNECTIONS: 4096,
      MODEL_CACHE_MAX: 64,
      MODEL_CACHE_MEGABYTES: 256,
      MODEL_KEEP_VERSIONS: 10,
      MODELS_DIR: './models',
      DATASETS_DIR: './data',
      MAX_BODY_BYTES: 8 << 20,
      MAX_DATASET_BYTES: 64 << 20,
      MAX_DATASET_COLUMNS: 4096,
      MAX_CONCURRENT_UPLOADS: 2,
      MAX_UPLOAD_VALUES: 4_000_000,
      MAX_TRAINING_VALUES: 16_000_000,
      MAX_BATCH_RECORDS: 10_000,
      MAX_EXPLAIN_RECORDS: 100,
      SCORING_THREADS: 1,
      SCORING_THREAD_MIN_RECORDS: 16,
      QUALITY_GATE_MIN_VAL_AUC: 0,
      MAX_QUEUED_JOBS: 100,
      RATE_LIMIT_PER_MINUTE: 0,
      DRIFT_WINDOW_RECORDS: 5000,
      DRIFT_WINDOW_SECONDS: 3600,
      DRIFT_MIN_RECORDS: 100,
      DRIFT_TOP_FEATURES: 10,
      DRIFT_RETRAIN_PSI: 0.25,
      DRIFT_RETRAIN_AFTER_SECONDS: 900,
      WORKER_CONCURRENCY: 1,
      JOB_ATTEMPTS: 3,
      JOB_LOCK_MS: 30000,
      WORKER_SHUTDOWN_MS: 25000,
      SHUTDOWN_MS: 15000,
      WORKER_METRICS_PORT: 9091,
      QUALITY_GATE_MAX_AUC_DROP: 1,
      LOG_LEVEL: 'info',
      CONSOLE_RAW_VALUES: 'admin',
    });
  });

  it('parses API_KEYS into scoped keys', () => {
    expect(loadSettings({ API_KEYS: 'admin:aaaaaaaa, score:bbbbbbbb' }).API_KEYS).toEqual([
      { scope: 'admin', key: 'aaaaaaaa' },
      { scope: 'score', key: 'bbbbbbbb' },
    ]);
  });

  it('reads a Redis URL and drift-retraining pairs', () => {
    const s = loadSettings({ REDIS_URL: 'redis://cache:6379/2', DRIFT_RETRAIN: 'fraud:fraud-ref, sensors:sensor_ref' });
    expect(s.REDIS_URL).toBe('redis://cache:6379/2');
    expect(s.DRIFT_RETRAIN).toEqual([
      { model: 'fraud', dataset: 'fraud-ref' },
      { model: 'sensors', dataset: 'sensor_ref' },
    ]);
  });

  it('refuses an API_KEYS of no key, which would open the API as unset does; a value of only white space; a Redis URL the client would misread', () => {
    for (const keys of [',', ' , ', ',,']) expect(() => loadSettings({ API_KEYS: keys })).toThrow(/API_KEYS: holds no key/);
    for (const name of ['PORT', 'WORKER_METRICS_PORT', 'SCORING_THREADS', 'RATE_LIMIT_PER_MINUTE', 'MAX_BODY_BYTES', 'API_KEYS', 'REDIS_URL']) {
      for (const blank of [' ', '\t', ' \n ']) expect(() => loadSettings({ [name]: blank })).toThrow(new RegExp(`${name}: blank \\(only white space\\)`));
    }
    // A number around spaces is still that number.
    expect(loadSettings({ PORT: ' 9090 ' }).PORT).toBe(9090);
    for (const [url, why] of [
      ['redis://127.0.0.1:6379/abc', /no database number/],
      ['redis://127.0.0.1:6379/1/2', /no database number/],
      ['redis://127.0.0.1:notaport', /port of 1-65535/],
      ['redis://127.0.0.1:99999', /port of 1-65535/],
      ['redis://127.0.0.1:0', /port 0/],
      ['redis://127.0.0.1:6379?db=99', /not as \?db=/],
    ] as const) expect(() => loadSettings({ REDIS_URL: url })).toThrow(new RegExp(`REDIS_URL: .*${why.source}`));
    for (const url of ['redis://cache', 'redis://cache:6379/', 'redis://cache:6379/15', 'rediss://user:p%40ss@cache:6380/0', 'redis://[::1]:6379']) expect(loadSettings({ REDIS_URL: url }).REDIS_URL).toBe(url);
  });

  it('when several values are bad, names every variable at once', () => {
    try {
      loadSettings({ PORT: 'eighty', API_KEYS: 'root:x', TF_BACKEND: 'gpu', MAX_BATCH_RECORDS: '0', REDIS_URL: 'localhost:6379', DRIFT_RETRAIN: 'fraud' });
      throw new Error('expected SettingsError');
    } catch (e: unknown) {
      expect(e).toBeInstanceOf(SettingsError);
      const problems = (e as SettingsError).problems.join('\n');
      for (const v of ['PORT', 'API_KEYS', 'TF_BACKEND', 'MAX_BATCH_RECORDS', 'REDIS_URL', 'DRIFT_RETRAIN']) expect(problems).toContain(v);
    }
  });

  it('refuses a headers timeout above the request timeout by name, which Node would refuse at start-up in words of its own', () => {
    expect(() => loadSettings({ HTTP_REQUEST_TIMEOUT_MS: '15000' })).toThrow(SettingsError);
    expect(() => loadSettings({ HTTP_REQUEST_TIMEOUT_MS: '15000' })).toThrow(/HTTP_HEADERS_TIMEOUT_MS: 20000 is above HTTP_REQUEST_TIMEOUT_MS \(15000\)/);
    expect(loadSettings({ HTTP_REQUEST_TIMEOUT_MS: '15000', HTTP_HEADERS_TIMEOUT_MS: '15000' }).HTTP_REQUEST_TIMEOUT_MS).toBe(15000);
  });
});
