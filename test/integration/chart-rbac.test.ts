// The chart's RBAC on the real API server, as the operator's ServiceAccount itself (a real token from the
// TokenRequest API, so the API server authenticates and authorises it exactly as in a cluster):
// - sufficient: it server-side applies a whole Territory's desired state, including the tenant RoleBindings
//   (to the chart's tenant ClusterRoles, which it may bind by name without holding them), writes status, finalizers,
//   events, and its leader-election Lease;
// - not broader than needed: SelfSubjectAccessReviews for what it must NOT do are denied.
import { AuthorizationV1Api, KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parse as parseYaml, stringify } from 'yaml';
import { parseTerritory } from '../../operator/src/api/territory.ts';
import { context, territory } from '../../operator/src/builders/fixtures.test-helpers.ts';
import { buildDesiredState } from '../../operator/src/builders/index.ts';
import { type OperatorConfig, parseOperatorConfig } from '../../operator/src/config/operator-config.ts';
import { groupOf, resourceOf } from '../../operator/src/rbac/operator-rbac.ts';
import { OWNED_KINDS } from '../../operator/src/territory/owned-kinds.ts';
import { ensureHelmBinary } from '../helm/build.ts';
import {
  findManifest,
  installChartAccess,
  installCrdsAsAdmin,
  kubectl,
  type Manifest,
} from '../helm/chart.ts';
import { uniqueName } from '../support/kube.ts';

const admin = inject('kubeconfigPath');
const kubectlPath = inject('kubectlPath');
const toYamlStream = (objects: unknown[]) => objects.map((o) => stringify(o)).join('---\n');

const release = uniqueName('chart-rbac');
const operatorNs = release; // the release namespace
const tenant = uniqueName('rbac-tenant');
let saKubeconfig = '';
let clusterScoped: Manifest[] = [];
let chartConfig: OperatorConfig;
let auth: AuthorizationV1Api;

