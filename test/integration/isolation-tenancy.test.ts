// Hostile tenants, against the real API server's RBAC and Pod Security admission. Two authorities A and
// B get exactly the tenancy objects the builders produce (namespace, quota, limits, network policies,
// tenant Roles and RoleBindings) plus the Secrets the operator keeps there (keyring, database
// credentials, backup credentials). Then, both through SubjectAccessReview AND through real requests
// made as A's people (impersonating a user and their identity-provider groups):
// - A's admins cannot read B's Secrets, keyring, database credentials or backup configuration;
// - A's admins cannot loosen their own isolation: quota, limits, network policies, roles and bindings,
//   the namespace's Pod Security labels, their Territory;
// - A's readers cannot read Secrets at all, not even A's;
// - a pod violating the restricted Pod Security level is refused in A's namespace, a compliant one is not.
// Each denial is paired with an allowed request of the same shape, so a broken set-up cannot pass.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parse } from 'yaml';
import { CRD_FILE } from '../../operator/src/api/crd.ts';
import { API_VERSION, KIND } from '../../operator/src/api/territory.ts';
import { minimalTerritory } from '../../operator/src/api/test-fixtures.ts';
import type { Owned } from '../../operator/src/builders/context.ts';
import { context, territory } from '../../operator/src/builders/fixtures.test-helpers.ts';
import { buildDesiredState } from '../../operator/src/builders/index.ts';
import {
  buildCredentialSecret,
  buildKeyringSecret,
  KEYRING_SECRET,
} from '../../operator/src/builders/keys.ts';
import { ADMIN_BINDING, READER_BINDING } from '../../operator/src/builders/rbac.ts';
import { parseOperatorConfig } from '../../operator/src/config/operator-config.ts';
import { tenantClusterRoles } from '../../operator/src/rbac/operator-rbac.ts';
import { type Identity, KubeHttp, objectPath } from '../chaos/lib/kube-http.ts';
import { uniqueName, waitFor } from '../support/kube.ts';

const FIELD_MANAGER = 'territory-operator';
const TENANT_ROLES = parseOperatorConfig({}).tenantRoles;
const admin = KubeHttp.fromKubeconfig(inject('kubeconfigPath'));

interface Tenant {
  ns: string;
  uid: string;
  admin: Identity;
  reader: Identity;
  /** Values written into this tenant's Secrets: they must never be readable by the other tenant. */
  material: string[];
}

function tenantIdentities(ns: string): Pick<Tenant, 'admin' | 'reader'> {
  // Real clusters map the identity provider's groups (ProConnect, Keycloak) into these names.
  return {
    admin: { user: `alice@${ns}`, groups: [`${ns}:admins`, 'system:authenticated'] },
    reader: { user: `bob@${ns}`, groups: [`${ns}:auditors`, 'system:authenticated'] },
  };
}

async function expectOk(result: Promise<{ status: number; text: string }>, what: string): Promise<void> {
  const answer = await result;
  expect(answer.status, `${what}: ${answer.text.slice(0, 300)}`).toBeLessThan(300);
}

async function installTerritoryCrd(): Promise<void> {
  const crd = parse(readFileSync(new URL(`../../${CRD_FILE}`, import.meta.url), 'utf8')) as Owned;
  await expectOk(
    admin.apply(
      `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${crd.metadata?.name}`,
      crd,
      'isolation-test',
    ),
    'install the Territory CRD',
  );
  await waitFor(
    async () => {
      const live = await admin.get(
        `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${crd.metadata?.name}`,
      );
      const conditions = (live.body as { status?: { conditions?: { type: string; status: string }[] } })
        .status?.conditions;
      return conditions?.some((c) => c.type === 'Established' && c.status === 'True');
    },
    { what: 'the Territory CRD to be Established', timeoutMs: 60_000 },
  );
}

