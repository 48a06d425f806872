// The chart's admission policies on the real API server, attacked with real requests:
// - as the operator itself (a real token of its ServiceAccount): RBAC lets it write Secrets, Namespaces and
//   CronJobs cluster-wide, the policy confines those writes to the namespaces it manages;
// - as an authority's admin (impersonated, with the Territory's admin group): what the platform set up in
//   its namespace (keyring, backup CronJob, database Pods' labels, Services, Ingress hosts) cannot be
//   loosened, while its own objects stay writable;
// - as the platform: a Territory cannot claim the operator's or CloudNativePG's namespace.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parse as parseYaml, stringify } from 'yaml';
import { parseTerritory } from '../../operator/src/api/territory.ts';
import { LOGICAL_BACKUP_CRONJOB } from '../../operator/src/builders/backup.ts';
import { buildDatabaseAccessJob } from '../../operator/src/builders/database-access.ts';
import {
  context,
  inPool,
  territory,
  withPhysicalBackups,
} from '../../operator/src/builders/fixtures.test-helpers.ts';
import { buildDesiredState } from '../../operator/src/builders/index.ts';
import { buildKeyringSecret } from '../../operator/src/builders/keys.ts';
import { buildRestoreJob } from '../../operator/src/builders/restore.ts';
import { parseOperatorConfig } from '../../operator/src/config/operator-config.ts';
import { ensureHelmBinary } from '../helm/build.ts';
import {
  findManifest,
  type InstalledAccess,
  installChartAccess,
  installCrdsAsAdmin,
  kubectl,
  TEST_INGRESS_DOMAIN,
} from '../helm/chart.ts';
import { uniqueName, waitFor } from '../support/kube.ts';

const admin = inject('kubeconfigPath');
const kubectlPath = inject('kubectlPath');

const release = uniqueName('chart-adm');
const operatorNs = release;
const tenant = uniqueName('adm-tenant');
const unmanaged = uniqueName('adm-unmanaged');
const ADMIN_GROUP = 'rennes:admins'; // the fixture Territory's admin group
/** The restore Job the operator would create for the Territory declared below. */
let restoreJob: unknown;
let databaseAccessJob: unknown;
let access: InstalledAccess;

const json = (o: unknown) => JSON.stringify(o);

