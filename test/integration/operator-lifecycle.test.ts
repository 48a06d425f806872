import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ADMIN_BINDING, READER_BINDING } from '../../operator/src/builders/rbac.ts';
import type { KubeObject } from '../../operator/src/runtime/types.ts';
import { LEAVE_PHYSICAL_BACKUPS_ANNOTATION } from '../../operator/src/territory/physical-erasure.ts';
import { uniqueName, waitFor } from '../support/kube.ts';
import { createWithBackupCredentials, startTestOperator, type TestOperator } from '../support/operator.ts';
import { OUTSCALE_ATTESTATION, rennesTerritory } from '../support/territories.ts';

type Cond = { type: string; status: string; reason: string; message: string };
type T = KubeObject & { status?: { observedGeneration?: number; conditions?: Cond[] } };

function territory(name: string, over: Record<string, unknown> = {}): KubeObject {
  return rennesTerritory(name, { access: { adminGroups: ['rennes-admins'] }, ...over });
}

let op: TestOperator;

beforeAll(async () => {
  op = await startTestOperator({
    kubeconfigPath: inject('kubeconfigPath'),
    shard: uniqueName('lifecycle'),
    config: { cluster: OUTSCALE_ATTESTATION },
  });
});
afterAll(async () => {
  await op?.stop();
});

const get = (ref: { apiVersion: string; kind: string; name: string; namespace?: string }) =>
  op.client.get(ref);
const territoryRef = (name: string) => ({ apiVersion: 'sovereign.dev/v1alpha1', kind: 'Territory', name });
const condition = (t: T | undefined, type: string) => t?.status?.conditions?.find((c) => c.type === type);

async function createWithCredentials(t: KubeObject): Promise<string> {
  const name = await createWithBackupCredentials(op, t);
  await waitFor(
    () => get({ apiVersion: 'batch/v1', kind: 'CronJob', name: 'logical-backup', namespace: name }),
    {
      what: `${name} backup CronJob`,
      timeoutMs: 10_000,
    },
  );
  return name;
}

async function waitCondition(
  name: string,
  type: string,
  pred: (c: Cond) => boolean,
  timeoutMs = 10_000,
): Promise<T> {
  return waitFor(
    async () => {
      const t = (await get(territoryRef(name))) as T | undefined;
      const c = condition(t, type);
      return c && pred(c) && t?.status?.observedGeneration === t?.metadata.generation ? t : undefined;
    },
    { what: `${name} condition ${type}`, timeoutMs },
  );
}

describe('drift and spec edits', () => {
  it('puts back an owned object deleted by hand within 10 s', async () => {
    const name = await createWithCredentials(territory(uniqueName('drift')));
    for (const [apiVersion, kind, objectName] of [
      ['networking.k8s.io/v1', 'NetworkPolicy', 'default-deny'],
      ['v1', 'ResourceQuota', 'territory-quota'],
      ['batch/v1', 'CronJob', 'logical-backup'],
    ] as const) {
      const before = await get({ apiVersion, kind, name: objectName, namespace: name });
      await op.client.delete({ apiVersion, kind, name: objectName, namespace: name });
      const started = Date.now();
      const back = await waitFor(
        async () => {
          const o = await get({ apiVersion, kind, name: objectName, namespace: name });
          return o && o.metadata.uid !== before?.metadata.uid ? o : undefined;
        },
        { what: `${kind} ${objectName} recreated`, timeoutMs: 10_000 },
      );
      expect(back.metadata.labels?.['sovereign.dev/territory']).toBe(name);
      console.log(`${kind} repaired in ${((Date.now() - started) / 1000).toFixed(2)} s`);
    }
  });

  it('reverts a field changed by hand on an owned object', async () => {
    const name = await createWithCredentials(territory(uniqueName('edit')));
    await op.client.patch(
      { apiVersion: 'v1', kind: 'ResourceQuota', name: 'territory-quota', namespace: name },
      { spec: { hard: { pods: '9999' } } },
      'merge',
    );
    await waitFor(
      async () => {
        const q = await get({
          apiVersion: 'v1',
          kind: 'ResourceQuota',
          name: 'territory-quota',
          namespace: name,
        });
        return q && (q.spec as { hard: Record<string, string> }).hard.pods !== '9999' ? q : undefined;
      },
      { what: 'the quota to be restored', timeoutMs: 10_000 },
    );
  });

  it('follows spec edits and advances observedGeneration', async () => {
    const name = await createWithCredentials(territory(uniqueName('spec')));
    const first = await waitCondition(name, 'NamespaceReady', (c) => c.status === 'True');
    await op.client.patch(
      territoryRef(name),
      { spec: { access: { adminGroups: ['rennes-admins', 'rennes-dsi'], readerGroups: ['rennes-audit'] } } },
      'merge',
    );
    const after = await waitFor(
      async () => {
        const t = (await get(territoryRef(name))) as T | undefined;
        return t && (t.status?.observedGeneration ?? 0) > (first.status?.observedGeneration ?? 0)
          ? t
          : undefined;
      },
      { what: 'observedGeneration to advance', timeoutMs: 10_000 },
    );
    expect(after.status?.observedGeneration).toBe(after.metadata.generation);
    const admins = await get({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      name: ADMIN_BINDING,
      namespace: name,
    });
    expect(((admins?.subjects ?? []) as { name: string }[]).map((s) => s.name)).toEqual([
      'rennes-admins',
      'rennes-dsi',
    ]);
    await waitFor(
      () =>
        get({
          apiVersion: 'rbac.authorization.k8s.io/v1',
          kind: 'RoleBinding',
          name: READER_BINDING,
          namespace: name,
        }),
      {
        what: 'reader RoleBinding',
        timeoutMs: 10_000,
      },
    );
    // Removing the readers removes their binding (pruning).
    await op.client.patch(territoryRef(name), { spec: { access: { readerGroups: [] } } }, 'merge');
    await waitFor(
      async () =>
        !(await get({
          apiVersion: 'rbac.authorization.k8s.io/v1',
          kind: 'RoleBinding',
          name: READER_BINDING,
          namespace: name,
        })),
      { what: 'reader RoleBinding pruned', timeoutMs: 10_000 },
    );
  });
});

