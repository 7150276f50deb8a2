import { createServer, type Server } from 'node:http';
import type { Express } from 'express';

/** The HTTP limits of {@link createHttpServer}. */
export interface HttpLimits {
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  maxConnections: number;
}

/**
 * The API's HTTP server, with its limits set: headers within `headersTimeoutMs` and the whole
 * request within `requestTimeoutMs` (else 408 and the connection closes), at most
 * `maxConnections` open (more are closed on arrival). Keep-alive connections idle up to 65 s,
 * longer than common load balancers' 60 s, so a client never reuses one the server is closing.
 */
export function createHttpServer(app: Express, limits: HttpLimits): Server {
  const server = createServer(
    {
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      keepAliveTimeout: 65_000,
      // How often those timeouts are checked: a tenth of the headers timeout, so slow clients
      // are cut off within 10% of it rather than up to Node's default 30 s late.
      connectionsCheckingInterval: Math.max(250, Math.floor(limits.headersTimeoutMs / 10)),
    },
    app,
  );
  server.maxConnections = limits.maxConnections;
  return server;
}
