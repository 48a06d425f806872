import { describe, expect, it } from 'vitest';
import { reservedNamespaceOwner } from './reserved-namespaces.ts';

const config = { cnpgNamespace: 'cnpg-system', operatorNamespace: 'territory-system' };

describe('reservedNamespaceOwner', () => {
  it("names Kubernetes', CloudNativePG's and the operator's namespaces", () => {
    expect(reservedNamespaceOwner('default', config)).toBe('reserved by Kubernetes');
    expect(reservedNamespaceOwner('kube-system', config)).toBe('reserved by Kubernetes');
    expect(reservedNamespaceOwner('cnpg-system', config)).toMatch(/CloudNativePG/);
    expect(reservedNamespaceOwner('territory-system', config)).toMatch(/operator’s own namespace/);
  });

  it('leaves any other namespace, and an operator namespace that is not known', () => {
    expect(reservedNamespaceOwner('db-pool-35', config)).toBeUndefined();
    expect(reservedNamespaceOwner('territory-system', { cnpgNamespace: 'cnpg-system' })).toBeUndefined();
  });
});
