import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { freePort, ROOT } from '../helpers/processes';

/** The image's HEALTHCHECK command, as the Dockerfile has it: `node -e "<script>"`. */
function healthcheckScript(): string {
  const line = readFileSync(join(ROOT, 'Dockerfile'), 'utf8')
    .split('\n')
    .find((l) => l.startsWith('HEALTHCHECK '));
  const script = /CMD node -e "(.*)"$/.exec(line ?? '')?.[1];
  if (!script) throw new Error(`no HEALTHCHECK of the form CMD node -e "..." in the Dockerfile: ${line}`);
  return script;
}

/** Runs the check with `env`; resolves its exit code. */
function check(env: Record<string, string>): Promise<number> {
  return new Promise((ok) => {
    execFile(process.execPath, ['-e', healthcheckScript()], { env: { ...process.env, ...env }, timeout: 10_000 }, (err) => ok(err ? Number((err as { code?: unknown }).code ?? 1) : 0));
  });
}

/** An HTTP server on a free port that answers `path` with `status` and anything else with 404. */
async function answering(path: string, status: number): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => res.writeHead(req.url === path ? status : 404).end());
  const port = await freePort();
  await new Promise<void>((ok) => server.listen(port, '127.0.0.1', ok));
  return { server, port };
}

describe("the image's HEALTHCHECK", () => {
  const servers: Server[] = [];
  afterAll(async () => {
    await Promise.all(servers.map((s) => new Promise((ok) => s.close(ok))));
  });

  it("passes for the API by its /healthz and for a worker (the same image) by its metrics port, and fails for neither or an unhealthy API", async () => {
    const nothing = String(await freePort());
    const api = await answering('/healthz', 200);
    const sick = await answering('/healthz', 503);
    const worker = await answering('/metrics', 200);
    servers.push(api.server, sick.server, worker.server);
    expect(await check({ PORT: String(api.port), WORKER_METRICS_PORT: nothing })).toBe(0);
    expect(await check({ PORT: nothing, WORKER_METRICS_PORT: String(worker.port) })).toBe(0);
    expect(await check({ PORT: nothing, WORKER_METRICS_PORT: nothing })).toBe(1);
    // An API that answers, unhealthy, is not taken for a worker.
    expect(await check({ PORT: String(sick.port), WORKER_METRICS_PORT: String(worker.port) })).toBe(1);
  });
});
