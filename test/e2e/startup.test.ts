import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually, freePort, ROOT, run, startApi } from '../helpers/processes';

/** Start-up fails loudly: a port already taken is one clear line and a non-zero exit, not a process that never listens. */
describe('start-up', () => {
  it('on a port already in use, the service exits non-zero saying so', async () => {
    const port = await freePort();
    const taken: Server = createServer();
    await new Promise<void>((ok) => taken.listen(port, ok));
    const dir = await mkdtemp(join(tmpdir(), 'nce-startup-'));
    try {
      const service = run(process.execPath, [join(ROOT, 'dist/src/main.js')], { PORT: String(port), MODELS_DIR: join(dir, 'm'), DATASETS_DIR: join(dir, 'd'), LOG_LEVEL: 'silent' });
      const code = await new Promise<number | null>((ok) => service.child.once('exit', (c) => ok(c)));
      expect(code).toBe(1);
      expect(service.output()).toContain(`nce-ood: cannot listen on port ${port}: the port is already in use`);
    } finally {
      await new Promise((ok) => taken.close(ok));
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('when MODELS_DIR is a file, exits non-zero with one line naming the setting, not a stack trace', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'nce-startup-'));
    try {
      await writeFile(join(dir, 'file'), 'x');
      const service = run(process.execPath, [join(ROOT, 'dist/src/main.js')], { PORT: String(await freePort()), MODELS_DIR: join(dir, 'file'), DATASETS_DIR: join(dir, 'd'), LOG_LEVEL: 'silent' });
      const code = await new Promise<number | null>((ok) => service.child.once('exit', (c) => ok(c)));
      expect(code).toBe(1);
      expect(service.output().trim()).toBe(`nce-ood: cannot start: MODELS_DIR "${join(dir, 'file')}" cannot be used as a folder (it, or a folder above it, is a file)`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('when MODELS_DIR cannot be created (under /proc), exits non-zero at once naming the setting', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'nce-startup-'));
    try {
      const models = `/proc/nce-ood-${process.pid}/models`;
      const service = run(process.execPath, [join(ROOT, 'dist/src/main.js')], { PORT: String(await freePort()), MODELS_DIR: models, DATASETS_DIR: join(dir, 'd'), LOG_LEVEL: 'silent' });
      const code = await new Promise<number | null>((ok) => service.child.once('exit', (c) => ok(c)));
      expect(code).toBe(1);
      expect(service.output().trim()).toMatch(new RegExp(`^nce-ood: cannot start: MODELS_DIR "${models}" cannot be used as a folder \\(ENOENT`));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('a file-size limit', () => {
  it('reached by an upload (ulimit -f) answers 507 and stores none of it (a write that took part of its bytes was taken as whole), and the service goes on serving (the folder claim\'s exit hooks do not make SIGXFSZ its end)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'nce-fsize-'));
    const port = await freePort();
    // 64 blocks of 1 KiB: room for the service's own small files, not for this dataset.
    const api = run('bash', ['-c', `ulimit -f 64 && exec "${process.execPath}" dist/src/main.js`], { PORT: String(port), MODELS_DIR: join(dir, 'm'), DATASETS_DIR: join(dir, 'd'), LOG_LEVEL: 'warn' });
    const url = `http://127.0.0.1:${port}`;
    try {
      await eventually(async () => ((await fetch(`${url}/healthz`)).ok ? true : undefined), 20_000, `the API: ${api.output()}`);
      const put = (records: object[]) => fetch(`${url}/v1/datasets/big`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ records }) });
      const big = await put(Array.from({ length: 3000 }, (_, i) => ({ a: i * 1.5, b: `text ${i} `.repeat(4) })));
      expect(big.status).toBe(507);
      expect(await big.json()).toMatchObject({ code: 'STORAGE_FULL', detail: expect.stringContaining('EFBIG') });
      expect((await fetch(`${url}/healthz`)).ok).toBe(true);
      expect((await fetch(`${url}/v1/datasets/big`)).status).toBe(404);
      expect((await put([{ a: 1, b: 'x' }])).status).toBe(200);
      expect(api.child.exitCode).toBeNull();
    } finally {
      await api.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('shutdown', () => {
  it('on SIGTERM with a slow upload still open, exits 0 once SHUTDOWN_MS has passed, not when the client gives up', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'nce-shutdown-'));
    const api = await startApi({ MODELS_DIR: join(dir, 'm'), DATASETS_DIR: join(dir, 'd'), SHUTDOWN_MS: '1000' });
    const socket = connect(Number(new URL(api.url).port), '127.0.0.1');
    try {
      await new Promise<void>((ok) => socket.once('connect', () => ok()));
      socket.on('error', () => undefined);
      socket.write('PUT /v1/datasets/slow HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"rec');
      await new Promise((r) => setTimeout(r, 200));
      const started = Date.now();
      const code = new Promise<number | null>((ok) => api.child.once('exit', (c) => ok(c)));
      api.child.kill('SIGTERM');
      expect(await code).toBe(0);
      const took = Date.now() - started;
      expect(took).toBeGreaterThanOrEqual(900);
      expect(took).toBeLessThan(10_000);
    } finally {
      socket.destroy();
      await api.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

/** Reads from `socket` until `done` holds for what arrived, or the socket ends; resolves with all of it. */
function readUntil(socket: Socket, done: (text: string) => boolean): Promise<string> {
  return new Promise((ok) => {
    let text = '';
    const finish = () => {
      socket.off('data', onData);
      ok(text);
    };
    const onData = (d: Buffer) => {
      text += d.toString();
      if (done(text)) finish();
    };
    socket.on('data', onData);
    socket.once('close', finish);
  });
}

describe('draining on SIGTERM', () => {
  it('answers the request in flight on a kept-alive connection with Connection: close, and exits once it is out, not when SHUTDOWN_MS runs out', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'nce-drain-'));
    const api = await startApi({ MODELS_DIR: join(dir, 'm'), DATASETS_DIR: join(dir, 'd'), SHUTDOWN_MS: '20000' });
    const port = Number(new URL(api.url).port);
    const busy = connect(port, '127.0.0.1');
    const idle = connect(port, '127.0.0.1');
    try {
      for (const s of [busy, idle]) {
        await new Promise<void>((ok) => s.once('connect', () => ok()));
        s.on('error', () => undefined);
      }
      // Both connections kept alive by a first answer; then an upload half sent on one of them.
      for (const s of [busy, idle]) {
        const first = readUntil(s, (t) => t.includes('\r\n\r\n') && t.trimEnd().endsWith('}'));
        s.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
        expect(await first).toMatch(/^HTTP\/1\.1 200[^]*connection: keep-alive/i);
      }
      const body = JSON.stringify({ records: [{ a: 1 }, { a: 2 }] });
      busy.write(`PUT /v1/datasets/drained HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 10)}`);
      await new Promise((r) => setTimeout(r, 200));
      const started = Date.now();
      const code = new Promise<number | null>((ok) => api.child.once('exit', (c) => ok(c)));
      const idleClosed = new Promise<void>((ok) => idle.once('close', () => ok()));
      api.child.kill('SIGTERM');
      // The idle connection closes at once: the drain has begun.
      await idleClosed;
      const answer = readUntil(busy, () => false);
      busy.write(body.slice(10));
      const text = await answer;
      // The upload is answered, and the connection closed after it: the client goes elsewhere next.
      expect(text).toMatch(/^HTTP\/1\.1 200/);
      expect(text).toMatch(/\r\nconnection: close\r\n/i);
      expect(await code).toBe(0);
      expect(Date.now() - started).toBeLessThan(10_000);
    } finally {
      busy.destroy();
      idle.destroy();
      await api.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('a slow upload', () => {
  it('sending a byte every 2 s is cut with 408 after the grace time, freeing its place for other uploads, not held for HTTP_REQUEST_TIMEOUT_MS', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'nce-slow-upload-'));
    const api = await startApi({ MODELS_DIR: join(dir, 'm'), DATASETS_DIR: join(dir, 'd'), MAX_CONCURRENT_UPLOADS: '1' });
    const slow = connect(Number(new URL(api.url).port), '127.0.0.1');
    let drip: NodeJS.Timeout | undefined;
    const put = (name: string) => fetch(`${api.url}/v1/datasets/${name}`, { method: 'PUT', headers: { 'content-type': 'text/csv' }, body: 'a,b\n1,2\n3,4\n' });
    try {
      await new Promise<void>((ok) => slow.once('connect', () => ok()));
      slow.on('error', () => undefined);
      const answer = readUntil(slow, () => false);
      const started = Date.now();
      slow.write('PUT /v1/datasets/slow HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\nContent-Length: 100000\r\n\r\na,b\n');
      drip = setInterval(() => slow.write('1'), 2000);
      await new Promise((r) => setTimeout(r, 1500));
      expect((await put('other')).status).toBe(503);
      const text = await answer;
      expect(text).toMatch(/^HTTP\/1\.1 408/);
      expect(text).toContain('bytes a second');
      expect(Date.now() - started).toBeLessThan(20_000);
      expect((await put('other')).status).toBe(200);
      expect((await fetch(`${api.url}/v1/datasets/slow`)).status).toBe(404);
    } finally {
      clearInterval(drip);
      slow.destroy();
      await api.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('a slow request body', () => {
  it('sending a byte every 2 s, a scoring request is cut with 408 after the grace time, as JSON or CSV, and one refused unread (404) has its connection closed, none held for HTTP_REQUEST_TIMEOUT_MS (an outside probe: 4,096 of them held every connection, the health probes\' too, for 2 minutes)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'nce-slow-body-'));
    const api = await startApi({ MODELS_DIR: join(dir, 'm'), DATASETS_DIR: join(dir, 'd') });
    const sockets: Socket[] = [];
    let drip: NodeJS.Timeout | undefined;
    try {
      const slowly = async (head: string): Promise<{ text: Promise<string>; closed: Promise<void> }> => {
        const socket = connect(Number(new URL(api.url).port), '127.0.0.1');
        sockets.push(socket);
        await new Promise<void>((ok) => socket.once('connect', () => ok()));
        socket.on('error', () => undefined);
        const closed = new Promise<void>((ok) => socket.once('close', () => ok()));
        const text = readUntil(socket, () => false);
        socket.write(head);
        return { text, closed };
      };
      // A model to score, so that a CSV body is read (streamed) by the route, not refused unread.
      const send = (path: string, body: unknown, method = 'POST') => fetch(`${api.url}${path}`, { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }).then((r) => r.json() as Promise<{ jobId?: string; state?: string }>);
      await send('/v1/datasets/m', { records: Array.from({ length: 100 }, (_, i) => ({ a: Math.sin(i), b: Math.cos(i) })) }, 'PUT');
      const { jobId } = await send('/v1/models/m/train', { dataset: 'm', config: { epochs: 1, kernelPartner: false } });
      for (let i = 0; i < 600 && (await fetch(`${api.url}/v1/jobs/${jobId}`).then((r) => r.json() as Promise<{ state: string }>)).state !== 'completed'; i++) await new Promise((r) => setTimeout(r, 100));
      const started = Date.now();
      const json = await slowly('POST /v1/models/m/score HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"records":[');
      const csv = await slowly('POST /v1/models/m/score HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\nContent-Length: 100000\r\n\r\na,b\n');
      const refused = await slowly('POST /v1/no-such-route HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{');
      drip = setInterval(() => sockets.forEach((s) => s.writable && s.write('1')), 2000);
      for (const slow of [json, csv]) {
        const text = await slow.text;
        expect(text).toMatch(/^HTTP\/1\.1 408/);
        expect(text).toMatch(/\r\nconnection: close\r\n/i);
        expect(text).toContain('"code":"REQUEST_TIMEOUT"');
        expect(text).toContain('bytes a second');
      }
      await refused.closed;
      expect(await refused.text).toMatch(/^HTTP\/1\.1 404/);
      expect(Date.now() - started).toBeLessThan(20_000);
      // The service goes on answering.
      expect((await fetch(`${api.url}/healthz`)).status).toBe(200);
    } finally {
      clearInterval(drip);
      sockets.forEach((s) => s.destroy());
      await api.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('shutdown while training (embedded)', () => {
  it('on SIGTERM exits within SHUTDOWN_MS though a long job trains, and the next start runs that job again to completion', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'nce-shutdown-train-'));
    const env = { MODELS_DIR: join(dir, 'm'), DATASETS_DIR: join(dir, 'd'), SHUTDOWN_MS: '1500' };
    const api = await startApi(env);
    try {
      const post = (base: string, path: string, method: string, body: unknown) => fetch(`${base}${path}`, { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }).then((r) => r.json());
      const records = Array.from({ length: 400 }, (_, i) => ({ x: Math.cos(i), y: Math.sin(i) }));
      await post(api.url, '/v1/datasets/ring', 'PUT', { records });
      // Long enough (400 epochs, no early stop) that it cannot finish within SHUTDOWN_MS.
      const { jobId } = (await post(api.url, '/v1/models/ring/train', 'POST', { dataset: 'ring', config: { epochs: 400, patience: 400, kernelPartner: false } })) as { jobId: string };
      for (let i = 0; i < 200 && ((await (await fetch(`${api.url}/v1/jobs/${jobId}`)).json()) as { progress: unknown[] }).progress.length < 2; i++) await new Promise((r) => setTimeout(r, 100));
      const started = Date.now();
      const code = new Promise<number | null>((ok) => api.child.once('exit', (c) => ok(c)));
      api.child.kill('SIGTERM');
      expect(await code).toBe(0);
      expect(Date.now() - started).toBeLessThan(6000);
      expect(api.output()).toContain('the running training job is stopped; it runs again at the next start');
      const again = await startApi(env);
      try {
        const job = await eventually(async () => {
          const j = (await (await fetch(`${again.url}/v1/jobs/${jobId}`)).json()) as { state: string };
          return j.state === 'completed' || j.state === 'failed' ? j : undefined;
        }, 120_000, 'the interrupted job run again');
        expect(job).toMatchObject({ state: 'completed', result: { model: 'ring' } });
      } finally {
        await again.stop();
      }
    } finally {
      await api.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('a bad streamed body', () => {
  it('an NDJSON upload refused at its first line, whose later bytes are bad too (not UTF-8), gets its 400 and the process stays up', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'nce-ndjson-'));
    const api = await startApi({ MODELS_DIR: join(dir, 'm'), DATASETS_DIR: join(dir, 'd'), MAX_DATASET_BYTES: '4096' });
    const { hostname, port } = new URL(api.url);
    try {
      for (const later of [Buffer.from([0xff, 0x0a]), Buffer.from('{"a":\n')]) {
        const answer = await new Promise<string>((ok, fail) => {
          const socket = connect(Number(port), hostname);
          const timer = setTimeout(() => fail(new Error('no answer')), 5000);
          socket.on('error', () => undefined);
          socket.once('data', (d: Buffer) => {
            clearTimeout(timer);
            // The rest of the body comes after the first line was refused: reading it must not fail unheard.
            socket.write(later);
            setTimeout(() => {
              socket.destroy();
              ok(d.toString('latin1'));
            }, 300);
          });
          const first = Buffer.from('notjson\n');
          socket.write(`PUT /v1/datasets/anything HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-ndjson\r\nContent-Length: ${first.length + later.length}\r\n\r\n`);
          socket.write(first);
        });
        expect(answer).toMatch(/^HTTP\/1\.1 400/);
        expect(answer).toContain('NDJSON line 1 is not valid JSON');
        await new Promise((r) => setTimeout(r, 300));
        expect((await fetch(`${api.url}/healthz`)).status).toBe(200);
      }
    } finally {
      await api.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
