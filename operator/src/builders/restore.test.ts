// The restore Job: hardened like the backup, the owner's and the backup role's passwords as files, TLS
// to the database, the request in its name and label, the backup Pods' egress, failing once and loudly.
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../backup/config.ts';
import { buildLogicalBackupCronJob } from './backup.ts';
import { BACKUP_SECRET, CA_SECRET, OWNER_SECRET, RW_SERVICE } from './database.ts';
import { context, territory } from './fixtures.test-helpers.ts';
import { KEYRING_SECRET } from './keys.ts';
import { backupPodLabels } from './network.ts';
import { buildRestoreJob, RESTORE_DEADLINE_SECONDS, RESTORE_REQUEST_LABEL, restoreArgs } from './restore.ts';

interface Container {
  name: string;
  image: string;
  command: string[];
  args: string[];
  env: { name: string; value?: string }[];
  volumeMounts: { name: string; mountPath: string }[];
  [field: string]: unknown;
}
interface PodSpec {
  containers: Container[];
  volumes: ({ name: string } & Record<string, unknown>)[];
  [field: string]: unknown;
}
interface Job {
  metadata: { name: string; namespace: string; labels: Record<string, string>; ownerReferences: unknown[] };
  spec: {
    backoffLimit: number;
    activeDeadlineSeconds: number;
    ttlSecondsAfterFinished?: number;
    podFailurePolicy: { rules: unknown[] };
    template: { metadata: { labels: Record<string, string> }; spec: PodSpec };
  };
}

const job = (restore = { from: 'LogicalBackup' as const }, t = territory()) =>
  buildRestoreJob(context(t), restore, 'a1b2c3d4e5') as unknown as Job;
const containerOf = (j: Job) => j.spec.template.spec.containers[0] as Container;
const envOf = (j: Job) => Object.fromEntries(containerOf(j).env.map((e) => [e.name, e.value ?? '']));

describe('the restore Job', () => {
  it('is named after its request, labelled for the operator, owned by the Territory', () => {
    const j = job();
    expect(j.metadata.name).toBe('restore-a1b2c3d4e5');
    expect(j.metadata.namespace).toBe('rennes-metropole');
    expect(j.metadata.labels).toMatchObject({
      'app.kubernetes.io/managed-by': 'territory-operator',
      'app.kubernetes.io/component': 'restore',
      'sovereign.dev/territory': 'rennes-metropole',
      [RESTORE_REQUEST_LABEL]: 'a1b2c3d4e5',
    });
    expect(j.metadata.ownerReferences).toHaveLength(1);
  });

  it('runs once: no retry, a deadline, the exit code fails the Job, a drained Pod is replaced; no TTL', () => {
    const { spec } = job();
    expect(spec.backoffLimit).toBe(0);
    expect(spec.activeDeadlineSeconds).toBe(RESTORE_DEADLINE_SECONDS);
    expect(spec.ttlSecondsAfterFinished).toBeUndefined();
    expect(spec.podFailurePolicy.rules).toEqual([
      { action: 'Ignore', onPodConditions: [{ type: 'DisruptionTarget', status: 'True' }] },
      { action: 'FailJob', onExitCodes: { containerName: 'restore', operator: 'NotIn', values: [0] } },
    ]);
  });

  it('is hardened like the backup, and reaches the store as a backup Pod does', () => {
    const j = job();
    const b = buildLogicalBackupCronJob(context()) as unknown as {
      spec: { jobTemplate: { spec: { template: { spec: PodSpec } } } };
    };
    const bPod = b.spec.jobTemplate.spec.template.spec;
    for (const field of [
      'restartPolicy',
      'automountServiceAccountToken',
      'enableServiceLinks',
      'securityContext',
      'affinity',
    ]) {
      expect(j.spec.template.spec[field], field).toEqual(bPod[field]);
    }
    const c = containerOf(j);
    expect(c.image).toBe((bPod.containers[0] as Container).image);
    expect(c.command).toEqual((bPod.containers[0] as Container).command);
    expect(c.securityContext).toEqual({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
    });
    expect(c.terminationMessagePath).toBe('/dev/termination-log');
    expect(j.spec.template.metadata.labels).toEqual(backupPodLabels(context()));
  });

  it('restores as the owner over verified TLS and checks as the backup role, passwords as files only', () => {
    const j = job();
    const env = envOf(j);
    expect(env).toMatchObject({
      TERRITORY_NAME: 'rennes-metropole',
      PGHOST: RW_SERVICE,
      PGDATABASE: 'rennes_metropole',
      PGUSER: 'rennes_metropole_owner',
      PG_CHECK_USER: 'territory_backup',
      PGSSLMODE: 'verify-full',
      TERMINATION_MESSAGE_PATH: '/dev/termination-log',
    });
    expect(Object.keys(env).filter((n) => /PASSWORD$|^PGPASS|SECRET_ACCESS_KEY$|^AWS_/.test(n))).toEqual([]);
    const secrets = Object.fromEntries(
      j.spec.template.spec.volumes.flatMap((v) => {
        const s = v.secret as { secretName?: string } | undefined;
        return s?.secretName ? [[v.name, s.secretName]] : [];
      }),
    );
    expect(secrets).toEqual({
      keyring: KEYRING_SECRET,
      'db-ca': CA_SECRET,
      's3-credentials': 'backup-credentials',
      'db-credentials': OWNER_SECRET,
      'db-check-credentials': BACKUP_SECRET,
    });
    // What the command reads is exactly what the Job sets.
    const cfg = loadConfig(env);
    expect(cfg.pg).toMatchObject({ checkUser: 'territory_backup', database: 'rennes_metropole' });
    expect(cfg.sourceTerritory).toBeUndefined();
  });

  it('passes the request on: which backup, whose, and the confirmation as a flag', () => {
    expect(restoreArgs({ from: 'LogicalBackup' })).toEqual(['restore-into']);
    expect(restoreArgs({ from: 'LogicalBackup', backup: '20261101T020000.000Z.pgdump.enc' })).toEqual([
      'restore-into',
      '--object',
      '20261101T020000.000Z.pgdump.enc',
    ]);
    expect(
      restoreArgs({
        from: 'LogicalBackup',
        before: '2026-11-01T03:00:00Z',
        replaceExistingData: 'rennes-metropole',
      }),
    ).toEqual(['restore-into', '--before', '2026-11-01T03:00:00Z', '--replace-existing-data']);
    const other = job({ from: 'LogicalBackup', sourceTerritory: 'rennes-ancien' } as never);
    expect(loadConfig(envOf(other)).sourceTerritory).toBe('rennes-ancien');
  });
});
