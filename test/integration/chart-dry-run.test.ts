// The rendered chart (CRD included) through the real API server's admission and validation, without
// persisting anything: `kubectl apply --server-side --dry-run=server`. The release namespace enforces Pod
// Security "restricted", so a pod template that would break it is reported.
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

  it('is refused by the server when the Pod Security level is broken (the dry-run can fail)', async () => {
    const { text } = await renderChart({ release: namespace, namespace });
    // Same chart, with the security context the restricted level requires removed from the pod.
    const broken = text.replace('runAsNonRoot: true\n        runAsUser: 65532', 'runAsUser: 0');
    expect(broken).not.toBe(text);
    const pod = await kubectl(
      kubectlPath,
      admin,
      ['apply', '--server-side', '--dry-run=server', '-f', '-'],
      broken,
    );
    expect(pod.stderr).toMatch(/would violate PodSecurity "restricted/);
  });
});
