// The logical-backup CronJob and the database role it dumps as: every field that decides whether,
// where, as whom and with which keys a backup runs is set by the operator (server-side apply then
// restores any of them a tenant changed), and no credential travels in an environment variable.
import { describe, expect, it } from 'vitest';
import { buildLogicalBackupCronJob } from './backup.ts';
import type { Owned } from './context.ts';
import { BACKUP_ROLE, BACKUP_SECRET } from './database.ts';
import { context, territory } from './fixtures.test-helpers.ts';
import { buildDesiredState } from './index.ts';

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: unknown;
}
interface Container {
  name: string;
  command: string[];
  args?: string[];
  env: EnvVar[];
  envFrom?: unknown;
  volumeMounts: { name: string; mountPath: string; readOnly?: boolean }[];
}
interface PodSpec {
  restartPolicy: string;
  serviceAccountName: string;
  automountServiceAccountToken: boolean;
  enableServiceLinks: boolean;
  securityContext: Record<string, unknown>;
  containers: Container[];
  volumes: ({ name: string } & Record<string, unknown>)[];
}
interface CronJobSpec {
  suspend: boolean;
  timeZone: string;
  concurrencyPolicy: string;
  startingDeadlineSeconds: number;
  successfulJobsHistoryLimit: number;
  failedJobsHistoryLimit: number;
  jobTemplate: {
    spec: {
      backoffLimit: number;
      activeDeadlineSeconds: number;
      template: { spec: PodSpec };
    };
  };
}

function cronJob(t = territory()): CronJobSpec {
  return buildLogicalBackupCronJob(context(t)).spec as CronJobSpec;
}
const pod = (c: CronJobSpec) => c.jobTemplate.spec.template.spec;
const container = (c: CronJobSpec) => pod(c).containers[0] as Container;
const env = (c: CronJobSpec) => Object.fromEntries(container(c).env.map((e) => [e.name, e]));

const wrapped = territory({ spec: { encryption: { customerKey: { secretName: 'rennes-kek' } } } });
const privateCa = territory({
  spec: {
    backup: {
      destination: {
        endpoint: 'https://s3.cooperative.example',
        bucket: 'backups',
        pathPrefix: 'collectivites',
        credentialsSecret: { name: 'creds', accessKeyIdKey: 'id', secretAccessKeyKey: 'secret' },
        endpointCA: { name: 'objectstore-ca' },
      },
    },
  },
});

