// Access of the authority's own people to its namespace. Namespace-scoped only: a tenant never gets a
// ClusterRole binding. Admins run their applications but cannot loosen their own isolation: quotas,
// limit ranges, network policies, roles and the operator's objects are read-only to them.
import type { BuildContext, Owned } from './context.ts';
import { ownedMeta } from './context.ts';

const READ = ['get', 'list', 'watch'];
const WRITE = ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'];

/** Workload kinds the authority manages itself. Secrets are left out: readers never see them. */
const WORKLOADS = [
  {
    apiGroups: [''],
    resources: [
      'pods',
      'pods/log',
      'services',
      'endpoints',
      'configmaps',
      'persistentvolumeclaims',
      'serviceaccounts',
    ],
  },
  { apiGroups: ['apps'], resources: ['deployments', 'statefulsets', 'replicasets'] },
  { apiGroups: ['batch'], resources: ['jobs', 'cronjobs'] },
  { apiGroups: ['networking.k8s.io'], resources: ['ingresses'] },
];

/** What the operator and the platform decide: visible to the authority, never editable by it. */
const GUARDRAILS = [
  { apiGroups: [''], resources: ['resourcequotas', 'limitranges', 'events'] },
  { apiGroups: ['networking.k8s.io'], resources: ['networkpolicies'] },
  { apiGroups: ['rbac.authorization.k8s.io'], resources: ['roles', 'rolebindings'] },
  { apiGroups: ['postgresql.cnpg.io'], resources: ['clusters', 'backups', 'scheduledbackups'] },
];

export const ADMIN_ROLE = 'territory-admin';
export const READER_ROLE = 'territory-reader';

function role(ctx: BuildContext, name: string, rules: PolicyRule[]): Owned {
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'Role',
    metadata: ownedMeta(ctx, name, 'rbac'),
    rules,
  };
}

function binding(ctx: BuildContext, roleName: string, groups: string[]): Owned {
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'RoleBinding',
    metadata: ownedMeta(ctx, roleName, 'rbac'),
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: roleName },
    subjects: groups.map((name) => ({ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name })),
  };
}

export interface PolicyRule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
}

/** Rules of the authority's admin Role. Exported: the operator's own ClusterRole must hold all of them. */
export const ADMIN_RULES: readonly PolicyRule[] = [
  ...WORKLOADS.map((r) => ({ ...r, verbs: WRITE })),
  // Admins create the Secrets the platform asks of them (backup credentials, the customer key).
  { apiGroups: [''], resources: ['secrets'], verbs: WRITE },
  ...GUARDRAILS.map((r) => ({ ...r, verbs: READ })),
  // An on-demand physical backup is the authority's call.
  { apiGroups: ['postgresql.cnpg.io'], resources: ['backups'], verbs: ['create'] },
];

/** Rules of the authority's reader Role (read-only, no Secrets). */
export const READER_RULES: readonly PolicyRule[] = [...WORKLOADS, ...GUARDRAILS].map((r) => ({
  ...r,
  verbs: READ,
}));

export function buildRbac(ctx: BuildContext): Owned[] {
  const { adminGroups, readerGroups } = ctx.territory.spec.access;
  const admin = role(
    ctx,
    ADMIN_ROLE,
    ADMIN_RULES.map((r) => ({ ...r })),
  );
  const reader = role(
    ctx,
    READER_ROLE,
    READER_RULES.map((r) => ({ ...r })),
  );
  const objects = [admin, reader];
  // A RoleBinding must name at least one subject to be useful; an empty list would grant nothing anyway.
  if (adminGroups.length > 0) objects.push(binding(ctx, ADMIN_ROLE, adminGroups));
  if (readerGroups.length > 0) objects.push(binding(ctx, READER_ROLE, readerGroups));
  return objects;
}
