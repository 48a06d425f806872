// The rendered chart (CRD included) through the real API server's admission and validation, without
// persisting anything: `kubectl apply --server-side --dry-run=server`. The release namespace enforces Pod
// Security "restricted": a Deployment whose pod template breaks it is only warned about (the API server
// enforces on Pods, not on templates), and the Pod it would create is refused, which is checked by
// creating the chart's pod template as a Pod (dry run).
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { kubectl, renderChart } from '../helm/chart.ts';
import { uniqueName } from '../support/kube.ts';

const admin = inject('kubeconfigPath');
const kubectlPath = inject('kubectlPath');
const namespace = uniqueName('chart-dry-run');

beforeAll(async () => {
  const created = await kubectl(kubectlPath, admin, ['create', 'namespace', namespace]);
  expect(created.code, created.stderr).toBe(0);
  const labelled = await kubectl(kubectlPath, admin, [
    'label',
    'namespace',
    namespace,
    'pod-security.kubernetes.io/enforce=restricted',
    'pod-security.kubernetes.io/warn=restricted',
  ]);
  expect(labelled.code, labelled.stderr).toBe(0);
}, 1_200_000);

afterAll(async () => {
  await kubectl(kubectlPath, admin, ['delete', 'namespace', namespace, '--wait=false']);
});

describe('the rendered chart on the real API server', () => {
  it('passes a server-side dry-run, CRD included, with no Pod Security warning', async () => {
    const { text, manifests } = await renderChart({
      release: namespace,
      namespace,
      includeCrds: true,
      values: {
        config: {
          cluster: { provider: 'outscale', regions: ['cloudgouv-eu-west-1'], qualification: 'secnumcloud' },
        },
      },
    });
    const result = await kubectl(
      kubectlPath,
      admin,
      ['apply', '--server-side', '--force-conflicts', '--dry-run=server', '-f', '-'],
      text,
    );
    expect(result.code, result.stderr).toBe(0);
    // One line per object, each accepted by the server.
    const accepted = result.stdout.split('\n').filter((l) => l.includes('(server dry run)'));
    expect(accepted).toHaveLength(manifests.length);
    expect(result.stderr).not.toMatch(/would violate PodSecurity|Warning/);
  });

  it('only warns about a Deployment whose pod template breaks the Pod Security level (templates are not enforced)', async () => {
    const { text } = await renderChart({ release: namespace, namespace });
    // Same chart, with the security context the restricted level requires removed from the pod.
    const broken = text.replace('runAsNonRoot: true\n        runAsUser: 65532', 'runAsUser: 0');
    expect(broken).not.toBe(text);
    const applied = await kubectl(
      kubectlPath,
      admin,
      ['apply', '--server-side', '--dry-run=server', '-f', '-'],
      broken,
    );
    // Admitted: Pod Security enforces on Pods; on a workload's template it only warns. The refusal is below.
    expect(applied.code, applied.stderr).toBe(0);
    expect(applied.stderr).toMatch(/would violate PodSecurity "restricted/);
  });

  it("is refused by the server when the Pod Security level is broken: the chart's pod, created as a Pod (dry run)", async () => {
    const { manifests } = await renderChart({ release: namespace, namespace });
    // The Pods the chart's workloads would create: their templates, as Pods of the release namespace.
    const pods = manifests.flatMap((m) => {
      const spec = m.spec as
        | { template?: PodTemplate; jobTemplate?: { spec?: { template?: PodTemplate } } }
        | undefined;
      const template = spec?.template ?? spec?.jobTemplate?.spec?.template;
      if (!template) return [];
      return [
        {
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { name: `${m.metadata.name}-pod`, namespace, labels: template.metadata?.labels ?? {} },
          spec: template.spec,
        },
      ];
    });
    expect(pods.length, 'the chart has a workload').toBeGreaterThan(0);
    // Their ServiceAccount must exist, or the Pods are refused for that instead.
    const accounts = manifests.filter((m) => m.kind === 'ServiceAccount');
    const created = await kubectl(
      kubectlPath,
      admin,
      ['apply', '--server-side', '-f', '-'],
      accounts.map((a) => JSON.stringify(a)).join('\n'),
    );
    expect(created.code, created.stderr).toBe(0);
    const createPod = (pod: unknown) =>
      kubectl(
        kubectlPath,
        admin,
        ['create', '--dry-run=server', '-o', 'name', '-f', '-'],
        JSON.stringify(pod),
      );

    for (const pod of pods) {
      // The control: as the chart renders it, the Pod is admitted (so a refusal below is Pod Security's).
      const accepted = await createPod(pod);
      expect(accepted.code, `${pod.metadata.name} as rendered: ${accepted.stderr}`).toBe(0);
      expect(accepted.stderr).not.toMatch(/PodSecurity/);

      // Broken: runs as root (runAsUser 0, runAsNonRoot dropped from the pod and its containers).
      const broken = structuredClone(pod);
      broken.spec.securityContext = { ...broken.spec.securityContext, runAsUser: 0 };
      delete broken.spec.securityContext.runAsNonRoot;
      for (const c of [...broken.spec.containers, ...(broken.spec.initContainers ?? [])])
        if (c.securityContext) delete c.securityContext.runAsNonRoot;
      const refused = await createPod(broken);
      expect(refused.code, `${pod.metadata.name} running as root was admitted: ${refused.stdout}`).not.toBe(
        0,
      );
      expect(refused.stderr).toMatch(
        /\(Forbidden\).*violates PodSecurity "restricted:[^"]+": .*runAsUser=0/s,
      );
    }
  });
});

interface PodTemplate {
  metadata?: { labels?: Record<string, string> };
  spec: {
    securityContext?: Record<string, unknown>;
    containers: { securityContext?: Record<string, unknown> }[];
    initContainers?: { securityContext?: Record<string, unknown> }[];
  };
}
