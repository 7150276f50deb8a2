import { Router, type Request, type Response } from 'express';
import { asset } from './assets';
import { NAME_PATTERN } from '../store';
import { badNamePage, docsPage, indexPage, modelPage, noPage, PAGE_CSP } from './pages';

/** What the console's pages need to know of the service. */
export interface UiOptions {
  /** API_KEYS is set: the pages ask for a key before they fetch. */
  authRequired: boolean;
  /** The route table /docs shows below the interactive console (HTML, data free). */
  routeTable: string;
}

/**
 * The web console's pages and files: `/ui/`, `/ui/models/{name}`, `/docs` and `/ui/static/*`.
 * The pages are shells with no data (they need no key; their script fetches the data from the
 * API with one) and a Content-Security-Policy that allows no inline script; the files are sent
 * gzipped when the browser takes it.
 */
export function uiRouter(options: UiOptions): Router {
  const router = Router();
  const html = (body: string) => (_req: Request, res: Response) => {
    res.set('content-security-policy', PAGE_CSP);
    res.set('cache-control', 'no-cache');
    res.type('html').send(body);
  };
  // Also /ui: routes match with or without a trailing slash, and the pages' links are absolute.
  router.get('/ui/', html(indexPage(options.authRequired)));
  const model = html(modelPage(options.authRequired));
  router.get('/ui/models/:name', (req, res) => {
    const name = String(req.params.name);
    if (NAME_PATTERN.test(name)) return model(req, res);
    res.status(404);
    html(badNamePage(name, options.authRequired))(req, res);
  });
  router.get('/docs', html(docsPage(options.authRequired, options.routeTable)));
  router.get('/ui/static/:file', (req, res, next) => {
    const a = asset(String(req.params.file));
    if (!a) return next();
    res.set('cache-control', 'public, max-age=600');
    res.set('vary', 'accept-encoding');
    res.type(a.type);
    if (req.acceptsEncodings('gzip') === 'gzip') {
      res.set('content-encoding', 'gzip');
      res.send(a.gzip);
    } else {
      res.send(a.body);
    }
  });
  // Any other console path a browser asks for (a URL cut short by hand, a typo) gets a page
  // saying so, not the API's problem document; a file under /ui/static stays a plain 404.
  const missing = noPage(options.authRequired);
  router.get(/^\/ui\/(?!static\/)/, (req, res, next) => {
    if (!req.accepts('html')) return next();
    res.locals.route = '/ui/*';
    res.status(404);
    html(missing)(req, res);
  });
  // A console path that is not percent-encoded UTF-8 (/ui/models/%): the same page, not the API's problem document.
  router.use((err: unknown, req: Request, res: Response, next: (e?: unknown) => void) => {
    if (!(err instanceof URIError) || !req.path.startsWith('/ui/') || !req.accepts('html')) return next(err);
    res.locals.route = '/ui/*';
    res.status(404);
    html(missing)(req, res);
  });
  return router;
}
