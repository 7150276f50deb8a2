import type { Response } from 'express';

/** Answers 200 with a JSON body already serialized (Node sets its Content-Length: it is sent whole). */
export function sendJsonBody(res: Response, body: string | Buffer): void {
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.end(body);
}
