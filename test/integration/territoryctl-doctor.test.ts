// `territoryctl doctor` against the real control plane: CRDs found Established, the hosting
// attestation judged (from --config, or from the operator Deployment's own ConfigMap), the operator
// Deployment found or not, and its ServiceAccount's RBAC checked with real SubjectAccessReviews,
// failing before the chart's rules are bound and passing after. The egress the operator opens: to the
// API server, none published here (the e2e suite checks a published one) or apiServerCidrs; to each
// Territory's backup host, from backupEgress. The cluster is shared with other test files, so only
// the checks this file controls are asserted (not nodes nor storage classes), and for backup egress
// only the host of the Territory created here.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { minimalTerritory } from '../../operator/src/api/test-fixtures.ts';
import type { Check } from '../../operator/src/cli/territoryctl/doctor.ts';
import { parseOperatorConfig } from '../../operator/src/config/operator-config.ts';
import {
  bindTenantRolesRule,
  leaderElectionRoleRules,
  operatorClusterRoleRules,
} from '../../operator/src/rbac/operator-rbac.ts';

/** The configuration in this test sets no tenantRoles: the operator's defaults. */
const TENANT_ROLES = parseOperatorConfig({}).tenantRoles;

import { uniqueName } from '../support/kube.ts';
import { installCrds, kubectl, ok, territoryctl } from './territoryctl-support.ts';

const app = uniqueName('doctor-operator');
const ns = uniqueName('doctor');
const selector = `app.kubernetes.io/name=${app}`;
const apiServerSlice = uniqueName('doctor-kubernetes');
const backupTerritory = uniqueName('doctor-backup');
const backupHost = `${backupTerritory}.s3.example.fr`;
let dir: string;

/** Writes an operator configuration (attested, so the hosting check passes without nodes). */
async function configFile(name: string, extra: Record<string, unknown> = {}): Promise<string> {
  const file = join(dir, name);
  await writeFile(
    file,
    stringify({
      cluster: { provider: 'scaleway', regions: ['fr-par'], nodeEvidence: 'attestation-only' },
      ...extra,
    }),
  );
  return file;
}

/** An EndpointSlice of the `kubernetes` Service, as the API server's endpoint reconciler writes them. */
const kubernetesSlice = (
  name: string,
  endpoints: { addresses: string[]; conditions: { ready: boolean } }[],
) =>
  JSON.stringify({
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      name,
      namespace: 'default',
      labels: {
        'kubernetes.io/service-name': 'kubernetes',
        // Not a controller's: neither the EndpointSlice controller nor the mirroring one touches it.
        'endpointslice.kubernetes.io/managed-by': 'territoryctl-doctor-test',
      },
    },
    addressType: 'IPv4',
    endpoints,
    ports: [{ name: 'https', port: 6443, protocol: 'TCP' }],
  });

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

