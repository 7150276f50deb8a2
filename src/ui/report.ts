import { createHash } from 'node:crypto';
import type { VersionSummary } from '../store';
import { assetText } from './assets';
import type { ModelConsole } from './console-schema';
import { escapeHtml, MODEL_BODY } from './pages';

/** What a report shows: a model page's data, its versions, and the file its drift is of. */
export interface ReportData {
  console: ModelConsole;
  versions: VersionSummary[];
  /** The data file scored (`--data`), or null for a report of the model alone. */
  source: { file: string | null; rows: number; createdAt: string };
}

const sha256 = (text: string): string => `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;

/** JSON safe inside a `<script>` element: no `<` (so no `</script>` or `<!--`), no line separators JavaScript would trip on. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

/**
 * A model page as one self-contained HTML file (`nce-ood report`): the console's stylesheet,
 * Chart.js and the console script inline, the data as a JSON block the script reads. It loads
 * nothing, so it opens offline and from an e-mail. Its Content-Security-Policy (a meta element)
 * allows exactly its own inline script and style by their sha256 hashes, and nothing else.
 */
export function reportHtml(data: ReportData): string {
  const css = assetText('console.css');
  const chartJs = assetText('chart.umd.min.js');
  const consoleJs = assetText('console.js');
  for (const [name, text] of [['chart.umd.min.js', chartJs], ['console.js', consoleJs]] as const) {
    if (/<\/script/i.test(text)) throw new Error(`${name} holds "</script": it cannot be inlined`);
  }
  const csp = `default-src 'none'; script-src ${sha256(chartJs)} ${sha256(consoleJs)}; style-src ${sha256(css)}; img-src data:; base-uri 'none'; form-action 'none'`;
  const title = `nce-ood report: ${data.console.name} ${data.console.version}${data.source.file === null ? '' : `, ${data.source.file}`}`;
  return `<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${escapeHtml(csp)}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${css}</style>
</head><body><header class="top"><span class="brand">nce-ood report</span><p id="status" role="status"></p></header>
${MODEL_BODY}
<script type="application/json" id="console-data">${scriptJson(data)}</script>
<script>${chartJs}</script>
<script>${consoleJs}</script>
</body></html>
`;
}
