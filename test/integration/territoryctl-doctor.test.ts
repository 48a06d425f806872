// `territoryctl doctor` against the real control plane: CRDs found Established, the hosting
// attestation judged (from --config, or from the operator Deployment's own ConfigMap), the operator
// Deployment found or not, and its ServiceAccount's RBAC checked with real SubjectAccessReviews,
// failing before the chart's rules are bound and passing after. The cluster is shared with other
// test files, so only the checks this file controls are asserted (not nodes nor storage classes).
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import type { Check } from '../../operator/src/cli/territoryctl/doctor.ts';
import { leaderElectionRoleRules, operatorClusterRoleRules } from '../../operator/src/rbac/operator-rbac.ts';
import { uniqueName } from '../support/kube.ts';
import { installCrds, kubectl, ok, territoryctl } from './territoryctl-support.ts';

const app = uniqueName('doctor-operator');
const ns = uniqueName('doctor');
const selector = `app.kubernetes.io/name=${app}`;
let dir: string;

async function doctor(args: string[]): Promise<{ code: number | null; checks: Check[]; text: string }> {
  const json = await territoryctl(['doctor', '--operator-selector', selector, '-o', 'json', ...args]);
  const text = await territoryctl(['doctor', '--operator-selector', selector, ...args]);
  expect(text.code).toBe(json.code);
  return {
    code: json.code,
    checks: (JSON.parse(json.stdout) as { checks: Check[] }).checks,
    text: text.stdout,
  };
}

const find = (checks: Check[], name: string) => {
  const found = checks.find((c) => c.name === name);
  if (!found) throw new Error(`no "${name}" check in ${JSON.stringify(checks)}`);
  return found;
};

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'territoryctl-doctor-'));
  await installCrds();
});

afterAll(async () => {
  await kubectl(['delete', 'clusterrole,clusterrolebinding', app, '--ignore-not-found']);
  await kubectl(['delete', 'namespace', ns, '--ignore-not-found', '--wait=false']);
});

describe('territoryctl doctor', () => {
  it('finds the CRDs, judges the attestation of --config, and says the operator is missing', {
    timeout: 240_000,
  }, async () => {
    const config = join(dir, 'config.yaml');
    await writeFile(
      config,
      stringify({ cluster: { provider: 'scaleway', regions: ['fr-par'], nodeEvidence: 'attestation-only' } }),
    );
    const { code, checks, text } = await doctor(['--config', config]);
    expect(code).toBe(1);
    expect(find(checks, 'cluster')).toMatchObject({
      verdict: 'ok',
      detail: expect.stringMatching(/^Kubernetes v1\.\d+\.\d+ at https:/),
    });
    expect(find(checks, 'Territory CRD')).toMatchObject({
      verdict: 'ok',
      detail: 'territories.sovereign.dev Established (serves v1alpha1)',
    });
    expect(find(checks, 'CloudNativePG').verdict).toBe('ok');
    expect(find(checks, 'hosting attestation')).toMatchObject({
      verdict: 'ok',
      detail: `${config}: hosted by Scaleway in fr-par (standard)`,
    });
    expect(find(checks, 'operator')).toMatchObject({
      verdict: 'fail',
      detail: `no operator Deployment (label ${selector})`,
    });
    // No operator found: the RBAC is checked for the caller (the admin here, who holds everything).
    expect(find(checks, 'RBAC')).toMatchObject({
      verdict: 'ok',
      detail: expect.stringMatching(/^your identity .* holds all \d+ permissions/),
    });
    expect(text).toMatch(/^✓ cluster: Kubernetes/m);
    expect(text).toMatch(
      new RegExp(
        `^✗ operator: no operator Deployment \\(label ${selector}\\)\\n    fix: install it: helm install`,
        'm',
      ),
    );
  });

  it("reads the operator's own configuration and checks its ServiceAccount's RBAC, before and after binding the chart's rules", {
    timeout: 240_000,
  }, async () => {
    const sa = 'territory-operator';
    const objects = [
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } },
      { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: sa, namespace: ns } },
      {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: `${app}-config`, namespace: ns },
        data: {
          'config.yaml': stringify({
            cluster: { provider: 'outscale', regions: ['eu-west-2'], nodeEvidence: 'attestation-only' },
          }),
        },
      },
      {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: app, namespace: ns, labels: { 'app.kubernetes.io/name': app } },
        spec: {
          replicas: 1,
          selector: { matchLabels: { 'app.kubernetes.io/name': app } },
          template: {
            metadata: { labels: { 'app.kubernetes.io/name': app } },
            spec: {
              serviceAccountName: sa,
              // Never scheduled (the test control plane has no scheduler nor kubelet): it stays 0/1.
              containers: [{ name: 'manager', image: 'registry.invalid/territory-operator:none' }],
              volumes: [{ name: 'config', configMap: { name: `${app}-config` } }],
            },
          },
        },
      },
    ];
    ok(
      await kubectl(
        ['create', '-f', '-'],
        JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }),
      ),
      'create operator objects',
    );

    const before = await doctor([]);
    expect(before.code).toBe(1);
    expect(find(before.checks, 'operator')).toMatchObject({
      verdict: 'fail',
      detail: expect.stringMatching(new RegExp(`^${ns}/${app} 0/1 ready`)),
    });
    expect(find(before.checks, 'hosting attestation')).toMatchObject({
      verdict: 'ok',
      detail: `the configuration of ${ns}/${app}: hosted by Outscale (3DS) in eu-west-2 (standard)`,
    });
    const denied = find(before.checks, 'RBAC');
    expect(denied.verdict).toBe('fail');
    expect(denied.detail).toMatch(
      new RegExp(`^ServiceAccount ${ns}/${sa} lacks (\\d+) of \\1 permissions: `),
    );
    expect(denied.missing).toEqual(
      expect.arrayContaining([
        'list territories.sovereign.dev',
        'patch territories.sovereign.dev/status',
        `create leases.coordination.k8s.io in ${ns}`,
      ]),
    );

    const subject = [{ kind: 'ServiceAccount', name: sa, namespace: ns }];
    const rbac = [
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRole',
        metadata: { name: app },
        rules: operatorClusterRoleRules(),
      },
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRoleBinding',
        metadata: { name: app },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: app },
        subjects: subject,
      },
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'Role',
        metadata: { name: 'leader-election', namespace: ns },
        rules: leaderElectionRoleRules(),
      },
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'RoleBinding',
        metadata: { name: 'leader-election', namespace: ns },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'leader-election' },
        subjects: subject,
      },
    ];
    ok(
      await kubectl(['create', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: rbac })),
      'bind the rules',
    );

    const after = await doctor([]);
    expect(find(after.checks, 'RBAC')).toMatchObject({
      verdict: 'ok',
      detail: expect.stringMatching(
        new RegExp(`^ServiceAccount ${ns}/${sa} holds all \\d+ permissions the operator uses$`),
      ),
    });
  });

  it('reports an unreachable cluster as a failed check', async () => {
    const dead = join(dir, 'dead.kubeconfig');
    await writeFile(
      dead,
      stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'c', cluster: { server: 'https://127.0.0.1:1' } }],
        users: [{ name: 'u', user: { token: 'x' } }],
        contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }],
        'current-context': 'x',
      }),
    );
    const r = await territoryctl(['--kubeconfig', dead, 'doctor']);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^✗ cluster: cannot reach the cluster at https:\/\/127\.0\.0\.1:1/);
    expect(r.stdout).toContain('fix: check the cluster is up');
  });
});