/** Creates the Territory (no operator reconciles it here) and applies what the builders say it owns. */
async function provisionTenant(ns: string): Promise<Tenant> {
  const ids = tenantIdentities(ns);
  const manifest = minimalTerritory(ns);
  const spec = manifest.spec as Record<string, unknown>;
  spec.access = { adminGroups: [ids.admin.groups[0]], readerGroups: [ids.reader.groups[0]] };
  const created = await admin.request('POST', objectPath({ apiVersion: API_VERSION, kind: KIND }), manifest);
  expect(created.status, created.text.slice(0, 300)).toBe(201);
  const uid = (created.body as { metadata: { uid: string } }).metadata.uid;

  // The same builders and fixtures the operator and its unit tests use, owned by the real Territory.
  const t = territory({
    name: ns,
    spec: { access: { adminGroups: [ids.admin.groups[0]], readerGroups: [ids.reader.groups[0]] } },
  });
  t.metadata.uid = uid;
  const ctx = context(t);
  const desired = buildDesiredState(ctx);
  const password = randomBytes(24).toString('base64url');
  const dataKey = randomBytes(32).toString('base64');
  const s3Secret = randomBytes(30).toString('base64url');
  const objects: Owned[] = [
    desired.namespace,
    ...desired.tenancy,
    buildKeyringSecret(
      ctx,
      JSON.stringify({ format: 'test', current: 'k1', keys: [{ id: 'k1', material: dataKey }] }),
    ),
    buildCredentialSecret(ctx, 'db-owner', {
      username: 'owner',
      password,
      rotatedAt: '2026-01-01T00:00:00Z',
    }),
    {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'backup-credentials', namespace: ns },
      stringData: { ACCESS_KEY_ID: 'AKIA-ISOLATION', ACCESS_SECRET_KEY: s3Secret },
    },
  ];
  for (const o of objects) {
    const path = objectPath({
      apiVersion: o.apiVersion ?? '',
      kind: o.kind ?? '',
      namespace: o.metadata?.namespace,
      name: o.metadata?.name,
    });
    await expectOk(admin.apply(path, o, FIELD_MANAGER), `apply ${o.kind}/${o.metadata?.name} in ${ns}`);
  }
  return { ns, uid, ...ids, material: [password, dataKey, s3Secret] };
}

let a: Tenant;
let b: Tenant;

/** The tenant ClusterRoles the chart ships (the RoleBindings in each namespace refer to them). */
async function installTenantRoles(): Promise<void> {
  for (const role of tenantClusterRoles(TENANT_ROLES)) {
    await expectOk(
      admin.apply(
        objectPath({ apiVersion: role.apiVersion, kind: role.kind, name: role.metadata.name }),
        role,
        'isolation-test',
      ),
      `install ClusterRole ${role.metadata.name}`,
    );
  }
}

beforeAll(async () => {
  await installTerritoryCrd();
  await installTenantRoles();
  [a, b] = await Promise.all([provisionTenant(uniqueName('iso-a')), provisionTenant(uniqueName('iso-b'))]);
});

afterAll(async () => {
  for (const tenant of [a, b]) {
    if (!tenant) continue;
    await admin.request('DELETE', objectPath({ apiVersion: API_VERSION, kind: KIND, name: tenant.ns }));
    await admin.request('DELETE', objectPath({ apiVersion: 'v1', kind: 'Namespace', name: tenant.ns }));
  }
  admin.close();
});

const secretsOf = (ns: string, name?: string) =>
  objectPath({ apiVersion: 'v1', kind: 'Secret', namespace: ns, name });

