import { type ChildProcess, spawn } from 'node:child_process';
import { connect, createServer, type Socket } from 'node:net';
import { resolve } from 'node:path';

export const ROOT = resolve(__dirname, '../..');

/** A TCP port nothing listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => ok(port));
    });
  });
}

/** A child process with its output kept (shown when a test fails to start it). */
export interface Running {
  child: ChildProcess;
  output: () => string;
  /** Sends `signal` and waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export function run(command: string, args: string[], env: NodeJS.ProcessEnv = {}): Running {
  const child = spawn(command, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-20_000)));
  child.stderr?.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-20_000)));
  const exited = new Promise<void>((ok) => child.once('exit', () => ok()));
  return {
    child,
    output: () => out,
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}

/** Polls `check` every 100 ms until it returns a value other than undefined. */
export async function eventually<T>(check: () => Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * A private redis-server on a free port (or `port`); with `dir`, it keeps an append-only file there,
 * so a restart on the same port and dir finds the data again. `stop` shuts it down.
 */
export async function startRedis(options: { port?: number; dir?: string } = {}): Promise<Running & { url: string; port: number }> {
  const port = options.port ?? (await freePort());
  const persistence = options.dir ? ['--appendonly', 'yes', '--appendfsync', 'always', '--dir', options.dir] : ['--appendonly', 'no'];
  const server = run('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', ...persistence]);
  await eventually(async () => (server.output().includes('Ready to accept connections') ? true : undefined), 10_000, `redis-server on ${port}: ${server.output()}`);
  return { ...server, url: `redis://127.0.0.1:${port}`, port };
}

/** `npm start` (dist/src/main.js) on a free port; resolves once /healthz answers. */
export async function startApi(env: NodeJS.ProcessEnv): Promise<Running & { url: string }> {
  const port = await freePort();
  const api = run(process.execPath, ['dist/src/main.js'], { PORT: String(port), LOG_LEVEL: 'warn', ...env });
  const url = `http://127.0.0.1:${port}`;
  await eventually(async () => ((await fetch(`${url}/healthz`)).ok ? true : undefined), 20_000, `the API on ${port}: ${api.output()}`);
  return { ...api, url };
}

/**
 * A TCP proxy to `port` on 127.0.0.1 whose `freeze` stops passing bytes on the connections open at
 * that moment, in both directions, without closing them: a peer gone without a word, as after a
 * Redis pod is rescheduled onto another address. Connections made afterwards pass as before.
 */
export async function freezableProxy(port: number): Promise<{ port: number; url: string; freeze(): void; close(): Promise<void> }> {
  const pairs = new Set<[Socket, Socket]>();
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(port, '127.0.0.1');
    const pair: [Socket, Socket] = [client, upstream];
    pairs.add(pair);
    sockets.add(client).add(upstream);
    client.pipe(upstream);
    upstream.pipe(client);
    const end = (): void => {
      pairs.delete(pair);
      sockets.delete(client);
      sockets.delete(upstream);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const own = (server.address() as { port: number }).port;
  return {
    port: own,
    url: `redis://127.0.0.1:${own}`,
    freeze: () => {
      for (const [client, upstream] of pairs) {
        client.unpipe(upstream);
        upstream.unpipe(client);
        // Not read any more: what the client sends waits in the socket, unanswered.
        client.pause();
        upstream.pause();
      }
      pairs.clear();
    },
    close: async () => {
      const closed = new Promise<void>((ok) => server.close(() => ok()));
      for (const s of sockets) s.destroy();
      await closed;
    },
  };
}
