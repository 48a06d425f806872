// Issue 5: a keyring is created once and never regenerated. Across operator restarts, re-applies of the
// same manifest and spec edits, its key ids and bytes stay the same; and no key material (wrapped or raw,
// in any encoding) or password ever shows in the operator's logs, the Events, the Territory's status or
// its metrics.
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { KEYRING_KEY } from '../../operator/src/builders/keys.ts';
import { type Keyring, newKeyring, serializeKeyring, unwrapKey } from '../../operator/src/keys/keyring.ts';
import { silentLogger } from '../../operator/src/runtime/logger.ts';
import type { KubeObject } from '../../operator/src/runtime/types.ts';
import { uniqueName, waitFor } from '../support/kube.ts';
import { startTestOperator, type TestOperator } from '../support/operator.ts';
import { bytesNeedle, leaksIn, type Needle, textNeedle } from '../support/secret-forms.ts';
import { secnumcloudTerritory } from '../support/territories.ts';

const CLUSTER = {
  provider: 'outscale',
  regions: ['cloudgouv-eu-west-1'],
  qualification: 'secnumcloud',
  nodeEvidence: 'attestation-only',
};
const shard = uniqueName('keys');
const started: TestOperator[] = [];
afterAll(async () => {
  await Promise.all(started.map((o) => o.stop()));
});

async function operator(): Promise<TestOperator> {
  const op = await startTestOperator({
    kubeconfigPath: inject('kubeconfigPath'),
    shard,
    config: { cluster: CLUSTER },
  });
  started.push(op);
  return op;
}

function territory(name: string, rotationDays = 90): KubeObject {
  return secnumcloudTerritory(name, { rotationDays });
}

const secretData = async (op: TestOperator, namespace: string, name: string) =>
  (await op.client.get({ apiVersion: 'v1', kind: 'Secret', name, namespace }))?.data as
    | Record<string, string>
    | undefined;

/**
 * Every secret value (as stored, in clear, in every encoding), each key of the keyring as stored (wrapped)
 * and raw (unwrapped with the customer key), and the customer key itself.
 */
function secretsToLookFor(secrets: Record<string, string>[], kek: Buffer): Needle[] {
  const out: Needle[] = [bytesNeedle('customer key', kek)];
  for (const data of secrets) {
    for (const [field, b64] of Object.entries(data)) {
      const clear = Buffer.from(b64, 'base64');
      out.push(bytesNeedle(`${field} value`, clear));
      if (clear.toString('utf8').length >= 12)
        out.push(textNeedle(`${field} value in clear`, clear.toString('utf8')));
      if (field !== KEYRING_KEY) continue;
      const keyring = JSON.parse(clear.toString('utf8')) as Keyring;
      for (const k of keyring.keys) {
        out.push(bytesNeedle(`key ${k.id} as stored`, Buffer.from(k.material, 'base64')));
        out.push(bytesNeedle(`key ${k.id} raw`, unwrapKey(keyring, k.id, kek)));
      }
    }
  }
  return out;
}

