/**
 * The web console's HTML: page shells with no data in them. The pages' script fetches the data
 * from the API with the reader's key and builds the content with DOM APIs (text, never markup).
 */

/** Content-Security-Policy of the console's pages: scripts, styles and data from this service only, nothing inline. */
export const PAGE_CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

const STATIC = '/ui/static';

/** Escapes text for HTML element content and attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** The top of every page: the site's links and the status line the scripts write to. */
const HEADER = `<header class="top"><a class="brand" href="/ui/">nce-ood</a>
<nav aria-label="Site"><a href="/ui/">Models</a><a href="/docs">API</a><a href="/metrics">Metrics</a></nav>
<p id="status"></p><p id="announce" class="visually-hidden" role="status" aria-live="polite"></p><button id="key-button" class="key-button" type="button" hidden>API key</button></header>`;

/** The form that asks for an API key when API_KEYS is set (shown by the script when needed). */
const KEY_FORM = `<section id="auth" class="card" hidden aria-labelledby="auth-h"><h2 id="auth-h">API key</h2>
<form id="key-form" method="post"><label for="key">This service needs an API key</label>
<input id="key" name="key" type="password" autocomplete="off" required>
<button type="submit">Use key</button></form>
<p id="key-error" class="error" role="alert"></p>
<p class="note">The key stays in this tab's session storage; it is sent in the Authorization header, never in a URL.</p></section>`;

/** Markup of the model page's body, shared by the served page and the report. */
export const MODEL_BODY = `<main id="main" class="console" data-page="model">
<h1 id="title">Model</h1>${KEY_FORM}
<div id="summary" class="summary"></div>
<section id="training" class="card" aria-labelledby="training-h"><h2 id="training-h">Training</h2>
<div class="chart"><canvas id="history-chart" role="img" aria-label="Training history"></canvas></div>
<p id="retraining" class="note" hidden></p>
<p id="schedule" class="note" hidden></p>
<div id="training-warnings" hidden><h3>Warnings</h3><ul class="warnings"></ul></div>
<dl id="training-facts" class="facts"></dl>
<details><summary>Training config and noise</summary><pre id="training-config"></pre></details></section>
<section id="scores" class="card" aria-labelledby="scores-h"><h2 id="scores-h">Scores</h2>
<div class="chart"><canvas id="score-chart" role="img" aria-label="Score distribution"></canvas></div>
<p id="scores-note" class="note"></p></section>
<section id="drift" class="card" aria-labelledby="drift-h"><h2 id="drift-h">Drift</h2>
<dl id="drift-facts" class="facts"></dl>
<div class="chart tall"><canvas id="feature-chart" role="img" aria-label="Feature drift"></canvas></div>
<table id="feature-table"><caption>Features, most drifted first: select one to compare its distributions</caption>
<thead><tr><th scope="col">Feature</th><th scope="col">PSI</th></tr></thead><tbody></tbody></table>
<div id="feature-detail" hidden><h3 id="feature-detail-h">Feature</h3>
<div class="chart"><canvas id="feature-dist-chart" role="img" aria-label="Feature distribution"></canvas></div></div></section>
<section id="flagged" class="card" aria-labelledby="flagged-h"><h2 id="flagged-h">Flagged records</h2>
<p id="flagged-note" class="note"></p><ol id="flagged-list" class="flagged"></ol></section>
<section id="versions" class="card" aria-labelledby="versions-h"><h2 id="versions-h">Versions</h2>
<div class="table-scroll" tabindex="0" role="region" aria-label="Versions, scrollable"><table id="versions-table"><thead><tr><th scope="col">Version</th><th scope="col">Status</th><th scope="col">Trained</th><th scope="col" title="How well the classifier tells held-out reference records from samples of its noise: a training diagnostic, not how well the model finds anomalies. Near 0.5 is usual when the noise is close to the data, near 1 where columns hold counts, codes or 0/1 flags (the noise never takes their exact values).">Validation AUC (data vs noise)</th><th scope="col">Training rows</th><th scope="col"><span class="visually-hidden">Action</span></th></tr></thead><tbody></tbody></table></div>
<p id="promote-status" role="status" tabindex="-1"></p></section>
</main>`;

