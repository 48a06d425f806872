import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { context, territory } from '../builders/fixtures.test-helpers.ts';
import { buildDesiredState } from '../builders/index.ts';
import { ADMIN_RULES, READER_RULES } from '../builders/rbac.ts';
import { parseOperatorConfig } from '../config/operator-config.ts';
import { OWNED_KINDS } from '../territory/owned-kinds.ts';
import {
  allows,
  bindTenantRolesRule,
  groupOf,
  leaderElectionRoleRules,
  mergeRules,
  OWNER_VERBS,
  operatorClusterRoleRules,
  type PolicyRule,
  resourceOf,
  tenantClusterRoles,
} from './operator-rbac.ts';

/** Every (group, resource, verb) a list of rules grants, as "group/resource:verb" strings. */
function grants(rules: readonly PolicyRule[]): Set<string> {
  const out = new Set<string>();
  for (const r of rules)
    for (const g of r.apiGroups)
      for (const res of r.resources) for (const v of r.verbs) out.add(`${g}/${res}:${v}`);
  return out;
}

describe('resourceOf', () => {
  it('gives the REST resource of every owned kind (checked by hand against the API)', () => {
    expect(OWNED_KINDS.map((k) => `${groupOf(k.apiVersion)}/${resourceOf(k.kind)}`)).toEqual([
      '/namespaces',
      '/resourcequotas',
      '/limitranges',
      'networking.k8s.io/networkpolicies',
      'rbac.authorization.k8s.io/rolebindings',
      '/secrets',
      'batch/cronjobs',
      'postgresql.cnpg.io/clusters',
      'postgresql.cnpg.io/scheduledbackups',
      'barmancloud.cnpg.io/objectstores',
      'postgresql.cnpg.io/databases',
      'postgresql.cnpg.io/databaseroles',
    ]);
    expect(resourceOf('Ingress')).toBe('ingresses');
    expect(resourceOf('Gateway')).toBe('gateways');
  });
});

describe('mergeRules', () => {
  const name = fc.constantFrom('', 'apps', 'batch', 'x.io');
  const resource = fc.constantFrom('pods', 'secrets', 'jobs', 'roles', 'pods/log');
  const verb = fc.constantFrom(...OWNER_VERBS);
  const rule = fc.record({
    apiGroups: fc.array(name, { minLength: 1, maxLength: 2 }),
    resources: fc.array(resource, { minLength: 1, maxLength: 3 }),
    verbs: fc.array(verb, { minLength: 1, maxLength: 4 }),
  });

  it('grants exactly what its input grants: never more, never less', () => {
    fc.assert(
      fc.property(fc.array(rule, { maxLength: 12 }), (rules) => {
        expect(grants(mergeRules(rules))).toEqual(grants(rules));
      }),
    );
  });

  it('is deterministic whatever the input order', () => {
    fc.assert(
      fc.property(fc.array(rule, { maxLength: 8 }), (rules) => {
        expect(mergeRules([...rules].reverse())).toEqual(mergeRules(rules));
      }),
    );
  });
});