describe('observability', () => {
  it('serves health probes and Prometheus metrics, territories by condition included', async () => {
    const name = await createWithCredentials(territory(uniqueName('metrics')));
    await waitCondition(name, 'KeysReady', (c) => c.status === 'True');
    const port = op.operator.manager.healthPort();
    for (const probe of ['healthz', 'readyz']) {
      expect((await fetch(`http://127.0.0.1:${port}/${probe}`)).status, probe).toBe(200);
    }
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    for (const family of [
      'controller_runtime_reconcile_total',
      'controller_runtime_reconcile_time_seconds',
      'workqueue_depth',
      'workqueue_queue_duration_seconds',
      'rest_client_requests_total',
    ]) {
      expect(metrics, family).toContain(family);
    }
    expect(metrics).toMatch(/territory_conditions\{type="KeysReady",status="True"\} [1-9]/);
  });
});

describe('deletion policies', () => {
  it('Retain keeps the namespace and its objects, released from the Territory', async () => {
    const name = await createWithCredentials(territory(uniqueName('retain')));
    await waitFor(
      () => get({ apiVersion: 'v1', kind: 'Secret', name: 'territory-keyring', namespace: name }),
      {
        what: 'keyring',
        timeoutMs: 10_000,
      },
    );
    await op.client.delete(territoryRef(name));
    await waitFor(async () => !(await get(territoryRef(name))), {
      what: `Territory ${name} gone`,
      timeoutMs: 15_000,
    });
    // Give the garbage collector time to act if it (wrongly) could.
    await new Promise((r) => setTimeout(r, 3_000));
    const ns = await get({ apiVersion: 'v1', kind: 'Namespace', name });
    expect(ns?.metadata.deletionTimestamp).toBeUndefined();
    expect(ns?.metadata.ownerReferences ?? []).toEqual([]);
    for (const [apiVersion, kind, objectName] of [
      ['v1', 'Secret', 'territory-keyring'],
      ['postgresql.cnpg.io/v1', 'Cluster', 'db'],
      ['batch/v1', 'CronJob', 'logical-backup'],
    ] as const) {
      const o = await get({ apiVersion, kind, name: objectName, namespace: name });
      expect(o, `${kind} kept`).toBeDefined();
      expect(o?.metadata.ownerReferences ?? [], `${kind} released`).toEqual([]);
    }
  });

  it('Delete removes the namespace, the controller-manager completing it', async () => {
    const name = await createWithCredentials(territory(uniqueName('delete'), { deletionPolicy: 'Delete' }));
    await waitFor(
      () => get({ apiVersion: 'v1', kind: 'Secret', name: 'territory-keyring', namespace: name }),
      {
        what: 'keyring',
        timeoutMs: 10_000,
      },
    );
    // Its bucket is fictional: a person accepts leaving its physical backups (the erasure itself is
    // tested against a real S3 server in operator-physical-erasure.test.ts).
    await op.client.patch(
      territoryRef(name),
      {
        metadata: { annotations: { [LEAVE_PHYSICAL_BACKUPS_ANNOTATION]: 'lifecycle test: no such bucket' } },
      },
      'merge',
    );
    await op.client.delete(territoryRef(name));
    await waitFor(async () => !(await get({ apiVersion: 'v1', kind: 'Namespace', name })), {
      what: `namespace ${name} deleted`,
      timeoutMs: 60_000,
    });
    expect(await get(territoryRef(name))).toBeUndefined();
  });
});

