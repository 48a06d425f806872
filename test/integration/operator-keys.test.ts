// Issue 5: a keyring is created once and never regenerated. Across operator restarts, re-applies of the
// same manifest and spec edits, its key ids and bytes stay the same; and no key material or password
// ever shows in the operator's logs, the Events or the Territory's status.
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, inject, it } from 'vitest';
import type { KubeObject } from '../../operator/src/runtime/types.ts';
import { uniqueName, waitFor } from '../support/kube.ts';
import { startTestOperator, type TestOperator } from '../support/operator.ts';

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
  return {
    apiVersion: 'sovereign.dev/v1alpha1',
    kind: 'Territory',
    metadata: { name },
    spec: {
      authority: { kind: 'epci', code: '243500139' },
      controller: {
        contactEmail: 'donnees@rennes.example.fr',
        dpo: { email: 'dpo@rennes.example.fr' },
        purposes: [
          { name: 'mobility', dataCategories: ['trips'], dataSubjects: ['travellers'], retentionDays: 730 },
        ],
      },
      hosting: { level: 'secnumcloud' },
      encryption: { rotationDays, customerKey: { secretName: 'rennes-kek' } },
      backup: {
        destination: {
          endpoint: 'https://oos.cloudgouv-eu-west-1.outscale.com',
          bucket: 'rennes-backups',
          credentialsSecret: { name: 'oos' },
        },
      },
    },
  };
}

const secretData = async (op: TestOperator, namespace: string, name: string) =>
  (await op.client.get({ apiVersion: 'v1', kind: 'Secret', name, namespace }))?.data as
    | Record<string, string>
    | undefined;

/** Every secret value in base64 and in clear, and each key's material as stored in the keyring. */
function secretsToLookFor(secrets: Record<string, string>[]): string[] {
  const out: string[] = [];
  for (const data of secrets) {
    for (const b64 of Object.values(data)) {
      const clear = Buffer.from(b64, 'base64').toString('utf8');
      out.push(b64);
      if (clear.length >= 12) out.push(clear);
      try {
        const keyring = JSON.parse(clear) as { keys?: { material: string }[] };
        for (const k of keyring.keys ?? []) out.push(k.material);
      } catch {
        // not a keyring: a password, already listed
      }
    }
  }
  return out.filter((s) => s.length >= 12);
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

    // No secret in logs, Events or status.
    const secrets = [
      original,
      (await secretData(op, name, 'db-owner')) ?? {},
      (await secretData(op, name, 'db-purpose-mobility')) ?? {},
      { kek },
    ];
    const needles = secretsToLookFor(secrets);
    expect(needles.length).toBeGreaterThan(4);
    const events = await op.client.list({
      apiVersion: 'events.k8s.io/v1',
      kind: 'Event',
      namespace: 'default',
    });
    const haystacks = {
      logs: started.flatMap((o) => o.logs).join('\n'),
      events: JSON.stringify(events.items),
      status: JSON.stringify(t.status),
    };
    expect(haystacks.logs.length).toBeGreaterThan(0);
    for (const [where, text] of Object.entries(haystacks)) {
      for (const needle of needles)
        expect(text.includes(needle), `a secret value appears in ${where}`).toBe(false);
    }
  });
});
