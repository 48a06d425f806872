// Namespace collisions, with the real operator on the real API server: a Territory whose namespace
// already exists (an application's, or another Territory's) is refused with NamespaceConflict and the
// existing namespace is left exactly as it was: no object written in it, none relabelled, none
// deleted, not even when the refused Territory is deleted with deletionPolicy Delete. Two Territories
// racing for one new namespace: exactly one wins and everything in it belongs to the winner.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it, onTestFailed } from 'vitest';
import type { KubeObject } from '../../operator/src/runtime/types.ts';
import { LEAVE_PHYSICAL_BACKUPS_ANNOTATION } from '../../operator/src/territory/physical-erasure.ts';
import { KubeHttp, objectPath } from '../chaos/lib/kube-http.ts';
import { uniqueName, waitFor } from '../support/kube.ts';
import { NAMESPACE_CONTENT_KINDS, namespaceFingerprint } from '../support/namespace-fingerprint.ts';
import { startTestOperator, type TestOperator } from '../support/operator.ts';
import { OUTSCALE_ATTESTATION } from '../support/territories.ts';

type Cond = { type: string; status: string; reason: string; message: string };
type T = KubeObject & { status?: { observedGeneration?: number; conditions?: Cond[]; keys?: unknown } };

const admin = KubeHttp.fromKubeconfig(inject('kubeconfigPath'));
const TERRITORIES = objectPath({ apiVersion: 'sovereign.dev/v1alpha1', kind: 'Territory' });
const territoryPath = (name: string) => `${TERRITORIES}/${name}`;
let op: TestOperator;

function territory(name: string, spec: Record<string, unknown> = {}): KubeObject {
  return op.label({
    apiVersion: 'sovereign.dev/v1alpha1',
    kind: 'Territory',
    // Their bucket is fictional: a Territory that wins its namespace and is deleted with deletionPolicy
    // Delete leaves its (non-existent) physical backups, as accepted here.
    metadata: {
      name,
      annotations: { [LEAVE_PHYSICAL_BACKUPS_ANNOTATION]: 'collision tests: no such bucket' },
    },
    spec: {
      authority: { kind: 'commune', code: '35238' },
      controller: {
        contactEmail: 'rgpd@rennes.example.fr',
        dpo: { email: 'dpo@rennes.example.fr' },
        purposes: [
          { name: 'mobility', dataCategories: ['trips'], dataSubjects: ['residents'], retentionDays: 30 },
        ],
      },
      backup: {
        destination: {
          endpoint: 'https://oos.eu-west-2.outscale.com',
          bucket: 'rennes-backups',
          credentialsSecret: { name: 'backup-s3' },
        },
      },
      ...spec,
    },
  });
}

async function create(t: KubeObject): Promise<void> {
  const answer = await admin.request('POST', TERRITORIES, t);
  expect(answer.status, answer.text.slice(0, 300)).toBe(201);
}

/** The NamespaceReady condition once the operator has reconciled the current generation. */
async function namespaceReady(name: string): Promise<Cond> {
  return waitFor(
    async () => {
      const t = (await admin.get(territoryPath(name))).body as T;
      if (t.status?.observedGeneration !== t.metadata.generation) return undefined;
      return t.status?.conditions?.find((c) => c.type === 'NamespaceReady');
    },
    { what: `${name} to report NamespaceReady`, timeoutMs: 30_000 },
  );
}

async function deleteTerritory(name: string): Promise<void> {
  await admin.request('DELETE', territoryPath(name));
  await waitFor(async () => (await admin.get(territoryPath(name))).status === 404, {
    what: `Territory ${name} to be deleted (finalizer released)`,
    timeoutMs: 30_000,
  });
}

async function ownedIn(ns: string): Promise<KubeObject[]> {
  const owned: KubeObject[] = [];
  for (const [apiVersion, kind] of NAMESPACE_CONTENT_KINDS) {
    const { items } = await admin.list(
      `${objectPath({ apiVersion, kind, namespace: ns })}?labelSelector=app.kubernetes.io%2Fmanaged-by%3Dterritory-operator`,
    );
    owned.push(...(items as unknown as KubeObject[]).map((o) => ({ ...o, kind })));
  }
  return owned;
}

beforeAll(async () => {
  op = await startTestOperator({
    kubeconfigPath: inject('kubeconfigPath'),
    shard: uniqueName('collision'),
    config: {
      cluster: OUTSCALE_ATTESTATION,
    },
  });
});

afterAll(async () => {
  await op?.stop();
  admin.close();
});