describe('the keyring survives restarts, re-applies and edits unchanged', () => {
  it('keeps key ids and bytes, and leaks no secret', async () => {
    let op = await operator();
    const name = uniqueName('keys');
    const manifest = op.label(territory(name));
    await op.client.patch(
      { apiVersion: 'sovereign.dev/v1alpha1', kind: 'Territory', name },
      manifest,
      'apply',
      {
        fieldManager: 'gitops',
        force: true,
      },
    );
    await waitFor(() => op.client.get({ apiVersion: 'v1', kind: 'Namespace', name }), {
      what: 'namespace',
      timeoutMs: 10_000,
    });
    const kek = randomBytes(32).toString('base64');
    await op.client.create({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'rennes-kek', namespace: name },
      data: { kek },
    });
    await op.client.create({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'oos', namespace: name },
      stringData: { ACCESS_KEY_ID: 'AKIA', ACCESS_SECRET_KEY: randomBytes(20).toString('hex') },
    });
    const original = await waitFor(() => secretData(op, name, 'territory-keyring'), {
      what: 'keyring',
      timeoutMs: 10_000,
    });
    const keyring = JSON.parse(Buffer.from(original['keyring.json'] as string, 'base64').toString()) as {
      wrapping: { algorithm: string };
      keys: { id: string }[];
    };
    expect(keyring.wrapping.algorithm).toBe('A256KW');
    await waitFor(() => secretData(op, name, 'db-owner'), { what: 'credentials', timeoutMs: 10_000 });

    // 1. Restart the operator (a new process would start from the same state).
    await op.stop();
    op = await operator();
    // 2. Re-apply the very same manifest, as a GitOps tool does on every sync.
    await op.client.patch(
      { apiVersion: 'sovereign.dev/v1alpha1', kind: 'Territory', name },
      manifest,
      'apply',
      {
        fieldManager: 'gitops',
        force: true,
      },
    );
    // 3. Edit the spec: a shorter rotation period (still not due) and a new purpose.
    const edited = op.label(territory(name, 30)) as KubeObject & {
      spec: { controller: { purposes: unknown[] } };
    };
    edited.spec.controller.purposes.push({
      name: 'water',
      dataCategories: ['meters'],
      dataSubjects: ['subscribers'],
      retentionDays: 365,
    });
    await op.client.patch(
      { apiVersion: 'sovereign.dev/v1alpha1', kind: 'Territory', name },
      edited,
      'apply',
      {
        fieldManager: 'gitops',
        force: true,
      },
    );
    // The edit is reconciled (a credential for the new purpose appears), then compare.
    await waitFor(() => secretData(op, name, 'db-purpose-water'), {
      what: 'the new purpose credentials',
      timeoutMs: 10_000,
    });
    const t = await waitFor(
      async () => {
        const live = await op.client.get({ apiVersion: 'sovereign.dev/v1alpha1', kind: 'Territory', name });
        const status = live?.status as { observedGeneration?: number } | undefined;
        return status?.observedGeneration === live?.metadata.generation ? live : undefined;
      },
      { what: 'the edit to be observed', timeoutMs: 10_000 },
    );
    expect(await secretData(op, name, 'territory-keyring')).toEqual(original);
    const status = t.status as { keys?: { versions: { id: string }[] } };
    expect(status.keys?.versions.map((v) => v.id)).toEqual(keyring.keys.map((k) => k.id));

    // No secret in logs, Events, the Territory (status included) or metrics.
    const secrets = [
      original,
      (await secretData(op, name, 'db-owner')) ?? {},
      (await secretData(op, name, 'db-purpose-mobility')) ?? {},
    ];
    const needles = secretsToLookFor(secrets, Buffer.from(kek, 'base64'));
    // The customer key, the keyring, its one version wrapped and raw, two passwords (as stored and in clear).
    expect(needles.length).toBeGreaterThanOrEqual(9);
    expect(needles.filter((n) => n.what.endsWith(' raw')).length).toBe(keyring.keys.length);
    const events = await Promise.all(
      ['default', name].flatMap((namespace) => [
        op.client.list({ apiVersion: 'events.k8s.io/v1', kind: 'Event', namespace }),
        op.client.list({ apiVersion: 'v1', kind: 'Event', namespace }),
      ]),
    );
    const haystacks = {
      logs: started.flatMap((o) => o.logs).join('\n'),
      events: JSON.stringify(events.flatMap((list) => list.items)),
      Territory: JSON.stringify(t),
      metrics: await op.operator.manager.metrics.registry.metrics(),
    };
    // The haystacks hold what they should, so an empty search cannot pass by accident.
    expect(haystacks.logs).toContain('data key version created');
    expect(haystacks.events).toContain(name);
    expect(haystacks.Territory).toContain('KeysReady');
    const leaks = Object.entries(haystacks).flatMap(([where, text]) =>
      leaksIn(text, needles).map((leak) => `${leak} in ${where}`),
    );
    expect(leaks).toEqual([]);
  });
});

