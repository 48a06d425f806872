// The restore-drill CronJob: hardened like the backup, holding the store's credentials and the keys as
// files and no database credential at all, restoring onto a disk sized for it, reaching the object
// store only (the backup Pods' egress), and failing once, loudly, rather than retrying.
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../backup/config.ts';
import { buildLogicalBackupCronJob } from './backup.ts';
import type { Owned } from './context.ts';
import { BACKUP_SECRET, CA_SECRET, OWNER_SECRET, RW_SERVICE } from './database.ts';
import { context, territory } from './fixtures.test-helpers.ts';
import { KEYRING_SECRET } from './keys.ts';
import { backupPodLabels, buildNetworkPolicies } from './network.ts';
import {
  buildRestoreDrillCronJob,
  DRILL_DEADLINE_SECONDS,
  RESTORE_DRILL_CRONJOB,
  RESTORE_DRILL_JOB_SELECTOR,
} from './restore-drill.ts';

interface Container {
  name: string;
  image: string;
  command: string[];
  args: string[];
  env: { name: string; value?: string; valueFrom?: unknown }[];
  envFrom?: unknown;
  volumeMounts: { name: string; mountPath: string; readOnly?: boolean }[];
  resources: { requests: Record<string, string>; limits: Record<string, string> };
  securityContext: Record<string, unknown>;
}
interface PodSpec {
  containers: Container[];
  volumes: ({ name: string } & Record<string, unknown>)[];
  [field: string]: unknown;
}
interface CronJob {
  metadata: { name: string; labels: Record<string, string> };
  spec: {
    schedule: string;
    [field: string]: unknown;
    jobTemplate: {
      metadata: { labels: Record<string, string> };
      spec: {
        backoffLimit: number;
        activeDeadlineSeconds: number;
        podFailurePolicy: { rules: Record<string, unknown>[] };
        template: { metadata: { labels: Record<string, string> }; spec: PodSpec };
      };
    };
  };
}

const drill = (t = territory()) => buildRestoreDrillCronJob(context(t)) as unknown as CronJob;
const backup = (t = territory()) => buildLogicalBackupCronJob(context(t)) as unknown as CronJob;
const pod = (c: CronJob) => c.spec.jobTemplate.spec.template.spec;
const container = (c: CronJob) => pod(c).containers[0] as Container;
const env = (c: CronJob) => Object.fromEntries(container(c).env.map((e) => [e.name, e.value ?? '']));