describe('an authority cannot reach another authority (SubjectAccessReview)', () => {
  const attempts = (ns: string) => [
    { verb: 'get', resource: 'secrets', namespace: ns, name: KEYRING_SECRET },
    { verb: 'get', resource: 'secrets', namespace: ns, name: 'db-owner' },
    { verb: 'get', resource: 'secrets', namespace: ns, name: 'backup-credentials' },
    { verb: 'list', resource: 'secrets', namespace: ns },
    { verb: 'watch', resource: 'secrets', namespace: ns },
    { verb: 'get', group: 'postgresql.cnpg.io', resource: 'clusters', namespace: ns, name: 'db' },
    { verb: 'list', group: 'postgresql.cnpg.io', resource: 'scheduledbackups', namespace: ns },
    { verb: 'get', group: 'batch', resource: 'cronjobs', namespace: ns, name: 'logical-backup' },
    { verb: 'list', resource: 'pods', namespace: ns },
    { verb: 'create', resource: 'pods', namespace: ns },
    { verb: 'create', resource: 'serviceaccounts', namespace: ns, subresource: 'token', name: 'default' },
    { verb: 'list', resource: 'events', namespace: ns },
  ];

  it("denies A's admins everything in B's namespace, while B's admins hold the same rights there", async () => {
    for (const attempt of attempts(b.ns)) {
      const label = `${attempt.verb} ${attempt.resource}${attempt.subresource ? `/${attempt.subresource}` : ''}`;
      expect(await admin.canI(a.admin, attempt), `A admin: ${label} in B`).toBe(false);
      expect(await admin.canI(a.reader, attempt), `A reader: ${label} in B`).toBe(false);
    }
    // The control: B's own admins may read B's Secrets and run pods there (so the denials above are RBAC
    // at work, not a broken set-up). Their token requests and CNPG reads follow the Role's rules.
    expect(
      await admin.canI(b.admin, { verb: 'get', resource: 'secrets', namespace: b.ns, name: KEYRING_SECRET }),
    ).toBe(true);
    expect(await admin.canI(b.admin, { verb: 'create', resource: 'pods', namespace: b.ns })).toBe(true);
    expect(
      await admin.canI(b.admin, {
        verb: 'get',
        group: 'postgresql.cnpg.io',
        resource: 'clusters',
        namespace: b.ns,
      }),
    ).toBe(true);
  });

  it("denies A's admins anything cluster-wide: namespaces, Territories, cluster roles, impersonation", async () => {
    const denied = [
      { verb: 'list', resource: 'namespaces' },
      { verb: 'get', resource: 'namespaces', name: b.ns },
      { verb: 'list', resource: 'secrets' },
      { verb: 'list', group: API_VERSION.split('/')[0], resource: 'territories' },
      { verb: 'get', group: API_VERSION.split('/')[0], resource: 'territories', name: b.ns },
      { verb: 'create', group: 'rbac.authorization.k8s.io', resource: 'clusterrolebindings' },
      { verb: 'impersonate', resource: 'users' },
      { verb: 'impersonate', resource: 'groups' },
      { verb: 'impersonate', resource: 'serviceaccounts', namespace: b.ns },
    ];
    for (const attempt of denied) {
      expect(await admin.canI(a.admin, attempt), `A admin: ${attempt.verb} ${attempt.resource}`).toBe(false);
    }
  });
});

