// The DatabasePool controller against the real control plane: a pool becomes its namespace, its
// NetworkPolicies and a CloudNativePG Cluster; it is Ready once the Cluster reports its instances and
// its CA Secret exists (written here as CloudNativePG would: no CloudNativePG runs in these tests); its
// Database objects are its tenants, and while it has any its deletion waits. The sovereignty gate and
// the namespace guards keep a pool from ever being built where it must not be.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { KubeObject } from '../../operator/src/runtime/types.ts';
import { uniqueName, waitFor } from '../support/kube.ts';
import { startTestOperator, type TestOperator, territoryEvents } from '../support/operator.ts';
import { OUTSCALE_ATTESTATION, rennesTerritory } from '../support/territories.ts';

type Cond = { type: string; status: string; reason: string; message: string };
type Pool = KubeObject & {
  status?: { observedGeneration?: number; tenants?: number; conditions?: Cond[] };
};

const POOL = 'sovereign.dev/pool';
const TERRITORY = 'sovereign.dev/territory';
const MANAGED_BY = 'app.kubernetes.io/managed-by';
const CNPG = 'postgresql.cnpg.io/v1';

/** The operator's own namespace, as its configuration names it (never created here). */
const operatorNamespace = uniqueName('territory-system');

let op: TestOperator;

beforeAll(async () => {
  op = await startTestOperator({
    kubeconfigPath: inject('kubeconfigPath'),
    shard: uniqueName('pool'),
    config: { cluster: OUTSCALE_ATTESTATION, operatorNamespace },
  });
  // What the controller watches and writes must be served here: our CRDs and CloudNativePG's (ensureCrds).
  for (const [apiVersion, kind] of [
    ['sovereign.dev/v1alpha1', 'DatabasePool'],
    [CNPG, 'Cluster'],
    [CNPG, 'Database'],
  ] as const) {
    expect(await op.client.serves(apiVersion, kind), `${kind} is served`).toBe(true);
  }
});
afterAll(async () => {
  await op?.stop();
});

const get = (ref: { apiVersion: string; kind: string; name: string; namespace?: string }) =>
  op.client.get(ref);
const poolRef = (name: string) => ({ apiVersion: 'sovereign.dev/v1alpha1', kind: 'DatabasePool', name });
const clusterRef = (name: string, namespace: string) => ({
  apiVersion: CNPG,
  kind: 'Cluster',
  name,
  namespace,
});
const namespaceRef = (name: string) => ({ apiVersion: 'v1', kind: 'Namespace', name });
const condition = (p: Pool | undefined, type: string) => p?.status?.conditions?.find((c) => c.type === type);

function databasePool(name: string, spec: Record<string, unknown> = {}): KubeObject {
  return op.label({
    apiVersion: 'sovereign.dev/v1alpha1',
    kind: 'DatabasePool',
    metadata: { name },
    spec: {
      namespace: `db-${name}`,
      maxTenants: 5,
      serves: { territorySelector: { matchLabels: { 'test.sovereign.dev/pool': name } } },
      ...spec,
    },
  });
}

/** The pool once its status, for its current generation, has a Ready condition `pred` accepts. */
async function waitReady(name: string, pred: (c: Cond) => boolean, timeoutMs = 20_000): Promise<Pool> {
  let seen: Cond | undefined;
  return waitFor(
    async () => {
      const p = (await get(poolRef(name))) as Pool | undefined;
      seen = condition(p, 'Ready');
      return seen && pred(seen) && p?.status?.observedGeneration === p?.metadata.generation ? p : undefined;
    },
    { what: () => `pool ${name}'s Ready condition (last: ${JSON.stringify(seen)})`, timeoutMs },
  );
}

/** The NetworkPolicies of `namespace` labelled for `pool`, by name. */
async function poolPolicies(namespace: string, pool: string): Promise<string[]> {
  const { items } = await op.client.list({
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    namespace,
    labelSelector: `${POOL}=${pool}`,
  });
  return items.map((p) => p.metadata.name ?? '').sort();
}

