// The operator's own permissions, computed (pure) from what it does, so the Helm chart's RBAC can never
// drift from the code: the kinds it owns (OWNED_KINDS), the Roles it hands to each authority (Kubernetes'
// RBAC escalation check only lets a subject create a Role granting permissions it holds itself; we avoid
// the `escalate` and `bind` verbs, which would let the operator grant anything), and the few reads and
// writes of the controller loop itself (Territories, Nodes, the database's Pods, Events, its leader-election
// Lease).
import { GROUP, PLURAL } from '../api/territory.ts';
import { ADMIN_RULES, type PolicyRule, READER_RULES } from '../builders/rbac.ts';
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

/** What the reconcile loop needs beyond its owned kinds. */
export const CONTROLLER_RULES: readonly PolicyRule[] = [
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
  // The database's Pods, listed (never watched) only while a database is not healthy, to say why one
  // cannot be scheduled. Also granted through the tenant Roles' rules; stated here so it survives them.
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
  tenantRules: readonly PolicyRule[];
  controllerRules: readonly PolicyRule[];
}

export const DEFAULT_RBAC_INPUTS: OperatorRbacInputs = {
  ownedKinds: OWNED_KINDS,
  tenantRules: [...ADMIN_RULES, ...READER_RULES],
  controllerRules: CONTROLLER_RULES,
};

/** The operator's ClusterRole rules: owned kinds + the tenant Roles it creates + its controller loop. */
export function operatorClusterRoleRules(inputs: OperatorRbacInputs = DEFAULT_RBAC_INPUTS): PolicyRule[] {
  return mergeRules([...ownedKindRules(inputs.ownedKinds), ...inputs.tenantRules, ...inputs.controllerRules]);
}

/** The namespaced Role for leader election, in the operator's namespace only. */
export function leaderElectionRoleRules(): PolicyRule[] {
  return mergeRules(LEADER_ELECTION_RULES);
}

/** Whether `rules` allow `verb` on `group/resource` (exact RBAC semantics, `*` included). */
export function allows(rules: readonly PolicyRule[], group: string, resource: string, verb: string): boolean {
  return rules.some(
    (r) =>
      (r.apiGroups.includes(group) || r.apiGroups.includes('*')) &&
      (r.resources.includes(resource) || r.resources.includes('*')) &&
      (r.verbs.includes(verb) || r.verbs.includes('*')),
  );
}
