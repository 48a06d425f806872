// Whether a DatabasePool may have the namespace its spec names. The pool's data lives there, and its
// NetworkPolicies decide who reaches it: a namespace that is the platform's, a Territory's, another
// pool's or anyone else's is refused, and left exactly as it is. Pure.
import { LABELS, MANAGED_BY } from '../builders/context.ts';
import type { OperatorConfig } from '../config/operator-config.ts';
import type { KubeObject } from '../runtime/types.ts';
import { reservedNamespaceOwner } from '../territory/reserved-namespaces.ts';
import { POOL_READY_REASONS, type PoolOutcome } from './status.ts';

const RECREATE = 'Recreate the DatabasePool with another spec.namespace (it cannot be changed in place).';

/** Kubernetes', CloudNativePG's or the operator's namespace: refused before anything is read or written. */
export function reservedPoolNamespace(
  name: string,
  config: Pick<OperatorConfig, 'cnpgNamespace' | 'operatorNamespace'>,
): PoolOutcome | undefined {
  const owner = reservedNamespaceOwner(name, config);
  if (!owner) return undefined;
  return {
    ready: false,
    reason: POOL_READY_REASONS.reservedNamespace,
    message: `namespace ${name} is ${owner}: a DatabasePool cannot claim it, and nothing was created. ${RECREATE}`,
  };
}

/** This pool's namespace: created by the operator for it (or handed over with the same two labels), no Territory's. */
export function isPoolNamespace(namespace: KubeObject, pool: string): boolean {
  const labels = namespace.metadata.labels ?? {};
  return (
    labels[LABELS.pool] === pool && labels[LABELS.managedBy] === MANAGED_BY && !(LABELS.territory in labels)
  );
}

/** Undefined when the live namespace is this pool's; otherwise the refusal, naming whose it is. */
export function poolNamespaceConflict(live: KubeObject, pool: string): PoolOutcome | undefined {
  if (isPoolNamespace(live, pool)) return undefined;
  const name = live.metadata.name ?? '';
  const labels = live.metadata.labels ?? {};
  const territory = labels[LABELS.territory];
  const otherPool = labels[LABELS.managedBy] === MANAGED_BY ? labels[LABELS.pool] : undefined;
  const owner = territory
    ? `belongs to Territory ${territory}: a pool never shares a Territory's namespace`
    : otherPool
      ? `belongs to DatabasePool ${otherPool}`
      : `already exists and was not created for this DatabasePool (hand it over only on purpose, by labelling ` +
        `it ${LABELS.pool}=${pool} and ${LABELS.managedBy}=${MANAGED_BY})`;
  return {
    ready: false,
    reason: POOL_READY_REASONS.namespaceConflict,
    message: `namespace ${name} ${owner}; it is left untouched and nothing was created. ${RECREATE}`,
  };
}

export function namespaceTerminating(name: string): PoolOutcome {
  return {
    ready: false,
    reason: POOL_READY_REASONS.namespaceTerminating,
    message: `namespace ${name} is being deleted; it is created again once gone`,
    progressing: true,
  };
}
