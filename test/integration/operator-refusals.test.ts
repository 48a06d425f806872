// What the operator does when the API server, or the platform's own namespaces, say no:
//   - a Territory that claims CloudNativePG's namespace or the operator's own gets nothing created and
//     a condition that says why (the schema cannot know those names: they depend on the installation);
//   - an owned object the API server refuses (here: a ResourceQuota of the platform team forbids it)
//     is named in the condition of the part concerned, with the API server's own words, instead of a
//     silent retry loop under an older, unrelated reason; and the part recovers once the refusal goes.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { KubeObject } from '../../operator/src/runtime/types.ts';
import { uniqueName, waitFor } from '../support/kube.ts';
import { startTestOperator, type TestOperator } from '../support/operator.ts';
import { OUTSCALE_ATTESTATION, rennesTerritory } from '../support/territories.ts';

type Cond = { type: string; status: string; reason: string; message: string };
type T = KubeObject & { status?: { observedGeneration?: number; conditions?: Cond[] } };

// Installation-dependent names, unique to this file so no other test's namespaces are involved.
const CNPG_NAMESPACE = uniqueName('cnpg-system');
const OPERATOR_NAMESPACE = uniqueName('territory-system');

const territory = rennesTerritory;

let op: TestOperator;

beforeAll(async () => {
  op = await startTestOperator({
    kubeconfigPath: inject('kubeconfigPath'),
    shard: uniqueName('refusals'),
    config: {
      cluster: OUTSCALE_ATTESTATION,
      backupEgress: [{ host: 'oos.eu-west-2.outscale.com', cidrs: ['192.0.2.0/24'] }],
      cnpgNamespace: CNPG_NAMESPACE,
      operatorNamespace: OPERATOR_NAMESPACE,
    },
  });
});
afterAll(async () => {
  await op?.stop();
});

const get = (ref: { apiVersion: string; kind: string; name: string; namespace?: string }) =>
  op.client.get(ref);
const territoryRef = (name: string) => ({ apiVersion: 'sovereign.dev/v1alpha1', kind: 'Territory', name });

async function waitCondition(name: string, type: string, pred: (c: Cond) => boolean, timeoutMs = 20_000) {
  let last: Cond | undefined;
  return waitFor(
    async () => {
      const t = (await get(territoryRef(name))) as T | undefined;
      last = t?.status?.conditions?.find((c) => c.type === type);
      return last && pred(last) && t?.status?.observedGeneration === t?.metadata.generation
        ? last
        : undefined;
    },
    { what: () => `${name} condition ${type} (last: ${JSON.stringify(last)})`, timeoutMs },
  );
}

describe('namespaces that belong to the platform', () => {
  it.each([
    ['CloudNativePG', CNPG_NAMESPACE, 'cnpgNamespace'],
    ['the operator', OPERATOR_NAMESPACE, 'operatorNamespace'],
  ])(
    "refuses %s's namespace at reconcile: a condition says so and nothing is created",
    async (_, ns, key) => {
      const name = uniqueName('claims');
      await op.client.create(op.label(territory(name, { namespace: ns })));
      const condition = await waitCondition(name, 'NamespaceReady', (c) => c.status === 'False');
      expect(condition.reason).toBe('ReservedNamespace');
      expect(condition.message).toContain(ns);
      expect(condition.message).toContain(key);
      const ready = await waitCondition(name, 'Ready', (c) => c.status === 'False');
      expect(ready.reason).toBe('ReservedNamespace');
      const stalled = await waitCondition(name, 'Stalled', (c) => c.status === 'True');
      expect(stalled.reason).toBe('ReservedNamespace');
      const t = (await get(territoryRef(name))) as T & { status?: { namespace?: string } };
      expect(t.status?.namespace).toBeUndefined();
      // The operator keeps reconciling (resyncs, events) and still never creates it.
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      expect(await get({ apiVersion: 'v1', kind: 'Namespace', name: ns })).toBeUndefined();
    },
  );
});

