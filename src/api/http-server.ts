import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Express } from 'express';
import { AppError, type ErrorCode } from '../errors';
import { toProblem } from './problems';

/** Open files kept for everything but client connections: the stores' files, Redis, the scoring and training threads, logs. */
export const FILES_KEPT = 256;

/**
 * The process's open-files limit (the soft RLIMIT_NOFILE, as `ulimit -n` sets it) from the text of
 * /proc/self/limits, or null where there is none to read (not Linux) or it is unlimited.
 */
export function openFilesLimit(limitsText: string | null): number | null {
  const soft = /^Max open files\s+(\S+)/m.exec(limitsText ?? '')?.[1];
  const n = Number(soft);
  return soft === undefined || !Number.isFinite(n) ? null : n;
}

/**
 * The client connections the server may hold: `HTTP_MAX_CONNECTIONS`, or fewer where the
 * open-files limit leaves less than that beside {@link FILES_KEPT} (at least 64). Past that limit
 * every accept, file and Redis connection fails with EMFILE: the cap that keeps slow clients from
 * exhausting the descriptors would never be reached (an outside probe: under `ulimit -n 1024`, 1,100
 * half-sent requests left readiness, uploads and scoring unanswered until the header timeout).
 */
export function connectionCap(setting: number, filesLimit: number | null): number {
  return filesLimit === null ? setting : Math.min(setting, Math.max(64, filesLimit - FILES_KEPT));
}

/** The HTTP limits of {@link createHttpServer}. */
export interface HttpLimits {
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  maxConnections: number;
}

/**
 * The API's HTTP server, with its limits set: headers within `headersTimeoutMs` and the whole
 * request within `requestTimeoutMs` (else 408 `REQUEST_TIMEOUT` and the connection closes), at most
 * `maxConnections` open (more are closed on arrival). Keep-alive connections idle up to 65 s,
 * longer than common load balancers' 60 s, so a client never reuses one the server is closing.
 * A request the HTTP parser refuses gets a problem document too (see {@link answerClientError}).
 */
export function createHttpServer(app: Express, limits: HttpLimits): Server {
  const { handle, state } = connectionTracking(app, () => server.closeIdleConnections());
  const server: Server = createServer(
    {
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      keepAliveTimeout: 65_000,
      // How often those timeouts are checked: a tenth of the headers timeout, so slow clients
      // are cut off within 10% of it rather than up to Node's default 30 s late.
      connectionsCheckingInterval: Math.max(250, Math.floor(limits.headersTimeoutMs / 10)),
      // A request without Host is refused by the app, as a problem document (Node's own answer is a bare 400).
      requireHostHeader: false,
    },
    handle,
  );
  tracked.set(server, state);
  server.maxConnections = limits.maxConnections;
  server.on('clientError', answerClientError);
  // An expectation other than 100-continue is ignored, as RFC 9110 allows, rather than refused with Node's bare 417.
  server.on('checkExpectation', handle);
  // CONNECT (a proxy's method) is refused as every method a path does not take; Node would close the connection without an answer.
  server.on('connect', (_req: IncomingMessage, socket: Duplex & { _httpMessage?: ServerResponse | null }) => {
    // Pipelined after a request whose answer is on its way: that answer is sent and the connection closed, nothing else written (see answerClientError).
    const inFlight = socket._httpMessage ?? null;
    if (inFlight && !inFlight.writableFinished) {
      inFlight.once('close', () => socket.destroy());
      return;
    }
    // No method is taken for a proxy's target: an empty Allow says so (RFC 9110).
    writeProblem(socket, new AppError('METHOD_NOT_ALLOWED', 'CONNECT is not taken: this server is no proxy'), { Allow: '', 'x-request-id': randomUUID() });
  });
  return server;
}

/** Per server: each connection's answers not yet finished, oldest first, and whether it drains (see {@link drainConnections}). */
interface Connections {
  answers: Map<Socket, ServerResponse[]>;
  draining: boolean;
}

const tracked = new WeakMap<Server, Connections>();

/**
 * The server's request handler: `app`, with each connection's answers kept in order (a client may
 * pipeline several requests, which Node hands over at once and answers in turn), so that a
 * draining server closes a connection after its last answer (see {@link drainConnections}). A
 * connection's list goes with the connection: Node does not end the answers queued behind a
 * connection that closes, and kept by answer they would stay for good.
 */