async function asAdmin(args: string[], input?: string) {
  const r = await kubectl(kubectlPath, admin, args, input);
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} (admin) failed:\n${r.stderr}`);
  return r.stdout;
}
const asOperator = (args: string[], input?: string) => kubectl(kubectlPath, access.kubeconfig, args, input);
/** An authority admin: a person in the Territory's admin group, nothing else. */
const asTenant = (args: string[], input?: string) =>
  kubectl(kubectlPath, admin, ['--as=alice@rennes.example', `--as-group=${ADMIN_GROUP}`, ...args], input);

/** A refused request, and the API server's message for it. */
async function refused(attempt: Promise<{ code: number; stderr: string }>, message: RegExp) {
  const r = await attempt;
  expect(r.code, 'the request was accepted').not.toBe(0);
  expect(r.stderr).toMatch(message);
}
async function accepted(attempt: Promise<{ code: number; stderr: string }>) {
  const r = await attempt;
  expect(r.code, r.stderr).toBe(0);
}

const secret = (namespace: string, name: string, labels: Record<string, string> = {}) =>
  json({ apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace, labels }, stringData: { k: 'v' } });

beforeAll(async () => {
  await ensureHelmBinary();
  await installCrdsAsAdmin(kubectlPath, admin);
  await asAdmin(['create', 'namespace', operatorNs]);
  await asAdmin(['create', 'namespace', unmanaged]);
  access = await installChartAccess({
    kubectlPath,
    adminKubeconfig: admin,
    release,
    namespace: operatorNs,
  });
  // Policies take effect once the API server has compiled them: wait for the first refusal.
  await waitFor(
    async () => {
      const r = await asOperator(['create', '--dry-run=server', '-f', '-'], secret('kube-system', 'probe'));
      return r.code !== 0 && /namespaces it manages/.test(r.stderr);
    },
    { timeoutMs: 60_000, what: "the chart's admission policies to take effect" },
  );

  // The platform declares a Territory (with physical backups: an ObjectStore, a Cluster naming the Barman
  // Cloud plugin); the operator applies its desired state with its own token, under the configuration the
  // chart gives it (tenant ClusterRoles, backup image).
  const declared = withPhysicalBackups(undefined, tenant);
  const { uid: _u, generation: _g, ...metadata } = declared.metadata;
  await asAdmin(['create', '-f', '-'], json({ ...declared, metadata }));
  const live = parseTerritory(JSON.parse(await asAdmin(['get', 'territory', tenant, '-o', 'json'])));
  if (!live.ok) throw new Error(live.errors.join('; '));
  const configMap = findManifest(access.manifests, 'ConfigMap') as unknown as {
    data: Record<string, string>;
  };
  const config = parseOperatorConfig(parseYaml(configMap.data['config.yaml'] ?? ''));
  const ctx = context(live.territory, { config: { ...config, backupEgress: context().config.backupEgress } });
  const state = buildDesiredState(ctx);
  // Every option a restore can have: the policy must let each through.
  restoreJob = buildRestoreJob(
    ctx,
    {
      from: 'LogicalBackup',
      backup: '20261129T100000Z.tar.enc',
      sourceTerritory: 'rennes-old',
      replaceExistingData: tenant,
    },
    '0123456789',
  );
  databaseAccessJob = buildDatabaseAccessJob(inPool(ctx), '4f1c2a7e-0000-4000-8000-000000000000');
  const keyring = buildKeyringSecret(ctx, json({ format: 'test', current: 'k1', keys: [] }));
  const apply = async (docs: unknown[]) =>
    accepted(
      asOperator(
        ['apply', '--server-side', '--field-manager=territory-operator', '-f', '-'],
        docs.map((d) => stringify(d)).join('---\n'),
      ),
    );
  await apply([state.namespace]);
  await apply([...state.tenancy, ...state.database, ...state.backup, keyring]);
}, 1_200_000);

afterAll(async () => {
  await kubectl(kubectlPath, admin, ['delete', 'territory', tenant, '--ignore-not-found', '--wait=false']);
  await kubectl(kubectlPath, admin, [
    'delete',
    'namespace',
    tenant,
    operatorNs,
    unmanaged,
    '--ignore-not-found',
    '--wait=false',
  ]);
  for (const m of access?.clusterScoped ?? [])
    await kubectl(kubectlPath, admin, ['delete', m.kind, m.metadata.name, '--ignore-not-found']);
});

describe("the operator's own token is confined to the namespaces it manages", () => {
  it('is refused a Secret in kube-system or in a namespace it does not manage (RBAC alone would allow both)', async () => {
    await refused(
      asOperator(['create', '-f', '-'], secret('kube-system', 'planted')),
      /only in the namespaces it\s+manages.*kube-system is not one/s,
    );
    await refused(
      asOperator(['create', '-f', '-'], secret(unmanaged, 'planted')),
      new RegExp(`${unmanaged} is not one`),
    );
    // The same request in its own namespace goes through: the policy is no blanket refusal.
    await accepted(asOperator(['create', '--dry-run=server', '-f', '-'], secret(tenant, 'fine')));
  });

  it('cannot take over a namespace by labelling it, nor delete one it does not manage', async () => {
    await refused(
      asOperator(['label', 'namespace', unmanaged, 'app.kubernetes.io/managed-by=territory-operator']),
      /only the namespaces it manages/,
    );
    await refused(
      asOperator(['delete', 'namespace', unmanaged, '--dry-run=server']),
      /namespaces it manages/,
    );
  });

  it('runs no other image in a CronJob or a database, and starts no Pod', async () => {
    const cronJob = {
      apiVersion: 'batch/v1',
      kind: 'CronJob',
      metadata: { name: 'miner', namespace: tenant },
      spec: {
        schedule: '* * * * *',
        jobTemplate: {
          spec: {
            template: {
              spec: { restartPolicy: 'Never', containers: [{ name: 'x', image: 'busybox:1.37' }] },
            },
          },
        },
      },
    };
    await refused(asOperator(['create', '-f', '-'], json(cronJob)), /own backup image/);
    const database = {
      apiVersion: 'postgresql.cnpg.io/v1',
      kind: 'Cluster',
      metadata: { name: 'db2', namespace: tenant },
      spec: { instances: 1, imageName: 'registry.example/miner:17', storage: { size: '1Gi' } },
    };
    await refused(asOperator(['create', '-f', '-'], json(database)), /configured PostgreSQL image/);
    await refused(
      asOperator(['run', 'shell', '-n', tenant, '--image=busybox:1.37', '--restart=Never']),
      /forbidden/i,
    );
  });

  it('creates Jobs only as restores (restore-<request>) running its backup image', async () => {
    await accepted(asOperator(['create', '--dry-run=server', '-f', '-'], json(restoreJob)));
    const job = (name: string, image: string, namespace = tenant) =>
      json({
        apiVersion: 'batch/v1',
        kind: 'Job',
        metadata: { name, namespace },
        spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'x', image }] } } },
      });
    await refused(asOperator(['create', '-f', '-'], job('restore-miner', 'busybox:1.37')), /its restores/);
    const image = (restoreJob as { spec: { template: { spec: { containers: { image: string }[] } } } }).spec
      .template.spec.containers[0]?.image;
    await refused(asOperator(['create', '-f', '-'], job('miner', image ?? '')), /its restores/);
    await refused(asOperator(['create', '-f', '-'], job('restore-x', image ?? '', unmanaged)), /is not one/);
  });

  it('creates database-access Jobs running that command alone, and database roles that are a tenant’s, no more', async () => {
    await accepted(asOperator(['create', '--dry-run=server', '-f', '-'], json(databaseAccessJob)));
    type AccessJob = { spec: { template: { spec: { containers: { args?: string[] }[] } } } };
    for (const args of [['backup'], ['database-access', '--sql=ALTER ROLE x SUPERUSER'], ['restore-into']]) {
      const copy = structuredClone(databaseAccessJob) as AccessJob;
      const [container] = copy.spec.template.spec.containers;
      if (container) container.args = args;
      const r = await asOperator(['create', '--dry-run=server', '-f', '-'], json(copy));
      expect(r.code, `a database-access Job running ${args.join(' ')} was accepted`).not.toBe(0);
      expect(r.stderr).toMatch(/database-access Jobs/);
    }
    const role = (spec: Record<string, unknown>) =>
      json({
        apiVersion: 'postgresql.cnpg.io/v1',
        kind: 'DatabaseRole',
        metadata: { name: 'a-role', namespace: tenant },
        spec: { cluster: { name: 'pool-35' }, name: 't_x__owner', login: true, ...spec },
      });
    await accepted(
      asOperator(['create', '--dry-run=server', '-f', '-'], role({ inRoles: ['t_x', 'pg_read_all_data'] })),
    );
    for (const spec of [
      { superuser: true },
      { createrole: true },
      { createdb: true },
      { replication: true },
      { inRoles: ['t_x', 'pg_write_all_data'] },
      { inRoles: ['pg_execute_server_program'] },
    ]) {
      await refused(asOperator(['create', '--dry-run=server', '-f', '-'], role(spec)), /never superuser/);
    }
  });

  it('runs only its own command in its restores and CronJobs: no other command, argument, variable, mount or token', async () => {
    // The backup image holds a shell and node: pinning the image alone would still run anything.
    type PodSpec = {
      serviceAccountName?: string;
      automountServiceAccountToken?: boolean;
      containers: {
        command?: string[];
        args?: string[];
        env?: { name: string; value?: string }[];
        volumeMounts?: { name: string; mountPath: string }[];
      }[];
    };
    const tampered = (change: (pod: PodSpec) => void) => {
      const copy = structuredClone(restoreJob) as { spec: { template: { spec: PodSpec } } };
      change(copy.spec.template.spec);
      return json(copy);
    };
    const first = (pod: PodSpec) => {
      const [c] = pod.containers;
      if (!c) throw new Error('the restore Job has no container');
      return c;
    };
    const attempts: [string, (pod: PodSpec) => void][] = [
      ['another command', (p) => (first(p).command = ['sh', '-c', 'cat /var/run/territory/keys/*'])],
      ['node code of its own', (p) => (first(p).command = ['node', '-e', 'process.exit(0)'])],
      ['another subcommand', (p) => (first(p).args = ['backup'])],
      ['an unknown option', (p) => (first(p).args = ['restore-into', '--endpoint', 'https://203.0.113.7'])],
      ['NODE_OPTIONS', (p) => first(p).env?.push({ name: 'NODE_OPTIONS', value: '--import=data:,1' })],
      [
        'LD_PRELOAD',
        (p) => first(p).env?.push({ name: 'LD_PRELOAD', value: '/var/run/territory/keys/x.so' }),
      ],
      [
        'a mount over its code',
        (p) => first(p).volumeMounts?.push({ name: 'tmp', mountPath: '/app/operator/src/cli' }),
      ],
      ['a ServiceAccount token', (p) => (p.automountServiceAccountToken = true)],
      ['another ServiceAccount', (p) => (p.serviceAccountName = 'cnpg-operator')],
      [
        'a second container',
        (p) => p.containers.push({ ...first(p), name: 'twin' } as PodSpec['containers'][number]),
      ],
    ];
    for (const [what, change] of attempts) {
      const r = await asOperator(['create', '--dry-run=server', '-f', '-'], tampered(change));
      expect(r.code, `a restore Job with ${what} was accepted`).not.toBe(0);
      expect(r.stderr, what).toMatch(/its restores/);
    }
    // The same on a CronJob it applied: another argument to the backup command is refused.
    const cronJob = JSON.parse(
      await asAdmin(['get', 'cronjob', LOGICAL_BACKUP_CRONJOB, '-n', tenant, '-o', 'json']),
    );
    const { resourceVersion: _rv, uid: _uid, managedFields: _mf, ...meta } = cronJob.metadata;
    const pod = cronJob.spec.jobTemplate.spec.template.spec as PodSpec;
    first(pod).args = ['backup', '--endpoint=https://203.0.113.7'];
    await refused(
      asOperator(
        ['create', '--dry-run=server', '-f', '-'],
        json({ ...cronJob, metadata: { ...meta, name: 'backup-2' } }),
      ),
      /own backup command/,
    );
  });

  it('writes an ObjectStore only in its namespaces, and never gives the backup sidecar an environment', async () => {
    // What it applied in beforeAll (its own token, through this very policy) is there.
    const applied = JSON.parse(
      await asAdmin([
        'get',
        'objectstores.barmancloud.cnpg.io',
        'physical-backups',
        '-n',
        tenant,
        '-o',
        'json',
      ]),
    );
    expect(applied.spec.configuration.destinationPath).toBe(`s3://rennes-backups/${tenant}/physical`);
    const store = (namespace: string, sidecar: Record<string, unknown> = {}) =>
      json({
        apiVersion: 'barmancloud.cnpg.io/v1',
        kind: 'ObjectStore',
        metadata: { name: 'elsewhere', namespace },
        spec: {
          configuration: { destinationPath: 's3://elsewhere/wal', endpointURL: 'https://s3.example.net' },
          instanceSidecarConfiguration: sidecar,
        },
      });
    await refused(asOperator(['create', '-f', '-'], store(unmanaged)), new RegExp(`${unmanaged} is not one`));
    await refused(
      asOperator(
        ['create', '--dry-run=server', '-f', '-'],
        store(tenant, { env: [{ name: 'HTTPS_PROXY', value: 'http://203.0.113.7:3128' }] }),
      ),
      /no environment variables and no arguments/,
    );
    await refused(
      asOperator(
        ['create', '--dry-run=server', '-f', '-'],
        store(tenant, { additionalContainerArgs: ['--x'] }),
      ),
      /no environment variables and no arguments/,
    );
    await accepted(asOperator(['create', '--dry-run=server', '-f', '-'], store(tenant)));
  });

  it('binds the tenant ClusterRoles and no other role', async () => {
    const binding = {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: 'escalate', namespace: tenant },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' },
      subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: ADMIN_GROUP }],
    };
    await refused(asOperator(['create', '-f', '-'], json(binding)), /forbidden|escalat/i);
  });
});