describe('an owned object the API server refuses', () => {
  /** A quota of the platform team's, in the Territory's namespace, that forbids one kind of object. */
  async function forbid(namespace: string, resource: string): Promise<KubeObject> {
    const quota: KubeObject = {
      apiVersion: 'v1',
      kind: 'ResourceQuota',
      metadata: { name: 'platform-forbids', namespace },
      spec: { hard: { [resource]: resource === 'count/secrets' ? '1' : '0' } },
    };
    await op.client.create(quota);
    // The quota controller must have counted the namespace once, or every write reads "status unknown".
    await waitFor(
      async () => {
        const live = await get({
          apiVersion: 'v1',
          kind: 'ResourceQuota',
          name: 'platform-forbids',
          namespace,
        });
        return (
          (live?.status as { used?: Record<string, string> } | undefined)?.used?.[resource] !== undefined
        );
      },
      { what: `quota ${namespace}/platform-forbids to be counted`, timeoutMs: 30_000 },
    );
    return quota;
  }

  it('names the refused CronJob and the API server message in BackupReady, then recovers', async () => {
    const name = uniqueName('refused-cronjob');
    await op.client.create(op.label(territory(name)));
    // Without credentials the backup gate is closed: nothing of the backup part exists yet.
    await waitCondition(name, 'BackupReady', (c) => c.reason === 'BackupCredentialsMissing');
    await forbid(name, 'count/cronjobs.batch');
    const secretKey = randomBytes(24).toString('hex');
    await op.client.create({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'oos', namespace: name },
      stringData: { ACCESS_KEY_ID: 'AKIA-REFUSALS', ACCESS_SECRET_KEY: secretKey },
    });

    const backup = await waitCondition(name, 'BackupReady', (c) => c.reason === 'RefusedByAPIServer');
    expect(backup.status).toBe('False');
    expect(backup.message).toContain(`CronJob ${name}/logical-backup`);
    expect(backup.message).toContain('403');
    expect(backup.message).toContain('exceeded quota: platform-forbids');
    expect(backup.message).not.toContain(secretKey);
    expect(await waitCondition(name, 'Stalled', (c) => c.status === 'True')).toMatchObject({
      reason: 'RefusedByAPIServer',
    });

    // The refusal is lifted: the operator retries on its own (backoff) and the part recovers.
    await op.client.delete({
      apiVersion: 'v1',
      kind: 'ResourceQuota',
      name: 'platform-forbids',
      namespace: name,
    });
    await waitFor(
      () => get({ apiVersion: 'batch/v1', kind: 'CronJob', name: 'logical-backup', namespace: name }),
      { what: `${name} backup CronJob after the quota is gone`, timeoutMs: 60_000 },
    );
    await waitCondition(name, 'BackupReady', (c) => c.status === 'True', 60_000);
  });

  it('names the refused keyring Secret in KeysReady, and never its content', async () => {
    const name = uniqueName('refused-secret');
    await op.client.create(
      op.label(territory(name, { encryption: { customerKey: { secretName: 'rennes-kek' } } })),
    );
    await waitCondition(name, 'KeysReady', (c) => c.reason === 'CustomerKeyMissing');
    // One Secret allowed in the namespace: the authority's own key. The keyring would be the second.
    await forbid(name, 'count/secrets');
    const kek = randomBytes(32);
    await op.client.create({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'rennes-kek', namespace: name },
      data: { kek: kek.toString('base64') },
    });

    const keys = await waitCondition(name, 'KeysReady', (c) => c.reason === 'RefusedByAPIServer');
    expect(keys.message).toContain(`Secret ${name}/territory-keyring`);
    expect(keys.message).toContain('exceeded quota: platform-forbids');
    expect(keys.message).not.toContain(kek.toString('base64'));
    expect(keys.message).not.toContain(kek.toString('hex'));
    const t = (await get(territoryRef(name))) as T;
    expect(JSON.stringify(t.status)).not.toContain(kek.toString('base64'));
  });
});