describe('a lost keyring stays lost', () => {
  it('is never replaced silently, whatever status writes follow its loss, even on a lagging watch', async () => {
    const op = await operator();
    const name = uniqueName('lost');
    const apply = (rotationDays: number) =>
      op.client.patch(
        { apiVersion: 'sovereign.dev/v1alpha1', kind: 'Territory', name },
        op.label(territory(name, rotationDays)),
        'apply',
        { fieldManager: 'gitops', force: true },
      );
    await apply(90);
    const territoryRef = { apiVersion: 'sovereign.dev/v1alpha1', kind: 'Territory', name };
    await waitFor(() => op.client.get({ apiVersion: 'v1', kind: 'Namespace', name }), {
      what: 'namespace',
      timeoutMs: 10_000,
    });
    await op.client.create({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'rennes-kek', namespace: name },
      data: { kek: randomBytes(32).toString('base64') },
    });
    const keyring = { apiVersion: 'v1', kind: 'Secret', name: 'territory-keyring', namespace: name };
    await waitFor(() => op.client.get(keyring), { what: 'keyring', timeoutMs: 10_000 });
    const issued = await waitFor(
      async () => {
        const status = (await op.client.get(territoryRef))?.status as StatusWithKeys | undefined;
        return status?.keys?.versions.length ? status.keys.versions.map((v) => v.id) : undefined;
      },
      { what: 'key ids in status', timeoutMs: 10_000 },
    );

    // The keyring is deleted behind the operator's back (or its namespace was re-created).
    await op.client.delete(keyring);
    const lostIn = async (generation?: number) =>
      waitFor(
        async () => {
          const live = await op.client.get(territoryRef);
          const status = live?.status as StatusWithKeys | undefined;
          const keys = status?.conditions?.find((c) => c.type === 'KeysReady');
          const observed = generation === undefined || status?.observedGeneration === generation;
          return observed && keys?.reason === 'KeyringLost' ? status : undefined;
        },
        { what: 'KeysReady=False KeyringLost', timeoutMs: 10_000 },
      );
    await lostIn();
    // The Territory as it was before any status write: what a watch lagging behind them (the
    // Territories' watch is not ordered with the Secrets') would still hand the reconciler.
    const { status: _written, ...beforeKeys } = (await op.client.get(territoryRef)) as KubeObject;
    await op.operator.reconciler.reconcile(name, beforeKeys, silentLogger);
    expect(await op.client.get(keyring), 'a stale Territory did not start a new keyring').toBeUndefined();
    const afterStale = (await op.client.get(territoryRef))?.status as StatusWithKeys | undefined;
    expect(afterStale?.conditions?.find((c) => c.type === 'KeysReady')?.reason).toBe('KeyringLost');
    expect(afterStale?.keys?.versions.map((v) => v.id)).toEqual(issued);
    // Each spec edit is a reconcile and a status write after the loss: the issued key ids must survive
    // every one of them, or the next reconcile would see none and start a new keyring.
    for (const rotationDays of [60, 45]) {
      await apply(rotationDays);
      const generation = (await op.client.get(territoryRef))?.metadata.generation;
      const status = await lostIn(generation);
      expect(status?.keys?.versions.map((v) => v.id)).toEqual(issued);
    }
    expect(await op.client.get(keyring), 'no new keyring was generated').toBeUndefined();
  });
});

type StatusWithKeys = {
  observedGeneration?: number;
  conditions?: { type: string; reason?: string }[];
  keys?: { versions: { id: string }[] };
};

describe('a keyring restored from escrow before the Territory', () => {
  it('is adopted as it is (labelled, same key ids and bytes), never replaced by a new one', async () => {
    // Disaster recovery (docs/disaster-recovery.md): on a new cluster, the platform hands the namespace over
    // by its labels and puts back the exported keyring, unlabelled, before it applies the Territory.
    const op = await operator();
    const name = uniqueName('escrow');
    const kek = randomBytes(32);
    const escrowed = serializeKeyring(
      newKeyring({
        // Yesterday's: not due for rotation, so the keyring is exactly the one put back.
        now: new Date(Date.now() - 86_400_000),
        randomBytes,
        kek: { secretName: 'rennes-kek', key: 'kek', material: kek },
      }),
    );
    await op.client.create({
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: {
        name,
        labels: { 'app.kubernetes.io/managed-by': 'territory-operator', 'sovereign.dev/territory': name },
      },
    });
    for (const [secret, data] of [
      ['rennes-kek', { kek: kek.toString('base64') }],
      ['territory-keyring', { [KEYRING_KEY]: Buffer.from(escrowed).toString('base64') }],
    ] as const) {
      await op.client.create({
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: secret, namespace: name },
        data,
      });
    }
    await op.client.patch(
      { apiVersion: 'sovereign.dev/v1alpha1', kind: 'Territory', name },
      op.label(territory(name)),
      'apply',
      { fieldManager: 'gitops', force: true },
    );
    const territoryRef = { apiVersion: 'sovereign.dev/v1alpha1', kind: 'Territory', name };
    const status = await waitFor(
      async () => {
        const s = (await op.client.get(territoryRef))?.status as StatusWithKeys | undefined;
        return s?.conditions?.find(
          (c) => c.type === 'KeysReady' && (c as { status?: string }).status === 'True',
        )
          ? s
          : undefined;
      },
      { what: 'KeysReady=True with the escrowed keyring', timeoutMs: 20_000 },
    );
    const escrowedIds = (JSON.parse(escrowed) as Keyring).keys.map((k) => k.id);
    expect(status.keys?.versions.map((v) => v.id)).toEqual(escrowedIds);
    const live = await op.client.get({
      apiVersion: 'v1',
      kind: 'Secret',
      name: 'territory-keyring',
      namespace: name,
    });
    const liveKeyring = JSON.parse(
      Buffer.from(((live?.data ?? {}) as Record<string, string>)[KEYRING_KEY] ?? '', 'base64').toString(
        'utf8',
      ),
    ) as Keyring;
    expect(liveKeyring.keys).toEqual((JSON.parse(escrowed) as Keyring).keys);
    expect(live?.metadata.labels?.['app.kubernetes.io/managed-by']).toBe('territory-operator');
  });
});