describe('an authority cannot loosen its own isolation (SubjectAccessReview)', () => {
  const guardrails = [
    { resource: 'resourcequotas', name: 'territory-quota' },
    { resource: 'limitranges', name: 'territory-limits' },
    { group: 'networking.k8s.io', resource: 'networkpolicies', name: 'default-deny' },
    { group: 'rbac.authorization.k8s.io', resource: 'rolebindings', name: ADMIN_BINDING },
    { group: 'postgresql.cnpg.io', resource: 'clusters', name: 'db' },
    { group: 'postgresql.cnpg.io', resource: 'scheduledbackups', name: 'db' },
  ];

  it("lets A's admins read their guardrails but never create, change or delete them", async () => {
    for (const g of guardrails) {
      const on = { ...g, namespace: a.ns };
      expect(await admin.canI(a.admin, { ...on, verb: 'get' }), `get ${g.resource}`).toBe(true);
      for (const verb of ['update', 'patch', 'delete']) {
        expect(await admin.canI(a.admin, { ...on, verb }), `${verb} ${g.resource}`).toBe(false);
      }
      const { name: _name, ...collection } = on;
      expect(await admin.canI(a.admin, { ...collection, verb: 'create' }), `create ${g.resource}`).toBe(
        false,
      );
      expect(await admin.canI(a.admin, { ...collection, verb: 'deletecollection' }), `deletecollection`).toBe(
        false,
      );
    }
    for (const verb of ['bind', 'escalate']) {
      expect(
        await admin.canI(a.admin, {
          verb,
          group: 'rbac.authorization.k8s.io',
          resource: 'roles',
          namespace: a.ns,
        }),
        `${verb} roles`,
      ).toBe(false);
    }
  });

  it("denies A's admins changes to their namespace (its Pod Security labels) and to their Territory", async () => {
    const group = API_VERSION.split('/')[0];
    for (const verb of ['update', 'patch', 'delete']) {
      expect(
        await admin.canI(a.admin, { verb, resource: 'namespaces', name: a.ns }),
        `${verb} namespace`,
      ).toBe(false);
      expect(
        await admin.canI(a.admin, { verb, group, resource: 'territories', name: a.ns }),
        `${verb} Territory`,
      ).toBe(false);
      expect(
        await admin.canI(a.admin, {
          verb,
          group,
          resource: 'territories',
          subresource: 'status',
          name: a.ns,
        }),
        `${verb} Territory status`,
      ).toBe(false);
    }
  });

  it("denies A's readers every Secret, even A's own, while they read the rest of their namespace", async () => {
    for (const verb of ['get', 'list', 'watch']) {
      expect(
        await admin.canI(a.reader, { verb, resource: 'secrets', namespace: a.ns }),
        `${verb} secrets`,
      ).toBe(false);
    }
    expect(
      await admin.canI(a.reader, { verb: 'get', resource: 'secrets', namespace: a.ns, name: KEYRING_SECRET }),
    ).toBe(false);
    expect(await admin.canI(a.reader, { verb: 'list', resource: 'pods', namespace: a.ns })).toBe(true);
    expect(await admin.canI(a.reader, { verb: 'list', resource: 'resourcequotas', namespace: a.ns })).toBe(
      true,
    );
    expect(await admin.canI(a.reader, { verb: 'create', resource: 'pods', namespace: a.ns })).toBe(false);
  });

  it("denies A's readers every write, whatever the kind", async () => {
    // The authorizer's answer, whatever the Roles look like (a `*` rule included).
    const kinds = [
      { resource: 'pods' },
      { resource: 'pods', subresource: 'exec' },
      { resource: 'secrets' },
      { resource: 'configmaps' },
      { resource: 'serviceaccounts', subresource: 'token' },
      { group: 'apps', resource: 'deployments' },
      { group: 'batch', resource: 'cronjobs' },
      { group: 'postgresql.cnpg.io', resource: 'backups' },
      { group: 'networking.k8s.io', resource: 'networkpolicies' },
      { group: 'rbac.authorization.k8s.io', resource: 'rolebindings' },
    ];
    const allowed: string[] = [];
    for (const kind of kinds) {
      for (const verb of ['create', 'update', 'patch', 'delete', 'deletecollection']) {
        if (await admin.canI(a.reader, { ...kind, verb, namespace: a.ns }))
          allowed.push(`${verb} ${kind.resource}${kind.subresource ? `/${kind.subresource}` : ''}`);
      }
    }
    expect(allowed).toEqual([]);
  });
});

