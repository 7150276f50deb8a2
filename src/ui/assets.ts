import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';

/** A file the console serves, read and compressed once. */
export interface Asset {
  type: string;
  body: Buffer;
  gzip: Buffer;
}

/**
 * The console's files: its own (`static/`, copied beside the compiled code by `npm run build`)
 * and the libraries it uses, straight from node_modules. No CDN and no build step: what npm
 * installed is what the browser runs.
 */
const FILES: Record<string, { path: () => string; type: string }> = {
  'console.js': { path: () => join(__dirname, 'static', 'console.js'), type: 'text/javascript; charset=utf-8' },
  'console.css': { path: () => join(__dirname, 'static', 'console.css'), type: 'text/css; charset=utf-8' },
  'docs.css': { path: () => join(__dirname, 'static', 'docs.css'), type: 'text/css; charset=utf-8' },
  'docs.js': { path: () => join(__dirname, 'static', 'docs.js'), type: 'text/javascript; charset=utf-8' },
  'favicon.svg': { path: () => join(__dirname, 'static', 'favicon.svg'), type: 'image/svg+xml' },
  // chart.js exports no subpaths: its UMD build sits beside the CommonJS entry point.
  'chart.umd.min.js': { path: () => join(dirname(require.resolve('chart.js')), 'chart.umd.min.js'), type: 'text/javascript; charset=utf-8' },
  'swagger-ui-bundle.js': { path: () => join(dirname(require.resolve('swagger-ui-dist/package.json')), 'swagger-ui-bundle.js'), type: 'text/javascript; charset=utf-8' },
  'swagger-ui.css': { path: () => join(dirname(require.resolve('swagger-ui-dist/package.json')), 'swagger-ui.css'), type: 'text/css; charset=utf-8' },
};

const loaded = new Map<string, Asset>();

/** The asset of that name, or null when the console has none. */
export function asset(name: string): Asset | null {
  const file = Object.hasOwn(FILES, name) ? FILES[name] : undefined;
  if (!file) return null;
  let a = loaded.get(name);
  if (!a) {
    const body = readFileSync(file.path());
    a = { type: file.type, body, gzip: gzipSync(body, { level: 9 }) };
    loaded.set(name, a);
  }
  return a;
}

/** The text of an asset, for the self-contained report. */
export function assetText(name: string): string {
  const a = asset(name);
  if (!a) throw new Error(`no console asset "${name}"`);
  return a.body.toString('utf8');
}

/** The names of the assets. */
export function assetNames(): string[] {
  return Object.keys(FILES);
}
