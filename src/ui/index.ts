/** The web console: its pages and files, the data its model page draws, and the self-contained report. */
export { asset, assetNames } from './assets';
export { modelConsole, type ConsoleInput, scoreHistogram, binLabels, SCORE_BINS } from './console-data';
export { type Access, consoleOverviewSchema, type ConsoleOverview, type ModelConsole, modelConsoleSchema } from './console-schema';
export { escapeHtml, PAGE_CSP } from './pages';
export { reportHtml, type ReportData } from './report';
export { uiRouter, type UiOptions } from './ui.route';