describe('real requests made as the authorities’ people', () => {
  it("refuses A's admins B's Secrets (403) and never sends back B's key material", async () => {
    const asA = admin.as(a.admin);
    for (const path of [
      secretsOf(b.ns, KEYRING_SECRET),
      secretsOf(b.ns, 'db-owner'),
      secretsOf(b.ns, 'backup-credentials'),
      secretsOf(b.ns),
      `${secretsOf(b.ns)}?watch=true&timeoutSeconds=1`,
      '/api/v1/secrets',
      objectPath({ apiVersion: 'batch/v1', kind: 'CronJob', namespace: b.ns }),
      objectPath({ apiVersion: 'postgresql.cnpg.io/v1', kind: 'Cluster', namespace: b.ns, name: 'db' }),
    ]) {
      const answer = await asA.get(path);
      expect(answer.status, `GET ${path} as A's admin`).toBe(403);
      for (const value of b.material) {
        expect(answer.text).not.toContain(value);
        expect(answer.text).not.toContain(Buffer.from(value).toString('base64'));
      }
    }
    // The control: the same request for A's own keyring succeeds (admins hold their authority's keys).
    const own = await asA.get(secretsOf(a.ns, KEYRING_SECRET));
    expect(own.status).toBe(200);
  });

  it("refuses A's admins any change to their quota, limits, network policies, roles, namespace and Territory", async () => {
    const asA = admin.as(a.admin);
    const merge = (path: string, patch: unknown) =>
      asA.request('PATCH', path, patch, 'application/merge-patch+json');
    const quota = objectPath({
      apiVersion: 'v1',
      kind: 'ResourceQuota',
      namespace: a.ns,
      name: 'territory-quota',
    });
    const attempts: [string, Promise<{ status: number; text: string }>][] = [
      ['raise the quota', merge(quota, { spec: { hard: { pods: '100000' } } })],
      ['delete the quota', asA.request('DELETE', quota)],
      [
        'drop the limit range',
        asA.request(
          'DELETE',
          objectPath({ apiVersion: 'v1', kind: 'LimitRange', namespace: a.ns, name: 'territory-limits' }),
        ),
      ],
      [
        'delete default-deny',
        asA.request(
          'DELETE',
          objectPath({
            apiVersion: 'networking.k8s.io/v1',
            kind: 'NetworkPolicy',
            namespace: a.ns,
            name: 'default-deny',
          }),
        ),
      ],
      [
        'add an allow-all policy',
        asA.request(
          'POST',
          objectPath({ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', namespace: a.ns }),
          {
            apiVersion: 'networking.k8s.io/v1',
            kind: 'NetworkPolicy',
            metadata: { name: 'allow-all' },
            spec: { podSelector: {}, ingress: [{}], egress: [{}] },
          },
        ),
      ],
      [
        'widen the admin ClusterRole',
        merge(
          objectPath({
            apiVersion: 'rbac.authorization.k8s.io/v1',
            kind: 'ClusterRole',
            name: TENANT_ROLES.admin,
          }),
          {
            rules: [{ apiGroups: ['*'], resources: ['*'], verbs: ['*'] }],
          },
        ),
      ],
      [
        'bind cluster-admin in the namespace',
        asA.request(
          'POST',
          objectPath({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', namespace: a.ns }),
          {
            apiVersion: 'rbac.authorization.k8s.io/v1',
            kind: 'RoleBinding',
            metadata: { name: 'escalate' },
            roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' },
            subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: a.admin.groups[0] }],
          },
        ),
      ],
      [
        'give readers the admin Role',
        merge(
          objectPath({
            apiVersion: 'rbac.authorization.k8s.io/v1',
            kind: 'RoleBinding',
            namespace: a.ns,
            name: READER_BINDING,
          }),
          { roleRef: { name: TENANT_ROLES.admin } },
        ),
      ],
      [
        'lift Pod Security on the namespace',
        merge(objectPath({ apiVersion: 'v1', kind: 'Namespace', name: a.ns }), {
          metadata: { labels: { 'pod-security.kubernetes.io/enforce': 'privileged' } },
        }),
      ],
      [
        'change their Territory',
        merge(objectPath({ apiVersion: API_VERSION, kind: KIND, name: a.ns }), {
          spec: { quota: { profile: 'xlarge' } },
        }),
      ],
      [
        'delete their Territory',
        asA.request('DELETE', objectPath({ apiVersion: API_VERSION, kind: KIND, name: a.ns })),
      ],
    ];
    for (const [what, attempt] of attempts) {
      const answer = await attempt;
      expect(answer.status, `${what} as A's admin: ${answer.text.slice(0, 200)}`).toBe(403);
    }
    // Nothing moved: the guardrails are still the builders' values.
    const live = (await admin.get(quota)).body as { spec: { hard: Record<string, string> } };
    expect(live.spec.hard.pods).not.toBe('100000');
    const ns = (await admin.get(objectPath({ apiVersion: 'v1', kind: 'Namespace', name: a.ns }))).body as {
      metadata: { labels: Record<string, string> };
    };
    expect(ns.metadata.labels['pod-security.kubernetes.io/enforce']).toBe('restricted');
  });

  it("refuses A's readers A's own Secrets, and serves them A's pods", async () => {
    const asReader = admin.as(a.reader);
    expect((await asReader.get(secretsOf(a.ns, KEYRING_SECRET))).status).toBe(403);
    expect((await asReader.get(secretsOf(a.ns, 'db-owner'))).status).toBe(403);
    expect((await asReader.get(secretsOf(a.ns))).status).toBe(403);
    expect((await asReader.get(objectPath({ apiVersion: 'v1', kind: 'Pod', namespace: a.ns }))).status).toBe(
      200,
    );
  });
});

describe('Pod Security admission in a Territory namespace (restricted)', () => {
  const compliantContainer = {
    name: 'app',
    image: 'registry.example.fr/app:1',
    resources: { requests: { cpu: '100m', memory: '64Mi' }, limits: { cpu: '200m', memory: '128Mi' } },
    securityContext: {
      allowPrivilegeEscalation: false,
      runAsNonRoot: true,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    },
  };
  const pod = (name: string, spec: Record<string, unknown>) => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name },
    spec: { containers: [compliantContainer], ...spec },
  });
  const withContainer = (patch: Record<string, unknown>) => [{ ...compliantContainer, ...patch }];
  const violations: [string, Record<string, unknown>][] = [
    [
      'privileged',
      {
        containers: withContainer({
          // A privileged container may not also forbid escalation (the API server refuses that as invalid).
          securityContext: {
            ...compliantContainer.securityContext,
            allowPrivilegeEscalation: undefined,
            privileged: true,
          },
        }),
      },
    ],
    ['hostPath volume', { volumes: [{ name: 'host', hostPath: { path: '/' } }] }],
    [
      'runs as root',
      {
        securityContext: { runAsUser: 0 },
        containers: withContainer({
          securityContext: { ...compliantContainer.securityContext, runAsNonRoot: false },
        }),
      },
    ],
    ['host network', { hostNetwork: true }],
    ['host PID', { hostPID: true }],
    [
      'added capability',
      {
        containers: withContainer({
          securityContext: {
            ...compliantContainer.securityContext,
            capabilities: { add: ['SYS_ADMIN'], drop: ['ALL'] },
          },
        }),
      },
    ],
    [
      'privilege escalation',
      {
        containers: withContainer({
          securityContext: { ...compliantContainer.securityContext, allowPrivilegeEscalation: true },
        }),
      },
    ],
    [
      'no seccomp profile',
      {
        containers: withContainer({
          securityContext: { ...compliantContainer.securityContext, seccompProfile: undefined },
        }),
      },
    ],
  ];

  it('refuses every pod that violates the restricted level, created by the authority’s own admin', async () => {
    const asA = admin.as(a.admin);
    const pods = `${objectPath({ apiVersion: 'v1', kind: 'Pod', namespace: a.ns })}?dryRun=All`;
    for (const [what, spec] of violations) {
      const answer = await asA.request('POST', pods, pod(uniqueName('bad'), spec));
      expect(answer.status, `${what}: ${answer.text.slice(0, 300)}`).toBe(403);
      expect((answer.body as { message?: string }).message, what).toContain(
        'violates PodSecurity "restricted',
      );
    }
  });

  it('accepts a pod that meets the restricted level (dry run)', async () => {
    const asA = admin.as(a.admin);
    const pods = `${objectPath({ apiVersion: 'v1', kind: 'Pod', namespace: a.ns })}?dryRun=All`;
    const answer = await asA.request('POST', pods, pod(uniqueName('good'), {}));
    expect(answer.status, answer.text.slice(0, 300)).toBe(201);
  });
});

