// Kubernetes RBAC rule evaluation, restated from the API server's own (k8s.io/kubernetes
// pkg/apis/rbac/v1/evaluation_helpers.go: VerbMatches, APIGroupMatches, ResourceMatches,
// ResourceNameMatches), so a unit test judges a list of rules the way the authorizer will: `*` in
// apiGroups, resources or verbs grants everything there, `*/status` grants that subresource of every
// resource, and resourceNames confine a rule to the named objects. A test that compares rule lists by
// their strings instead passes on a rule granting `*`.
//
// For a denial ("readers never get any Secret") ask with `name: ANY_NAME`: a rule confined to some
// resourceNames then counts as granting, since it grants on those objects.

export interface Rule {
  apiGroups?: readonly string[];
  resources?: readonly string[];
  verbs: readonly string[];
  resourceNames?: readonly string[];
  nonResourceURLs?: readonly string[];
}

export interface ResourceRequest {
  verb: string;
  group: string;
  /** The resource, e.g. "pods" (without subresource). */
  resource: string;
  subresource?: string;
  /** The object's name; undefined for a collection (list, create); ANY_NAME for "some object". */
  name?: string | typeof ANY_NAME;
}

/** A request about "some object, whichever": satisfied by a rule confined to any resourceNames. */
export const ANY_NAME = Symbol('any object name');

const ALL = '*';

function verbMatches(rule: Rule, verb: string): boolean {
  return rule.verbs.some((v) => v === ALL || v === verb);
}

function apiGroupMatches(rule: Rule, group: string): boolean {
  return (rule.apiGroups ?? []).some((g) => g === ALL || g === group);
}

function resourceMatches(rule: Rule, resource: string, subresource: string | undefined): boolean {
  const combined = subresource ? `${resource}/${subresource}` : resource;
  return (rule.resources ?? []).some(
    (r) =>
      r === ALL ||
      r === combined ||
      // `*/scale` grants the scale subresource of every resource.
      (subresource !== undefined && r === `*/${subresource}`),
  );
}

function resourceNameMatches(rule: Rule, name: ResourceRequest['name']): boolean {
  const names = rule.resourceNames ?? [];
  if (names.length === 0) return true;
  if (name === ANY_NAME) return true;
  return name !== undefined && names.includes(name);
}

/** Whether one rule grants the request (a rule with only nonResourceURLs grants no resource). */
export function ruleAllows(rule: Rule, request: ResourceRequest): boolean {
  return (
    verbMatches(rule, request.verb) &&
    apiGroupMatches(rule, request.group) &&
    resourceMatches(rule, request.resource, request.subresource) &&
    resourceNameMatches(rule, request.name)
  );
}

/** Whether any of the rules grants the request: RBAC is a union, there is no deny. */
export function rulesAllow(rules: readonly Rule[], request: ResourceRequest): boolean {
  return rules.some((rule) => ruleAllows(rule, request));
}

/** The verbs that change something, every one of which a read-only grant must lack. */
export const WRITE_VERBS = [
  'create',
  'update',
  'patch',
  'delete',
  'deletecollection',
  // Privilege verbs: on roles they let a subject grant what it does not hold; on users, act as another.
  'bind',
  'escalate',
  'impersonate',
  // Anything the API server adds later, or a CRD's own verb, is covered by a `*` grant only.
  'approve',
  'sign',
] as const;

export const READ_VERBS = ['get', 'list', 'watch'] as const;