describe('the operator ClusterRole', () => {
  const rules = operatorClusterRoleRules();

  it('holds full CRUD on every kind the operator owns', () => {
    for (const k of OWNED_KINDS)
      for (const v of OWNER_VERBS)
        expect(allows(rules, groupOf(k.apiVersion), resourceOf(k.kind), v), `${k.kind} ${v}`).toBe(true);
  });

  it('binds only the two tenant ClusterRoles, by name, without holding what they grant', () => {
    const roles = parseOperatorConfig({}).tenantRoles;
    const bindings = buildDesiredState(context(territory())).tenancy.filter((o) => o.kind === 'RoleBinding');
    expect(bindings.map((b) => (b as { roleRef: { kind: string; name: string } }).roleRef)).toEqual([
      { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: roles.admin },
      { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: roles.reader },
    ]);
    const bind = [bindTenantRolesRule(roles)];
    expect(allows(bind, 'rbac.authorization.k8s.io', 'clusterroles', 'bind', roles.admin)).toBe(true);
    expect(allows(bind, 'rbac.authorization.k8s.io', 'clusterroles', 'bind', 'cluster-admin')).toBe(false);
    expect(allows(bind, 'rbac.authorization.k8s.io', 'clusterroles', 'bind')).toBe(false);
    // What the admins may do, the operator may not: it writes no workload and reads no Pod log. The one
    // exception is a Job: its restores (spec.restore), which the chart's admission policy holds to the
    // name restore-<request> and the backup image, in the namespaces the operator manages only.
    const [admin] = tenantClusterRoles(roles);
    expect(allows(rules, 'batch', 'jobs', 'create')).toBe(true);
    expect(allows(rules, 'batch', 'jobs', 'update')).toBe(false);
    expect(allows(rules, 'batch', 'jobs', 'delete')).toBe(false);
    for (const [g, r] of [
      ['', 'pods'],
      ['apps', 'deployments'],
      ['apps', 'statefulsets'],
      ['', 'services'],
      ['', 'serviceaccounts'],
    ] as const) {
      expect(allows(admin?.rules ?? [], g, r, 'create'), `admins create ${r}`).toBe(true);
      expect(allows(rules, g, r, 'create'), `the operator creates ${r}`).toBe(false);
    }
    expect(allows(rules, '', 'pods/log', 'get')).toBe(false);
    expect(tenantClusterRoles(roles).map((r) => r.rules)).toEqual([
      mergeRules(ADMIN_RULES),
      mergeRules(READER_RULES),
    ]);
  });

  it('covers every kind the builders produce', () => {
    const state = buildDesiredState(context(territory()));
    const objects = [state.namespace, ...state.tenancy, ...state.database, ...state.backup];
    for (const o of objects) {
      expect(allows(rules, groupOf(o.apiVersion ?? ''), resourceOf(o.kind ?? ''), 'patch'), o.kind).toBe(
        true,
      );
    }
  });

  it('reads Territories, writes their status and finalizers, reads Nodes, records Events', () => {
    for (const v of ['get', 'list', 'watch', 'patch'])
      expect(allows(rules, 'sovereign.dev', 'territories', v)).toBe(true);
    expect(allows(rules, 'sovereign.dev', 'territories/status', 'patch')).toBe(true);
    expect(allows(rules, 'sovereign.dev', 'territories/finalizers', 'update')).toBe(true);
    for (const v of ['get', 'list', 'watch']) expect(allows(rules, '', 'nodes', v)).toBe(true);
    expect(allows(rules, 'events.k8s.io', 'events', 'create')).toBe(true);
  });

  it('lists Pods for the reconcile loop, and never watches or writes them', () => {
    expect(allows(rules, '', 'pods', 'list')).toBe(true);
    for (const v of ['watch', 'create', 'update', 'patch', 'delete'])
      expect(allows(rules, '', 'pods', v), v).toBe(false);
  });

  it('is no broader than needed: no wildcard, no privilege verbs, no cluster-level writes', () => {
    const all = rules.flatMap((r) => [...r.apiGroups, ...r.resources, ...r.verbs]);
    expect(all).not.toContain('*');
    for (const v of ['escalate', 'bind', 'impersonate', 'deletecollection'])
      expect(rules.flatMap((r) => r.verbs)).not.toContain(v);
    expect(allows(rules, 'sovereign.dev', 'territories', 'create')).toBe(false);
    expect(allows(rules, 'sovereign.dev', 'territories', 'delete')).toBe(false);
    for (const v of ['create', 'update', 'patch', 'delete'])
      expect(allows(rules, '', 'nodes', v)).toBe(false);
    for (const [g, r] of [
      ['apiextensions.k8s.io', 'customresourcedefinitions'],
      ['rbac.authorization.k8s.io', 'clusterroles'],
      ['rbac.authorization.k8s.io', 'clusterrolebindings'],
      ['admissionregistration.k8s.io', 'validatingwebhookconfigurations'],
      ['', 'pods/exec'],
      ['', 'serviceaccounts/token'],
      ['certificates.k8s.io', 'certificatesigningrequests'],
    ] as const)
      expect(allows(rules, g, r, 'get') || allows(rules, g, r, 'create'), `${g}/${r}`).toBe(false);
  });

  it('puts the leader-election Lease in a namespaced Role, not in the ClusterRole', () => {
    expect(allows(rules, 'coordination.k8s.io', 'leases', 'update')).toBe(false);
    expect(allows(leaderElectionRoleRules(), 'coordination.k8s.io', 'leases', 'update')).toBe(true);
    expect(allows(leaderElectionRoleRules(), 'coordination.k8s.io', 'leases', 'delete')).toBe(false);
  });
});
