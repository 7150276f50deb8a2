import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { FsModelStore, parseCsv } from '../../src/store';
import { ARTIFACTS, chartView, launchChromium, onlyOrigin, seriousViolations, watch } from '../helpers/browser';
import { eventually, ROOT, type Running, startApi } from '../helpers/processes';

const ADMIN = 'admin-key-ui-test-0001';
const SCORER = 'score-key-ui-test-0002';
const INJECTED = '<img src=x onerror=alert(1)>';
/** A feature name of 200 characters without a space. */
const LONG_NAME = 'x'.repeat(200);
/** A user's pause before confirming a promote: a second activation sooner is the same gesture (a double-click), which does not confirm. */
const CONFIRM_PAUSE_MS = 1200;
const INJECTED_VALUE = '<svg onload=alert(2)>';
/** A long category, as a user agent is. */
const LONG_CATEGORY = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko)';
const AXE = readFile(require.resolve('axe-core/axe.min.js'), 'utf8');

let dir: string;
let api: Running & { url: string };
let browser: Browser;
let context: BrowserContext;
let outside: string[];
let versions: string[];
const payments = parseCsv(readFileSync(join(ROOT, 'examples', 'payments.csv'), 'utf8')).records;
/** Payments with the amount shifted far beyond the reference's. */
const shifted = (rows: typeof payments): typeof payments => rows.map((r) => ({ ...r, amount: (r.amount as number) * 25 + 500 }));

/** An API answer's body, read loosely: the contract tests hold the shapes. */
type Loose = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- answers are checked field by field

