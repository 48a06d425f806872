import { describe, expect, it } from 'vitest';
import {
  ANY_NAME,
  READ_VERBS,
  type ResourceRequest,
  type Rule,
  rulesAllow,
  WRITE_VERBS,
} from '../../../test/support/rbac-rules.ts';
import { quantityValue } from '../api/quantity.ts';
import { toCnpgSchedule } from './backup.ts';
import { type BuildContext, LABELS, type Owned } from './context.ts';
import { postgresParameters } from './database-sizing.ts';
import { context, territory, withPhysicalBackups } from './fixtures.test-helpers.ts';
import { buildDesiredState } from './index.ts';
import { chooseProfile } from './profile.ts';
import { effectiveQuota } from './quota.ts';
import { ADMIN_RULES, READER_RULES } from './rbac.ts';

const all = (s: ReturnType<typeof buildDesiredState>): Owned[] => [
  s.namespace,
  ...s.tenancy,
  ...s.database,
  ...s.backup,
];
const spec = (o: Owned) => o.spec as Record<string, unknown>;
const clusterOf = (s: ReturnType<typeof buildDesiredState>) =>
  s.database.find((o) => o.kind === 'Cluster') as Owned;

describe('buildDesiredState', () => {
  it('labels every object with the territory and authority, and makes the Territory its controller owner', () => {
    for (const o of all(buildDesiredState(context()))) {
      expect(o.metadata?.labels?.[LABELS.managedBy], `${o.kind}/${o.metadata?.name}`).toBe(
        'territory-operator',
      );
      expect(o.metadata?.labels?.[LABELS.territory]).toBe('rennes-metropole');
      expect(o.metadata?.labels?.[LABELS.authorityCode]).toBe('243500139');
      expect(o.metadata?.labels?.[LABELS.departement]).toBe('35');
      expect(o.metadata?.ownerReferences).toEqual([
        expect.objectContaining({ kind: 'Territory', name: 'rennes-metropole', controller: true }),
      ]);
      if (o.kind !== 'Namespace') expect(o.metadata?.namespace).toBe('rennes-metropole');
    }
  });

  it('builds objects without owner references in orphan mode (deletionPolicy Retain)', () => {
    for (const o of all(buildDesiredState(context(territory(), { orphan: true })))) {
      expect(o.metadata?.ownerReferences).toBeUndefined();
    }
  });

  it('is deterministic: the same inputs give the same objects', () => {
    expect(buildDesiredState(context())).toEqual(buildDesiredState(context()));
  });

  it('enforces the restricted Pod Security level on the namespace', () => {
    const ns = buildDesiredState(context()).namespace;
    expect(ns.metadata?.labels).toMatchObject({
      'pod-security.kubernetes.io/enforce': 'restricted',
      'pod-security.kubernetes.io/enforce-version': 'latest',
    });
  });

  it('uses spec.namespace when set', () => {
    const s = buildDesiredState(context(territory({ spec: { namespace: 'tenant-rennes' } })));
    expect(s.namespace.metadata?.name).toBe('tenant-rennes');
    expect(s.tenancy.every((o) => o.metadata?.namespace === 'tenant-rennes')).toBe(true);
  });
});

describe('quota', () => {
  it('chooses the profile from kind and official population', () => {
    expect(chooseProfile(territory(), 470_000)).toBe('large');
    expect(chooseProfile(territory(), 800)).toBe('small');
    expect(chooseProfile(territory({ spec: { authority: { kind: 'region', code: '53' } } }), 3_000_000)).toBe(
      'xlarge',
    );
    expect(chooseProfile(territory({ spec: { quota: { profile: 'medium' } } }), 470_000)).toBe('medium');
  });

  it('always leaves room for the database volumes, and applies overrides last', () => {
    const big = territory({ spec: { database: { instances: 3, storage: { size: '400Gi' } } } });
    const q = effectiveQuota(context(big, { authority: { officialName: 'x', population: 100 } }));
    expect(quantityValue(q.requestsStorage)).toBeGreaterThanOrEqual(3 * 400 * 2 ** 30);
    const over = territory({ spec: { quota: { profile: 'small', overrides: { pods: 7, limitsCpu: '3' } } } });
    expect(effectiveQuota(context(over))).toMatchObject({ pods: 7, limitsCpu: '3', profile: 'small' });
  });

  it('sends LimitRange defaults under the wire name `default`', () => {
    const lr = buildDesiredState(context()).tenancy.find((o) => o.kind === 'LimitRange');
    expect((spec(lr as Owned).limits as Record<string, unknown>[])[0]).toHaveProperty('default');
  });
});

