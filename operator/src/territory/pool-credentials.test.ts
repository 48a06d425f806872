import { describe, expect, it } from 'vitest';
import { inPool } from '../builders/fixtures.test-helpers.ts';
import { buildCredentialSecret } from '../builders/keys.ts';
import { isScramSha256Verifier, scramSha256Verifier } from '../keys/scram.ts';
import type { KubeObject } from '../runtime/types.ts';
import { planPoolCredentials } from './pool-credentials.ts';

const ctx = inPool();
const ROTATED = '2026-12-01T00:00:00Z';
const randomBytes = (n: number) => new Uint8Array(n).fill(7);

/** The Territory's Secret as the API server returns it: data, base64, and a resourceVersion. */
function stored(object: { metadata?: unknown; stringData?: Record<string, string> }, rv = '1'): KubeObject {
  const { stringData, ...rest } = object as {
    stringData: Record<string, string>;
    metadata: KubeObject['metadata'];
  };
  return {
    ...(rest as unknown as KubeObject),
    metadata: { ...rest.metadata, resourceVersion: rv },
    data: Object.fromEntries(
      Object.entries(stringData).map(([k, v]) => [k, Buffer.from(v).toString('base64')]),
    ),
  } as KubeObject;
}

function tenantSecrets(rotatedAt = ROTATED, password = (name: string) => `pw-${name}`) {
  const byName = new Map<string, KubeObject>();
  for (const [name, username] of [
    ['db-owner', 't_rennes_metropole__owner'],
    ['db-purpose-mobility', 't_rennes_metropole__p_mobility'],
    ['db-purpose-waste', 't_rennes_metropole__p_waste'],
    ['db-backup', 't_rennes_metropole__backup'],
  ] as const) {
    byName.set(
      name,
      stored(buildCredentialSecret(ctx, name, { username, password: password(name), rotatedAt })),
    );
  }
  return byName;
}

const plan = (source: Map<string, KubeObject>, live: Map<string, KubeObject> = new Map()) =>
  planPoolCredentials({ ctx, source: (n) => source.get(n), live: (n) => live.get(n), randomBytes });

/** The password a write gives its copy. */
const passwordWritten = (write: { object: unknown } | undefined) =>
  (write?.object as { stringData?: { password?: string } } | undefined)?.stringData?.password;

/** The copies a first plan creates, as the API server would return them. */
function createdCopies(source = tenantSecrets()) {
  return new Map(
    plan(source).writes.map((w) => [w.object.metadata?.name as string, stored(w.object as never, '5')]),
  );
}

describe('planPoolCredentials', () => {
  it('creates, in the pool’s namespace, one copy per role holding a verifier of its password, never the password', () => {
    const { writes, waiting } = plan(tenantSecrets());
    expect(waiting).toEqual([]);
    expect(writes.map((w) => [w.op, w.object.metadata?.namespace, w.object.metadata?.name])).toEqual([
      ['create', 'db-pool-35', 'rennes-metropole.db-owner'],
      ['create', 'db-pool-35', 'rennes-metropole.db-purpose-mobility'],
      ['create', 'db-pool-35', 'rennes-metropole.db-purpose-waste'],
      ['create', 'db-pool-35', 'rennes-metropole.db-backup'],
    ]);
    expect(JSON.stringify(writes)).not.toContain('pw-');
    const owner = writes[0]?.object as {
      stringData: Record<string, string>;
      metadata: KubeObject['metadata'];
    };
    expect(owner.stringData.username).toBe('t_rennes_metropole__owner');
    expect(owner.stringData.password).toBe(scramSha256Verifier('pw-db-owner', randomBytes(16)));
    expect(isScramSha256Verifier(owner.stringData.password ?? '')).toBe(true);
    expect(owner.metadata.annotations).toEqual({ 'sovereign.dev/rotated-at': ROTATED });
  });

  it('waits for a Secret of the Territory that does not exist yet', () => {
    const source = tenantSecrets();
    source.delete('db-backup');
    const { writes, waiting } = plan(source);
    expect(waiting).toEqual(['db-backup']);
    expect(writes).toHaveLength(3);
  });

  it('writes nothing when every copy follows its source', () => {
    expect(plan(tenantSecrets(), createdCopies()).writes).toEqual([]);
  });

  it('rewrites a copy from its source after a rotation, with a precondition on the copy', () => {
    const copies = createdCopies();
    const rotated = tenantSecrets('2027-01-01T00:00:00Z', (name) => `new-${name}`);
    const { writes } = plan(rotated, copies);
    expect(writes).toHaveLength(4);
    for (const write of writes) {
      expect(write).toMatchObject({ op: 'replace', resourceVersion: '5' });
      expect(write.object.metadata?.annotations).toEqual({
        'sovereign.dev/rotated-at': '2027-01-01T00:00:00Z',
      });
    }
    expect(passwordWritten(writes[0])).toBe(scramSha256Verifier('new-db-owner', randomBytes(16)));
  });

  it('takes a source just written by planCredentials (stringData), so a rotation reaches the pool at once', () => {
    const source = tenantSecrets();
    const written = buildCredentialSecret(ctx, 'db-owner', {
      username: 't_rennes_metropole__owner',
      password: 'just-rotated',
      rotatedAt: '2027-01-01T00:00:00Z',
    }) as unknown as KubeObject;
    source.set('db-owner', written);
    const { writes } = plan(source, createdCopies());
    expect(writes.map((w) => w.object.metadata?.name)).toEqual(['rennes-metropole.db-owner']);
    expect(passwordWritten(writes[0])).toBe(scramSha256Verifier('just-rotated', randomBytes(16)));
  });

  it('rewrites a copy whose username is not its role’s', () => {
    const copies = createdCopies();
    const owner = copies.get('rennes-metropole.db-owner') as KubeObject;
    copies.set('rennes-metropole.db-owner', {
      ...owner,
      data: { ...(owner.data as object), username: Buffer.from('someone').toString('base64') },
    } as KubeObject);
    expect(plan(tenantSecrets(), copies).writes.map((w) => [w.op, w.object.metadata?.name])).toEqual([
      ['replace', 'rennes-metropole.db-owner'],
    ]);
  });

  it('restores drifted labels without touching the verifier', () => {
    const copies = createdCopies();
    const owner = copies.get('rennes-metropole.db-owner') as KubeObject;
    copies.set('rennes-metropole.db-owner', { ...owner, metadata: { ...owner.metadata, labels: {} } });
    const { writes } = plan(tenantSecrets(), copies);
    expect(writes).toHaveLength(1);
    expect(writes[0]?.object.data).toEqual(owner.data);
    expect(writes[0]?.object.metadata?.labels).toMatchObject({ 'cnpg.io/reload': 'true' });
  });
});