/** A tenant's Database object, as the Territory side labels it. */
function tenantDatabase(pool: string, namespace: string, territory: string): KubeObject {
  const key = territory.replace(/-/g, '_');
  return {
    apiVersion: CNPG,
    kind: 'Database',
    metadata: {
      name: territory,
      namespace,
      labels: { [POOL]: pool, [TERRITORY]: territory, [MANAGED_BY]: 'territory-operator' },
    },
    spec: { cluster: { name: pool }, name: `t_${key}`, owner: `t_${key}__owner` },
  };
}

async function reconcilesOfPools(): Promise<number> {
  const metric = await op.operator.manager.metrics.reconcileTotal.get();
  return metric.values
    .filter((v) => v.labels.controller === 'database-pool')
    .reduce((sum, v) => sum + v.value, 0);
}

/** The operator's writes of what a pool's reconcile writes (its status included); no Territory exists meanwhile. */
const poolWrites = () =>
  op.operator.manager.metrics.writes((resource) =>
    ['databasepools', 'clusters', 'namespaces', 'networkpolicies'].some((r) => resource.startsWith(r)),
  );

const gone = async (read: () => Promise<KubeObject | undefined>) => (await read()) === undefined;

describe('a pool from creation to deletion', () => {
  const name = uniqueName('pool');
  const ns = `db-${name}`;
  const territory = uniqueName('vitre');

  it('becomes a namespace with its NetworkPolicies and a CloudNativePG Cluster in the allowed regions', async () => {
    await op.client.create(databasePool(name));
    const namespace = await waitFor(() => get(namespaceRef(ns)), {
      what: `namespace ${ns}`,
      timeoutMs: 20_000,
    });
    expect(namespace.metadata.labels).toMatchObject({
      [POOL]: name,
      [MANAGED_BY]: 'territory-operator',
      'pod-security.kubernetes.io/enforce': 'restricted',
    });
    expect(namespace.metadata.labels?.[TERRITORY]).toBeUndefined();
    const cluster = await waitFor(() => get(clusterRef(name, ns)), {
      what: `Cluster ${ns}/${name}`,
      timeoutMs: 20_000,
    });
    expect(cluster.metadata.labels?.[POOL]).toBe(name);
    expect(cluster.spec).toMatchObject({
      instances: 2,
      enableSuperuserAccess: false,
      affinity: {
        nodeAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: {
            nodeSelectorTerms: [
              {
                matchExpressions: [
                  { key: 'topology.kubernetes.io/region', operator: 'In', values: ['eu-west-2'] },
                ],
              },
            ],
          },
        },
      },
    });
    const policies = await poolPolicies(ns, name);
    expect(policies).toEqual(
      expect.arrayContaining([
        'allow-cnpg-operator',
        'allow-dns',
        'allow-same-namespace',
        'allow-tenants',
        'default-deny',
      ]),
    );
    const pool = await waitReady(name, (c) => c.reason === 'ClusterNotReady');
    expect(pool.metadata.finalizers).toContain('sovereign.dev/pool-protection');
    expect(pool.status?.tenants).toBe(0);
    expect(condition(pool, 'Reconciling')).toMatchObject({ status: 'True', reason: 'ClusterNotReady' });
  });

  it('prunes a NetworkPolicy of the pool that is no longer desired', async () => {
    await op.client.create({
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: {
        name: 'allow-everything',
        namespace: ns,
        labels: {
          [POOL]: name,
          [MANAGED_BY]: 'territory-operator',
          'app.kubernetes.io/part-of': 'database-pool',
        },
      },
      spec: { podSelector: {}, ingress: [{}], policyTypes: ['Ingress'] },
    });
    await waitFor(async () => !(await poolPolicies(ns, name)).includes('allow-everything'), {
      what: 'the stray NetworkPolicy to be pruned',
      timeoutMs: 20_000,
    });
  });

  it('is Ready once every instance is ready and CloudNativePG has issued its CA Secret', async () => {
    // As CloudNativePG reports a healthy cluster.
    await op.client.patch(
      clusterRef(name, ns),
      { status: { phase: 'Cluster in healthy state', instances: 2, readyInstances: 2 } },
      'merge',
      { subresource: 'status' },
    );
    const waiting = await waitReady(name, (c) => c.message.includes('CA Secret'));
    expect(condition(waiting, 'Ready')).toMatchObject({ status: 'False', reason: 'ClusterNotReady' });
    await op.client.create({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: `${name}-ca`, namespace: ns },
      data: {
        'ca.crt': Buffer.from('-----BEGIN CERTIFICATE-----\nfake\n-----END CERTIFICATE-----\n').toString(
          'base64',
        ),
        'ca.key': randomBytes(32).toString('base64'),
      },
    });
    const ready = await waitReady(name, (c) => c.status === 'True');
    expect(condition(ready, 'Ready')?.reason).toBe('Serving');
    expect(condition(ready, 'Stalled')?.status).toBe('False');
    expect(condition(ready, 'Reconciling')?.status).toBe('False');
    await waitFor(async () => (await territoryEvents(op.client, name, 'Ready')).length > 0, {
      what: `a Ready Event about pool ${name}`,
      timeoutMs: 10_000,
    });
  });

  it('counts a Database labelled for it as a tenant', async () => {
    await op.client.create(tenantDatabase(name, ns, territory));
    await waitFor(async () => ((await get(poolRef(name))) as Pool | undefined)?.status?.tenants === 1, {
      what: `pool ${name} to count 1 tenant`,
      timeoutMs: 20_000,
    });
  });

  it('writes nothing when a reconcile finds nothing new', async () => {
    const poolBefore = await get(poolRef(name));
    const reconciles = await reconcilesOfPools();
    const writes = poolWrites();
    // A change the pool's reconcile sees (its Cluster's metadata) but that asks for nothing.
    const touched = await op.client.patch(
      clusterRef(name, ns),
      { metadata: { annotations: { 'test.sovereign.dev/touched': 'yes' } } },
      'merge',
    );
    await waitFor(async () => (await reconcilesOfPools()) > reconciles, {
      what: 'the pool to be reconciled',
      timeoutMs: 10_000,
    });
    await new Promise((r) => setTimeout(r, 1_000));
    // Not a request sent (an apply that changes nothing would leave the objects as they are, but cost one).
    expect(poolWrites()).toBe(writes);
    expect((await get(poolRef(name)))?.metadata.resourceVersion).toBe(poolBefore?.metadata.resourceVersion);
    expect((await get(clusterRef(name, ns)))?.metadata.resourceVersion).toBe(
      touched.metadata.resourceVersion,
    );
  });

  it('keeps a deleted pool that still has a tenant: DeletionBlocked, its Cluster and namespace untouched', async () => {
    await op.client.delete(poolRef(name));
    const blocked = await waitFor(
      async () => {
        const p = (await get(poolRef(name))) as Pool | undefined;
        return condition(p, 'Ready')?.reason === 'DeletionBlocked' ? p : undefined;
      },
      { what: `pool ${name} to report DeletionBlocked`, timeoutMs: 20_000 },
    );
    expect(blocked.metadata.deletionTimestamp).toBeDefined();
    expect(blocked.metadata.finalizers).toContain('sovereign.dev/pool-protection');
    expect(condition(blocked, 'Ready')?.message).toContain(`1 Territory (${territory})`);
    expect(condition(blocked, 'Stalled')).toMatchObject({ status: 'True', reason: 'DeletionBlocked' });
    await waitFor(async () => (await territoryEvents(op.client, name, 'DeletionBlocked')).length > 0, {
      what: `a DeletionBlocked Event about pool ${name}`,
      timeoutMs: 10_000,
    });
    // A second look, later: still there, and still untouched.
    await new Promise((r) => setTimeout(r, 2_000));
    expect((await get(poolRef(name)))?.metadata.finalizers).toContain('sovereign.dev/pool-protection');
    expect((await get(clusterRef(name, ns)))?.metadata.deletionTimestamp).toBeUndefined();
    expect((await get(namespaceRef(ns)))?.metadata.deletionTimestamp).toBeUndefined();
  });

  it('finishes the deletion once the last tenant has left: Cluster, namespace, then the pool', async () => {
    await op.client.delete({ apiVersion: CNPG, kind: 'Database', name: territory, namespace: ns });
    await waitFor(() => gone(() => get(poolRef(name))), {
      what: `pool ${name} to be gone`,
      timeoutMs: 20_000,
    });
    expect(await get(clusterRef(name, ns))).toBeUndefined();
    const namespace = await get(namespaceRef(ns));
    expect(namespace === undefined || namespace.metadata.deletionTimestamp !== undefined).toBe(true);
  });
});