async function call(method: string, path: string, body?: unknown, key = ADMIN): Promise<{ status: number; body: Loose }> {
  const res = await fetch(`${api.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': typeof body === 'string' ? 'text/csv' : 'application/json' }) },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  return { status: res.status, body: res.status === 204 ? {} : ((await res.json()) as Loose) };
}

async function train(model: string, dataset: string, config: object): Promise<string> {
  const started = await call('POST', `/v1/models/${model}/train`, { dataset, config });
  expect(started.status).toBe(202);
  const job = await eventually(async () => {
    const j = (await call('GET', `/v1/jobs/${started.body.jobId}`)).body;
    return j.state === 'completed' || j.state === 'failed' ? j : undefined;
  }, 60_000, `training ${model}`);
  expect(job.state).toBe('completed');
  return job.result.version as string;
}

async function score(model: string, records: object[]): Promise<{ ood: boolean }[]> {
  const res = await call('POST', `/v1/models/${model}/score`, { records }, SCORER);
  expect(res.status).toBe(200);
  return res.body.results;
}

/** A new page that knows `key` (as if given to the key form), watched for console errors and dialogs. */
async function openPage(key: string | null): Promise<{ page: Page; problems: string[] }> {
  const page = await context.newPage();
  if (key !== null) await page.addInitScript(`sessionStorage.setItem('nce-ood.apiKey', ${JSON.stringify(key)})`);
  const { problems } = watch(page);
  return { page, problems };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'nce-ui-'));
  api = await startApi({ MODELS_DIR: join(dir, 'models'), DATASETS_DIR: join(dir, 'data'), API_KEYS: `admin:${ADMIN},score:${SCORER}`, DRIFT_MIN_RECORDS: '50', SCORING_THREADS: '1' });
  const csv = await readFile(join(ROOT, 'examples', 'payments.csv'), 'utf8');
  expect((await call('PUT', '/v1/datasets/payments', csv)).status).toBe(200);
  // Two versions, so the page has one to promote: the second (seed 2) is current.
  versions = [await train('payments', 'payments', { seed: 1 }), await train('payments', 'payments', { seed: 2 })];
  // A model whose feature name and category are markup: the pages must show them as text.
  const xss = Array.from({ length: 120 }, (_, i) => ({ [INJECTED]: (i % 17) - 8 + (i % 5) / 10, kind: [INJECTED_VALUE, 'plain', LONG_CATEGORY][i % 3]!, [LONG_NAME]: i % 4 }));
  expect((await call('PUT', '/v1/datasets/xss', { records: xss })).status).toBe(200);
  await train('xss', 'xss', { epochs: 5 });
  // Normal traffic, then payments with shifted amounts in three batches (the flagged sample takes a few per batch, spaced).
  await score('payments', payments.slice(0, 300));
  for (let k = 0; k < 3; k++) {
    await new Promise((r) => setTimeout(r, 300));
    expect((await score('payments', shifted(payments.slice(300 + 50 * k, 350 + 50 * k)))).filter((r) => r.ood).length).toBeGreaterThan(40);
  }
  await score('xss', [{ [INJECTED]: 900, kind: INJECTED_VALUE, [LONG_NAME]: 1 }]);
  browser = await launchChromium();
  context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  outside = await onlyOrigin(context, api.url);
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await api?.stop();
  await rm(dir, { recursive: true, force: true });
});

afterEach(() => {
  // No page of any test asked anything of another host (no CDN, no fonts, no telemetry).
  expect(outside).toEqual([]);
});

describe('the web console in a browser', () => {
  it('a model page asks for an API key before drawing its sections, not below empty ones', async () => {
    const { page, problems } = await openPage(null);
    await page.goto(`${api.url}/ui/models/payments`);
    await page.locator('#key').waitFor({ state: 'visible' });
    expect(await page.locator('main > section.card:not(#auth):visible').count()).toBe(0);
    await page.fill('#key', SCORER);
    await page.click('#key-form button[type=submit]');
    await page.locator('#feature-table tbody tr').first().waitFor();
    expect(await page.locator('#versions').isVisible()).toBe(true);
    expect(problems).toEqual([]);
    await page.close();
  });

  it('refuses a key an HTTP header cannot carry (a typographic dash, an emoji) in the form, and forgets one stored before, asking again', async () => {
    const { page, problems } = await openPage(null);
    await page.goto(`${api.url}/ui/`);
    await page.locator('#key').waitFor({ state: 'visible' });
    await page.fill('#key', 'score\u2013key-\u{1f600}');
    await page.click('#key-form button[type=submit]');
    await page.getByText('cannot carry').waitFor();
    expect(await page.evaluate("sessionStorage.getItem('nce-ood.apiKey')")).toBeNull();
    expect(await page.locator('#key').isVisible()).toBe(true);
    await page.close();
    const stored = await openPage('cl\u00e9-\u{1f600}-key');
    await stored.page.goto(`${api.url}/ui/`);
    await stored.page.locator('#key').waitFor({ state: 'visible' });
    await stored.page.fill('#key', SCORER);
    await stored.page.click('#key-form button[type=submit]');
    await stored.page.locator('#models-table tbody tr', { hasText: 'payments' }).waitFor();
    expect([...problems, ...stored.problems]).toEqual([]);
    await stored.page.close();
  });

  it('/ui/ asks for an API key, keeps it in session storage and never in the URL, then lists the models and datasets', async () => {
    const { page, problems } = await openPage(null);
    await page.goto(`${api.url}/ui/`);
    await page.locator('#key').waitFor({ state: 'visible' });
    await page.fill('#key', SCORER);
    await page.click('#key-form button[type=submit]');
    const row = page.locator('#models-table tbody tr', { hasText: 'payments' });
    await row.waitFor();
    expect(await row.locator('td').first().textContent()).toBe(versions[1]);
    expect(await row.locator('td').nth(3).textContent()).toBe('450');
    expect(Number(await row.locator('td').last().textContent())).toBeGreaterThan(0.25);
    expect(await page.locator('#datasets-table tbody tr').allTextContents()).toEqual(expect.arrayContaining([expect.stringContaining('payments')]));
    expect(page.url()).toBe(`${api.url}/ui/`);
    expect(await page.evaluate("sessionStorage.getItem('nce-ood.apiKey')")).toBe(SCORER);
    expect(await seriousViolations(page, await AXE)).toEqual([]);
    await page.screenshot({ path: join(ARTIFACTS, 'index.png'), fullPage: true });
    await row.locator('a').click();
    await page.waitForURL(`${api.url}/ui/models/payments`);
    await page.locator('#feature-table tbody tr').first().waitFor();
    expect(problems).toEqual([]);
    await page.close();
  });

  it('/ui/models/payments draws training, scores, drift with the shifted feature first, flagged records with their top contribution; a score key sees no values and no promote', async () => {
    const { page, problems } = await openPage(SCORER);
    await page.goto(`${api.url}/ui/models/payments`);
    await page.locator('#feature-table tbody tr').first().waitFor();
    for (const id of ['history-chart', 'score-chart', 'feature-chart']) {
      const chart = await chartView(page, id);
      expect({ id, ...chart, sized: chart.width > 100 && chart.height > 100, drawn: chart.points > 0 && chart.painted > 1000 }).toMatchObject({ id, sized: true, drawn: true });
      expect(chart.label).toContain(versions[1]);
    }
    expect((await chartView(page, 'feature-chart')).label).toContain('most drifted first: amount');
    // The kernel partners are named beside the Gaussian: they make up most of the score.
    expect(await page.locator('#training-facts').textContent()).toContain('gaussian + kde + kde');
    expect(await page.locator('#scores-note').textContent()).toMatch(/flagged ood: about \d+(\.\d+)?% of records like the reference \(/);
    expect(await page.locator('#feature-table tbody tr').first().locator('td').first().textContent()).toBe('amount');
    // Selecting a feature compares its distributions.
    await page.locator('#feature-table tbody tr').first().locator('button').click();
    await page.locator('#feature-detail').waitFor({ state: 'visible' });
    expect((await chartView(page, 'feature-dist-chart')).points).toBeGreaterThan(0);
    const flagged = page.locator('#flagged-list > li').first();
    expect(await flagged.locator('.contribution .feature').first().textContent()).toBe('amount');
    expect(await page.locator('#flagged-list table.values').count()).toBe(0);
    await page.locator('#versions-table tbody tr').nth(1).waitFor();
    expect(await page.locator('#versions-table button').count()).toBe(0);
    expect(problems).toEqual([]);
    await page.close();
  });

  it('/ui/models/{name} of a model that does not exist says so, links to the list and hides the empty sections', async () => {
    const { page, problems } = await openPage(SCORER);
    await page.goto(`${api.url}/ui/models/nosuch`);
    await page.getByText('There is no model named "nosuch"').waitFor();
    expect(await page.locator('#summary a').getAttribute('href')).toBe('/ui/');
    for (const id of ['training', 'scores', 'drift', 'flagged', 'versions']) expect(await page.locator(`#${id}`).isHidden()).toBe(true);
    // The page looks the model up in the list (200) before asking for its page, from the first
    // load on: no 404 for the browser to log, then or at any refresh.
    for (let i = 0; i < 2; i++) await page.waitForResponse((r) => r.url().endsWith('/v1/console') && r.status() === 200, { timeout: 12_000 });
    expect(problems).toEqual([]);
    await page.close();
  });

  it('a model in its first training: its page follows the job, epoch by epoch, and says how it ended when it was cancelled', async () => {
    const csv = await readFile(join(ROOT, 'examples', 'payments.csv'), 'utf8');
    expect((await call('PUT', '/v1/datasets/first', csv)).status).toBe(200);
    const started = await call('POST', '/v1/models/first/train', { dataset: 'first', config: { epochs: 1000, patience: 1000, kernelPartner: false } });
    expect(started.status).toBe(202);
    const { page, problems } = await openPage(SCORER);
    await page.goto(`${api.url}/ui/models/first`);
    await page.getByText('There is no model named "first"').waitFor();
    await page.getByText(new RegExp(`Its training, job ${started.body.jobId}, is running: epoch \\d+ of at most 1000`)).waitFor({ timeout: 20_000 });
    // The list of models has it too, training, with a link to this page (it said "No models yet" alone).
    const index = await context.newPage();
    await index.addInitScript(`sessionStorage.setItem('nce-ood.apiKey', ${JSON.stringify(SCORER)})`);
    await index.goto(`${api.url}/ui/`);
    const pending = index.locator('#pending-list li', { hasText: 'first' });
    await pending.waitFor();
    expect(await pending.textContent()).toBe(`first: training, job ${started.body.jobId} running`);
    expect(await pending.locator('a').getAttribute('href')).toBe('/ui/models/first');
    expect((await call('DELETE', `/v1/jobs/${started.body.jobId}`)).status).toBe(202);
    await page.getByText(new RegExp(`Its last training, job ${started.body.jobId}, failed: JOB_CANCELLED`)).waitFor({ timeout: 12_000 });
    await index.locator('#pending-list li', { hasText: 'first: its last training failed: JOB_CANCELLED' }).waitFor({ timeout: 12_000 });
    // A name the page's lookups once found on every object (toString) is listed as any other.
    const named = await call('POST', '/v1/models/toString/train', { dataset: 'first', config: { epochs: 1000, patience: 1000, kernelPartner: false } });
    expect(named.status).toBe(202);
    try {
      // Read afresh: with no job under way the page asks for the job list only now and then.
      await index.reload();
      await index.locator('#pending-list li', { hasText: 'toString: training, job' }).waitFor({ timeout: 12_000 });
    } finally {
      expect((await call('DELETE', `/v1/jobs/${named.body.jobId}`)).status).toBe(202);
    }
    await index.close();
    // A model without a version cannot be deleted: a failed first training leaves the list after a
    // day. (A context of its own: a clock set on one holds for every page of that context.)
    const later = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    try {
      await later.clock.setFixedTime(new Date(Date.now() + 25 * 3600_000));
      const tomorrow = await later.newPage();
      await tomorrow.addInitScript(`sessionStorage.setItem('nce-ood.apiKey', ${JSON.stringify(SCORER)})`);
      await tomorrow.goto(`${api.url}/ui/`);
      await tomorrow.locator('#models-table tbody tr', { hasText: 'payments' }).waitFor();
      expect(await tomorrow.locator('#pending').isHidden()).toBe(true);
      expect(await tomorrow.locator('#pending-list li').count()).toBe(0);
    } finally {
      await later.close();
    }
    expect(problems).toEqual([]);
    await page.close();
  });

  it('a model deleted while its page is open: the page says so, the focus moves to that line, and the refreshes stop asking for it', async () => {
    const csv = await readFile(join(ROOT, 'examples', 'payments.csv'), 'utf8');
    expect((await call('PUT', '/v1/datasets/doomed', csv)).status).toBe(200);
    // Two versions: the older has a Promote button to hold the focus.
    await train('doomed', 'doomed', { epochs: 2, kernelPartner: false, seed: 1 });
    await train('doomed', 'doomed', { epochs: 2, kernelPartner: false, seed: 2 });
    const { page, problems } = await openPage(ADMIN);
    await page.goto(`${api.url}/ui/models/doomed`);
    const promote = page.locator('#versions-table button', { hasText: 'Promote' }).first();
    await promote.waitFor();
    await promote.focus();
    expect((await call('DELETE', '/v1/models/doomed')).status).toBe(204);
    await page.getByText('There is no model named "doomed"').waitFor({ timeout: 12_000 });
    expect(await page.evaluate('document.activeElement && document.activeElement.id')).toBe('summary');
    for (let i = 0; i < 2; i++) await page.waitForResponse((r) => r.url().endsWith('/v1/console') && r.status() === 200, { timeout: 12_000 });
    expect(problems.filter((p) => !p.includes('404'))).toEqual([]);
    expect(problems.filter((p) => p.includes('404'))).toHaveLength(1);
    await page.close();
  });

  it('an admin key sees raw values and promotes; the page follows new traffic every few seconds without a reload', async () => {
    const { page, problems } = await openPage(ADMIN);
    let navigations = 0;
    page.on('framenavigated', () => navigations++);
    await page.goto(`${api.url}/ui/models/payments`);
    await page.locator('#flagged-list table.values').first().waitFor();
    expect(await page.locator('#flagged-list table.values').first().textContent()).toContain('channel');
    const summary = page.locator('#summary');
    expect(await summary.textContent()).toContain('450 records scored');
    await score('payments', payments.slice(0, 20));
    await page.locator('#summary', { hasText: '470 records scored' }).waitFor({ timeout: 15_000 });
    expect(navigations).toBe(1);
    await page.screenshot({ path: join(ARTIFACTS, 'model.png'), fullPage: true });
    expect(await seriousViolations(page, await AXE)).toEqual([]);
    // Promote the older version: it becomes current, and the page says so.
    const older = page.locator('#versions-table tbody tr', { hasText: versions[0] as string });
    // The first click only asks; nothing is promoted until the second, a deliberate moment later.
    // A double-click only asks too: its second click lands on the button its first armed (at some
    // widths the armed button does not move), and must not confirm.
    await older.getByRole('button', { name: `Promote version ${versions[0] as string}` }).dblclick();
    await older.locator('button', { hasText: 'Press again to promote' }).waitFor();
    expect(await page.locator('#promote-status').textContent()).toMatch(new RegExp(`^Promote version ${versions[0] as string}\\? Activate its button again within 5 s`));
    await page.waitForTimeout(CONFIRM_PAUSE_MS);
    expect((await call('GET', '/v1/models/payments')).body.version).toBe(versions[1]);
    // By keyboard: Enter on the armed button promotes it.
    await older.locator('button', { hasText: 'Press again to promote' }).focus();
    await page.keyboard.press('Enter');
    await page.locator('#promote-status', { hasText: 'is current' }).waitFor();
    await page.locator('#summary', { hasText: versions[0] as string }).waitFor();
    expect((await call('GET', '/v1/models/payments')).body.version).toBe(versions[0]);
    // Its button is gone with the redraw; keyboard focus is on the status that says so, not on the page.
    // Polled from here: waitForFunction polls inside the page with a compiled predicate, which the
    // console's CSP (no 'unsafe-eval') refuses once the first check fails.
    await eventually(async () => ((await page.evaluate('document.activeElement && document.activeElement.id')) === 'promote-status' ? true : undefined), 10_000, 'focus on the promote status');
    expect(problems).toEqual([]);
    await page.close();
  });

  it("shows the model's retraining schedule, and hides the line once the schedule is deleted", async () => {
    const put = await call('PUT', '/v1/models/payments/schedule', { cron: '0 3 * * 1', dataset: 'payments', timezone: 'Europe/Berlin' });
    expect(put.status).toBe(200);
    try {
      const { page, problems } = await openPage(SCORER);
      await page.goto(`${api.url}/ui/models/payments`);
      const line = page.locator('#schedule');
      await line.waitFor();
      const text = await line.textContent();
      expect(text).toContain('cron "0 3 * * 1" (Europe/Berlin), on dataset "payments"');
      expect(text).toContain(`next run ${String(put.body.nextRun).replace('T', ' ').slice(0, 19)} UTC`);
      expect((await call('DELETE', '/v1/models/payments/schedule')).status).toBe(204);
      await line.waitFor({ state: 'hidden', timeout: 15_000 });
      expect(problems).toEqual([]);
      await page.close();
    } finally {
      await call('DELETE', '/v1/models/payments/schedule');
    }
  });

  it('a model with a version: its page follows a retraining, and says how it failed until a later training completes', async () => {
    const started = await call('POST', '/v1/models/xss/train', { dataset: 'xss', config: { epochs: 1000, patience: 1000, kernelPartner: false } });
    expect(started.status).toBe(202);
    const { page, problems } = await openPage(SCORER);
    await page.goto(`${api.url}/ui/models/xss`);
    await page.locator('#retraining', { hasText: new RegExp(`^A retraining, job ${started.body.jobId}, is running: epoch \\d+ of at most 1000`) }).waitFor({ timeout: 20_000 });
    expect((await call('DELETE', `/v1/jobs/${started.body.jobId}`)).status).toBe(202);
    await page.locator('#retraining', { hasText: `Its last retraining, job ${started.body.jobId}, failed: JOB_CANCELLED` }).waitFor({ timeout: 12_000 });
    // A training that completed since (here unchanged: no new version): the failure before it is
    // no longer news. A job that ran between two refreshes is seen at the next full read of the
    // jobs, within 30 s (each refresh reads only the queued and running ones).
    await train('xss', 'xss', { epochs: 5 });
    await page.locator('#retraining').waitFor({ state: 'hidden', timeout: 40_000 });
    // A retraining the gate kept back (its schema changed: a column left out) is said, and its
    // candidate row is drawn within a refresh or two, not at the versions' next 30 s read.
    const kept = await call('POST', '/v1/models/xss/train', { dataset: 'xss', config: { epochs: 5, exclude: ['kind'] } });
    expect(kept.status).toBe(202);
    await page.locator('#retraining', { hasText: new RegExp(`^Its last retraining, job ${kept.body.jobId}, kept version \\S+ back as a candidate: SCHEMA_CHANGED`) }).waitFor({ timeout: 40_000 });
    await page.locator('#versions-table tbody tr', { hasText: 'candidate: SCHEMA_CHANGED' }).waitFor({ timeout: 12_000 });
    expect(problems).toEqual([]);
    await page.close();
  });

  it("shows the training's warnings on the model page (a threshold calibrated on too few records)", async () => {
    const warnings = (await call('GET', '/v1/models/xss')).body.training.warnings as string[];
    expect(warnings.some((w) => w.includes('held-out records'))).toBe(true);
    const { page, problems } = await openPage(SCORER);
    await page.goto(`${api.url}/ui/models/xss`);
    await page.locator('#training-warnings li').first().waitFor();
    expect(await page.locator('#training-warnings li').allTextContents()).toEqual(warnings);
    // A model without warnings shows no empty box.
    await page.goto(`${api.url}/ui/models/payments`);
    await page.locator('#training-facts dt').first().waitFor();
    expect((await call('GET', '/v1/models/payments')).body.training.warnings ?? []).toEqual([]);
    expect(await page.locator('#training-warnings').isHidden()).toBe(true);
    expect(problems).toEqual([]);
    await page.close();
  });

  it('a promote is drawn at once, a slower refresh sent before it does not draw the old version back, and its line goes once another client promotes', async () => {
    const { page, problems } = await openPage(ADMIN);
    const before = (await call('GET', '/v1/models/payments')).body.version as string;
    const other = versions.find((v) => v !== before) as string;
    let hold = false;
    let held: Promise<void> | null = null;
    await page.route('**/v1/models/payments/console', async (route) => {
      const response = await route.fetch();
      if (hold && held === null) {
        // The first refresh after `hold`: answered 8 s late, with the version current when it was asked.
        held = new Promise((r) => setTimeout(r, 8000));
        await held;
      }
      await route.fulfill({ response });
    });
    await page.goto(`${api.url}/ui/models/payments`);
    const row = page.locator('#versions-table tbody tr', { hasText: other });
    await row.locator('button', { hasText: 'Promote' }).waitFor();
    hold = true;
    await eventually(async () => (held ? true : undefined), 12_000, 'a refresh held');
    await row.locator('button', { hasText: 'Promote' }).click();
    await page.waitForTimeout(CONFIRM_PAUSE_MS);
    await row.locator('button', { hasText: 'Press again to promote' }).click();
    await page.locator('#promote-status', { hasText: `Version ${other} is current.` }).waitFor();
    await page.locator('#summary', { hasText: `Version ${other},` }).waitFor({ timeout: 4000 });
    // The held answer (the old version) arrives and is not drawn.
    await held;
    await page.waitForTimeout(1500);
    expect(await page.locator('#summary').textContent()).toContain(`Version ${other},`);
    expect(await page.locator('#versions-table tr.current td').first().textContent()).toBe(other);
    // Another client promotes back: the page follows, and its "is current" line goes.
    expect((await call('POST', `/v1/models/payments/versions/${before}/promote`)).status).toBe(200);
    await page.locator('#summary', { hasText: `Version ${before},` }).waitFor({ timeout: 12_000 });
    expect(await page.locator('#promote-status').textContent()).toBe('');
    expect(problems).toEqual([]);
    await page.close();
  });

  it('a promote refused for its key says it was not made, and asks for a key', async () => {
    const { page } = await openPage(ADMIN);
    await page.route('**/promote', (route) => route.continue({ headers: { ...route.request().headers(), authorization: 'Bearer revoked-key-0000000' } }));
    await page.goto(`${api.url}/ui/models/payments`);
    const button = page.locator('#versions-table button', { hasText: 'Promote' }).first();
    await button.click();
    await page.waitForTimeout(CONFIRM_PAUSE_MS);
    await page.locator('#versions-table button', { hasText: 'Press again to promote' }).click();
    // The form asks for a key; the sections wait under it, the versions' line saying what happened.
    await page.locator('#auth').waitFor({ state: 'visible' });
    await eventually(async () => ((await page.locator('#promote-status').textContent()) === 'Not promoted: the key was not accepted.' ? true : undefined), 5000, 'the promote status');
    await page.close();
  });

  it('a service that stops answering is said within 20 s, not "Updated" for ever; the models page hides its lists when the key is refused', async () => {
    const { page, problems } = await openPage(ADMIN);
    await page.goto(`${api.url}/ui/models/payments`);
    await page.locator('#status', { hasText: 'Updated' }).waitFor();
    expect(await page.locator('#status').textContent()).toMatch(/^Updated \d\d:\d\d:\d\d UTC/);
    // Every later request hangs (a stopped process, a proxy holding the connection).
    await page.route('**/v1/**', () => undefined);
    await page.locator('#status', { hasText: 'Could not load: the service did not answer within 20 s.' }).waitFor({ timeout: 30_000 });
    expect(problems).toEqual([]);
    await page.close();

    const index = await openPage(ADMIN);
    await index.page.goto(`${api.url}/ui/`);
    await index.page.locator('#models-table tbody tr', { hasText: 'payments' }).waitFor();
    await index.page.route('**/v1/**', (route) => route.fulfill({ status: 401, contentType: 'application/problem+json', body: JSON.stringify({ status: 401, code: 'UNAUTHORIZED', detail: 'no' }) }));
    await index.page.locator('#auth').waitFor({ state: 'visible', timeout: 12_000 });
    expect(await index.page.locator('#models-table').isHidden()).toBe(true);
    expect(await index.page.locator('#datasets-table').isHidden()).toBe(true);
    await index.page.close();
  });

  it('the models page lists every queued first training, keeps its models refreshing when only the datasets fail to read, and announces an outage once', async () => {
    const { page, problems } = await openPage(ADMIN);
    // 60 first trainings queued (MAX_QUEUED_JOBS allows 100): the page asked for 50 and showed those.
    const queued = Array.from({ length: 60 }, (_, i) => ({ id: `job-${i}`, state: 'queued', payload: { kind: 'train', model: `q-${String(i).padStart(2, '0')}`, dataset: 'payments', config: {} }, progress: [], attempts: 0, createdAt: new Date(Date.now() - i * 1000).toISOString() }));
    await page.route('**/v1/jobs?state=queued*', (route) => {
      const limit = Number(new URL(route.request().url()).searchParams.get('limit') ?? 50);
      return route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify({ jobs: queued.slice(0, limit) }) });
    });
    await page.route('**/v1/datasets', (route) => route.fulfill({ status: 503, contentType: 'application/problem+json', body: JSON.stringify({ status: 503, code: 'STORE_UNAVAILABLE', detail: 'the datasets folder is gone' }) }));
    await page.goto(`${api.url}/ui/`);
    await page.locator('#datasets-failure', { hasText: 'Datasets could not be read: the datasets folder is gone.' }).waitFor();
    expect(await page.locator('#pending-list li', { hasText: /^q-\d\d: training, job job-\d+ queued$/ }).count()).toBe(60);
    await page.locator('#models-table tbody tr', { hasText: 'payments' }).waitFor();
    const first = await page.locator('#status').textContent();
    expect(first).toMatch(/^Updated /);
    // The models go on refreshing.
    await eventually(async () => ((await page.locator('#status').textContent()) !== first ? true : undefined), 15_000, 'a later refresh');
    expect(await page.locator('#status').textContent()).toMatch(/^Updated /);
    // The service gone: the failure is announced once, not at every refresh.
    await page.evaluate(`(() => {
      window.announced = [];
      const live = document.getElementById('announce');
      new MutationObserver(() => window.announced.push(live.textContent)).observe(live, { childList: true, characterData: true, subtree: true });
    })()`);
    await page.route('**/v1/**', (route) => route.abort());
    await page.locator('#status', { hasText: 'Could not load' }).waitFor({ timeout: 15_000 });
    await new Promise((r) => setTimeout(r, 11_000));
    const announced = (await page.evaluate('window.announced.filter((t) => t !== "")')) as string[];
    expect(announced).toHaveLength(1);
    expect(announced[0]).toMatch(/^Could not load: /);
    expect(problems.filter((p) => !/Failed to load resource|net::ERR_FAILED/.test(p))).toEqual([]);
    await page.close();
  });

  it('with no model served yet, the models page counts trainings under way apart from first trainings that failed', async () => {
    const { page, problems } = await openPage(ADMIN);
    const at = (s: number): string => new Date(Date.now() - s * 1000).toISOString();
    const job = (i: number, state: string): Loose => ({ id: `job-${state}-${i}`, state, payload: { kind: 'train', model: `${state}-${i}`, dataset: 'payments', config: {} }, progress: [], attempts: 0, createdAt: at(i + 1) });
    const lists: Record<string, Loose[]> = {
      queued: [job(0, 'queued'), job(1, 'queued')],
      running: [],
      failed: [{ ...job(2, 'failed'), error: { code: 'JOB_CANCELLED', message: 'cancelled' }, finishedAt: at(1) }],
    };
    await page.route('**/v1/jobs?*', (route) => {
      const state = new URL(route.request().url()).searchParams.get('state');
      return route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify({ jobs: state === null ? [] : (lists[state] ?? []) }) });
    });
    await page.route('**/v1/console', async (route) => {
      const real = (await (await route.fetch()).json()) as Loose;
      return route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify({ ...real, models: [] }) });
    });
    await page.goto(`${api.url}/ui/`);
    await page.locator('#models-empty', { hasText: 'No model has a version yet: 2 are in training, 1 failed its first training (below).' }).waitFor();
    expect(await page.locator('#pending-list li').allTextContents()).toEqual(['queued-0: training, job job-queued-0 queued', 'queued-1: training, job job-queued-1 queued', 'failed-2: its last training failed: JOB_CANCELLED']);
    expect(problems).toEqual([]);
    await page.close();
  });

  it('with no key in use, the key button asks for one and Escape does not hide the form', async () => {
    const { page } = await openPage(null);
    await page.goto(`${api.url}/ui/models/payments`);
    await page.locator('#auth').waitFor({ state: 'visible' });
    await page.locator('#key-button').click();
    expect(await page.locator('label[for="key"]').textContent()).toBe('This service needs an API key');
    await page.locator('#key').press('Escape');
    expect(await page.locator('#auth').isVisible()).toBe(true);
    await page.close();
  });

  it('shows a feature and a category named as markup as text, and runs none of it', async () => {
    const { page, problems } = await openPage(ADMIN);
    await page.goto(`${api.url}/ui/models/xss`);
    await page.locator('#feature-table tbody tr').first().waitFor();
    await page.locator('#flagged-list > li').first().waitFor();
    expect(await page.locator('#feature-table').getByText(INJECTED, { exact: true }).count()).toBe(1);
    expect(await page.locator('#flagged-list .contribution .feature').getByText(INJECTED, { exact: true }).count()).toBeGreaterThan(0);
    expect(await page.locator('#flagged-list table.values').getByText(INJECTED_VALUE, { exact: true }).count()).toBeGreaterThan(0);
    expect(await page.locator('#main img, #main svg').count()).toBe(0);
    // A long name is shortened on the drift chart's axis, not drawn across the chart.
    const labels = (await page.evaluate(`window.Chart.getChart(document.getElementById('feature-chart')).data.labels`)) as string[];
    expect(labels).toContain(`${'x'.repeat(31)}\u2026`);
    expect(Math.max(...labels.map((l) => Array.from(l).length))).toBeLessThanOrEqual(32);
    expect(await page.locator('#feature-table').getByText(LONG_NAME, { exact: true }).count()).toBe(1);
    await page.goto(`${api.url}/ui/`);
    await page.locator('#datasets-table tbody tr', { hasText: 'xss' }).waitFor();
    expect(await page.locator('#datasets-table').getByText(`${INJECTED}, kind`).count()).toBe(1);
    expect(await page.locator('#main img').count()).toBe(0);
    expect(problems).toEqual([]);
    await page.close();
  });

  it("at a phone's 375 px, the drift chart and a feature's distribution keep their bars: long names and categories are shortened to fit", async () => {
    const { page, problems } = await openPage(ADMIN);
    await page.setViewportSize({ width: 375, height: 800 });
    await page.goto(`${api.url}/ui/models/xss`);
    await page.locator('#feature-table button', { hasText: 'kind' }).click();
    await page.locator('#feature-detail').waitFor({ state: 'visible' });
    const area = (id: string): Promise<{ width: number; labels: string[] }> =>
      page.evaluate(`(() => { const c = window.Chart.getChart(document.getElementById(${JSON.stringify(id)})); return { width: c.chartArea.right - c.chartArea.left, labels: c.data.labels }; })()`);
    const drift = await area('feature-chart');
    const detail = await area('feature-dist-chart');
    // 32 characters of a name, or a long category, left 0 to 40 pixels of bars.
    expect(drift.width).toBeGreaterThan(150);
    expect(detail.width).toBeGreaterThan(150);
    expect(Math.max(...drift.labels.map((l) => Array.from(l).length))).toBeLessThan(32);
    expect(detail.labels.some((l) => l.endsWith('\u2026') && LONG_CATEGORY.startsWith(l.slice(0, -1)))).toBe(true);
    // At 320 px a flagged record's contribution bars keep their width (a 5rem name column left them none).
    await page.setViewportSize({ width: 320, height: 800 });
    await page.reload();
    await page.locator('#flagged-list .contribution .bar').first().waitFor();
    for (const box of await page.locator('#flagged-list .contribution .bar').evaluateAll((bars) => bars.map((b) => b.getBoundingClientRect().width))) expect(box).toBeGreaterThanOrEqual(40);
    expect(problems).toEqual([]);
    await page.close();
  });

  it('/docs is an interactive console from /openapi.json: "Try it out" on the score route answers 200 with the key the console was given', async () => {
    const { page, problems } = await openPage(SCORER);
    await page.goto(`${api.url}/docs`);
    const operation = page.locator('#operations-default-post_v1_models__name__score');
    await operation.waitFor();
    await operation.locator('.opblock-summary-control').click();
    await operation.locator('button.try-out__btn').click();
    await operation.locator('input[placeholder="name"]').fill('payments');
    const answered = page.waitForResponse((r) => r.url() === `${api.url}/v1/models/payments/score` && r.request().method() === 'POST');
    await operation.locator('button.execute').click();
    const response = await answered;
    expect(response.status()).toBe(200);
    expect(response.request().headers()['x-api-key']).toBe(SCORER);
    const status = operation.locator('.live-responses-table tbody .response-col_status').first();
    await status.waitFor();
    expect((await status.textContent())?.trim()).toBe('200');
    // The route table stays as a section.
    expect(await page.locator('#routes-h').textContent()).toBe('Routes');
    await page.screenshot({ path: join(ARTIFACTS, 'docs.png'), fullPage: false });
    expect(await seriousViolations(page, await AXE)).toEqual([]);
    expect(problems).toEqual([]);
    await page.close();
  });

  it('nce-ood report writes one HTML file that opens offline (file://) and draws the same charts, with the file\'s drift', async () => {
    const data = join(dir, 'incoming.csv');
    const rows = [...payments.slice(0, 150), ...shifted(payments.slice(150, 200))];
    await writeFile(data, ['amount,channel,hour', ...rows.map((r) => `${r.amount},${r.channel},${r.hour}`)].join('\n'));
    const out = join(dir, 'report.html');
    const cli = spawnSync(process.execPath, [join(ROOT, 'bin', 'nce-ood.js'), 'report', '--model', 'payments', '--data', data, '--out', out], { encoding: 'utf8', env: { ...process.env, MODELS_DIR: join(dir, 'models') } });
    expect(cli.stderr).toContain('wrote');
    expect(cli.status).toBe(0);
    const current = (await call('GET', '/v1/models/payments')).body.version as string;
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const { problems } = watch(page);
    const requests: string[] = [];
    page.on('request', (r) => requests.push(r.url()));
    await page.goto(pathToFileURL(out).href);
    await page.locator('#feature-table tbody tr').first().waitFor();
    for (const id of ['history-chart', 'score-chart', 'feature-chart']) {
      const chart = await chartView(page, id);
      expect({ id, sized: chart.width > 100 && chart.height > 100, drawn: chart.points > 0 && chart.painted > 1000 }).toEqual({ id, sized: true, drawn: true });
      expect(chart.label).toContain(current);
    }
    expect(await page.locator('#feature-table tbody tr').first().locator('td').first().textContent()).toBe('amount');
    expect(await page.locator('#flagged-list .contribution .feature').first().textContent()).toBe('amount');
    // Named by their line in the file, as the CLI's messages name them (the header is line 1).
    expect(await page.locator('#flagged-list .flagged-head').first().textContent()).toMatch(/^line \d+: score/);
    expect(await page.locator('#status').textContent()).toContain('incoming.csv (200 rows)');
    // Nothing but the file itself was loaded.
    expect(requests.filter((u) => u !== pathToFileURL(out).href)).toEqual([]);
    await page.screenshot({ path: join(ARTIFACTS, 'report.png'), fullPage: true });
    expect(problems).toEqual([]);
    await page.close();
  });

  it('keeps keyboard focus on a feature through refreshes, announces only what matters, and keeps numbers whole in a narrow window', async () => {
    const { page, problems } = await openPage(SCORER);
    await page.goto(`${api.url}/ui/models/payments`);
    const amount = page.locator('#feature-table button', { hasText: 'amount' });
    await amount.waitFor();
    await amount.focus();
    const focused = (): Promise<string | null> => page.evaluate("document.activeElement && document.activeElement.getAttribute('data-key')");
    expect(await focused()).toBe('amount');
    // Two refreshes later (every 5 s) the rebuilt button has the focus, so Enter still selects it.
    const before = await page.locator('#status').textContent();
    await eventually(async () => ((await page.locator('#status').textContent()) !== before ? true : undefined), 15_000, 'a refresh');
    await page.waitForTimeout(5500);
    expect(await focused()).toBe('amount');
    await page.keyboard.press('Enter');
    await page.locator('#feature-detail').waitFor({ state: 'visible' });
    // The routine "Updated ..." line is not a live region; the live one stays empty while all is well.
    expect(await page.locator('#status').getAttribute('aria-live')).toBeNull();
    expect(await page.locator('#announce').getAttribute('aria-live')).toBe('polite');
    expect(await page.locator('#announce').textContent()).toBe('');
    // At 400 px the tables scroll rather than break numbers and names into pieces.
    await page.setViewportSize({ width: 400, height: 800 });
    await page.goto(`${api.url}/ui/`);
    await page.locator('#models-table tbody tr').first().waitFor();
    // Cells of one word (numbers, names; a version id may wrap at its hyphen) whose text runs over more than one line.
    const broken = await page.evaluate(`Array.from(document.querySelectorAll('#models-table td, #models-table th, #datasets-table td:nth-child(2)'))
      .filter(function (cell) {
        var range = document.createRange();
        range.selectNodeContents(cell);
        var tops = new Set(Array.from(range.getClientRects(), function (r) { return Math.round(r.top); }));
        return !/[\\s-]/.test(cell.textContent.trim()) && tops.size > 1;
      })
      .map(function (cell) { return cell.textContent; })`);
    expect(broken).toEqual([]);
    // At a phone's 360 px nothing pushes the page sideways: tables scroll in their boxes, flagged
    // records' cards fit the column, the versions table's hidden labels stay in theirs.
    await page.setViewportSize({ width: 360, height: 800 });
    const overflow = (): Promise<number> => page.evaluate('document.documentElement.scrollWidth - window.innerWidth');
    await page.goto(`${api.url}/ui/models/payments`);
    await page.locator('#versions-table tbody tr').first().waitFor();
    await page.locator('.flagged li').first().waitFor();
    expect(await overflow()).toBeLessThanOrEqual(0);
    await page.goto(`${api.url}/docs`);
    await page.locator('#routes-h').waitFor();
    expect(await overflow()).toBeLessThanOrEqual(0);
    // The models table's caption wraps at the page's width, not the wide table's (it was cut off).
    await page.goto(`${api.url}/ui/`);
    await page.locator('#models-table tbody tr').first().waitFor();
    expect(await overflow()).toBeLessThanOrEqual(0);
    expect(await page.evaluate("document.getElementById('models-caption').getBoundingClientRect().right - window.innerWidth")).toBeLessThanOrEqual(0);
    expect(await page.getByRole('table', { name: /Each model's current version/ }).count()).toBe(1);
    expect(problems).toEqual([]);
    await page.close();
  });

  it('draws the versions again when another key is given: an admin key gets the promote buttons at once', async () => {
    const { page, problems } = await openPage(SCORER);
    await page.goto(`${api.url}/ui/models/payments`);
    await page.locator('#versions-table tbody tr').nth(1).waitFor();
    expect(await page.locator('#versions-table button').count()).toBe(0);
    await page.click('#key-button');
    await page.fill('#key', ADMIN);
    await page.click('#key-form button[type=submit]');
    // Within a refresh or two, not the 30 s the versions otherwise wait.
    await page.locator('#versions-table button', { hasText: 'Promote' }).first().waitFor({ timeout: 12_000 });
    // A key given while a refresh is in flight runs the refresh again once it ends, not a second
    // loop of refreshes beside the first (each asked for everything twice from then on).
    let asked = 0;
    await page.route('**/v1/models/payments/console', async (route) => {
      asked++;
      await new Promise((r) => setTimeout(r, 1500));
      await route.continue();
    });
    for (let i = 0; i < 2; i++) {
      await page.click('#key-button');
      await page.fill('#key', ADMIN);
      await page.click('#key-form button[type=submit]');
    }
    await new Promise((r) => setTimeout(r, 20_000));
    // One loop: about 5 in 20 s (every 5 s after each 1.5 s answer, one more for the second key); two loops: 8 or more.
    expect(asked).toBeGreaterThanOrEqual(3);
    expect(asked).toBeLessThanOrEqual(5);
    expect(problems).toEqual([]);
    await page.close();
  }, 60_000);

  it('/ui/models/{name} of a model whose only versions are candidates lists them and promotes one', async () => {
    const store = new FsModelStore(join(dir, 'models'));
    const current = (await call('GET', '/v1/models/payments')).body.version as string;
    const loaded = await store.load('payments', current);
    const weights = await readFile(join(dir, 'models', 'payments', current, 'weights.bin'));
    const candidate = await store.save('cand', { manifest: loaded.manifest, weights }, { candidate: 'LOW_VAL_AUC: for the test' });
    const { page, problems } = await openPage(ADMIN);
    await page.goto(`${api.url}/ui/models/cand`);
    await page.getByText('Model "cand" has no current version').waitFor();
    const row = page.locator('#versions-table tbody tr', { hasText: candidate });
    expect(await row.textContent()).toContain('candidate: LOW_VAL_AUC: for the test');
    // Focus on its Promote button stays there through a refresh (the page redraws this model's
    // versions at every one; an outside probe's focus went to the summary each time).
    await row.locator('button', { hasText: 'Promote' }).focus();
    const refreshed = await page.locator('#status').textContent();
    await eventually(async () => ((await page.locator('#status').textContent()) !== refreshed ? true : undefined), 15_000, 'a refresh');
    await page.waitForTimeout(500);
    expect(await page.evaluate('document.activeElement && document.activeElement.getAttribute("data-key")')).toBe(candidate);
    // Enter held down arms the button and then repeats: not a confirmation, whatever its length.
    await page.keyboard.down('Enter');
    await row.locator('button', { hasText: 'Press again to promote' }).waitFor();
    await page.waitForTimeout(CONFIRM_PAUSE_MS);
    await page.keyboard.down('Enter');
    await page.keyboard.up('Enter');
    await page.waitForTimeout(500);
    expect((await call('GET', '/v1/models/cand')).status).toBe(404);
    // Disarmed after 5 s, as it is.
    await row.locator('button', { hasText: /^Promote$/ }).waitFor({ timeout: 8000 });
    // Activated as assistive technology does, a click event with no pointer or key around it: twice promotes.
    await row.locator('button', { hasText: 'Promote' }).dispatchEvent('click');
    await page.waitForTimeout(CONFIRM_PAUSE_MS);
    await row.locator('button', { hasText: 'Press again to promote' }).dispatchEvent('click');
    await page.locator('#promote-status', { hasText: 'is current' }).waitFor();
    await page.locator('#summary', { hasText: `Version ${candidate}` }).waitFor();
    expect((await call('GET', '/v1/models/cand')).body.version).toBe(candidate);
    expect(problems).toEqual([]);
    await page.close();
  });

  it('a model whose current version is damaged: its page says why it cannot score and lists its versions, to promote another', async () => {
    // Built in a registry of its own and moved in whole, so the service never reads the version before it is damaged.
    const aside = new FsModelStore(join(dir, 'aside'));
    const current = (await call('GET', '/v1/models/payments')).body.version as string;
    const loaded = await new FsModelStore(join(dir, 'models')).load('payments', current);
    const weights = await readFile(join(dir, 'models', 'payments', current, 'weights.bin'));
    const good = await aside.save('broken', { manifest: loaded.manifest, weights });
    const bad = await aside.save('broken', { manifest: loaded.manifest, weights });
    await writeFile(join(dir, 'aside', 'broken', bad, 'weights.bin'), weights.subarray(0, 100));
    await rename(join(dir, 'aside', 'broken'), join(dir, 'models', 'broken'));
    expect((await call('GET', '/v1/models/broken/console')).status).toBe(503);
    const { page, problems } = await openPage(ADMIN);
    await page.goto(`${api.url}/ui/models/broken`);
    await page.getByText('Model "broken" cannot score').waitFor();
    expect(await page.locator('#summary').textContent()).toContain('Promote another version below to serve it.');
    expect(await page.locator('#versions-table tbody tr', { hasText: bad }).textContent()).toContain('damaged');
    const row = page.locator('#versions-table tbody tr', { hasText: good });
    await row.locator('button', { hasText: 'Promote' }).click();
    await page.waitForTimeout(CONFIRM_PAUSE_MS);
    await row.locator('button', { hasText: 'Press again to promote' }).click();
    await page.locator('#summary', { hasText: `Version ${good}` }).waitFor();
    expect((await call('GET', '/v1/models/broken')).body.version).toBe(good);
    // The browser logged the 503s the page was answered before the promote; nothing else.
    expect(problems.filter((p) => !/503/.test(p))).toEqual([]);
    await page.close();
  });

  it('shows a wide model\'s flagged record with its contributing values first and the rest behind a toggle that stays open through refreshes', async () => {
    const wide = Array.from({ length: 150 }, (_, i) => Object.fromEntries(Array.from({ length: 30 }, (_, j) => [`f${String(j).padStart(2, '0')}`, ((i * (j + 3)) % 17) / 4 + j])));
    expect((await call('PUT', '/v1/datasets/wide', { records: wide })).status).toBe(200);
    await train('wide', 'wide', { epochs: 3 });
    expect((await score('wide', [{ ...wide[0], f17: 500 }]))[0]?.ood).toBe(true);
    const { page, problems } = await openPage(ADMIN);
    await page.goto(`${api.url}/ui/models/wide`);
    const card = page.locator('#flagged-list > li').first();
    await card.waitFor();
    const shown = card.locator('table.values').first().locator('tr');
    expect(await shown.count()).toBe(12);
    expect(await shown.first().locator('th').textContent()).toBe(await card.locator('.contribution .feature').first().textContent());
    const more = card.locator('details.more-values');
    expect(await more.locator('summary').textContent()).toBe('18 more values');
    await more.locator('summary').click();
    await more.locator('tr').nth(17).waitFor();
    expect(await more.locator('tr').count()).toBe(18);
    // The click left keyboard focus on the toggle: the redraws keep it there (they dropped it to the page).
    const focusedKey = (): Promise<string | null> => page.evaluate("document.activeElement && document.activeElement.getAttribute('data-key')");
    const toggleKey = await focusedKey();
    expect(toggleKey).not.toBeNull();
    // Traffic that moves f05 to the top of the drift ranking while the page is open: every record
    // at its median, which flags none of them (the flagged record above stays the one shown).
    const median = wide.map((r) => r.f05 as number).sort((a, b) => a - b)[75];
    await score('wide', wide.slice(0, 60).map((r) => ({ ...r, f05: median })));
    const before = await page.locator('#status').textContent();
    await eventually(async () => ((await page.locator('#status').textContent()) !== before ? true : undefined), 15_000, 'a refresh');
    // The same record's toggle (new flagged records may come first now) is still open, and focused.
    expect(await page.locator(`#flagged-list details.more-values:has(summary[data-key="${toggleKey}"])`).getAttribute('open')).toBe('');
    expect(await focusedKey()).toBe(toggleKey);
    // The drift chart, updated in place, names and opens its bars in the new order (its first
    // draw's callbacks named f00 for the top bar and opened f00 on a click there).
    const bars = (): Promise<{ label: string; tooltip: string }> =>
      page.evaluate(`(() => {
        const chart = window.Chart.getChart(document.getElementById('feature-chart'));
        return { label: chart.data.labels[0], tooltip: chart.options.plugins.tooltip.callbacks.title([{ dataIndex: 0 }]) };
      })()`);
    await eventually(async () => ((await bars()).label === 'f05' ? true : undefined), 15_000, 'f05 ranked first');
    expect((await bars()).tooltip).toBe('f05');
    await page.evaluate("window.Chart.getChart(document.getElementById('feature-chart')).options.onClick(null, [{ index: 0 }])");
    await page.locator('#feature-detail', { hasText: 'f05' }).waitFor();
    // Text selected on the page is not taken away by the refresh (a version id could not be copied).
    await page.evaluate(`(() => {
      const range = document.createRange();
      range.selectNodeContents(document.getElementById('summary'));
      getSelection().removeAllRanges();
      getSelection().addRange(range);
    })()`);
    const selected = await page.evaluate<string>('getSelection().toString()');
    expect(selected.length).toBeGreaterThan(10);
    await page.locator('#status', { hasText: 'paused while text is selected' }).waitFor({ timeout: 12_000 });
    expect(await page.evaluate('getSelection().toString()')).toBe(selected);
    await page.evaluate('getSelection().removeAllRanges()');
    await page.locator('#status', { hasText: 'Updated' }).waitFor({ timeout: 12_000 });
    // The list of datasets names a wide one's first dozen columns and counts the rest.
    await page.goto(`${api.url}/ui/`);
    const row = page.locator('#datasets-table tbody tr', { hasText: 'f00' });
    await row.waitFor();
    expect(await row.locator('td').nth(1).textContent()).toBe(`${Array.from({ length: 12 }, (_, j) => `f${String(j).padStart(2, '0')}`).join(', ')} and 18 more`);
    expect(problems).toEqual([]);
    await page.close();
  });
});