async function asAdmin(args: string[], input?: string) {
  const r = await kubectl(kubectlPath, admin, args, input);
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} (admin) failed:\n${r.stderr}`);
  return r.stdout;
}

const asOperator = (args: string[], input?: string) => kubectl(kubectlPath, saKubeconfig, args, input);

/** A SelfSubjectAccessReview made with the operator's own token. */
async function can(
  verb: string,
  group: string,
  resource: string,
  opts: { namespace?: string; subresource?: string; name?: string } = {},
): Promise<boolean> {
  const review = await auth.createSelfSubjectAccessReview({
    body: {
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SelfSubjectAccessReview',
      spec: { resourceAttributes: { verb, group, resource, ...opts } },
    },
  });
  return review.status?.allowed === true;
}

beforeAll(async () => {
  await ensureHelmBinary();
  // Our CRD and CloudNativePG's, as the platform installs them (admin); the operator never does.
  await installCrdsAsAdmin(kubectlPath, admin);
  await asAdmin(['create', 'namespace', operatorNs]);
  const access = await installChartAccess({
    kubectlPath,
    adminKubeconfig: admin,
    release,
    namespace: operatorNs,
  });
  expect(access.manifests.filter((m) => m.kind.includes('Role'))).toHaveLength(6); // + 2 tenant ClusterRoles
  clusterScoped = access.clusterScoped;
  saKubeconfig = access.kubeconfig;
  const configMap = findManifest(access.manifests, 'ConfigMap') as unknown as {
    data: Record<string, string>;
  };
  chartConfig = parseOperatorConfig(parseYaml(configMap.data['config.yaml'] ?? ''));
  const kc = new KubeConfig();
  kc.loadFromFile(saKubeconfig);
  auth = kc.makeApiClient(AuthorizationV1Api);
  // The token really is the ServiceAccount's.
  const whoami = await asOperator(['auth', 'whoami', '-o', 'jsonpath={.status.userInfo.username}']);
  expect(whoami.stdout).toBe(`system:serviceaccount:${operatorNs}:${access.serviceAccount}`);
}, 1_200_000);

afterAll(async () => {
  await kubectl(kubectlPath, admin, ['delete', 'territory', tenant, '--ignore-not-found', '--wait=false']);
  await kubectl(kubectlPath, admin, [
    'delete',
    'namespace',
    tenant,
    operatorNs,
    '--ignore-not-found',
    '--wait=false',
  ]);
  for (const m of clusterScoped)
    await kubectl(kubectlPath, admin, ['delete', m.kind, m.metadata.name, '--ignore-not-found']);
});

describe("the chart's RBAC, as the operator's ServiceAccount", () => {
  it('allows every verb on every owned kind, cluster-wide, and the controller loop', async () => {
    const denied: string[] = [];
    const check = async (verb: string, group: string, resource: string, opts = {}) => {
      if (!(await can(verb, group, resource, opts)))
        denied.push(`${verb} ${group}/${resource} ${JSON.stringify(opts)}`);
    };
    for (const k of OWNED_KINDS) {
      for (const verb of ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'])
        await check(verb, groupOf(k.apiVersion), resourceOf(k.kind));
    }
    for (const verb of ['get', 'list', 'watch', 'patch', 'update'])
      await check(verb, 'sovereign.dev', 'territories');
    await check('patch', 'sovereign.dev', 'territories', { subresource: 'status' });
    await check('update', 'sovereign.dev', 'territories', { subresource: 'finalizers' });
    for (const verb of ['get', 'list', 'watch']) await check(verb, '', 'nodes');
    await check('create', 'events.k8s.io', 'events', { namespace: tenant });
    await check('get', '', 'secrets', { namespace: tenant, name: 'backup-credentials' });
    for (const name of [chartConfig.tenantRoles.admin, chartConfig.tenantRoles.reader])
      await check('bind', 'rbac.authorization.k8s.io', 'clusterroles', { name });
    for (const verb of ['get', 'create', 'update']) {
      await check(verb, 'coordination.k8s.io', 'leases', { namespace: operatorNs });
    }
    expect(denied).toEqual([]);
  });

  it('is not broader than needed', async () => {
    const allowed: string[] = [];
    const deny = async (verb: string, group: string, resource: string, opts = {}) => {
      if (await can(verb, group, resource, opts))
        allowed.push(`${verb} ${group}/${resource} ${JSON.stringify(opts)}`);
    };
    await deny('*', '*', '*');
    for (const verb of ['create', 'update', 'patch', 'delete']) await deny(verb, '', 'nodes');
    for (const verb of ['create', 'update', 'delete'])
      await deny(verb, 'apiextensions.k8s.io', 'customresourcedefinitions');
    for (const verb of ['create', 'delete']) await deny(verb, 'sovereign.dev', 'territories');
    for (const resource of ['clusterroles', 'clusterrolebindings'])
      await deny('create', 'rbac.authorization.k8s.io', resource);
    for (const verb of ['escalate', 'bind']) {
      await deny(verb, 'rbac.authorization.k8s.io', 'roles', { namespace: tenant });
      await deny(verb, 'rbac.authorization.k8s.io', 'clusterroles');
      await deny(verb, 'rbac.authorization.k8s.io', 'clusterroles', { name: 'cluster-admin' });
    }
    // No Pod, workload or Pod log: what the tenant ClusterRoles grant, the operator does not hold. Jobs it
    // may create (a declarative restore is one), never change or delete; the admission policy holds each
    // to the backup command (chart-admission.test.ts).
    for (const [group, resource] of [
      ['', 'pods'],
      ['apps', 'deployments'],
      ['', 'services'],
    ] as const)
      await deny('create', group, resource, { namespace: tenant });
    for (const verb of ['update', 'patch', 'delete'])
      await deny(verb, 'batch', 'jobs', { namespace: tenant });
    await deny('get', '', 'pods', { subresource: 'log', namespace: tenant });
    await deny('impersonate', '', 'users');
    await deny('impersonate', '', 'serviceaccounts', { namespace: tenant });
    await deny('create', '', 'pods', { subresource: 'exec', namespace: tenant });
    await deny('create', '', 'serviceaccounts', { subresource: 'token', namespace: tenant });
    await deny('deletecollection', '', 'secrets', { namespace: tenant });
    // Another operator's kinds: CloudNativePG's poolers, and any other group.
    await deny('get', 'postgresql.cnpg.io', 'poolers', { namespace: tenant });
    await deny('list', 'example.com', 'widgets');
    // Its Lease only in its own namespace.
    await deny('create', 'coordination.k8s.io', 'leases', { namespace: tenant });
    await deny('create', 'coordination.k8s.io', 'leases', { namespace: 'kube-system' });
    expect(allowed).toEqual([]);
  });

  it("applies a Territory's whole desired state, tenant RoleBindings included, and writes status, events and its Lease", async () => {
    // The platform (admin) declares the Territory; the operator does the rest.
    const declared = territory({ name: tenant });
    const { uid: _uid, generation: _generation, ...metadata } = declared.metadata;
    await asAdmin(['create', '-f', '-'], JSON.stringify({ ...declared, metadata }));
    const live = parseTerritory(JSON.parse(await asAdmin(['get', 'territory', tenant, '-o', 'json'])));
    if (!live.ok) throw new Error(live.errors.join('; '));
    // Under the configuration the chart gives the operator (its tenant ClusterRoles, its backup image).
    const state = buildDesiredState(
      context(live.territory, { config: { ...chartConfig, backupEgress: context().config.backupEgress } }),
    );
    const objects = [state.namespace, ...state.tenancy, ...state.database, ...state.backup];
    expect(objects.filter((o) => o.kind === 'RoleBinding')).toHaveLength(2);

    const apply = async (docs: unknown[]) => {
      const r = await asOperator(
        ['apply', '--server-side', '--field-manager=territory-operator', '-f', '-'],
        toYamlStream(docs),
      );
      expect(r.code, r.stderr).toBe(0);
    };
    await apply([state.namespace]);
    await apply(objects.slice(1));

    // Status (subresource), the finalizer, an event about the Territory.
    const status = await asOperator([
      'patch',
      'territory',
      tenant,
      '--subresource=status',
      '--type=merge',
      '-p',
      '{"status":{"observedGeneration":1}}',
    ]);
    expect(status.code, status.stderr).toBe(0);
    const finalizer = await asOperator([
      'patch',
      'territory',
      tenant,
      '--type=merge',
      '-p',
      '{"metadata":{"finalizers":["sovereign.dev/cleanup"]}}',
    ]);
    expect(finalizer.code, finalizer.stderr).toBe(0);
    const event = {
      apiVersion: 'events.k8s.io/v1',
      kind: 'Event',
      // Events about a cluster-scoped object live in "default", as the operator's recorder writes them.
      metadata: { name: `${tenant}.rbac-test`, namespace: 'default' },
      eventTime: new Date().toISOString().replace(/\.(\d{3})Z$/, '.$1000Z'), // MicroTime
      reportingController: 'sovereign.dev/territory-operator',
      reportingInstance: 'chart-rbac-test',
      action: 'Reconcile',
      reason: 'Reconciled',
      type: 'Normal',
      regarding: {
        apiVersion: 'sovereign.dev/v1alpha1',
        kind: 'Territory',
        name: tenant,
        uid: live.territory.metadata.uid,
      },
    };
    const created = await asOperator(['create', '-f', '-'], JSON.stringify(event));
    expect(created.code, created.stderr).toBe(0);

    // Leader election in its own namespace.
    const lease = {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: 'territory-operator', namespace: operatorNs },
      spec: { holderIdentity: 'pod-a', leaseDurationSeconds: 15 },
    };
    const leased = await asOperator(['create', '-f', '-'], JSON.stringify(lease));
    expect(leased.code, leased.stderr).toBe(0);
    const renewed = await asOperator([
      'patch',
      'lease',
      'territory-operator',
      '-n',
      operatorNs,
      '--type=merge',
      '-p',
      '{"spec":{"holderIdentity":"pod-b"}}',
    ]);
    expect(renewed.code, renewed.stderr).toBe(0);

    // What it must not do, tried for real: a ClusterRole, a Role granting more than it holds, a Node.
    const clusterRole = await asOperator([
      'create',
      'clusterrole',
      `${tenant}-x`,
      '--verb=get',
      '--resource=pods',
    ]);
    expect(clusterRole.code).not.toBe(0);
    expect(clusterRole.stderr).toMatch(/forbidden/i);
    const escalation = await asOperator([
      'create',
      'role',
      'too-much',
      '-n',
      tenant,
      '--verb=create',
      '--resource=pods/exec',
    ]);
    expect(escalation.code).not.toBe(0);
    expect(escalation.stderr).toMatch(/forbidden|escalat/i);
    const node = await asOperator(
      ['create', '-f', '-'],
      JSON.stringify({ apiVersion: 'v1', kind: 'Node', metadata: { name: `${tenant}-node` } }),
    );
    expect(node.code).not.toBe(0);
    expect(node.stderr).toMatch(/forbidden/i);

    // Release the finalizer so the clean-up can delete the Territory.
    await asOperator([
      'patch',
      'territory',
      tenant,
      '--type=merge',
      '-p',
      '{"metadata":{"finalizers":null}}',
    ]);
  });
});