describe('a Territory whose namespace already exists', () => {
  beforeEach(() => {
    onTestFailed(() => console.log(`operator log (last 30 lines):\n${op.logs.slice(-30).join('\n')}`));
  });

  it.each(['Retain', 'Delete'])(
    "is refused and leaves an application's namespace untouched, even when deleted (deletionPolicy %s)",
    async (policy) => {
      const ns = uniqueName(`legacy-${policy.toLowerCase()}`);
      await admin.request('POST', objectPath({ apiVersion: 'v1', kind: 'Namespace' }), {
        apiVersion: 'v1',
        kind: 'Namespace',
        metadata: { name: ns, labels: { team: 'platform' } },
      });
      await admin.request('POST', objectPath({ apiVersion: 'v1', kind: 'ConfigMap', namespace: ns }), {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'payroll' },
        data: { note: 'not a Territory' },
      });
      // The controller-manager adds its root CA ConfigMap to every namespace: let it settle first.
      await waitFor(
        async () =>
          (
            await admin.get(
              objectPath({ apiVersion: 'v1', kind: 'ConfigMap', namespace: ns, name: 'kube-root-ca.crt' }),
            )
          ).status === 200,
        {
          what: 'the root CA ConfigMap',
        },
      );
      const before = await namespaceFingerprint(admin, ns);
      await create(territory(ns, { deletionPolicy: policy }));
      const condition = await namespaceReady(ns);
      expect(condition).toMatchObject({ status: 'False', reason: 'NamespaceConflict' });
      expect(condition.message).toContain('left untouched');
      expect(await namespaceFingerprint(admin, ns)).toEqual(before);
      await deleteTerritory(ns);
      // Give the finalizer's deletions and the garbage collector time to act if they (wrongly) would.
      await new Promise((r) => setTimeout(r, 2_000));
      expect(await namespaceFingerprint(admin, ns)).toEqual(before);
      await admin.request('DELETE', objectPath({ apiVersion: 'v1', kind: 'Namespace', name: ns }));
    },
  );

  it.each(['Retain', 'Delete'])(
    "is refused when it claims another Territory's namespace, which keeps all its objects (deletionPolicy %s)",
    async (policy) => {
      const owner = uniqueName('owner');
      await create(territory(owner));
      // The authority's S3 credentials, once the operator has made its namespace.
      await waitFor(
        async () =>
          (await admin.get(objectPath({ apiVersion: 'v1', kind: 'Namespace', name: owner }))).status === 200,
        { what: `namespace ${owner}` },
      );
      const secret = await admin.request(
        'POST',
        objectPath({ apiVersion: 'v1', kind: 'Secret', namespace: owner }),
        {
          apiVersion: 'v1',
          kind: 'Secret',
          metadata: { name: 'backup-s3' },
          stringData: { ACCESS_KEY_ID: 'AKIA', ACCESS_SECRET_KEY: randomBytes(16).toString('hex') },
        },
      );
      expect(secret.status, secret.text.slice(0, 200)).toBe(201);
      await waitFor(
        async () =>
          (
            await admin.get(
              objectPath({
                apiVersion: 'batch/v1',
                kind: 'CronJob',
                namespace: owner,
                name: 'logical-backup',
              }),
            )
          ).status === 200,
        { what: `${owner} to converge (its backup CronJob)`, timeoutMs: 30_000 },
      );
      const ownedBefore = (await ownedIn(owner))
        .map((o) => `${o.kind} ${o.metadata.name} ${o.metadata.uid}`)
        .sort();
      const squatter = uniqueName('squatter');
      await create(territory(squatter, { namespace: owner, deletionPolicy: policy }));
      const condition = await namespaceReady(squatter);
      expect(condition).toMatchObject({ status: 'False', reason: 'NamespaceConflict' });
      expect(condition.message).toContain(`belongs to Territory ${owner}`);
      await deleteTerritory(squatter);
      await new Promise((r) => setTimeout(r, 2_000));
      const ownedAfter = await ownedIn(owner);
      // Same objects (same uids: nothing deleted and recreated), all still the owner's.
      expect(ownedAfter.map((o) => `${o.kind} ${o.metadata.name} ${o.metadata.uid}`).sort()).toEqual(
        ownedBefore,
      );
      for (const o of ownedAfter)
        expect(o.metadata.labels?.['sovereign.dev/territory'], `${o.kind} ${o.metadata.name}`).toBe(owner);
      const ns = (await admin.get(objectPath({ apiVersion: 'v1', kind: 'Namespace', name: owner })))
        .body as KubeObject;
      expect(ns.metadata.deletionTimestamp).toBeUndefined();
      await admin.request(
        'PATCH',
        territoryPath(owner),
        { spec: { deletionPolicy: 'Delete' } },
        'application/merge-patch+json',
      );
      await deleteTerritory(owner);
    },
  );

  it('goes to exactly one of two Territories created at the same instant for one new namespace', async () => {
    for (let round = 0; round < 5; round++) {
      const ns = uniqueName('contested');
      const names = [uniqueName('claim-p'), uniqueName('claim-q')];
      await Promise.all(
        names.map((name) => create(territory(name, { namespace: ns, deletionPolicy: 'Delete' }))),
      );
      const conditions = await Promise.all(names.map((name) => namespaceReady(name)));
      await new Promise((r) => setTimeout(r, 2_000)); // any late write of the loser lands
      const winners = names.filter((_, i) => conditions[i]?.status === 'True');
      const losers = names.filter((_, i) => conditions[i]?.reason === 'NamespaceConflict');
      expect({ winners: winners.length, losers: losers.length }, JSON.stringify(conditions)).toEqual({
        winners: 1,
        losers: 1,
      });
      const winner = winners[0] as string;
      const winnerUid = ((await admin.get(territoryPath(winner))).body as KubeObject).metadata.uid;
      const owned = await ownedIn(ns);
      const namespace = (await admin.get(objectPath({ apiVersion: 'v1', kind: 'Namespace', name: ns })))
        .body as KubeObject;
      for (const o of [namespace, ...owned]) {
        expect(o.metadata.labels?.['sovereign.dev/territory'], `${o.kind} ${o.metadata.name}`).toBe(winner);
        expect(
          (o.metadata.ownerReferences ?? []).map((r) => r.uid),
          `${o.kind} ${o.metadata.name}`,
        ).toEqual([winnerUid]);
      }
      const loser = (await admin.get(territoryPath(losers[0] as string))).body as T;
      expect(loser.status?.keys, 'the loser reports no keys').toBeUndefined();
      for (const name of [...losers, winner]) await deleteTerritory(name);
    }
  });
});