describe("an authority's admins cannot flood the API server from their namespace", () => {
  it('are refused Secrets and ConfigMaps past the count quota (real creates, as A’s admin)', async () => {
    const asA = admin.as(a.admin);
    const quota = (
      await admin.get(
        objectPath({ apiVersion: 'v1', kind: 'ResourceQuota', namespace: a.ns, name: 'territory-quota' }),
      )
    ).body as { spec: { hard: Record<string, string> } };
    for (const [kind, resource] of [
      ['Secret', 'secrets'],
      ['ConfigMap', 'configmaps'],
    ] as const) {
      const hard = Number(quota.spec.hard[`count/${resource}`]);
      expect(hard, `count/${resource} is bounded`).toBeGreaterThan(0);
      const path = objectPath({ apiVersion: 'v1', kind, namespace: a.ns });
      let created = 0;
      let refusal = '';
      // Up to the bound and one past it, a few at a time; the quota admission stops the run.
      for (let i = 0; i <= hard && !refusal; i += 10) {
        const answers = await Promise.all(
          Array.from({ length: 10 }, (_, j) =>
            asA.request('POST', path, {
              apiVersion: 'v1',
              kind,
              metadata: { name: `flood-${i + j}` },
              data: {},
            }),
          ),
        );
        created += answers.filter((r) => r.status === 201).length;
        refusal = answers.find((r) => r.status === 403)?.text ?? '';
      }
      expect(refusal, `${kind}s past ${hard}`).toMatch(/exceeded quota.*count\//);
      expect(created).toBeLessThanOrEqual(hard);
    }
  });
});
