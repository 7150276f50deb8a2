import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { ROOT } from './processes';

/** Where browser tests leave their screenshots (gitignored). */
export const ARTIFACTS = join(ROOT, 'test-artifacts', 'ui');

/**
 * The Chromium to drive: CHROMIUM_PATH, else `chromium` or `chromium-browser` on PATH (Debian's
 * `chromium` package, which `.ci/run` installs when it is missing).
 */
export function chromiumPath(): string {
  const fromEnv = process.env.CHROMIUM_PATH;
  if (fromEnv) return fromEnv;
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    for (const name of ['chromium', 'chromium-browser']) {
      const path = join(dir, name);
      if (dir && existsSync(path)) return path;
    }
  }
  throw new Error("no chromium on PATH: install Debian's chromium package (.ci/run does) or set CHROMIUM_PATH");
}

/** A headless Chromium (no sandbox: CI containers often run as root, where Chromium's sandbox refuses to start). */
export async function launchChromium(): Promise<Browser> {
  await mkdir(ARTIFACTS, { recursive: true });
  return chromium.launch({ executablePath: chromiumPath(), headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
}

/** What a page did that a test must see none of. */
export interface PageWatch {
  /** Console errors, uncaught exceptions, Content-Security-Policy violations and dialogs (an injected alert). */
  problems: string[];
}

/** Watches a page for console errors, uncaught exceptions and dialogs (dismissed). */
export function watch(page: Page): PageWatch {
  const w: PageWatch = { problems: [] };
  page.on('console', (m) => {
    if (m.type() === 'error') w.problems.push(`console error: ${m.text()}`);
  });
  page.on('pageerror', (e) => w.problems.push(`uncaught: ${e.message}`));
  page.on('dialog', (d) => {
    w.problems.push(`dialog: ${d.message()}`);
    void d.dismiss();
  });
  return w;
}

/**
 * Lets the context's pages reach `origin` only: any other request (another host, a CDN, the
 * internet) is aborted and listed in the returned array.
 */
export async function onlyOrigin(context: BrowserContext, origin: string): Promise<string[]> {
  const outside: string[] = [];
  await context.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith(`${origin}/`)) return route.continue();
    outside.push(url);
    return route.abort();
  });
  return outside;
}

/** Runs axe-core in the page (injected through the devtools protocol, so the page's CSP does not stop it); its serious and critical violations. */
export async function seriousViolations(page: Page, axeSource: string): Promise<string[]> {
  await page.evaluate(axeSource);
  const result = (await page.evaluate('axe.run(document, { resultTypes: ["violations"] })')) as { violations: { id: string; impact: string | null; nodes: { target: string[] }[] }[] };
  return result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.impact} ${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
}

/** What a chart canvas shows: its size, its aria-label, how many data points Chart.js drew and how many pixels are painted. */
export interface ChartView {
  width: number;
  height: number;
  label: string;
  points: number;
  painted: number;
}

export function chartView(page: Page, id: string): Promise<ChartView> {
  return page.evaluate(`(() => {
    const canvas = document.getElementById(${JSON.stringify(id)});
    const chart = window.Chart && window.Chart.getChart(canvas);
    const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    let painted = 0;
    for (let i = 3; i < pixels.length; i += 4) if (pixels[i] > 0) painted++;
    return {
      width: canvas.clientWidth,
      height: canvas.clientHeight,
      label: canvas.getAttribute('aria-label') || '',
      points: chart ? chart.data.datasets.reduce((n, d) => n + d.data.filter((v) => v !== null).length, 0) : 0,
      painted,
    };
  })()`);
}
