// Validates Kubernetes manifests (a multi-document YAML on stdin) against the Kubernetes schemas of
// kubernetes-models (and the KEDA and Prometheus Operator CRDs). Prints one JSON line per document:
// {"kind","name","error"} with error null when valid. The test runs it in a process of its own.
import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';

const groups = {
  v1: () => import('kubernetes-models/v1'),
  'apps/v1': () => import('kubernetes-models/apps/v1'),
  'autoscaling/v2': () => import('kubernetes-models/autoscaling/v2'),
  'networking.k8s.io/v1': () => import('kubernetes-models/networking.k8s.io/v1'),
  'policy/v1': () => import('kubernetes-models/policy/v1'),
  'keda.sh/v1alpha1': () => import('@kubernetes-models/keda/keda.sh/v1alpha1'),
  'monitoring.coreos.com/v1': () => import('@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1'),
};

for (const doc of parseAllDocuments(readFileSync(0, 'utf8'))) {
  const m = doc.toJS();
  if (!m) continue;
  let error = null;
  try {
    const load = groups[m.apiVersion];
    if (!load) throw new Error(`no schema for apiVersion ${m.apiVersion}`);
    const Model = (await load())[m.kind];
    if (!Model) throw new Error(`no schema for ${m.apiVersion} ${m.kind}`);
    new Model(m).validate();
  } catch (e) {
    error = e instanceof Error ? e.message : String(e);
  }
  process.stdout.write(JSON.stringify({ kind: m.kind, name: m.metadata?.name ?? null, error }) + '\n');
}
