// The operator's own permissions, computed (pure) from what it does, so the Helm chart's RBAC can never
// drift from the code: the kinds it owns (OWNED_KINDS), `bind` on exactly the two tenant ClusterRoles the
// chart ships (so it hands them out without holding what they grant: no Pod or Deployment write, a Job
// only to create a restore, no Secret it does not own through its admission policy), and the few reads and writes of the controller
// loops themselves (Territories, DatabasePools and their tenants' Databases, Nodes, the database's Pods,
// Events, its leader-election Lease).
import { POOL_PLURAL } from '../api/pool.ts';
import { GROUP, PLURAL } from '../api/territory.ts';
import { ADMIN_RULES, type PolicyRule, READER_RULES } from '../builders/rbac.ts';
import type { OperatorConfig } from '../config/operator-config.ts';
import { OWNED_KINDS, type OwnedKind } from '../territory/owned-kinds.ts';

export type { PolicyRule } from '../builders/rbac.ts';

/** Everything a controller does with an object it owns: watch into a cache, server-side apply, prune. */
export const OWNER_VERBS = ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'] as const;

/** Canonical verb order, so generated YAML is stable and reads like kubectl's output. */
const VERB_ORDER = [
  'get',
  'list',
  'watch',
  'create',
  'update',
  'patch',
  'delete',
  'deletecollection',
] as const;

