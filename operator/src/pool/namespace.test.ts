import { describe, expect, it } from 'vitest';
import { LABELS, MANAGED_BY } from '../builders/context.ts';
import type { KubeObject } from '../runtime/types.ts';
import { isPoolNamespace, poolNamespaceConflict, reservedPoolNamespace } from './namespace.ts';

const namespace = (labels?: Record<string, string>): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Namespace',
  metadata: { name: 'db-pool-35', ...(labels ? { labels } : {}) },
});
const config = { cnpgNamespace: 'cnpg-system', operatorNamespace: 'territory-system' };

describe('reservedPoolNamespace', () => {
  it("refuses Kubernetes', CloudNativePG's and the operator's namespaces, saying nothing was created", () => {
    for (const name of ['kube-system', 'default', 'cnpg-system', 'territory-system']) {
      const outcome = reservedPoolNamespace(name, config);
      expect(outcome).toMatchObject({ ready: false, reason: 'ReservedNamespace' });
      expect(outcome?.progressing).toBeFalsy();
      expect(outcome?.message).toContain(`namespace ${name} is `);
      expect(outcome?.message).toContain('nothing was created');
    }
    expect(reservedPoolNamespace('db-pool-35', config)).toBeUndefined();
  });
});

describe('the namespace of a pool', () => {
  const ours = { [LABELS.pool]: 'pool-35', [LABELS.managedBy]: MANAGED_BY };

  it('is one labelled for this pool by the operator', () => {
    expect(isPoolNamespace(namespace(ours), 'pool-35')).toBe(true);
    expect(poolNamespaceConflict(namespace(ours), 'pool-35')).toBeUndefined();
  });

  it("is never a Territory's, even one labelled for this very pool (its tenant)", () => {
    const tenant = namespace({ ...ours, [LABELS.territory]: 'rennes' });
    expect(isPoolNamespace(tenant, 'pool-35')).toBe(false);
    const conflict = poolNamespaceConflict(tenant, 'pool-35');
    expect(conflict).toMatchObject({ ready: false, reason: 'NamespaceConflict' });
    expect(conflict?.message).toContain('belongs to Territory rennes');
  });

  it("is never another pool's, nor one made by someone else, nor one whose labels a person could copy halfway", () => {
    expect(
      poolNamespaceConflict(namespace({ ...ours, [LABELS.pool]: 'pool-29' }), 'pool-35')?.message,
    ).toContain('belongs to DatabasePool pool-29');
    expect(poolNamespaceConflict(namespace(), 'pool-35')?.message).toContain(
      'was not created for this DatabasePool',
    );
    expect(isPoolNamespace(namespace({ [LABELS.pool]: 'pool-35' }), 'pool-35')).toBe(false);
  });
});
