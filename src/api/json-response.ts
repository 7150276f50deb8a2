import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import type { Request, Response } from 'express';

const gzipped = promisify(gzip);

/** Below this many bytes an answer goes as it is: gzip would save little. */
const GZIP_FROM_BYTES = 8192;

/**
 * Answers 200 with `value` as JSON, gzipped when the client takes gzip and the text is large (the
 * console's model data of a 768-feature model is hundreds of KB, polled every 5 s). Off the scoring
 * path: its answers are written otherwise, and clients that take gzip would pay its CPU.
 */
export async function sendJsonMaybeGzipped(req: Request, res: Response, value: unknown): Promise<void> {
  const text = JSON.stringify(value);
  res.setHeader('vary', 'accept-encoding');
  if (text.length < GZIP_FROM_BYTES || req.acceptsEncodings('gzip') !== 'gzip') return void res.type('application/json').send(text);
  const body = await gzipped(text);
  res.setHeader('content-encoding', 'gzip');
  sendJsonBody(res, body);
}

/** Answers 200 with a JSON body already serialized (Node sets its Content-Length: it is sent whole). */
export function sendJsonBody(res: Response, body: string | Buffer): void {
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.end(body);
}
