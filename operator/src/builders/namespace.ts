// The Territory's namespace: the isolation boundary. Pod Security Admission enforces `restricted`
// so no workload of the authority can escape its sandbox.
import { type BuildContext, LABELS, namespaceOf, type Owned, ownedMeta } from './context.ts';

export const POD_SECURITY_LABELS = {
  'pod-security.kubernetes.io/enforce': 'restricted',
  'pod-security.kubernetes.io/enforce-version': 'latest',
  'pod-security.kubernetes.io/audit': 'restricted',
  'pod-security.kubernetes.io/warn': 'restricted',
} as const;

export function buildNamespace(ctx: BuildContext): Owned {
  const pool = ctx.databasePool;
  const meta = ownedMeta(ctx, namespaceOf(ctx.territory), 'namespace', {
    namespaced: false,
    // A database in a pool: the pool's instances let in the namespaces labelled for it (pool.ts). A tenant
    // cannot label its own namespace, and the operator labels it for the pool it decided only.
    labels: pool ? { ...POD_SECURITY_LABELS, [LABELS.pool]: pool.name } : POD_SECURITY_LABELS,
    annotations: {
      'sovereign.dev/official-name': ctx.authority.officialName,
      'sovereign.dev/data-controller': ctx.authority.officialName,
    },
  });
  return { apiVersion: 'v1', kind: 'Namespace', metadata: meta };
}
