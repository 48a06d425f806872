// Access of the authority's own people to its namespace. The rules below are shipped once, as two
// ClusterRoles in the chart (files/tenant-*-rules.yaml, generated from this file); each Territory gets
// RoleBindings to them in its namespace only, so a tenant never holds a cluster-wide grant, and the
// operator needs only `bind` on those two names instead of holding every permission it hands out.
// Admins run their applications but cannot loosen their own isolation: quotas, limit ranges, network
// policies, roles and the operator's objects are read-only to them (RBAC here, and the chart's
// admission policy for the objects of kinds they may otherwise write).
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
  // Where the physical backups go and with which credentials: the Territory's spec decides, not its admins.
  { apiGroups: ['barmancloud.cnpg.io'], resources: ['objectstores'] },
];

/**
 * The bindings' names. They differ from the Roles earlier releases created in each namespace
 * (`territory-admin`, `territory-reader`), so an upgrade prunes the old bindings instead of failing
 * on their immutable roleRef.
 */
export const ADMIN_BINDING = 'territory-admins';
export const READER_BINDING = 'territory-readers';

function binding(ctx: BuildContext, name: string, clusterRole: string, groups: string[]): Owned {
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'RoleBinding',
    metadata: ownedMeta(ctx, name, 'rbac'),
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: clusterRole },
    subjects: groups.map((name) => ({ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name })),
  };
}

export interface PolicyRule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  resourceNames?: string[];
}

/** Rules of the authority's admin ClusterRole (bound per namespace). */
export const ADMIN_RULES: readonly PolicyRule[] = [
  ...WORKLOADS.map((r) => ({ ...r, verbs: WRITE })),
  // Admins create the Secrets the platform asks of them (backup credentials, the customer key).
  { apiGroups: [''], resources: ['secrets'], verbs: WRITE },
  ...GUARDRAILS.map((r) => ({ ...r, verbs: READ })),
  // An on-demand physical backup is the authority's call.
  { apiGroups: ['postgresql.cnpg.io'], resources: ['backups'], verbs: ['create'] },
];

/** Rules of the authority's reader ClusterRole (read-only, no Secrets). */
export const READER_RULES: readonly PolicyRule[] = [...WORKLOADS, ...GUARDRAILS].map((r) => ({
  ...r,
  verbs: READ,
}));

export function buildRbac(ctx: BuildContext): Owned[] {
  const { adminGroups, readerGroups } = ctx.territory.spec.access;
  const roles = ctx.config.tenantRoles;
  const objects: Owned[] = [];
  // A RoleBinding must name at least one subject to be useful; an empty list would grant nothing anyway.
  if (adminGroups.length > 0) objects.push(binding(ctx, ADMIN_BINDING, roles.admin, adminGroups));
  if (readerGroups.length > 0) objects.push(binding(ctx, READER_BINDING, roles.reader, readerGroups));
  return objects;
}
