// The Territory's namespace: the isolation boundary. Pod Security Admission enforces `restricted`
// so no workload of the authority can escape its sandbox.
import { type BuildContext, namespaceOf, type Owned, ownedMeta } from './context.ts';

export const POD_SECURITY_LABELS = {
  'pod-security.kubernetes.io/enforce': 'restricted',
  'pod-security.kubernetes.io/enforce-version': 'latest',
  'pod-security.kubernetes.io/audit': 'restricted',
  'pod-security.kubernetes.io/warn': 'restricted',
} as const;

export function buildNamespace(ctx: BuildContext): Owned {
  const meta = ownedMeta(ctx, namespaceOf(ctx.territory), 'namespace', {
    namespaced: false,
    labels: POD_SECURITY_LABELS,
    annotations: {
      'sovereign.dev/official-name': ctx.authority.officialName,
      'sovereign.dev/data-controller': ctx.authority.officialName,
    },
  });
  return { apiVersion: 'v1', kind: 'Namespace', metadata: meta };
}
