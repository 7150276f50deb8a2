import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually, freePort, ROOT } from '../helpers/processes';

/** The README's quickstart and walkthrough, run as a newcomer would (only the port differs). */
let dir: string;
let service: ChildProcess;
let port: number;
let readme: string;

function block(marker: string): string {
  const m = new RegExp(`<!-- ${marker} -->\\s*\`\`\`sh\\n([\\s\\S]*?)\`\`\``).exec(readme);
  if (!m) throw new Error(`README has no block after <!-- ${marker} -->`);
  return m[1] as string;
}

beforeAll(async () => {
  readme = await readFile(join(ROOT, 'README.md'), 'utf8');
  dir = await mkdtemp(join(tmpdir(), 'nce-readme-'));
  port = await freePort();
});

afterAll(async () => {
  if (service?.pid && service.exitCode === null) process.kill(-service.pid, 'SIGTERM');
  await rm(dir, { recursive: true, force: true });
});

describe('the README', () => {
  it('quickstart: `npm start` serves with no setup besides `npm ci` (which CI has run), and `npm test` is the test command', async () => {
    const lines = block('quickstart')
      .split('\n')
      .map((l) => l.replace(/#.*$/, '').trim())
      .filter(Boolean);
    expect(lines).toEqual(['npm ci && npm start', 'npm test']);
    // The models and datasets go to a scratch directory instead of the checkout.
    service = spawn('npm', ['start'], { cwd: ROOT, detached: true, stdio: 'ignore', env: { ...process.env, PORT: String(port), MODELS_DIR: join(dir, 'models'), DATASETS_DIR: join(dir, 'data') } });
    await eventually(async () => ((await fetch(`http://localhost:${port}/healthz`)).ok ? true : undefined), 30_000, 'npm start');
  });

  it('walkthrough: upload, train, watch, score and metrics work verbatim', () => {
    const script = block('walkthrough').replace(/localhost:8080/g, `localhost:${port}`);
    // stdin not a socket: bash run with a socket on stdin takes itself for a remote shell and reads the system bashrc.
    const r = spawnSync('bash', ['-euo', 'pipefail', '-c', script], { cwd: ROOT, encoding: 'utf8', timeout: 180_000, stdio: ['ignore', 'pipe', 'pipe'] });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const out = r.stdout.split('\n');
    expect(JSON.parse(out[0] as string)).toMatchObject({ name: 'payments', rows: 600, columns: ['amount', 'channel', 'hour'] });
    expect(out[1]).toMatch(/^"result":\{"model":"payments","version":"[^"]+","promoted":true/);
    const scored = JSON.parse(out[2] as string) as { results: { ood: boolean }[] };
    expect(scored.results.map((x) => x.ood)).toEqual([false, true]);
    expect(out.slice(3).filter(Boolean)).toEqual(['nce_ood_scored_records_total{model="payments"} 2', 'nce_ood_flagged_records_total{model="payments"} 1']);
  });
});