const wrapped = territory({ spec: { encryption: { customerKey: { secretName: 'rennes-kek' } } } });
const privateCa = territory({
  spec: {
    backup: {
      restoreDrill: { schedule: '30 5 * * 6', scratchSize: '25Gi' },
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

describe('the restore-drill CronJob', () => {
  it('runs weekly by default, or on its own schedule, in UTC, one at a time', () => {
    const c = drill();
    expect(c.metadata.name).toBe(RESTORE_DRILL_CRONJOB);
    expect(c.spec).toMatchObject({
      schedule: '0 4 * * 0',
      timeZone: 'Etc/UTC',
      suspend: false,
      concurrencyPolicy: 'Forbid',
      startingDeadlineSeconds: 3600,
      successfulJobsHistoryLimit: 1,
      failedJobsHistoryLimit: 1,
    });
    expect(drill(privateCa).spec.schedule).toBe('30 5 * * 6');
  });

  it('fails once and reports, never retrying for hours: backoffLimit 0, a deadline, the exit code fails the Job', () => {
    const job = drill().spec.jobTemplate.spec;
    expect(job.backoffLimit).toBe(0);
    expect(job.activeDeadlineSeconds).toBe(DRILL_DEADLINE_SECONDS);
    expect(job.podFailurePolicy.rules).toEqual([
      // A node drained under it is not the drill's failure: a new Pod, not counted.
      { action: 'Ignore', onPodConditions: [{ type: 'DisruptionTarget', status: 'True' }] },
      { action: 'FailJob', onExitCodes: { containerName: 'drill', operator: 'NotIn', values: [0] } },
    ]);
    expect(pod(drill()).restartPolicy).toBe('Never');
  });

  it('is hardened exactly like the backup: same image, command, user, seccomp, no token, read-only root', () => {
    for (const t of [territory(), wrapped, privateCa]) {
      const d = pod(drill(t));
      const b = pod(backup(t));
      for (const field of [
        'restartPolicy',
        'serviceAccountName',
        'automountServiceAccountToken',
        'enableServiceLinks',
        'securityContext',
        'affinity',
      ]) {
        expect(d[field], field).toEqual(b[field]);
      }
      expect(d.automountServiceAccountToken).toBe(false);
      expect(d.securityContext).toMatchObject({
        runAsNonRoot: true,
        seccompProfile: { type: 'RuntimeDefault' },
      });
      const [dc, bc] = [container(drill(t)), container(backup(t))];
      expect(dc.image).toBe(context().config.operatorImage);
      expect(dc.image).toBe(bc.image);
      expect(dc.command).toEqual(bc.command);
      expect(dc.args).toEqual(['drill']);
      expect(dc.securityContext).toEqual({
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
        capabilities: { drop: ['ALL'] },
      });
      expect(d.initContainers).toBeUndefined();
      expect(d.containers).toHaveLength(1);
    }
  });

  it('holds no database credential, CA or address: its libpq environment cannot reach the database', () => {
    for (const t of [territory(), wrapped, privateCa]) {
      const c = drill(t);
      const names = container(c).env.map((e) => e.name);
      expect(names.filter((n) => n.startsWith('PG'))).toEqual([]);
      expect(container(c).envFrom).toBeUndefined();
      expect(container(c).env.filter((e) => e.valueFrom !== undefined)).toEqual([]);
      const text = JSON.stringify(c);
      for (const secret of [BACKUP_SECRET, OWNER_SECRET, CA_SECRET]) {
        expect(text, secret).not.toContain(`"${secret}"`);
      }
      expect(text).not.toContain(RW_SERVICE);
      expect(pod(c).volumes.map((v) => v.name)).not.toContain('db-credentials');
      expect(pod(c).volumes.map((v) => v.name)).not.toContain('db-ca');
    }
  });

  it('reads the store the backup writes, with the same keys, as mounted files', () => {
    for (const t of [territory(), wrapped, privateCa]) {
      const d = env(drill(t));
      const b = env(backup(t));
      for (const name of [
        'TERRITORY_NAME',
        'S3_ENDPOINT',
        'S3_BUCKET',
        'S3_PREFIX',
        'S3_REGION',
        'S3_CA_FILE',
        'S3_ACCESS_KEY_ID_FILE',
        'S3_SECRET_ACCESS_KEY_FILE',
        'KEYRING_FILE',
        'KEK_FILE',
      ]) {
        expect(d[name], name).toBe(b[name]);
      }
      // The command's own configuration check accepts it (PG_BINDIR comes from the image).
      const cfg = loadConfig({ ...d, PG_BINDIR: '/usr/lib/postgresql/17/bin' });
      expect(cfg.runtimeDir).toBe('/var/run/territory/scratch');
      expect(cfg.pg).toEqual({ binDir: '/usr/lib/postgresql/17/bin' });
    }
    const mounts = Object.fromEntries(container(drill(privateCa)).volumeMounts.map((m) => [m.name, m]));
    expect(Object.keys(mounts).sort()).toEqual(['keyring', 's3-ca', 's3-credentials', 'scratch', 'tmp']);
    for (const secret of ['keyring', 's3-ca', 's3-credentials']) expect(mounts[secret]?.readOnly).toBe(true);
    const volumes = Object.fromEntries(pod(drill(wrapped)).volumes.map((v) => [v.name, v]));
    expect(volumes.keyring).toMatchObject({ secret: { secretName: KEYRING_SECRET } });
    expect(volumes['customer-key']).toMatchObject({ secret: { secretName: 'rennes-kek' } });
  });

  it('restores onto a disk-backed scratch volume sized by scratchSize (default: the database volume), and asks the node for it', () => {
    const volume = (c: CronJob) => pod(c).volumes.find((v) => v.name === 'scratch');
    // Not memory: the restored database may be far larger than the Pod's memory limit. The fixture's
    // métropole is large: its database's volume is the large profile's, 100Gi.
    expect(volume(drill())).toEqual({ name: 'scratch', emptyDir: { sizeLimit: '100Gi' } });
    expect(container(drill()).resources.requests['ephemeral-storage']).toBe('100Gi');
    expect(volume(drill(privateCa))).toEqual({ name: 'scratch', emptyDir: { sizeLimit: '25Gi' } });
    expect(container(drill(privateCa)).resources.requests['ephemeral-storage']).toBe('25Gi');
    const big = territory({ spec: { database: { storage: { size: '200Gi' } } } });
    expect(volume(drill(big))).toEqual({ name: 'scratch', emptyDir: { sizeLimit: '200Gi' } });
  });

  it('gets the backup Pods’ egress (the object store only) and nothing else; its Jobs carry the labels the operator watches', () => {
    const c = drill();
    const labels = c.spec.jobTemplate.spec.template.metadata.labels;
    expect(labels).toEqual(backupPodLabels(context()));
    const policies = buildNetworkPolicies(context()) as (Owned & {
      spec: { podSelector: { matchLabels?: Record<string, string> } };
    })[];
    const selecting = policies.filter((p) => {
      const match = p.spec.podSelector.matchLabels;
      return match !== undefined && Object.entries(match).every(([k, v]) => labels[k] === v);
    });
    expect(selecting.map((p) => p.metadata?.name)).toEqual(['allow-backup-destination']);
    // The Job's labels (copied from jobTemplate) match the operator's watch of drill Jobs.
    const jobLabels = c.spec.jobTemplate.metadata.labels;
    for (const term of RESTORE_DRILL_JOB_SELECTOR.split(',')) {
      const [k = '', v] = term.split('=');
      expect(jobLabels[k], k).toBe(v);
    }
    expect(jobLabels['sovereign.dev/territory']).toBe('rennes-metropole');
  });
});