/** The checks alone (-o json), for the runs whose text is not looked at: each run costs a few seconds. */
async function doctorChecks(args: string[]): Promise<Check[]> {
  const json = await territoryctl(['doctor', '--operator-selector', selector, '-o', 'json', ...args]);
  return (JSON.parse(json.stdout) as { checks: Check[] }).checks;
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
  await kubectl(['delete', 'endpointslice', '-n', 'default', apiServerSlice, '--ignore-not-found']);
  await kubectl(['delete', 'territory', backupTerritory, '--ignore-not-found', '--wait=false']);
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
    expect(find(checks, 'Barman Cloud plugin').verdict).toBe('ok');
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
        `bind clusterroles.rbac.authorization.k8s.io ${TENANT_ROLES.admin}`,
      ]),
    );

    const subject = [{ kind: 'ServiceAccount', name: sa, namespace: ns }];
    const rbac = [
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRole',
        metadata: { name: app },
        rules: [...operatorClusterRoleRules(), bindTenantRolesRule(TENANT_ROLES)],
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

  it('judges the egress to the API server: nothing published fails, apiServerCidrs passes (checked as Kubernetes parses it)', {
    timeout: 240_000,
  }, async () => {
    const config = await configFile('api-server.yaml');
    // The test control plane publishes no address for the `kubernetes` Service (its endpoint
    // reconciler is off: a loopback API server has none Pods could use), like a cluster whose
    // operator would open no egress to the API server.
    const published = ok(
      await kubectl([
        'get',
        'endpointslices',
        '-n',
        'default',
        '-l',
        'kubernetes.io/service-name=kubernetes',
        '-o',
        'jsonpath={.items[*].metadata.name}',
      ]),
      'list the kubernetes EndpointSlices',
    );
    expect(published.stdout.trim()).toBe('');
    const none = await doctor(['--config', config]);
    expect(find(none.checks, 'API server egress')).toMatchObject({
      verdict: 'fail',
      detail: `${config} sets no apiServerCidrs and the default/kubernetes EndpointSlices list no ready address: no NetworkPolicy lets CloudNativePG's instance managers reach the API server, so no database becomes ready`,
    });
    expect(none.text).toMatch(
      /^✗ API server egress: .* list no ready address: .*\n {4}fix: set apiServerCidrs to the addresses Pods reach the API server at: in the chart values, config\.apiServerCidrs/m,
    );

    // Kubernetes itself keeps loopback addresses out of EndpointSlices, so the operator (which uses
    // what it reads as is) is never handed one.
    const loopback = await kubectl(
      ['create', '-f', '-'],
      kubernetesSlice(apiServerSlice, [{ addresses: ['127.0.0.1'], conditions: { ready: true } }]),
    );
    expect(loopback.code).not.toBe(0);
    expect(loopback.stderr).toContain('may not be in the loopback range');

    // Publishing an address here would change every running operator's API server egress (this
    // control plane is shared by test files running in parallel): the discovered path is checked by
    // the e2e suite, whose API server publishes its own address, and by the unit tests.

    // apiServerCidrs replaces whatever is published, and is checked as Kubernetes will parse it.
    const configured = await configFile('api-server-configured.yaml', {
      apiServerCidrs: ['198.51.100.0/24'],
    });
    expect(find(await doctorChecks(['--config', configured]), 'API server egress')).toMatchObject({
      verdict: 'ok',
      detail: `198.51.100.0/24, configured (apiServerCidrs in ${configured})`,
    });
    const invalid = await configFile('api-server-invalid.yaml', { apiServerCidrs: ['198.51.100.1/24'] });
    expect(find(await doctorChecks(['--config', invalid]), 'API server egress')).toMatchObject({
      verdict: 'fail',
      detail: expect.stringContaining(
        '"198.51.100.1/24" (bits set beyond the prefix length: the network is 198.51.100.0/24)',
      ),
    });
  });

  it('lists the backup hosts that backupEgress leaves shut in, with the YAML to add, and checks the CIDRs', {
    timeout: 240_000,
  }, async () => {
    const territory = minimalTerritory(backupTerritory) as {
      spec: { backup: { destination: { endpoint: string } } };
    };
    territory.spec.backup.destination.endpoint = `https://${backupHost}`;
    ok(await kubectl(['create', '-f', '-'], JSON.stringify(territory)), 'create a Territory');

    const shut = await doctor(['--config', await configFile('backup-none.yaml')]);
    const missing = find(shut.checks, 'backup egress');
    expect(missing.verdict).toBe('fail');
    expect(missing.detail).toMatch(/have no backupEgress CIDRs .*BackupEgressNotAllowed/);
    expect(missing.missing).toContain(backupHost);
    const entry = `- host: ${backupHost}\n  cidrs: ["<CIDR>"]  # the ranges your provider publishes for this host; Territory ${backupTerritory}`;
    expect(missing.fix).toContain(entry);
    expect(missing.fix).toMatch(/^add under backupEgress: in the chart values \(config\.backupEgress/);
    // On a terminal the YAML sits under its fix line, indented.
    expect(shut.text).toContain(entry.replaceAll('\n', '\n      '));

    const given = await doctorChecks([
      '--config',
      await configFile('backup-given.yaml', {
        backupEgress: [{ host: backupHost, cidrs: ['203.0.113.0/24'] }],
      }),
    ]);
    const opened = find(given, 'backup egress');
    // Other files' Territories may still lack CIDRs; this one no longer does.
    expect(opened.missing ?? []).not.toContain(backupHost);
    if (opened.verdict === 'ok') expect(opened.detail).toContain(`${backupHost} → 203.0.113.0/24`);
    expect(given.map((c) => c.name)).not.toContain('backup egress CIDRs');

    const wrong = await doctorChecks([
      '--config',
      await configFile('backup-invalid.yaml', {
        backupEgress: [{ host: backupHost, cidrs: ['203.0.113.9/24'] }],
      }),
    ]);
    expect(find(wrong, 'backup egress CIDRs')).toMatchObject({
      verdict: 'fail',
      detail: expect.stringContaining(
        `${backupHost}: "203.0.113.9/24" (bits set beyond the prefix length: the network is 203.0.113.0/24)`,
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
