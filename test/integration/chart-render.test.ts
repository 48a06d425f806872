// The Helm chart through the pinned helm binary (built from its Go module): `helm lint --strict` is clean,
// `helm template` renders what the issue asks for, and values.schema.json (generated from the operator's
// configuration schema) refuses what the operator would refuse.
import { beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { crdFiles } from '../../operator/src/api/crd.ts';
import {
  bindTenantRolesRule,
  leaderElectionRoleRules,
  operatorClusterRoleRules,
  tenantClusterRoles,
} from '../../operator/src/rbac/operator-rbac.ts';
import { ensureHelmBinary } from '../helm/build.ts';
import { CHART_DIR, findManifest, helm, type Manifest, renderChart, setJson } from '../helm/chart.ts';

type Container = {
  name: string;
  image: string;
  args: string[];
  env: { name: string; value?: string; valueFrom?: unknown }[];
  securityContext: Record<string, unknown>;
  livenessProbe: { httpGet: { path: string } };
  readinessProbe: { httpGet: { path: string } };
  resources: Record<string, unknown>;
};
type PodSpec = {
  securityContext: Record<string, unknown>;
  containers: Container[];
  serviceAccountName: string;
};
const podSpec = (d: Manifest) => (d.spec as { template: { spec: PodSpec } }).template.spec;

beforeAll(async () => {
  // Built once into the cache (CI prebuilds it: npm run helm:binary).
  await ensureHelmBinary();
}, 1_200_000);

describe('helm lint', () => {
  it('is clean with the default values and with every optional part on', async () => {
    for (const values of [
      {},
      { serviceMonitor: { enabled: true, labels: { release: 'prometheus' } }, 'image.digest': 'sha256:abc' },
    ]) {
      const result = await helm(['lint', '--strict', CHART_DIR, ...setJson(values)]);
      expect(result.code, `${result.stdout}\n${result.stderr}`).toBe(0);
      expect(result.stdout).toContain('0 chart(s) failed');
    }
  });
});

describe('helm template', () => {
  let manifests: Manifest[] = [];
  beforeAll(async () => {
    ({ manifests } = await renderChart({ release: 'territory-operator', namespace: 'territory-system' }));
  });

  it('renders the operator and nothing cluster-wide beyond its RBAC and admission policies', () => {
    expect(manifests.map((m) => `${m.kind}/${m.metadata.name}`).sort()).toEqual([
      'ClusterRole/territory-operator',
      'ClusterRole/territory-operator-tenant-admin',
      'ClusterRole/territory-operator-tenant-reader',
      'ClusterRoleBinding/territory-operator',
      'ConfigMap/territory-operator-config',
      'Deployment/territory-operator',
      'NetworkPolicy/territory-operator',
      'PodDisruptionBudget/territory-operator',
      'Role/territory-operator-leader-election',
      'RoleBinding/territory-operator-leader-election',
      'Service/territory-operator-metrics',
      'ServiceAccount/territory-operator',
      'ValidatingAdmissionPolicy/territory-operator-operator-scope',
      'ValidatingAdmissionPolicy/territory-operator-tenant-guardrails',
      'ValidatingAdmissionPolicy/territory-operator-territory-namespaces',
      'ValidatingAdmissionPolicyBinding/territory-operator-operator-scope',
      'ValidatingAdmissionPolicyBinding/territory-operator-tenant-guardrails',
      'ValidatingAdmissionPolicyBinding/territory-operator-territory-namespaces',
    ]);
    const clusterScoped = /^(Cluster|ValidatingAdmission)/;
    for (const m of manifests.filter((m) => !clusterScoped.test(m.kind)))
      expect(m.metadata.namespace, `${m.kind} namespace`).toBe('territory-system');
  });

  it('runs 2 replicas with leader election, restricted security context, probes and resources', () => {
    const deployment = findManifest(manifests, 'Deployment');
    expect((deployment.spec as { replicas: number }).replicas).toBe(2);
    const pod = podSpec(deployment);
    expect(pod.serviceAccountName).toBe('territory-operator');
    expect(pod.securityContext).toMatchObject({
      runAsNonRoot: true,
      runAsUser: 65532,
      seccompProfile: { type: 'RuntimeDefault' },
    });
    const [manager] = pod.containers;
    expect(manager?.image).toBe('territory-operator:0.1.0');
    expect(manager?.args).toEqual([
      '--config=/etc/territory/config.yaml',
      '--health-port=8081',
      '--leader-elect',
    ]);
    expect(manager?.env.map((e) => e.name)).toEqual([
      'POD_NAMESPACE',
      'POD_NAME',
      'NODE_OPTIONS',
      'GLIBC_TUNABLES',
    ]);
    // V8's heap is bounded well below the memory limit (512Mi).
    const nodeOptions = manager?.env.find((e) => e.name === 'NODE_OPTIONS')?.value ?? '';
    expect(Number(/--max-old-space-size=(\d+)/.exec(nodeOptions)?.[1])).toBeLessThan(512 * 0.6);
    expect(manager?.securityContext).toMatchObject({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(manager?.livenessProbe.httpGet.path).toBe('/healthz');
    expect(manager?.readinessProbe.httpGet.path).toBe('/readyz');
    expect(manager?.resources).toMatchObject({ requests: { cpu: '100m', memory: '256Mi' } });
    const pdb = findManifest(manifests, 'PodDisruptionBudget');
    expect((pdb.spec as { minAvailable: number }).minAvailable).toBe(1);
  });

  it('carries exactly the RBAC rules computed from the operator code', () => {
    const tenantRoles = {
      admin: 'territory-operator-tenant-admin',
      reader: 'territory-operator-tenant-reader',
    };
    expect(findManifest(manifests, 'ClusterRole', 'territory-operator').rules).toEqual([
      ...operatorClusterRoleRules(),
      bindTenantRolesRule(tenantRoles),
    ]);
    expect(
      tenantClusterRoles(tenantRoles).map(
        (r) => findManifest(manifests, 'ClusterRole', r.metadata.name).rules,
      ),
    ).toEqual(tenantClusterRoles(tenantRoles).map((r) => r.rules));
    expect(findManifest(manifests, 'Role').rules).toEqual(leaderElectionRoleRules());
    const binding = findManifest(manifests, 'ClusterRoleBinding');
    expect(binding.subjects).toEqual([
      { kind: 'ServiceAccount', name: 'territory-operator', namespace: 'territory-system' },
    ]);
  });

  it('mounts the configuration from values, with the backup CronJobs running the chart image', async () => {
    const { manifests: custom } = await renderChart({
      release: 'ops',
      namespace: 'ops',
      values: {
        'image.repository': 'registry.example.fr/territory-operator',
        'image.tag': '1.2.3',
        config: {
          cluster: { provider: 'outscale', regions: ['cloudgouv-eu-west-1'], qualification: 'secnumcloud' },
          backupEgress: [{ host: 'oos.cloudgouv-eu-west-1.outscale.com', cidrs: ['198.51.100.0/24'] }],
          apiServerCidrs: ['10.0.0.1/32'],
          shardSelector: 'sovereign.dev/region=53',
          providers: [
            { name: 'outscale', regions: [{ name: 'cloudgouv-eu-west-1', french: true, secnumcloud: true }] },
          ],
        },
      },
    });
    const configMap = findManifest(custom, 'ConfigMap');
    const config = parseYaml((configMap.data as Record<string, string>)['config.yaml'] ?? '');
    expect(config).toEqual({
      cluster: {
        provider: 'outscale',
        regions: ['cloudgouv-eu-west-1'],
        qualification: 'secnumcloud',
        nodeEvidence: 'required',
      },
      providers: [
        { name: 'outscale', regions: [{ name: 'cloudgouv-eu-west-1', french: true, secnumcloud: true }] },
      ],
      backupEgress: [{ host: 'oos.cloudgouv-eu-west-1.outscale.com', cidrs: ['198.51.100.0/24'] }],
      apiServerCidrs: ['10.0.0.1/32'],
      shardSelector: 'sovereign.dev/region=53',
      operatorImage: 'registry.example.fr/territory-operator:1.2.3',
      tenantRoles: {
        admin: 'ops-territory-operator-tenant-admin',
        reader: 'ops-territory-operator-tenant-reader',
      },
    });
    // The release's own names (release "ops" does not contain the chart name).
    expect(findManifest(custom, 'Deployment').metadata.name).toBe('ops-territory-operator');
  });

  it("opens the operator Pods' egress to the API server, DNS and the backup destinations only", async () => {
    type Egress = { to?: unknown[]; ports: { protocol: string; port: number }[] };
    const egressOf = (m: Manifest[]) =>
      (findManifest(m, 'NetworkPolicy').spec as { egress: Egress[] }).egress;
    // No backupEgress: the API server (any address with `helm template`) and DNS, nothing else.
    expect(egressOf(manifests)).toHaveLength(2);
    const { manifests: custom } = await renderChart({
      release: 'territory-operator',
      namespace: 'territory-system',
      values: {
        networkPolicy: { apiServerCidrs: ['10.0.0.1/32'], apiServerPorts: [6443] },
        config: {
          backupEgress: [
            { host: 'oos.cloudgouv-eu-west-1.outscale.com', cidrs: ['198.51.100.0/24', '203.0.113.0/28'] },
            { host: 's3.gra.io.cloud.ovh.net', cidrs: ['192.0.2.0/24', '198.51.100.0/24'] },
          ],
        },
      },
    });
    const egress = egressOf(custom);
    expect(egress).toHaveLength(3);
    // Deleting a Territory with deletionPolicy Delete erases its physical backups: the operator reaches
    // the object stores, at their configured addresses (each once) and on HTTPS's port by default.
    expect(egress[2]).toEqual({
      to: ['198.51.100.0/24', '203.0.113.0/28', '192.0.2.0/24'].map((cidr) => ({ ipBlock: { cidr } })),
      ports: [{ protocol: 'TCP', port: 443 }],
    });
    const { manifests: otherPorts } = await renderChart({
      release: 'territory-operator',
      namespace: 'territory-system',
      values: {
        networkPolicy: { backupPorts: [443, 9000] },
        config: { backupEgress: [{ host: 's3.example.fr', cidrs: ['192.0.2.7/32'] }] },
      },
    });
    expect(egressOf(otherPorts)[2]?.ports).toEqual([
      { protocol: 'TCP', port: 443 },
      { protocol: 'TCP', port: 9000 },
    ]);
  });

  it('renders the optional ServiceMonitor and the CRDs, identical to crds/', async () => {
    const { manifests: all } = await renderChart({
      release: 'territory-operator',
      namespace: 'monitoring-test',
      values: { serviceMonitor: { enabled: true, labels: { release: 'prometheus' } } },
      includeCrds: true,
    });
    const monitor = findManifest(all, 'ServiceMonitor');
    expect(monitor.metadata.labels).toMatchObject({ release: 'prometheus' });
    expect(monitor.spec).toMatchObject({ endpoints: [{ port: 'http-metrics', path: '/metrics' }] });
    for (const { content } of crdFiles()) {
      const crd = parseYaml(content) as Manifest;
      expect(findManifest(all, 'CustomResourceDefinition', crd.metadata.name)).toEqual(crd);
    }
  });
});

describe('values.schema.json', () => {
  const refused = async (values: Record<string, unknown>) => {
    const result = await helm(['template', 'x', CHART_DIR, ...setJson(values)]);
    expect(result.code, 'helm accepted values it should refuse').not.toBe(0);
    return result.stderr;
  };

  it('refuses a typo or a wrong value in the operator configuration, naming it', async () => {
    expect(await refused({ config: { cluster: { qualifcation: 'secnumcloud' } } })).toMatch(/qualifcation/);
    expect(await refused({ config: { cluster: { qualification: 'gold' } } })).toMatch(/qualification/);
    expect(await refused({ config: { concurrency: 0 } })).toMatch(/concurrency/);
    expect(await refused({ replicaCount: 0 })).toMatch(/replicaCount/);
    expect(await refused({ imageTag: 'x' })).toMatch(/imageTag/);
  });
});
