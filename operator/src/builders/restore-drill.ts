// Restore drills (SecNumCloud asks for regular restore tests): a CronJob beside the logical backup's
// that runs `territory-backup drill`, which restores the latest encrypted backup into a throwaway
// PostgreSQL server it starts itself and compares every table with what the backup recorded when it
// was taken. The operator reads the outcome from the drill's Jobs and its CronJob (territory/health.ts).
//
// What the drill holds: the keyring (and the authority's key-encryption key), the bucket's credentials
// and CA, as files, like the backup. What it does not hold: any database credential, CA or address. It
// never connects to the territory's database (its PostgreSQL tools get an environment built from
// nothing but its own server's socket), so nothing here names the database Service.
//
// The only place decrypted data touches a disk: the `scratch` emptyDir, disk-backed and sized by
// spec.backup.restoreDrill.scratchSize, holding the throwaway server's data directory for the drill's
// duration. The drill deletes it when it ends (whatever happens), and the kubelet deletes the volume
// with the Pod.
import {
  hardenedPodSpec,
  keyringMount,
  keyringVolume,
  optionalStoreVolumes,
  s3CredentialsMount,
  s3CredentialsVolume,
  storeEnv,
} from './backup.ts';
import type { BuildContext, Owned } from './context.ts';
import { LABELS, MANAGED_BY, ownedMeta, territoryLabels } from './context.ts';
import { databaseSizing } from './database-sizing.ts';
import { backupPodLabels } from './network.ts';

export const RESTORE_DRILL_CRONJOB = 'restore-drill';
/** The component label of the drill's CronJob and Jobs (the operator watches those Jobs by it). */
export const RESTORE_DRILL_COMPONENT = 'restore-drill';
/** The drill's container: the name its Jobs' pod failure policy and exit codes refer to. */
export const RESTORE_DRILL_CONTAINER = 'drill';

/** The Jobs of every Territory's drills, as the operator's watch selects them. */
export const RESTORE_DRILL_JOB_SELECTOR = `${LABELS.managedBy}=${MANAGED_BY},${LABELS.component}=${RESTORE_DRILL_COMPONENT}`;

/** A drill that has not finished in this time is stopped, and reported failed (DeadlineExceeded). */
export const DRILL_DEADLINE_SECONDS = 6 * 3600;

const SCRATCH_DIR = '/var/run/territory/scratch';

/** The disk the drill restores into: spec.backup.restoreDrill.scratchSize, else the database's volume size. */
export function drillScratchSize(ctx: BuildContext): string {
  return ctx.territory.spec.backup.restoreDrill.scratchSize ?? databaseSizing(ctx).storage;
}

/**
 * The restore-drill CronJob. As for the backup CronJob, every field that decides whether, when and how a
 * drill runs is set here explicitly, so that server-side apply restores whatever someone changed.
 *
 * A failed drill must say so, not retry for hours: backoffLimit 0, and a pod failure policy that fails
 * the Job at the first non-zero exit of the drill (its exit code, in the Job's Failed condition, tells
 * the operator why: 4 the data differs, 5 the backup does not restore), while a Pod lost to a node
 * drain or preemption (DisruptionTarget) is replaced without counting as a failure.
 */
export function buildRestoreDrillCronJob(ctx: BuildContext): Owned {
  const t = ctx.territory;
  const drill = t.spec.backup.restoreDrill;
  const scratch = drillScratchSize(ctx);
  const optional = optionalStoreVolumes(ctx);
  const env = [
    { name: 'TERRITORY_NAME', value: t.metadata.name },
    ...storeEnv(ctx),
    // The throwaway server's folder (data directory and socket): the scratch disk below.
    { name: 'TERRITORY_RUNTIME_DIR', value: SCRATCH_DIR },
  ];
  const volumeMounts = [
    keyringMount(),
    s3CredentialsMount(),
    { name: 'scratch', mountPath: SCRATCH_DIR },
    { name: 'tmp', mountPath: '/tmp' },
    ...optional.volumeMounts,
  ];
  const volumes = [
    keyringVolume(),
    s3CredentialsVolume(ctx),
    // Disk-backed on purpose: the restored database may be far larger than the Pod's memory. Deleted with
    // the Pod; the drill removes its content before that, whatever the outcome.
    { name: 'scratch', emptyDir: { sizeLimit: scratch } },
    { name: 'tmp', emptyDir: { sizeLimit: '64Mi' } },
    ...optional.volumes,
  ];
  return {
    apiVersion: 'batch/v1',
    kind: 'CronJob',
    metadata: ownedMeta(ctx, RESTORE_DRILL_CRONJOB, RESTORE_DRILL_COMPONENT),
    spec: {
      schedule: drill.schedule,
      timeZone: 'Etc/UTC',
      suspend: false,
      concurrencyPolicy: 'Forbid',
      startingDeadlineSeconds: 3600,
      // The operator reads the last drill of each outcome; older ones only cost memory in its cache.
      successfulJobsHistoryLimit: 1,
      failedJobsHistoryLimit: 1,
      jobTemplate: {
        metadata: {
          // Copied onto each Job (by the CronJob controller, and by `kubectl create job --from`): the
          // operator watches the drill's Jobs by these labels, and a Job's end wakes its Territory.
          labels: { ...territoryLabels(ctx), [LABELS.component]: RESTORE_DRILL_COMPONENT },
        },
        spec: {
          backoffLimit: 0,
          activeDeadlineSeconds: DRILL_DEADLINE_SECONDS,
          podFailurePolicy: {
            rules: [
              {
                action: 'Ignore',
                onPodConditions: [{ type: 'DisruptionTarget', status: 'True' }],
              },
              {
                action: 'FailJob',
                onExitCodes: { containerName: RESTORE_DRILL_CONTAINER, operator: 'NotIn', values: [0] },
              },
            ],
          },
          template: {
            metadata: {
              // The backup Pods' labels: the same egress (the object store only), and nothing else.
              labels: backupPodLabels(ctx),
            },
            spec: hardenedPodSpec(ctx, {
              name: RESTORE_DRILL_CONTAINER,
              args: ['drill'],
              env,
              volumeMounts,
              resources: {
                // PostgreSQL, pg_restore and the command itself. The disk is requested too, so that a
                // drill only starts on a node that can hold the restored database.
                requests: { cpu: '250m', memory: '512Mi', 'ephemeral-storage': scratch },
                limits: { cpu: '1', memory: '1Gi' },
              },
              volumes,
            }),
          },
        },
      },
    },
  };
}