describe("an authority's admins cannot loosen what the platform set up", () => {
  it('cannot replace, trim or delete the keyring', async () => {
    await refused(
      asTenant(['patch', 'secret', 'territory-keyring', '-n', tenant, '--type=merge', '-p', '{"data":null}']),
      /managed by the platform/,
    );
    await refused(
      asTenant(['delete', 'secret', 'territory-keyring', '-n', tenant]),
      /managed by the platform/,
    );
    // Nor from a Pod of theirs, even one given the admins' rights: their namespace's own ServiceAccounts
    // are the authority, not the platform.
    await refused(
      kubectl(kubectlPath, admin, [
        `--as=system:serviceaccount:${tenant}:default`,
        `--as-group=${ADMIN_GROUP}`,
        'delete',
        'secret',
        'territory-keyring',
        '-n',
        tenant,
        '--dry-run=server',
      ]),
      /managed by the platform/,
    );
  });

  it('can read the physical backups’ ObjectStore, not point it elsewhere nor delete it', async () => {
    const objectStore = ['objectstores.barmancloud.cnpg.io', 'physical-backups', '-n', tenant];
    await accepted(asTenant(['get', ...objectStore]));
    await refused(
      asTenant([
        'patch',
        ...objectStore,
        '--type=merge',
        '-p',
        '{"spec":{"configuration":{"destinationPath":"s3://mine/wal"}}}',
      ]),
      /forbidden/i,
    );
    await refused(asTenant(['delete', ...objectStore, '--dry-run=server']), /forbidden/i);
  });

  it('cannot suspend the backup CronJob or change its arguments', async () => {
    const [cronJob] = JSON.parse(await asAdmin(['get', 'cronjobs', '-n', tenant, '-o', 'json'])).items;
    expect(cronJob, 'the backup CronJob exists').toBeDefined();
    await refused(
      asTenant([
        'patch',
        'cronjob',
        cronJob.metadata.name,
        '-n',
        tenant,
        '--type=merge',
        '-p',
        '{"spec":{"suspend":true}}',
      ]),
      /managed by the platform/,
    );
  });

  it('cannot change the restore-drill CronJob: not its image, not its environment, not its schedule', async () => {
    const image = JSON.stringify({
      spec: {
        jobTemplate: {
          spec: { template: { spec: { containers: [{ name: 'drill', image: 'busybox:1.37' }] } } },
        },
      },
    });
    await refused(
      asTenant(['patch', 'cronjob', 'restore-drill', '-n', tenant, '--type=strategic', '-p', image]),
      /managed by the platform/,
    );
    const env = JSON.stringify({
      spec: {
        jobTemplate: {
          spec: {
            template: {
              spec: { containers: [{ name: 'drill', env: [{ name: 'PGHOST', value: 'db-rw' }] }] },
            },
          },
        },
      },
    });
    await refused(
      asTenant(['patch', 'cronjob', 'restore-drill', '-n', tenant, '--type=strategic', '-p', env]),
      /managed by the platform/,
    );
    await refused(
      asTenant(['delete', 'cronjob', 'restore-drill', '-n', tenant, '--dry-run=server']),
      /managed by the platform/,
    );
    // Nor run a drill of its own from it: the Job would carry the platform's reserved labels.
    await refused(
      asTenant([
        'create',
        'job',
        'my-drill',
        '--from=cronjob/restore-drill',
        '-n',
        tenant,
        '--dry-run=server',
      ]),
      /reserved for the platform/,
    );
  });

  it("and the operator's own token cannot point the restore drill at another image either", async () => {
    const live = JSON.parse(
      await asAdmin(['get', 'cronjob', 'restore-drill', '-n', tenant, '-o', 'json']),
    ) as {
      metadata: Record<string, unknown>;
      spec: { jobTemplate: { spec: { template: { spec: { containers: { image: string }[] } } } } };
    };
    const container = live.spec.jobTemplate.spec.template.spec.containers[0];
    if (!container) throw new Error('the restore-drill CronJob has no container');
    container.image = 'registry.example/miner:1';
    await refused(
      asOperator(
        ['apply', '--server-side', '--force-conflicts', '--field-manager=territory-operator', '-f', '-'],
        json({
          apiVersion: 'batch/v1',
          kind: 'CronJob',
          metadata: { name: 'restore-drill', namespace: tenant },
          spec: live.spec,
        }),
      ),
      /own backup image/,
    );
  });

  it('cannot forge the labels the platform selects by: managed Secrets, database Pods, Pod templates', async () => {
    await refused(
      asTenant(
        ['create', '-f', '-'],
        secret(tenant, 'flood-1', { 'app.kubernetes.io/managed-by': 'territory-operator' }),
      ),
      /reserved for the platform/,
    );
    const pod = (labels: Record<string, string>) => ({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'impostor', namespace: tenant, labels },
      spec: {
        securityContext: { runAsNonRoot: true, runAsUser: 1000, seccompProfile: { type: 'RuntimeDefault' } },
        containers: [
          {
            name: 'x',
            image: 'busybox:1.37',
            securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
          },
        ],
      },
    });
    await refused(
      asTenant(['create', '--dry-run=server', '-f', '-'], json(pod({ 'cnpg.io/cluster': 'db' }))),
      /reserved for the platform/,
    );
    const deployment = (labels: Record<string, string>) => ({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'app', namespace: tenant },
      spec: {
        selector: { matchLabels: labels },
        template: { metadata: { labels }, spec: { containers: [{ name: 'x', image: 'busybox:1.37' }] } },
      },
    });
    await refused(
      asTenant(['create', '--dry-run=server', '-f', '-'], json(deployment({ 'cnpg.io/cluster': 'db' }))),
      /Pod template labels/,
    );
    await refused(
      asTenant(
        ['create', '--dry-run=server', '-f', '-'],
        json(deployment({ 'sovereign.dev/territory': tenant, 'app.kubernetes.io/component': 'backup' })),
      ),
      /Pod template labels/,
    );
    // Their own objects, without reserved labels, are theirs to write.
    await accepted(asTenant(['create', '--dry-run=server', '-f', '-'], json(deployment({ app: 'web' }))));
    await accepted(asTenant(['create', '--dry-run=server', '-f', '-'], secret(tenant, 'backup-credentials')));
  });

  it('cannot give a Service externalIPs (CVE-2020-8554)', async () => {
    const service = (spec: Record<string, unknown>) =>
      json({
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'web', namespace: tenant },
        spec: { ports: [{ port: 80 }], selector: { app: 'web' }, ...spec },
      });
    await refused(
      asTenant(['create', '--dry-run=server', '-f', '-'], service({ externalIPs: ['203.0.113.10'] })),
      /externalIPs/,
    );
    await accepted(asTenant(['create', '--dry-run=server', '-f', '-'], service({})));
  });

  it("declares Ingress hosts only under its own subdomain, never another's or a catch-all", async () => {
    const apex = `${tenant}.${TEST_INGRESS_DOMAIN}`;
    const ingress = (spec: Record<string, unknown>) =>
      json({
        apiVersion: 'networking.k8s.io/v1',
        kind: 'Ingress',
        metadata: { name: 'web', namespace: tenant },
        spec,
      });
    const rule = (host?: string) => ({
      ...(host ? { host } : {}),
      http: {
        paths: [
          { path: '/', pathType: 'Prefix', backend: { service: { name: 'web', port: { number: 80 } } } },
        ],
      },
    });
    for (const spec of [
      { rules: [rule(`www.other-town.${TEST_INGRESS_DOMAIN}`)] },
      { rules: [rule(`evil-${apex}`)] },
      { rules: [rule()] },
      { defaultBackend: { service: { name: 'web', port: { number: 80 } } }, rules: [rule(`www.${apex}`)] },
      { rules: [rule(`www.${apex}`)], tls: [{ hosts: [`www.other-town.${TEST_INGRESS_DOMAIN}`] }] },
    ])
      await refused(asTenant(['create', '--dry-run=server', '-f', '-'], ingress(spec)), /Ingress hosts/);
    await accepted(
      asTenant(
        ['create', '--dry-run=server', '-f', '-'],
        ingress({ rules: [rule(`www.${apex}`), rule(apex)], tls: [{ hosts: [`www.${apex}`] }] }),
      ),
    );
  });
});

describe('a Territory cannot claim the namespaces the platform runs in', () => {
  it("refuses the operator's namespace and CloudNativePG's", async () => {
    for (const namespace of [operatorNs, 'cnpg-system']) {
      const t = territory({ name: uniqueName('claim'), spec: { namespace } });
      const { uid: _u, generation: _g, ...metadata } = t.metadata;
      await refused(
        kubectl(kubectlPath, admin, ['create', '--dry-run=server', '-f', '-'], json({ ...t, metadata })),
        new RegExp(`${namespace} is where the platform runs`),
      );
    }
  });
});
