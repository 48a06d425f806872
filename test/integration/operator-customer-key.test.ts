// An authority's key must look like a key: the operator refuses a customer key that is 32 printable
// characters (a password), says how to generate a real one, creates no keyring with it, and goes on
// as soon as the Secret holds a random key.
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, inject, it } from 'vitest';
import type { KubeObject } from '../../operator/src/runtime/types.ts';
import { uniqueName, waitFor } from '../support/kube.ts';
import { startTestOperator, type TestOperator } from '../support/operator.ts';
import { secnumcloudTerritory } from '../support/territories.ts';

type Cond = { type: string; status: string; reason: string; message: string };
const started: TestOperator[] = [];
afterAll(async () => {
  await Promise.all(started.map((o) => o.stop()));
});

describe('the customer key', () => {
  it('is refused when it is a password, with how to make a key, and accepted once it is random', async () => {
    const op = await startTestOperator({
      kubeconfigPath: inject('kubeconfigPath'),
      shard: uniqueName('kek'),
      config: {
        cluster: {
          provider: 'outscale',
          regions: ['cloudgouv-eu-west-1'],
          qualification: 'secnumcloud',
          nodeEvidence: 'attestation-only',
        },
      },
    });
    started.push(op);
    const name = uniqueName('kek');
    const territory: KubeObject = op.label(secnumcloudTerritory(name));
    await op.client.create(territory);
    await waitFor(() => op.client.get({ apiVersion: 'v1', kind: 'Namespace', name }), { what: 'namespace' });
    const password = 'Rennes-Metropole-2026-Secret-Kek';
    expect(password).toHaveLength(32);
    await op.client.create({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'rennes-kek', namespace: name },
      stringData: { kek: password },
    });
    const keysReady = async () => {
      const t = await op.client.get({ apiVersion: 'sovereign.dev/v1alpha1', kind: 'Territory', name });
      return (t?.status as { conditions?: Cond[] } | undefined)?.conditions?.find(
        (c) => c.type === 'KeysReady',
      );
    };
    const refused = await waitFor(
      async () => ((await keysReady())?.reason === 'CustomerKeyInvalid' ? keysReady() : undefined),
      {
        what: 'KeysReady=False CustomerKeyInvalid',
      },
    );
    expect(refused?.status).toBe('False');
    expect(refused?.message).toContain('looks like a password');
    expect(refused?.message).toContain('openssl rand 32');
    expect(refused?.message).not.toContain(password);
    expect(
      await op.client.get({ apiVersion: 'v1', kind: 'Secret', name: 'territory-keyring', namespace: name }),
    ).toBeUndefined();
    expect(op.logs.join('\n')).not.toContain(password);

    await op.client.patch(
      { apiVersion: 'v1', kind: 'Secret', name: 'rennes-kek', namespace: name },
      { data: { kek: randomBytes(32).toString('base64') }, stringData: null },
      'merge',
    );
    const keyring = await waitFor(
      () => op.client.get({ apiVersion: 'v1', kind: 'Secret', name: 'territory-keyring', namespace: name }),
      { what: 'the keyring, once the key is random' },
    );
    const json = JSON.parse(
      Buffer.from((keyring.data as Record<string, string>)['keyring.json'] ?? '', 'base64').toString(),
    );
    expect(json.wrapping.kekFingerprint).toMatch(/^hmac-sha256:[0-9a-f]{32}$/);
    await op.client.delete({ apiVersion: 'sovereign.dev/v1alpha1', kind: 'Territory', name });
  });
});
