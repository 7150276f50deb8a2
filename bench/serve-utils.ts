/** What the serving benchmarks share: start a server script, send a request, wait for a job. */
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';

function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.once('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => ok(p));
    });
  });
}

/** Starts a server script on a free port and waits until it answers `probe`. */
export async function start(script: string, env: Record<string, string>, probe: string): Promise<{ child: ChildProcess; port: number }> {
  const port = await freePort();
  const child = spawn(process.execPath, [script], { env: { ...process.env, ...env, PORT: String(port) }, stdio: ['ignore', 'ignore', 'inherit'] });
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) throw new Error(`${script} exited with ${child.exitCode}`);
    try {
      await fetch(`http://127.0.0.1:${port}${probe}`);
      return { child, port };
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  child.kill('SIGKILL');
  throw new Error(`${script} did not start`);
}

/** Sends a JSON (or text) body; throws on a non-2xx answer. */
export async function send(method: 'PUT' | 'POST', url: string, body: unknown, type = 'application/json'): Promise<unknown> {
  const res = await fetch(url, { method, headers: { 'content-type': type }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  if (res.status >= 300) throw new Error(`${url}: ${res.status} ${await res.text()}`);
  return res.json();
}

/** Polls a training job every `everyMs` until it completes; throws when it fails. */
export async function waitForJob(base: string, id: string, everyMs = 500): Promise<void> {
  for (;;) {
    const j = (await (await fetch(`${base}/v1/jobs/${id}`)).json()) as { state: string; error?: { message: string } };
    if (j.state === 'completed') return;
    if (j.state === 'failed') throw new Error(`training failed: ${j.error?.message ?? ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