describe('fail closed', () => {
  it('refuses SecNumCloud on a cluster that is not qualified, and creates nothing data-bearing', async () => {
    const name = uniqueName('snc');
    await op.client.create(
      op.label(
        territory(name, {
          hosting: { level: 'secnumcloud' },
          backup: {
            destination: {
              endpoint: 'https://oos.cloudgouv-eu-west-1.outscale.com',
              bucket: 'rennes-backups',
              credentialsSecret: { name: 'oos' },
            },
          },
        }),
      ),
    );
    const t = await waitCondition(name, 'SovereigntyCompliant', (c) => c.status === 'False');
    expect(condition(t, 'SovereigntyCompliant')?.reason).toBe('QualificationNotMet');
    expect(condition(t, 'Stalled')?.status).toBe('True');
    expect(condition(t, 'Ready')?.status).toBe('False');
    for (const [apiVersion, kind] of [
      ['v1', 'Secret'],
      ['postgresql.cnpg.io/v1', 'Cluster'],
      ['batch/v1', 'CronJob'],
      ['postgresql.cnpg.io/v1', 'ScheduledBackup'],
    ] as const) {
      const list = await op.client.list({ apiVersion, kind, namespace: name });
      expect(list.items, `${kind} in ${name}`).toEqual([]);
    }
  });

  it('refuses a backup destination outside France: NonSovereignDestination, no backup object', async () => {
    const name = uniqueName('foreign-s3');
    await op.client.create(
      op.label(
        territory(name, {
          backup: {
            destination: {
              endpoint: 'https://s3.eu-central-1.amazonaws.com',
              bucket: 'rennes-backups',
              credentialsSecret: { name: 'oos' },
            },
          },
        }),
      ),
    );
    const t = await waitCondition(name, 'BackupReady', (c) => c.reason === 'NonSovereignDestination');
    expect(condition(t, 'BackupReady')?.message).toContain('s3.eu-central-1.amazonaws.com');
    expect(
      (await op.client.list({ apiVersion: 'batch/v1', kind: 'CronJob', namespace: name })).items,
    ).toEqual([]);
    expect(
      (
        await op.client.list({
          apiVersion: 'postgresql.cnpg.io/v1',
          kind: 'ScheduledBackup',
          namespace: name,
        })
      ).items,
    ).toEqual([]);
    const cluster = await get({
      apiVersion: 'postgresql.cnpg.io/v1',
      kind: 'Cluster',
      name: 'db',
      namespace: name,
    });
    expect((cluster?.spec as { backup?: unknown } | undefined)?.backup).toBeUndefined();
  });

  it('refuses a cluster whose nodes run outside France (node evidence required)', async () => {
    const shard = uniqueName('nodes');
    const strict = await startTestOperator({
      kubeconfigPath: inject('kubeconfigPath'),
      shard,
      config: {
        cluster: {
          provider: 'scaleway',
          regions: ['fr-par'],
          qualification: 'standard',
          nodeEvidence: 'required',
        },
      },
    });
    const node = uniqueName('node-ams');
    try {
      await strict.client.create({
        apiVersion: 'v1',
        kind: 'Node',
        metadata: { name: node, labels: { 'topology.kubernetes.io/region': 'nl-ams' } },
      });
      const name = uniqueName('ams');
      await strict.client.create(strict.label(territory(name)));
      const t = await waitCondition(
        name,
        'SovereigntyCompliant',
        (c) => c.status === 'False' && c.message.includes(node),
      );
      expect(condition(t, 'SovereigntyCompliant')?.reason).toBe('RegionNotEligible');
      expect((await strict.client.list({ apiVersion: 'v1', kind: 'Secret', namespace: name })).items).toEqual(
        [],
      );
    } finally {
      await strict.client.delete({ apiVersion: 'v1', kind: 'Node', name: node });
      await strict.stop();
    }
  });
});

describe('bad Territories', () => {
  it('reports an unknown authority code without crashing, and others keep converging', async () => {
    const bad = uniqueName('unknown');
    await op.client.create(op.label(territory(bad, { authority: { kind: 'commune', code: '99999' } })));
    const t = await waitCondition(bad, 'AuthorityVerified', (c) => c.status === 'False');
    expect(condition(t, 'AuthorityVerified')?.message).toMatch(/99999/);
    expect(await get({ apiVersion: 'v1', kind: 'Namespace', name: bad })).toBeUndefined();
    const good = await createWithCredentials(territory(uniqueName('alongside')));
    await waitCondition(good, 'KeysReady', (c) => c.status === 'True');
  });

  it('refuses a namespace that already exists and leaves it untouched', async () => {
    const name = uniqueName('taken');
    await op.client.create({
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name, labels: { owner: 'someone-else' } },
    });
    await op.client.create(op.label(territory(name)));
    const t = await waitCondition(name, 'NamespaceReady', (c) => c.status === 'False');
    expect(condition(t, 'NamespaceReady')?.reason).toBe('NamespaceConflict');
    const ns = await get({ apiVersion: 'v1', kind: 'Namespace', name });
    expect(ns?.metadata.labels).toEqual({ owner: 'someone-else', 'kubernetes.io/metadata.name': name });
    expect((await op.client.list({ apiVersion: 'v1', kind: 'Secret', namespace: name })).items).toEqual([]);
  });
});