function connectionTracking(app: Express, closeIdle: () => void): { handle: (req: IncomingMessage, res: ServerResponse) => void; state: Connections } {
  const state: Connections = { answers: new Map(), draining: false };
  /** The connection's list of answers, made on its first request and dropped when it closes. */
  const answersOf = (socket: Socket): ServerResponse[] => {
    let answers = state.answers.get(socket);
    if (!answers) {
      answers = [];
      state.answers.set(socket, answers);
      socket.once('close', () => state.answers.delete(socket));
    }
    return answers;
  };
  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const answers = answersOf(req.socket);
    if (state.draining) {
      const last = answers.at(-1);
      if (last?.getHeader('connection') === 'close') {
        // The connection closes after that answer, already on its way: a request behind it is not
        // run (RFC 9112: none is processed after a close was sent), lest it act unanswered.
        if (last.headersSent) return;
        last.removeHeader('connection');
      }
      // A request on a kept-alive connection while the server drains: answered, then the
      // connection closes.
      res.setHeader('connection', 'close');
    }
    answers.push(res);
    res.once('close', () => {
      const i = answers.indexOf(res);
      if (i >= 0) answers.splice(i, 1);
      // A connection whose answer went out before the drain began is idle now: it closes.
      if (state.draining) setImmediate(closeIdle);
    });
    app(req, res);
  };
  return { handle, state };
}

/** How many answers the server keeps for its open connections (see {@link connectionTracking}): for diagnostics and tests. */
export function trackedAnswers(server: Server): number {
  let n = 0;
  for (const answers of tracked.get(server)?.answers.values() ?? []) n += answers.length;
  return n;
}

/**
 * Starts a graceful stop's drain: idle kept-alive connections close at once, and every other
 * after its last answer (of several pipelined requests, the last), which says `Connection: close`
 * where it has not been sent yet, so clients take their next request elsewhere instead of reusing
 * the connection until the drain time runs out and it is cut under a request. `server.close()`
 * then ends once they have.
 */
export function drainConnections(server: Server): void {
  const state = tracked.get(server);
  if (state) {
    state.draining = true;
    for (const answers of state.answers.values()) {
      const last = answers.at(-1);
      if (last && !last.headersSent) last.setHeader('connection', 'close');
    }
  }
  server.closeIdleConnections();
}

/** The answer's code for each error Node's HTTP layer raises before a request reaches the app (any other: MALFORMED_REQUEST). */
const CLIENT_ERRORS: Partial<Record<string, { code: ErrorCode; message: string }>> = {
  ERR_HTTP_REQUEST_TIMEOUT: { code: 'REQUEST_TIMEOUT', message: 'the request did not arrive in time (HTTP_HEADERS_TIMEOUT_MS for its headers, HTTP_REQUEST_TIMEOUT_MS for the whole of it): nothing was done' },
  HPE_HEADER_OVERFLOW: { code: 'HEADERS_TOO_LARGE', message: 'the request line and headers are over the server\'s limit: nothing was done' },
  HPE_CHUNK_EXTENSIONS_OVERFLOW: { code: 'BODY_TOO_LARGE', message: 'a chunk of the body carries more extension data than the server takes: nothing was done' },
};

/**
 * Answers a request Node's HTTP parser refused, or one the timeouts cut off, with a problem
 * document as every other refusal (Node's own answer is a bare status line), then closes the
 * connection: what follows on it cannot be read. An earlier request of the connection whose
 * answer is on its way (pipelined, or a body that overran its Content-Length) keeps it: the
 * connection closes once that answer is sent, and nothing else is written, since the client would
 * read a refusal as that request's answer. A timeout refuses the request it cut off (its handler
 * still waits for the body) unless its answer has begun; nothing is written to a client gone.
 */
function answerClientError(err: Error & { code?: string; reason?: string }, socket: Duplex & { _httpMessage?: (ServerResponse & { req?: IncomingMessage }) | null }): void {
  const inFlight = socket._httpMessage ?? null;
  if (err.code === 'ECONNRESET' || !socket.writable || inFlight?.headersSent) {
    socket.destroy();
    return;
  }
  if (inFlight && inFlight.req?.complete && err.code !== 'ERR_HTTP_REQUEST_TIMEOUT') {
    inFlight.once('close', () => socket.destroy());
    return;
  }
  const known = CLIENT_ERRORS[err.code ?? ''];
  const e = known ? new AppError(known.code, known.message) : new AppError('MALFORMED_REQUEST', `the HTTP request could not be read${err.reason ? ` (${err.reason.replace(/\.$/, '').toLowerCase()})` : ''}: nothing was done`);
  writeProblem(socket, e);
}

/** Writes a problem document (with `headers` besides its own) on a connection the HTTP server does not answer itself, and closes it. */
function writeProblem(socket: Duplex, e: AppError, headers: Record<string, string> = {}): void {
  const body = JSON.stringify(toProblem(e));
  const reason = { 400: 'Bad Request', 405: 'Method Not Allowed', 408: 'Request Timeout', 413: 'Payload Too Large', 431: 'Request Header Fields Too Large' }[e.status] ?? 'Error';
  const more = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`).join('');
  socket.end(`HTTP/1.1 ${e.status} ${reason}\r\nContent-Type: application/problem+json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${more}Connection: close\r\n\r\n${body}`, () => socket.destroy());
}
