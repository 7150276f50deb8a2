import { connect, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import express from 'express';
import pino from 'pino';
import { createHttpServer, drainConnections, trackedAnswers } from '../../src/api';
import { composeEmbedded } from '../../src/compose';
import { loadSettings } from '../../src/config';
import { initBackend } from '../../src/nce';

/** The API server's own limits against slow and greedy clients, on a real socket. */
let server: Server;
let port: number;
const sockets: Socket[] = [];

beforeAll(async () => {
  const app = express();
  app.post('/echo', express.text(), (req, res) => {
    res.send(String(req.body));
  });
  server = createHttpServer(app, { headersTimeoutMs: 1000, requestTimeoutMs: 2000, maxConnections: 3 });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  port = (server.address() as AddressInfo).port;
});

afterEach(() => {
  for (const s of sockets.splice(0)) s.destroy();
});

afterAll(async () => {
  await new Promise((ok) => server.close(ok));
});

/** Opens a socket, writes `text`, and resolves with what came back and how long until it closed. */
async function openAndWait(text: string): Promise<{ answer: string; ms: number }> {
  const socket = connect(port, '127.0.0.1');
  sockets.push(socket);
  await new Promise((ok) => socket.once('connect', ok));
  const t0 = Date.now();
  let answer = '';
  socket.on('data', (b: Buffer) => (answer += b.toString()));
  socket.write(text);
  await new Promise((ok) => socket.once('close', ok));
  return { answer, ms: Date.now() - t0 };
}

describe('HTTP limits', () => {
  it('a client that never finishes its headers gets 408 and the connection closes soon after headersTimeout', async () => {
    const { answer, ms } = await openAndWait('POST /echo HTTP/1.1\r\nHost: x\r\n');
    expect(answer).toMatch(/^HTTP\/1\.1 408/);
    expect(ms).toBeGreaterThanOrEqual(900);
    expect(ms).toBeLessThan(2500);
  });

  it('a client that sends its headers but not its whole body gets 408 after requestTimeout', async () => {
    const { answer, ms } = await openAndWait('POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n\r\nonly ten b');
    expect(answer).toMatch(/^HTTP\/1\.1 408/);
    expect(ms).toBeGreaterThanOrEqual(1900);
    expect(ms).toBeLessThan(4000);
  });

  it('a request the HTTP parser refuses gets a problem document naming what was wrong, and the connection closes', async () => {
    /** The status, content type and problem of an answer on a raw socket. */
    const problemOf = (answer: string): { status: number; type: string | undefined; problem: { code?: string; status?: number; detail?: string } } => {
      const [head, body] = answer.split('\r\n\r\n');
      return { status: Number(/^HTTP\/1\.1 (\d+)/.exec(head)?.[1]), type: /content-type: ([^\r]+)/i.exec(head)?.[1], problem: JSON.parse(body) as { code?: string } };
    };
    const cases: [string, number, string, RegExp][] = [
      ['POST /echo HTTP/1.1\r\nHost: x\r\nX-Key: a\u007fb\r\nContent-Length: 2\r\n\r\nhi', 400, 'MALFORMED_REQUEST', /could not be read \(.*header/],
      ['POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nhi', 400, 'MALFORMED_REQUEST', /content-length/],
      ['POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n', 400, 'MALFORMED_REQUEST', /content-length/],
      ['GARBAGE\r\n\r\n', 400, 'MALFORMED_REQUEST', /could not be read/],
      [`GET /echo HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`, 431, 'HEADERS_TOO_LARGE', /headers are over/],
    ];
    for (const [request, status, code, detail] of cases) {
      const { answer } = await openAndWait(request);
      const got = problemOf(answer);
      expect({ status: got.status, type: got.type, code: got.problem.code, problemStatus: got.problem.status }).toEqual({ status, type: 'application/problem+json', code, problemStatus: status });
      expect(got.problem.detail).toMatch(detail);
    }
    // On a kept-alive connection whose first answer was sent, the next request is refused all the same.
    const kept = connect(port, '127.0.0.1');
    sockets.push(kept);
    let both = '';
    kept.on('data', (b: Buffer) => (both += b.toString()));
    const closed = new Promise((ok) => kept.once('close', ok));
    kept.write('POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nhi');
    while (!both.endsWith('hi')) await new Promise((r) => setTimeout(r, 10));
    kept.write(`GET /echo HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
    await closed;
    expect(both).toMatch(/^HTTP\/1\.1 200[\s\S]*\r\n\r\nhiHTTP\/1\.1 431 [\s\S]*"code":"HEADERS_TOO_LARGE"/);
    // Bytes after a request whose answer is on its way (a body longer than its Content-Length):
    // that request is answered, nothing else is written (a refusal would read as its answer), and the connection closes.
    const overrun = await openAndWait('POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nhiGARBAGE\r\n\r\n');
    expect(overrun.answer).toMatch(/^HTTP\/1\.1 200[\s\S]*\r\n\r\nhi$/);
    // The timeout's 408 is a problem document too.
    const late = problemOf((await openAndWait('POST /echo HTTP/1.1\r\nHost: x\r\n')).answer);
    expect([late.status, late.problem.code]).toEqual([408, 'REQUEST_TIMEOUT']);
    // The server still answers.
    expect((await openAndWait('POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi')).answer).toMatch(/^HTTP\/1\.1 200[\s\S]*hi$/);
  });

  it('the API logs a request the timeout cut off (Node answers its 408, which no route sees)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'nce-limits-'));
    const lines: { msg: string; route?: string; method?: string; bodyRead?: boolean }[] = [];
    const logger = pino({ level: 'info' }, { write: (l: string) => void lines.push(JSON.parse(l) as (typeof lines)[number]) });
    const service = await composeEmbedded(loadSettings({ MODELS_DIR: join(dir, 'models'), DATASETS_DIR: join(dir, 'data') }), logger, await initBackend());
    const api = createHttpServer(service.app, { headersTimeoutMs: 1000, requestTimeoutMs: 2000, maxConnections: 10 });
    try {
      await new Promise<void>((ok) => api.listen(0, '127.0.0.1', ok));
      const socket = connect((api.address() as AddressInfo).port, '127.0.0.1');
      sockets.push(socket);
      let answer = '';
      socket.on('data', (b: Buffer) => (answer += b.toString()));
      socket.write('PUT /v1/datasets/slow HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\nContent-Length: 100\r\n\r\na,b\n1,');
      await new Promise((ok) => socket.once('close', ok));
      expect(answer).toMatch(/^HTTP\/1\.1 408/);
      await new Promise((r) => setTimeout(r, 100));
      expect(lines.filter((l) => l.msg.startsWith('request closed before it was answered'))).toEqual([expect.objectContaining({ method: 'PUT', route: '/v1/datasets/:name', bodyRead: false })]);
    } finally {
      await new Promise((ok) => api.close(ok));
      await service.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('the API answers what Node would answer bare or not at all: no Host (400), an expectation it ignores, CONNECT (405), each a problem document', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'nce-limits-'));
    const service = await composeEmbedded(loadSettings({ MODELS_DIR: join(dir, 'models'), DATASETS_DIR: join(dir, 'data') }), pino({ level: 'silent' }), await initBackend());
    const api = createHttpServer(service.app, { headersTimeoutMs: 1000, requestTimeoutMs: 2000, maxConnections: 10 });
    try {
      await new Promise<void>((ok) => api.listen(0, '127.0.0.1', ok));
      const ask = async (text: string): Promise<{ status: number; head: string; body: string }> => {
        const socket = connect((api.address() as AddressInfo).port, '127.0.0.1');
        sockets.push(socket);
        let answer = '';
        socket.on('data', (b: Buffer) => (answer += b.toString()));
        socket.write(text);
        await new Promise((ok) => socket.once('close', ok));
        const [head, body] = answer.split('\r\n\r\n');
        return { status: Number(/^HTTP\/1\.1 (\d+)/.exec(head)?.[1]), head, body };
      };
      const hostless = await ask('GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n');
      expect(hostless.status).toBe(400);
      expect(hostless.head).toMatch(/content-type: application\/problem\+json/i);
      expect(hostless.head).toMatch(/x-request-id: /i);
      expect(JSON.parse(hostless.body)).toMatchObject({ code: 'MALFORMED_REQUEST', detail: expect.stringContaining('no Host header') });
      // HTTP/1.0 needs none.
      expect((await ask('GET /healthz HTTP/1.0\r\n\r\n')).status).toBe(200);
      expect((await ask('GET /healthz HTTP/1.1\r\nHost: x\r\nExpect: 200-ok\r\nConnection: close\r\n\r\n')).status).toBe(200);
      const proxy = await ask('CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n');
      expect(proxy.status).toBe(405);
      expect(proxy.head).toMatch(/\r\nallow: \r\n/i);
      expect(proxy.head).toMatch(/x-request-id: [0-9a-f-]{36}/i);
      // Pipelined after a request whose answer is on its way: that answer alone comes back, not the refusal as its answer.
      const piped = await ask('GET /readyz HTTP/1.1\r\nHost: x\r\n\r\nCONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n');
      expect(piped.status).toBe(200);
      expect(piped.body).toMatch(/^\{"status":"ready"/);
      expect(piped.body).not.toContain('CONNECT');
      expect(JSON.parse(proxy.body)).toMatchObject({ code: 'METHOD_NOT_ALLOWED', detail: expect.stringContaining('CONNECT') });
      // The server still answers.
      expect((await ask('GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')).status).toBe(200);
    } finally {
      await new Promise((ok) => api.close(ok));
      await service.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('beyond maxConnections a new connection is closed on arrival, while the open ones still get answers', async () => {
    const held = await Promise.all(
      [0, 1, 2].map(async () => {
        const s = connect(port, '127.0.0.1');
        sockets.push(s);
        await new Promise((ok) => s.once('connect', ok));
        return s;
      }),
    );
    await new Promise((r) => setTimeout(r, 50));
    const extra = await openAndWait('POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nhi');
    expect(extra.answer).toBe('');
    const first = held[0] as Socket;
    const reply = new Promise<string>((ok) => first.once('data', (b: Buffer) => ok(b.toString())));
    first.write('POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nhi');
    expect(await reply).toMatch(/^HTTP\/1\.1 200[\s\S]*hi$/);
  });
});

describe('draining and pipelining', () => {
  /** A server whose /slow answers after 300 ms and whose POST /effect counts its runs. */
  async function pipelineServer(): Promise<{ server: Server; port: number; effects: () => number }> {
    let effects = 0;
    const app = express();
    app.get('/slow', (_req, res) => void setTimeout(() => res.send('slow'), 300));
    app.get('/quick', (_req, res) => void res.send('quick'));
    app.post('/effect', (_req, res) => {
      effects++;
      res.send('done');
    });
    const s = createHttpServer(app, { headersTimeoutMs: 1000, requestTimeoutMs: 2000, maxConnections: 50 });
    await new Promise<void>((ok) => s.listen(0, '127.0.0.1', ok));
    return { server: s, port: (s.address() as AddressInfo).port, effects: () => effects };
  }

  /** Writes `requests` on one connection, starts the drain after 100 ms, and resolves with all that came back before the connection closed. */
  async function pipelinedThroughDrain(s: Server, p: number, requests: string): Promise<string> {
    const socket = connect(p, '127.0.0.1');
    await new Promise((ok) => socket.once('connect', ok));
    let answer = '';
    socket.on('data', (b: Buffer) => (answer += b.toString()));
    const closed = new Promise((ok) => socket.once('close', ok));
    socket.write(requests);
    await new Promise((r) => setTimeout(r, 100));
    drainConnections(s);
    await closed;
    return answer;
  }

  it('answers every request pipelined before the drain, and closes the connection after the last (a request run must not go unanswered)', async () => {
    const { server: s, port: p, effects } = await pipelineServer();
    try {
      // The effect ran (and answered, behind the slow answer) before the drain: both answers come.
      const answer = await pipelinedThroughDrain(s, p, 'GET /slow HTTP/1.1\r\nHost: x\r\n\r\nPOST /effect HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n');
      expect(effects()).toBe(1);
      expect(answer.match(/HTTP\/1\.1 \d{3}/g)).toEqual(['HTTP/1.1 200', 'HTTP/1.1 200']);
      expect(answer).toMatch(/\r\n\r\nslow/);
      expect(answer).toMatch(/done$/);
      // Two answers still to come: the first keeps the connection, the last says it closes.
      const both = await pipelinedThroughDrain(s, p, 'GET /slow HTTP/1.1\r\nHost: x\r\n\r\nGET /slow HTTP/1.1\r\nHost: x\r\n\r\n');
      const [first, last] = both.split(/(?=HTTP\/1\.1 )/);
      expect(first).toMatch(/^HTTP\/1\.1 200[^]*slow$/);
      expect(first).not.toMatch(/connection: close/i);
      expect(last).toMatch(/^HTTP\/1\.1 200[^]*connection: close[^]*slow$/i);
    } finally {
      await new Promise((ok) => s.close(ok));
    }
  });

  it('keeps nothing of the requests queued on connections that closed before answering them (a client pipelining and resetting cannot grow its memory)', async () => {
    const { server: s, port: p } = await pipelineServer();
    try {
      for (let round = 0; round < 20; round++) {
        const socket = connect(p, '127.0.0.1');
        socket.on('error', () => undefined);
        await new Promise((ok) => socket.once('connect', ok));
        socket.write('GET /slow HTTP/1.1\r\nHost: x\r\n\r\n' + 'GET /quick HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(50));
        await new Promise((r) => setTimeout(r, 20));
        socket.resetAndDestroy();
      }
      await new Promise((r) => setTimeout(r, 500));
      expect(trackedAnswers(s)).toBe(0);
    } finally {
      await new Promise((ok) => s.close(ok));
    }
  });
});