const INDEX_BODY = `<main id="main" class="console" data-page="index">
<h1>Models</h1>${KEY_FORM}
<p id="models-caption" class="table-caption">Each model's current version and its recent traffic on this replica</p>
<div class="table-scroll" tabindex="0" role="region" aria-label="Models, scrollable"><table id="models-table" aria-labelledby="models-caption">
<thead><tr><th scope="col">Model</th><th scope="col">Version</th><th scope="col">Trained</th><th scope="col" title="How well the classifier tells held-out reference records from samples of its noise: a training diagnostic, not how well the model finds anomalies. Near 0.5 is usual when the noise is close to the data, near 1 where columns hold counts, codes or 0/1 flags (the noise never takes their exact values).">Validation AUC (data vs noise)</th><th scope="col">Records scored</th><th scope="col">Flagged</th><th scope="col">Score PSI</th></tr></thead><tbody></tbody></table></div>
<p id="models-empty" class="note" hidden>No models yet: upload a dataset and train one (see the API page).</p>
<section id="pending" hidden aria-labelledby="pending-h"><h2 id="pending-h">Models without a version yet</h2><ul id="pending-list"></ul></section>
<h2>Datasets</h2>
<p id="datasets-failure" class="note" hidden></p>
<div class="table-scroll" tabindex="0" role="region" aria-label="Datasets, scrollable"><table id="datasets-table"><thead><tr><th scope="col">Dataset</th><th scope="col">Rows</th><th scope="col">Columns</th><th scope="col">Updated</th></tr></thead><tbody></tbody></table></div>
</main>`;

/** A page of the console: its title, its body, whether the service asks for API keys. */
function page(title: string, body: string, authRequired: boolean, scripts: string[], styles: string[]): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="nce-ood-auth" content="${authRequired ? 'required' : 'none'}">
<title>${escapeHtml(title)}</title><link rel="icon" href="${STATIC}/favicon.svg" type="image/svg+xml">
${styles.map((s) => `<link rel="stylesheet" href="${STATIC}/${s}">`).join('')}
${scripts.map((s) => `<script src="${STATIC}/${s}" defer></script>`).join('')}
</head><body>${HEADER}${body}</body></html>`;
}

/** `GET /ui/`: the models and datasets. */
export function indexPage(authRequired: boolean): string {
  return page('nce-ood: models', INDEX_BODY, authRequired, ['console.js'], ['console.css']);
}

/** `GET /ui/models/{name}`: one model (the script reads the name from the URL). */
export function modelPage(authRequired: boolean): string {
  return page('nce-ood: model', MODEL_BODY, authRequired, ['chart.umd.min.js', 'console.js'], ['console.css']);
}

/**
 * `GET /ui/models/{name}` for a name no model can have (a space, a dot, over 64 characters): a
 * page that says so, not the model page's "no model of that name yet", which would wait for a
 * model that can never be trained.
 */
export function badNamePage(name: string, authRequired: boolean): string {
  const body = `<main id="main" class="console" data-page="bad-name"><h1>No such model</h1>
<p class="summary">${escapeHtml(JSON.stringify(name))} cannot name a model: a model's name is 1 to 64 letters, digits, "-" and "_", starting with a letter or a digit. <a href="/ui/">See the models there are</a>.</p></main>`;
  return page('nce-ood: no such model', body, authRequired, [], ['console.css']);
}

/** A console path that is no page (`/ui/models/`, `/ui/typo`): the console's own 404, with a way back. */
export function noPage(authRequired: boolean): string {
  const body = `<main id="main" class="console" data-page="no-page"><h1>No such page</h1>
<p class="summary">The console has the <a href="/ui/">list of models</a>, a page for each model (<code>/ui/models/{name}</code>) and the <a href="/docs">API</a>.</p></main>`;
  return page('nce-ood: no such page', body, authRequired, [], ['console.css']);
}

/**
 * `GET /docs`: the interactive API console (swagger-ui, from the OpenAPI document), and the
 * route table as a section below it.
 * @param routeTable - the table's HTML, data free (from the OpenAPI document)
 */
export function docsPage(authRequired: boolean, routeTable: string): string {
  // A div, not main: swagger-ui's markup holds landmarks of its own.
  const body = `<div id="main" data-page="docs"><h1>API</h1>
<p class="note">Try a request with "Try it out". With API keys set, "Authorize" takes one (the key the console pages were given is filled in).
Errors are <code>application/problem+json</code> with a stable <code>code</code> and a JSON <code>pointer</code>; the document is <a href="/openapi.json">/openapi.json</a> (OpenAPI 3.1).</p>
<div id="swagger"></div>
<section class="card" aria-labelledby="routes-h"><h2 id="routes-h">Routes</h2><div class="table-scroll" tabindex="0" role="region" aria-label="Routes, scrollable">${routeTable}</div></section></div>`;
  return page('nce-ood API', body, authRequired, ['swagger-ui-bundle.js', 'docs.js'], ['swagger-ui.css', 'console.css', 'docs.css']);
}