describe('the logical-backup CronJob', () => {
  it('sets every scheduling and execution field explicitly, so an apply restores what a tenant changed', () => {
    const c = cronJob();
    expect(c).toMatchObject({
      suspend: false,
      timeZone: 'Etc/UTC',
      concurrencyPolicy: 'Forbid',
      startingDeadlineSeconds: 3600,
      successfulJobsHistoryLimit: 3,
      failedJobsHistoryLimit: 3,
    });
    expect(c.jobTemplate.spec).toMatchObject({ backoffLimit: 2, activeDeadlineSeconds: 6 * 3600 });
    expect(pod(c)).toMatchObject({
      restartPolicy: 'Never',
      serviceAccountName: 'default',
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      securityContext: { runAsNonRoot: true, runAsUser: 65532, seccompProfile: { type: 'RuntimeDefault' } },
    });
    expect(pod(c).containers).toHaveLength(1);
  });

  it('owns its command line: the arguments are set (a tenant cannot append flags) and hold no option', () => {
    for (const t of [territory(), wrapped, privateCa]) {
      const c = container(cronJob(t));
      expect(c.command).toEqual(['node', '/app/operator/src/cli/territory-backup.ts']);
      expect(c.args).toEqual(['backup']);
    }
  });

  it('passes no credential in an environment variable: S3 keys and the password are mounted files', () => {
    for (const t of [territory(), wrapped, privateCa]) {
      const c = cronJob(t);
      const vars = container(c).env;
      expect(vars.filter((e) => e.valueFrom !== undefined)).toEqual([]);
      expect(container(c).envFrom).toBeUndefined();
      for (const name of ['PGPASSWORD', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN']) {
        expect(vars.map((e) => e.name)).not.toContain(name);
      }
    }
    const c = cronJob(privateCa);
    const e = env(c);
    expect(e.S3_ACCESS_KEY_ID_FILE?.value).toBe('/var/run/territory/s3-credentials/access-key-id');
    expect(e.S3_SECRET_ACCESS_KEY_FILE?.value).toBe('/var/run/territory/s3-credentials/secret-access-key');
    expect(e.PG_PASSWORD_FILE?.value).toBe('/var/run/territory/db-credentials/password');
    expect(e.TERRITORY_RUNTIME_DIR?.value).toBe('/var/run/territory/run');
    const volumes = Object.fromEntries(pod(c).volumes.map((v) => [v.name, v]));
    expect(volumes['s3-credentials']).toEqual({
      name: 's3-credentials',
      secret: {
        secretName: 'creds',
        defaultMode: 0o440,
        items: [
          { key: 'id', path: 'access-key-id' },
          { key: 'secret', path: 'secret-access-key' },
        ],
      },
    });
    expect(volumes['db-credentials']).toEqual({
      name: 'db-credentials',
      secret: {
        secretName: BACKUP_SECRET,
        defaultMode: 0o440,
        items: [{ key: 'password', path: 'password' }],
      },
    });
    // The passfile is written to memory, never to a disk.
    expect(volumes.run).toEqual({ name: 'run', emptyDir: { medium: 'Memory', sizeLimit: '1Mi' } });
    for (const m of container(c).volumeMounts) {
      if (m.name !== 'run' && m.name !== 'tmp') expect(m.readOnly, m.name).toBe(true);
    }
  });

  it('dumps as the read-only backup role, not as the database owner', () => {
    const e = env(cronJob());
    expect(e.PGUSER).toEqual({ name: 'PGUSER', value: BACKUP_ROLE });
    expect(JSON.stringify(cronJob())).not.toContain('db-owner');
  });

  it('names every destination variable itself, empty when unused, so a tenant cannot add one', () => {
    const plain = env(cronJob());
    for (const name of [
      'S3_ENDPOINT',
      'S3_BUCKET',
      'S3_REGION',
      'S3_PREFIX',
      'S3_CA_FILE',
      'KEK_FILE',
      'KEYRING_FILE',
    ]) {
      expect(plain[name], name).toBeDefined();
    }
    // Empty ones carry no `value` at all: that is how the API server stores them, so the apply is stable.
    expect(plain.S3_PREFIX).toEqual({ name: 'S3_PREFIX' });
    expect(plain.S3_CA_FILE).toEqual({ name: 'S3_CA_FILE' });
    expect(plain.KEK_FILE).toEqual({ name: 'KEK_FILE' });
    const custom = env(cronJob(privateCa));
    expect(custom.S3_PREFIX).toEqual({ name: 'S3_PREFIX', value: 'collectivites' });
    expect(custom.S3_CA_FILE).toEqual({ name: 'S3_CA_FILE', value: '/var/run/territory/s3-ca/ca.crt' });
    expect(env(cronJob(wrapped)).KEK_FILE).toEqual({
      name: 'KEK_FILE',
      value: '/var/run/territory/customer-key/kek',
    });
  });
});

describe('the backup role', () => {
  it('is declared on the Cluster: login, read-only (pg_read_all_data), bypassing row security, own password Secret', () => {
    const cluster = buildDesiredState(context()).database.find((o) => o.kind === 'Cluster') as Owned;
    const roles = (cluster.spec as { managed: { roles: Record<string, unknown>[] } }).managed.roles;
    const backup = roles.find((r) => r.name === BACKUP_ROLE);
    expect(backup).toEqual({
      name: BACKUP_ROLE,
      ensure: 'present',
      login: true,
      inherit: true,
      bypassrls: true,
      inRoles: ['pg_read_all_data'],
      comment: 'territory-operator: logical backups (read-only)',
      passwordSecret: { name: BACKUP_SECRET },
    });
    // No other role is made a member of it, and it is a member of nothing that writes.
    for (const r of roles) expect((r.inRoles as string[] | undefined) ?? []).not.toContain(BACKUP_ROLE);
  });
});