describe('database', () => {
  it('refuses every plain-text connection before any other host rule', () => {
    const cluster = buildDesiredState(context()).database.find((o) => o.kind === 'Cluster');
    const hba = (spec(cluster as Owned).postgresql as { pg_hba: string[] }).pg_hba;
    // CloudNativePG's own catch-all (`host all all all …`) comes after these lines and would
    // accept plain text: the reject must come first.
    expect(hba[0]).toBe('hostnossl all all all reject');
    expect(hba.slice(1).every((line) => line.startsWith('hostssl '))).toBe(true);
  });

  const cluster = (ctx: BuildContext) =>
    spec(buildDesiredState(ctx).database.find((o) => o.kind === 'Cluster') as Owned) as {
      instances: number;
      storage: { size: string };
      resources: unknown;
      postgresql: { parameters: Record<string, string> };
    };

  it('is sized by the profile: instances, volume, resources and memory parameters, beside the TLS ones', () => {
    // A commune of 800 inhabitants: small.
    const village = cluster(context(territory(), { authority: { officialName: 'x', population: 800 } }));
    expect(village.instances).toBe(1);
    expect(village.storage.size).toBe('5Gi');
    expect(village.resources).toEqual({
      requests: { cpu: '250m', memory: '512Mi' },
      limits: { cpu: '1', memory: '512Mi' },
    });
    expect(village.postgresql.parameters).toEqual({
      ssl_min_protocol_version: 'TLSv1.3',
      password_encryption: 'scram-sha-256',
      ...postgresParameters('512Mi', 50),
    });
    // The fixture's métropole (470,000 inhabitants) is large, and its spec may say otherwise field by field.
    const metropole = cluster(context(territory({ spec: { database: { instances: 3 } } })));
    expect(metropole).toMatchObject({ instances: 3, storage: { size: '100Gi' } });
  });

  it('never shrinks the live volume, and grows it when asked', () => {
    const sized = (live: string, database: Record<string, unknown> = {}) =>
      cluster(context(territory({ spec: { database } }), { liveDatabaseStorage: live })).storage.size;
    expect(sized('300Gi')).toBe('300Gi');
    expect(sized('300Gi', { storage: { size: '50Gi' } })).toBe('300Gi');
    expect(sized('50Gi')).toBe('100Gi');
    expect(sized('50Gi', { storage: { size: '200Gi' } })).toBe('200Gi');
    // The quota holds the volume actually kept.
    const quota = effectiveQuota(context(territory(), { liveDatabaseStorage: '300Gi' }));
    expect(quota.requestsStorage).toBe('600Gi');
  });
});