describe('a pool the sovereignty gate refuses', () => {
  it('gets its namespace and NetworkPolicies but no Cluster', async () => {
    const name = uniqueName('pool-snc');
    const ns = `db-${name}`;
    // The cluster is attested standard: a secnumcloud pool cannot be hosted here.
    await op.client.create(databasePool(name, { hosting: { level: 'secnumcloud' } }));
    const pool = await waitReady(name, (c) => c.status === 'False' && c.reason !== 'ClusterNotReady');
    expect(condition(pool, 'Ready')?.reason).toBe('QualificationNotMet');
    expect(condition(pool, 'Stalled')).toMatchObject({ status: 'True', reason: 'QualificationNotMet' });
    expect(await get(namespaceRef(ns))).toBeDefined();
    expect(await poolPolicies(ns, name)).toContain('default-deny');
    expect(await get(clusterRef(name, ns))).toBeUndefined();

    await op.client.delete(poolRef(name));
    await waitFor(() => gone(() => get(poolRef(name))), {
      what: `pool ${name} to be gone`,
      timeoutMs: 20_000,
    });
  });
});

describe('a pool naming a namespace that is not its own', () => {
  it("is refused a Territory's namespace, which it leaves untouched, even when deleted", async () => {
    const t = uniqueName('rennes');
    await op.client.create(op.label(rennesTerritory(t)));
    const before = await waitFor(
      async () => {
        const n = await get(namespaceRef(t));
        return n?.metadata.labels?.[TERRITORY] === t ? n : undefined;
      },
      { what: `Territory ${t}'s namespace`, timeoutMs: 20_000 },
    );
    const name = uniqueName('pool-steal');
    await op.client.create(databasePool(name, { namespace: t }));
    const pool = await waitReady(name, (c) => c.reason === 'NamespaceConflict');
    expect(condition(pool, 'Ready')?.message).toContain(`belongs to Territory ${t}`);
    const after = await get(namespaceRef(t));
    expect(after?.metadata.labels).toEqual(before.metadata.labels);
    expect(await poolPolicies(t, name)).toEqual([]);
    expect(await get(clusterRef(name, t))).toBeUndefined();

    await op.client.delete(poolRef(name));
    await waitFor(() => gone(() => get(poolRef(name))), {
      what: `pool ${name} to be gone`,
      timeoutMs: 20_000,
    });
    expect((await get(namespaceRef(t)))?.metadata.deletionTimestamp).toBeUndefined();
    await op.client.delete({ apiVersion: 'sovereign.dev/v1alpha1', kind: 'Territory', name: t });
  });

  it("is refused the operator's own namespace, and creates nothing", async () => {
    const name = uniqueName('pool-op');
    await op.client.create(databasePool(name, { namespace: operatorNamespace }));
    const pool = await waitReady(name, (c) => c.reason === 'ReservedNamespace');
    expect(condition(pool, 'Ready')?.message).toContain('operator’s own namespace');
    expect(await get(namespaceRef(operatorNamespace))).toBeUndefined();

    await op.client.delete(poolRef(name));
    await waitFor(() => gone(() => get(poolRef(name))), {
      what: `pool ${name} to be gone`,
      timeoutMs: 20_000,
    });
  });
});