/** The Lease the manager's leader election holds, in the operator's own namespace. */
export const LEADER_ELECTION_RULES: readonly PolicyRule[] = [
  { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get', 'create', 'update', 'patch'] },
];

/** `Namespace` → `namespaces`, `NetworkPolicy` → `networkpolicies`: the REST resource of a kind. */
export function resourceOf(kind: string): string {
  const lower = kind.toLowerCase();
  if (/[^aeiou]y$/.test(lower)) return `${lower.slice(0, -1)}ies`;
  if (/(s|x|ch|sh)$/.test(lower)) return `${lower}es`;
  return `${lower}s`;
}

/** `postgresql.cnpg.io/v1` → `postgresql.cnpg.io`; `v1` → `` (the core group). */
export function groupOf(apiVersion: string): string {
  const slash = apiVersion.lastIndexOf('/');
  return slash < 0 ? '' : apiVersion.slice(0, slash);
}

function ownedKindRules(kinds: readonly OwnedKind[]): PolicyRule[] {
  return kinds.map((k) => ({
    apiGroups: [groupOf(k.apiVersion)],
    resources: [resourceOf(k.kind)],
    verbs: [...OWNER_VERBS],
  }));
}

/**
 * What the DatabasePool controller needs beyond the kinds a Territory owns (it creates and deletes the same
 * kinds: namespaces, NetworkPolicies, CloudNativePG Clusters, and reads its CA Secret).
 */
export const POOL_RULES: readonly PolicyRule[] = [
  // DatabasePools are watched and carry the pool's finalizer; their status is the operator's.
  { apiGroups: [GROUP], resources: [POOL_PLURAL], verbs: ['get', 'list', 'watch', 'update', 'patch'] },
  { apiGroups: [GROUP], resources: [`${POOL_PLURAL}/status`], verbs: ['get', 'update', 'patch'] },
  { apiGroups: [GROUP], resources: [`${POOL_PLURAL}/finalizers`], verbs: ['update'] },
  // A pool's tenants are the Database objects in its namespace: counted (status.tenants), and read before
  // a deleted pool's Cluster is deleted (never written by the pool controller).
  { apiGroups: ['postgresql.cnpg.io'], resources: ['databases'], verbs: ['get', 'list', 'watch'] },
];

/** What the reconcile loop needs beyond its owned kinds. */
export const CONTROLLER_RULES: readonly PolicyRule[] = [
  ...POOL_RULES,
  // Territories are watched and carry the operator's finalizer (metadata, so patch on the main resource).
  { apiGroups: [GROUP], resources: [PLURAL], verbs: ['get', 'list', 'watch', 'update', 'patch'] },
  { apiGroups: [GROUP], resources: [`${PLURAL}/status`], verbs: ['get', 'update', 'patch'] },
  // Owner references with blockOwnerDeletion need update on the owner's finalizers subresource where the
  // OwnerReferencesPermissionEnforcement admission plugin is on (OpenShift, hardened clusters).
  { apiGroups: [GROUP], resources: [`${PLURAL}/finalizers`], verbs: ['update'] },
  // Node region labels are the evidence of French hosting (read only).
  { apiGroups: [''], resources: ['nodes'], verbs: ['get', 'list', 'watch'] },
  // The API server's addresses (the `kubernetes` Service's EndpointSlices), for the database Pods' egress.
  { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['get', 'list', 'watch'] },
  // The restore drills' Jobs (created by the CronJob controller), watched to read how each drill ended;
  // and the declarative restores' Jobs, created once per request (never updated, never deleted: the Job
  // is the record that the request ran). The admission policy pins their image and namespaces, as for
  // the CronJobs (which could already start any Job: this grants no Pod the operator could not start).
  { apiGroups: ['batch'], resources: ['jobs'], verbs: ['list', 'watch', 'create'] },
  // The database's Pods, listed (never watched) only while a database is not healthy, to say why one
  // cannot be scheduled; and a restore Job's Pod, listed once when the Job has ended, for its
  // termination message (the restore's result: counts, never data).
  { apiGroups: [''], resources: ['pods'], verbs: ['list'] },
  // Events about Territories (events.k8s.io/v1; a repeated event is patched, not recreated).
  { apiGroups: ['events.k8s.io'], resources: ['events'], verbs: ['create', 'patch'] },
];

function sortVerbs(verbs: Iterable<string>): string[] {
  const rank = (v: string) => {
    const i = (VERB_ORDER as readonly string[]).indexOf(v);
    return i < 0 ? VERB_ORDER.length : i;
  };
  return [...new Set(verbs)].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}

/**
 * The union of `rules`, normalised: one (group, resource) gets the union of its verbs, then resources of
 * one group sharing exactly the same verbs are folded into one rule. Deterministic, and never broader than
 * the input (no wildcard is ever introduced).
 */
export function mergeRules(rules: readonly PolicyRule[]): PolicyRule[] {
  const verbsOf = new Map<string, Set<string>>(); // key: group \0 resource
  for (const rule of rules) {
    for (const group of rule.apiGroups) {
      for (const resource of rule.resources) {
        const key = `${group}\0${resource}`;
        const set = verbsOf.get(key) ?? new Set<string>();
        for (const verb of rule.verbs) set.add(verb);
        verbsOf.set(key, set);
      }
    }
  }
  const folded = new Map<string, PolicyRule>(); // key: group \0 verbs
  for (const [key, verbs] of verbsOf) {
    const [group = '', resource = ''] = key.split('\0');
    const sorted = sortVerbs(verbs);
    const foldKey = `${group}\0${sorted.join(',')}`;
    const rule = folded.get(foldKey) ?? { apiGroups: [group], resources: [], verbs: sorted };
    rule.resources.push(resource);
    folded.set(foldKey, rule);
  }
  const out = [...folded.values()].map((r) => ({ ...r, resources: [...r.resources].sort() }));
  return out.sort(
    (a, b) =>
      (a.apiGroups[0] ?? '').localeCompare(b.apiGroups[0] ?? '') ||
      (a.resources[0] ?? '').localeCompare(b.resources[0] ?? '') ||
      a.verbs.join(',').localeCompare(b.verbs.join(',')),
  );
}

export interface OperatorRbacInputs {
  ownedKinds: readonly OwnedKind[];
  controllerRules: readonly PolicyRule[];
}

export const DEFAULT_RBAC_INPUTS: OperatorRbacInputs = {
  ownedKinds: OWNED_KINDS,
  controllerRules: CONTROLLER_RULES,
};

/**
 * The operator's ClusterRole rules: owned kinds + its controller loop. The `bind` rule on the tenant
 * ClusterRoles is added by the chart (bindTenantRolesRule), which alone knows their release-specific names.
 */
export function operatorClusterRoleRules(inputs: OperatorRbacInputs = DEFAULT_RBAC_INPUTS): PolicyRule[] {
  return mergeRules([...ownedKindRules(inputs.ownedKinds), ...inputs.controllerRules]);
}

/**
 * What lets the operator create the per-namespace RoleBindings: `bind` on these two ClusterRoles by name.
 * Kubernetes' escalation check then accepts a binding to them without the operator holding their rules,
 * and refuses a binding to any other role (cluster-admin included).
 */
export function bindTenantRolesRule(roles: OperatorConfig['tenantRoles']): PolicyRule {
  return {
    apiGroups: ['rbac.authorization.k8s.io'],
    resources: ['clusterroles'],
    verbs: ['bind'],
    resourceNames: [roles.admin, roles.reader],
  };
}

/** The two ClusterRoles the tenants' RoleBindings refer to (installed by the chart, or by `npm start`). */
export function tenantClusterRoles(roles: OperatorConfig['tenantRoles']): Array<{
  apiVersion: string;
  kind: 'ClusterRole';
  metadata: { name: string; labels: Record<string, string> };
  rules: PolicyRule[];
}> {
  const labels = { 'app.kubernetes.io/part-of': 'territory-operator' };
  const clusterRole = (name: string, rules: readonly PolicyRule[]) => ({
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRole' as const,
    metadata: { name, labels },
    rules: mergeRules(rules),
  });
  return [clusterRole(roles.admin, ADMIN_RULES), clusterRole(roles.reader, READER_RULES)];
}

/** The namespaced Role for leader election, in the operator's namespace only. */
export function leaderElectionRoleRules(): PolicyRule[] {
  return mergeRules(LEADER_ELECTION_RULES);
}

/**
 * Whether `rules` allow `verb` on `group/resource` (RBAC semantics, `*` included). Without `name`, a rule
 * restricted to resourceNames does not count: it allows nothing on an unnamed request (list, create).
 */
export function allows(
  rules: readonly PolicyRule[],
  group: string,
  resource: string,
  verb: string,
  name?: string,
): boolean {
  return rules.some(
    (r) =>
      (r.apiGroups.includes(group) || r.apiGroups.includes('*')) &&
      (r.resources.includes(resource) || r.resources.includes('*')) &&
      (r.verbs.includes(verb) || r.verbs.includes('*')) &&
      (!r.resourceNames?.length || (name !== undefined && r.resourceNames.includes(name))),
  );
}