describe('network policies', () => {
  const policies = () => buildDesiredState(context()).tenancy.filter((o) => o.kind === 'NetworkPolicy');

  it('denies all traffic by default and opens DNS and same-namespace traffic', () => {
    const byName = Object.fromEntries(policies().map((p) => [p.metadata?.name, spec(p)]));
    expect(byName['default-deny']).toEqual({ podSelector: {}, policyTypes: ['Ingress', 'Egress'] });
    expect(byName['allow-dns']).toBeDefined();
    expect(byName['allow-same-namespace']).toBeDefined();
  });

  it('allows HTTPS egress to the backup destination only when its CIDRs are configured', () => {
    const allow = policies().find((p) => p.metadata?.name === 'allow-backup-destination');
    expect(JSON.stringify(allow)).toContain('171.33.64.0/20');
    const other = territory({
      spec: {
        backup: {
          destination: {
            endpoint: 'https://s3.fr-par.scw.cloud',
            bucket: 'backups',
            credentialsSecret: { name: 'creds' },
          },
        },
      },
    });
    const names = buildDesiredState(context(other)).tenancy.map((o) => o.metadata?.name);
    expect(names).not.toContain('allow-backup-destination');
  });

  it('opens the object store to the backup and database Pods only, on the endpoint’s port', () => {
    const byName = Object.fromEntries(policies().map((p) => [p.metadata?.name, spec(p)]));
    expect(byName['allow-backup-destination']?.podSelector).toEqual({
      matchLabels: { 'sovereign.dev/territory': 'rennes-metropole', 'app.kubernetes.io/component': 'backup' },
    });
    expect(byName['allow-database-backup-destination']?.podSelector).toEqual({
      matchLabels: { 'cnpg.io/cluster': 'db' },
    });
    expect(byName['allow-backup-destination']?.egress).toMatchObject([{ ports: [{ port: 443 }] }]);
    const onPort = territory({
      spec: {
        backup: {
          destination: {
            endpoint: 'https://oos.cloudgouv-eu-west-1.outscale.com:8443',
            bucket: 'rennes-backups',
            credentialsSecret: { name: 'backup-credentials' },
          },
        },
      },
    });
    const policy = buildDesiredState(context(onPort)).tenancy.find(
      (o) => o.metadata?.name === 'allow-backup-destination',
    );
    expect(spec(policy as Owned).egress).toMatchObject([{ ports: [{ protocol: 'TCP', port: 8443 }] }]);
  });

  it('lets database Pods reach the API server at the addresses the cluster publishes, or the configured CIDRs', () => {
    const apiPolicy = (ctx: ReturnType<typeof context>) =>
      buildDesiredState(ctx).tenancy.find((o) => o.metadata?.name === 'allow-api-server');
    expect(apiPolicy(context())).toBeUndefined();
    const discovered = apiPolicy(
      context(territory(), { apiServerAddresses: ['10.213.255.1', 'fd00::1'], apiServerPorts: [6443] }),
    );
    // Only the port the API server listens on: a database Pod gets no other service on those hosts.
    expect(spec(discovered as Owned).egress).toEqual([
      {
        to: [{ ipBlock: { cidr: '10.213.255.1/32' } }, { ipBlock: { cidr: 'fd00::1/128' } }],
        ports: [{ protocol: 'TCP', port: 6443 }],
      },
    ]);
    // Selected by CloudNativePG's label with its value: the chart's admission policy keeps it off tenants' Pods.
    expect(spec(discovered as Owned).podSelector).toEqual({ matchLabels: { 'cnpg.io/cluster': 'db' } });
    // Nothing published: the two ports API servers listen on.
    const unpublished = apiPolicy(context(territory(), { apiServerAddresses: ['10.213.255.1'] }));
    expect(spec(unpublished as Owned).egress).toMatchObject([{ ports: [{ port: 443 }, { port: 6443 }] }]);
    const configured = context(territory(), { apiServerAddresses: ['10.213.255.1'] });
    configured.config = { ...configured.config, apiServerCidrs: ['192.0.2.0/28'] };
    expect(JSON.stringify(apiPolicy(configured))).toContain('192.0.2.0/28');
    expect(JSON.stringify(apiPolicy(configured))).not.toContain('10.213.255.1');
  });
});

