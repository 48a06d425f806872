// The namespaces nothing the operator creates may claim, whatever the CRDs let through: Kubernetes' own
// (also refused at admission), CloudNativePG's and the operator's (they depend on the installation, so
// only the operator knows them). A Territory or a DatabasePool there would put tenants, or the pool's
// data, in charge of the platform. Pure.
import { isReservedNamespace } from '../api/patterns.ts';
import type { OperatorConfig } from '../config/operator-config.ts';

/** Whose namespace `name` is, in words, when it is reserved; undefined when it may be claimed. */
export function reservedNamespaceOwner(
  name: string,
  config: Pick<OperatorConfig, 'cnpgNamespace' | 'operatorNamespace'>,
): string | undefined {
  if (isReservedNamespace(name)) return 'reserved by Kubernetes';
  if (name === config.cnpgNamespace) {
    return 'CloudNativePG’s namespace on this cluster (operator configuration cnpgNamespace)';
  }
  if (name === config.operatorNamespace) {
    return 'the Territory operator’s own namespace (operator configuration operatorNamespace)';
  }
  return undefined;
}