describe('rbac', () => {
  const rbac = (t = territory()) =>
    buildDesiredState(context(t)).tenancy.filter((o) => o.apiVersion === 'rbac.authorization.k8s.io/v1');

  it("binds the authority groups to the chart's tenant ClusterRoles, in its namespace only", () => {
    const objects = rbac();
    expect(objects.map((o) => o.kind)).toEqual(['RoleBinding', 'RoleBinding']);
    const admin = objects.find((o) => o.metadata?.name === 'territory-admins');
    expect(admin?.metadata?.namespace).toBe('rennes-metropole');
    expect(admin?.roleRef).toEqual({
      apiGroup: 'rbac.authorization.k8s.io',
      kind: 'ClusterRole',
      name: 'territory-tenant-admin',
    });
    expect(admin?.subjects).toEqual([
      { apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: 'rennes:admins' },
    ]);
  });

  it('never lets the authority edit its quota, network policies or roles, and hides Secrets from readers', () => {
    // Judged as the API server's authorizer judges them (a `*` in groups, resources or verbs grants
    // everything there; `*/status` every status), on the rules themselves wherever they are shipped (the
    // exported rule lists, and any Role the builders still produce): comparing rule strings would pass a
    // rule granting `*`.
    const tenantRules: [string, readonly Rule[]][] = [
      ['admin rules', ADMIN_RULES],
      ['reader rules', READER_RULES],
      ...rbac()
        .filter((o) => o.kind === 'Role' || o.kind === 'ClusterRole')
        .map((o): [string, readonly Rule[]] => [`${o.kind} ${o.metadata?.name}`, (o.rules ?? []) as Rule[]]),
    ];
    const guardrails: [group: string, resource: string, subresource?: string][] = [
      ['', 'resourcequotas'],
      ['', 'resourcequotas', 'status'],
      ['', 'limitranges'],
      ['', 'namespaces'],
      ['networking.k8s.io', 'networkpolicies'],
      ['rbac.authorization.k8s.io', 'roles'],
      ['rbac.authorization.k8s.io', 'rolebindings'],
      ['rbac.authorization.k8s.io', 'clusterroles'],
      ['rbac.authorization.k8s.io', 'clusterrolebindings'],
      ['postgresql.cnpg.io', 'clusters'],
      ['postgresql.cnpg.io', 'clusters', 'status'],
      ['postgresql.cnpg.io', 'scheduledbackups'],
      ['barmancloud.cnpg.io', 'objectstores'],
      ['barmancloud.cnpg.io', 'objectstores', 'status'],
      ['sovereign.dev', 'territories'],
    ];
    const everyKind = [...ADMIN_RULES, ...READER_RULES].flatMap((r) =>
      r.apiGroups.flatMap((g) => r.resources.map((res): [string, string] => [g, res])),
    );
    const granted: string[] = [];
    const mustNot = (who: string, rules: readonly Rule[], request: ResourceRequest) => {
      // Some object (a rule confined to resourceNames counts) and the collection (create, list).
      for (const name of [ANY_NAME, undefined] as ResourceRequest['name'][])
        if (rulesAllow(rules, { ...request, name })) {
          const sub = request.subresource ? `/${request.subresource}` : '';
          granted.push(`${who}: ${request.verb} ${request.group}/${request.resource}${sub}`);
          return;
        }
    };
    for (const [who, rules] of tenantRules) {
      for (const [group, resource, subresource] of guardrails)
        for (const verb of WRITE_VERBS) mustNot(who, rules, { verb, group, resource, subresource });
      for (const resource of ['users', 'groups', 'serviceaccounts'])
        mustNot(who, rules, { verb: 'impersonate', group: '', resource });
      mustNot(who, rules, { verb: 'create', group: '', resource: 'serviceaccounts', subresource: 'token' });
      if (who.includes('admin')) continue;
      for (const verb of [...READ_VERBS, ...WRITE_VERBS])
        mustNot(who, rules, { verb, group: '', resource: 'secrets' });
      // Readers write nothing: not the kinds any tenant rule names, nor a kind only a `*` would reach.
      for (const [group, resource] of [...everyKind, ['example.com', 'widgets'] as [string, string]])
        for (const verb of WRITE_VERBS) mustNot(who, rules, { verb, group, resource });
    }
    expect(granted).toEqual([]);
    // The controls, so that empty rule lists cannot pass: what each side does get.
    const can = (rules: readonly Rule[], verb: string, group: string, resource: string) =>
      rulesAllow(rules, { verb, group, resource, name: 'x' });
    expect(can(ADMIN_RULES, 'get', '', 'resourcequotas')).toBe(true);
    expect(can(ADMIN_RULES, 'get', '', 'secrets')).toBe(true);
    expect(can(ADMIN_RULES, 'patch', 'apps', 'deployments')).toBe(true);
    expect(can(READER_RULES, 'list', '', 'pods')).toBe(true);
    expect(can(READER_RULES, 'get', 'networking.k8s.io', 'networkpolicies')).toBe(true);
    expect(can(READER_RULES, 'delete', '', 'pods')).toBe(false);
  });

  it('binds nobody when no group is given', () => {
    const t = territory({ spec: { access: { adminGroups: [], readerGroups: [] } } });
    expect(rbac(t).filter((o) => o.kind === 'RoleBinding')).toEqual([]);
  });
});

describe('database and backups', () => {
  it('builds a CloudNativePG Cluster in the allowed regions with one role per purpose', () => {
    const cluster = clusterOf(buildDesiredState(context()));
    const s = spec(cluster);
    expect(cluster).toMatchObject({ apiVersion: 'postgresql.cnpg.io/v1', kind: 'Cluster' });
    expect(s.bootstrap).toMatchObject({
      initdb: { database: 'rennes_metropole', owner: 'rennes_metropole_owner' },
    });
    const roles = (s.managed as { roles: { name: string; passwordSecret: { name: string } }[] }).roles;
    expect(roles.map((r) => r.name)).toEqual([
      'rennes_metropole_owner',
      'purpose_mobility',
      'purpose_waste',
      'territory_backup',
    ]);
    expect(roles[1]?.passwordSecret.name).toBe('db-purpose-mobility');
    // Restores run as the owner: it must be able to drop and recreate what each purpose's role created.
    expect(roles[0]).toMatchObject({ inRoles: ['purpose_mobility', 'purpose_waste'] });
    expect(roles.slice(1, 3).every((r) => !('inRoles' in r))).toBe(true);
    // Backups run as a read-only role of their own (see backup.test.ts).
    expect(roles[3]).toMatchObject({ inRoles: ['pg_read_all_data'], passwordSecret: { name: 'db-backup' } });
    expect(JSON.stringify(s.affinity)).toContain('"values":["cloudgouv-eu-west-1"]');
    expect(s.enableSuperuserAccess).toBe(false);
    // Physical backups are off by default: the storage provider could read them.
    expect(s.plugins).toBeUndefined();
    // Never CloudNativePG's in-tree object store (deprecated, removed after 1.31): the plugin only.
    expect(s.backup).toBeUndefined();
    const physical = spec(clusterOf(buildDesiredState(context(withPhysicalBackups()))));
    expect(physical.backup).toBeUndefined();
    expect(physical.plugins).toEqual([
      {
        name: 'barman-cloud.cloudnative-pg.io',
        enabled: true,
        isWALArchiver: true,
        parameters: { barmanObjectName: 'physical-backups' },
      },
    ]);
  });

  it('adding a purpose adds a role and leaves the others as they were', () => {
    const before = territory();
    const purposes = [
      ...before.spec.controller.purposes,
      { name: 'water', dataCategories: ['meters'], dataSubjects: ['subscribers'], retentionDays: 90 },
    ];
    const after = territory({ spec: { controller: { ...before.spec.controller, purposes } } });
    const roles = (t: typeof before) =>
      (spec(clusterOf(buildDesiredState(context(t)))).managed as { roles: unknown[] }).roles;
    // The purposes' roles stay as they were; the owner becomes a member of the new one too.
    expect(roles(after).slice(1, 3)).toEqual(roles(before).slice(1, 3));
    expect(roles(after).at(-1)).toEqual(roles(before).at(-1));
    expect(roles(after)).toHaveLength(5);
    expect(roles(after)[0]).toMatchObject({
      inRoles: ['purpose_mobility', 'purpose_waste', 'purpose_water'],
    });
  });

  it('schedules physical backups with CloudNativePG’s six-field cron, the logical backup CronJob and the restore drill', () => {
    const names = (s: ReturnType<typeof buildDesiredState>) =>
      s.backup.map((o) => `${o.kind}/${o.metadata?.name}`);
    expect(names(buildDesiredState(context()))).toEqual(['CronJob/logical-backup', 'CronJob/restore-drill']);
    const noDrill = territory();
    noDrill.spec.backup.restoreDrill.enabled = false;
    expect(names(buildDesiredState(context(noDrill)))).toEqual(['CronJob/logical-backup']);
    const backup = buildDesiredState(context(withPhysicalBackups())).backup;
    expect(backup.map((o) => o.kind)).toEqual(['ScheduledBackup', 'CronJob', 'CronJob']);
    expect(backup[0]).toMatchObject({
      apiVersion: 'postgresql.cnpg.io/v1',
      metadata: { name: 'physical-backup', namespace: 'rennes-metropole' },
      spec: {
        cluster: { name: 'db' },
        schedule: '0 0 2 * * *',
        method: 'plugin',
        pluginConfiguration: { name: 'barman-cloud.cloudnative-pg.io' },
        backupOwnerReference: 'self',
        immediate: false,
      },
    });
    expect(toCnpgSchedule('30 3 * * 0')).toBe('0 30 3 * * 0');
  });

  it('runs the logical backup as a restricted pod, keys mounted read-only, no secret in plain env', () => {
    const cron = buildDesiredState(context()).backup.find((o) => o.kind === 'CronJob') as Owned;
    const text = JSON.stringify(cron);
    expect(text).toContain('"runAsNonRoot":true');
    expect(text).toContain('"readOnlyRootFilesystem":true');
    expect(text).toContain('"allowPrivilegeEscalation":false');
    const env =
      (
        cron.spec as {
          jobTemplate: {
            spec: { template: { spec: { containers: { env: { name: string; value?: string }[] }[] } } };
          };
        }
      ).jobTemplate.spec.template.spec.containers[0]?.env ?? [];
    for (const name of ['PGPASSWORD', 'AWS_SECRET_ACCESS_KEY', 'AWS_ACCESS_KEY_ID']) {
      const e = env.find((x) => x.name === name);
      expect(e?.value, name).toBeUndefined();
    }
  });

  it('mounts the customer key only when the authority holds one', () => {
    const plain = JSON.stringify(buildDesiredState(context()).backup);
    expect(plain).not.toContain('customer-key');
    const held = territory({ spec: { encryption: { customerKey: { secretName: 'rennes-kek' } } } });
    expect(JSON.stringify(buildDesiredState(context(held)).backup)).toContain('rennes-kek');
  });

  it('trusts a private CA for the endpoint only when the Territory names one, in both kinds of backup', () => {
    const plain = buildDesiredState(context());
    expect(JSON.stringify(plain.backup)).not.toContain('s3-ca');
    expect(JSON.stringify(plain.database)).not.toContain('endpointCA');
    const t = withPhysicalBackups({
      endpoint: 'https://s3.cooperative.example',
      bucket: 'backups',
      credentialsSecret: { name: 'creds' },
      endpointCA: { name: 'objectstore-ca' },
    });
    const s = buildDesiredState(context(t));
    const cron = s.backup.find((o) => o.kind === 'CronJob') as Owned;
    const pod = (
      cron.spec as {
        jobTemplate: {
          spec: {
            template: {
              spec: {
                containers: { env: { name: string; value?: string }[]; volumeMounts: unknown[] }[];
                volumes: unknown[];
              };
            };
          };
        };
      }
    ).jobTemplate.spec.template.spec;
    expect(pod.containers[0]?.env).toContainEqual({
      name: 'S3_CA_FILE',
      value: '/var/run/territory/s3-ca/ca.crt',
    });
    expect(pod.containers[0]?.volumeMounts).toContainEqual({
      name: 's3-ca',
      mountPath: '/var/run/territory/s3-ca',
      readOnly: true,
    });
    expect(pod.volumes).toContainEqual({
      name: 's3-ca',
      secret: { secretName: 'objectstore-ca', items: [{ key: 'ca.crt', path: 'ca.crt' }] },
    });
    const store = s.database.find((o) => o.kind === 'ObjectStore') as Owned;
    expect((spec(store).configuration as Record<string, unknown>).endpointCA).toEqual({
      name: 'objectstore-ca',
      key: 'ca.crt',
    });
  });

  it("gives barman-cloud the bucket's region through a Secret, as CloudNativePG reads it", () => {
    const t = withPhysicalBackups({
      endpoint: 'https://s3.gra.io.cloud.ovh.net',
      bucket: 'backups',
      region: 'gra',
      credentialsSecret: { name: 'creds' },
    });
    const [region, store] = buildDesiredState(context(t)).database as Owned[];
    const configuration = spec(store as Owned).configuration as { s3Credentials: Record<string, unknown> };
    expect(configuration.s3Credentials.region).toEqual({ name: 'backup-s3-region', key: 'region' });
    expect(region).toMatchObject({ kind: 'Secret', metadata: { name: 'backup-s3-region' } });
    expect(Buffer.from((region as { data: { region: string } }).data.region, 'base64').toString()).toBe(
      'gra',
    );
    // No physical backup, no region Secret.
    expect(buildDesiredState(context(t, { backupAllowed: false })).database).toHaveLength(1);
  });

  it('builds no backup object, and no plugin on the Cluster, when backups are not allowed', () => {
    for (const t of [territory(), withPhysicalBackups()]) {
      const s = buildDesiredState(context(t, { backupAllowed: false }));
      expect(s.backup).toEqual([]);
      expect(s.database.map((o) => o.kind)).toEqual(['Cluster']);
      expect(spec(clusterOf(s)).plugins).toBeUndefined();
    }
  });

  it('leaves physical backups out while the Barman Cloud plugin is not installed: the database comes up', () => {
    const s = buildDesiredState(context(withPhysicalBackups(), { barmanCloudPlugin: false }));
    // CloudNativePG never reconciles a Cluster naming a plugin it does not know.
    expect(spec(clusterOf(s)).plugins).toBeUndefined();
    expect(s.database.map((o) => o.kind)).toEqual(['Cluster']);
    expect(s.backup.map((o) => `${o.kind}/${o.metadata?.name}`)).toEqual([
      'CronJob/logical-backup',
      'CronJob/restore-drill',
    ]);
  });

  it('leaves the physical backup (and its region Secret) out when disabled, or by default', () => {
    const off = withPhysicalBackups();
    off.spec.backup.physical = { enabled: false, encryption: 'ProviderManaged' };
    for (const t of [off, territory()]) {
      const s = buildDesiredState(context(t));
      expect(s.backup.map((o) => o.kind)).toEqual(['CronJob', 'CronJob']);
      expect(spec(clusterOf(s)).plugins).toBeUndefined();
      expect(s.database.map((o) => o.kind)).toEqual(['Cluster']);
    }
  });
});
