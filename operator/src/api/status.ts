// status: written by the operator only; never key material or passwords.

import * as z from 'zod';
import { CONDITION_REASON, CONDITION_TYPE, POOL_NAME_MAX, RFC3339 } from './patterns.ts';
import { DATABASE_TIERS, PHYSICAL_BACKUP_ENCRYPTIONS } from './stack.ts';

/** Condition types the operator reports, `Ready` first; Reconciling/Stalled are the kstatus pair. */
export const CONDITION_TYPES = [
  'Ready',
  'AuthorityVerified',
  'SovereigntyCompliant',
  'NamespaceReady',
  'KeysReady',
  'DatabaseReady',
  'BackupReady',
  'Restored',
  'Reconciling',
  'Stalled',
] as const;
export type ConditionType = (typeof CONDITION_TYPES)[number];

/** Where a declarative restore (spec.restore) stands. */
export const RESTORE_PHASES = ['Pending', 'Running', 'Succeeded', 'Failed', 'Refused'] as const;

/** The verdict of a restore drill, and why a failed one failed (from its exit code or its Job). */
export const RESTORE_TEST_RESULTS = ['Passed', 'Failed'] as const;
export const RESTORE_TEST_FAILURES = [
  'DataDiffers',
  'DoesNotRestore',
  'BadConfiguration',
  'CouldNotRun',
  'DeadlineExceeded',
] as const;

const timestamp = (description: string) =>
  z.string().max(64).regex(RFC3339, { message: 'must be an RFC 3339 timestamp' }).meta({
    description,
    format: 'date-time',
  });

export const ConditionSchema = z
  .object({
    type: z
      .string()
      .max(316)
      .regex(CONDITION_TYPE)
      .meta({ description: 'Type of the condition, e.g. Ready.' }),
    status: z.enum(['True', 'False', 'Unknown']).meta({ description: 'True, False or Unknown.' }),
    observedGeneration: z
      .int()
      .min(0)
      .optional()
      .meta({ description: 'metadata.generation the condition was computed from.' }),
    lastTransitionTime: timestamp('When the status last changed.'),
    reason: z
      .string()
      .min(1)
      .max(1024)
      .regex(CONDITION_REASON)
      .meta({ description: 'Machine-readable reason in CamelCase.' }),
    message: z.string().max(32768).meta({ description: 'Human-readable explanation.' }),
  })
  .meta({ description: 'One observation of the territory, in the metav1.Condition shape.' });

/** One kind of backup: its state and its last success and failure (ages are computed by readers). */
function backupKindStatus(description: string, encryption: z.ZodType) {
  return z
    .object({
      state: z.enum(['Succeeded', 'Pending', 'Failing', 'Overdue']).meta({
        description:
          'Succeeded, Pending (none has run yet), Failing (the last run failed), Overdue (no success within ' +
          'two schedule periods).',
      }),
      lastSuccessful: timestamp('When the last backup of this kind succeeded.').optional(),
      lastFailed: timestamp('When the last failed run of this kind was scheduled or taken.').optional(),
      encryption,
    })
    .meta({ description });
}

export const TerritoryStatusSchema = z
  .object({
    observedGeneration: z
      .int()
      .min(0)
      .optional()
      .meta({ description: 'metadata.generation last reconciled.' }),
    conditions: z
      .array(ConditionSchema)
      .max(32)
      .default([])
      .meta({
        description:
          'Ready plus one condition per part (AuthorityVerified, SovereigntyCompliant, NamespaceReady, ' +
          'KeysReady, DatabaseReady, BackupReady; Restored while spec.restore is set) and the kstatus pair ' +
          'Reconciling/Stalled.',
        'x-kubernetes-list-type': 'map',
        'x-kubernetes-list-map-keys': ['type'],
      }),
    authority: z
      .object({
        officialName: z.string().max(200).meta({ description: 'Official name from the INSEE/BANATIC data.' }),
        departement: z.string().max(3).optional().meta({ description: 'INSEE code of the département.' }),
        region: z.string().max(3).optional().meta({ description: 'INSEE code of the région.' }),
        population: z
          .int()
          .min(0)
          .optional()
          .meta({ description: 'Official population (population totale).' }),
        siren: z.string().max(9).optional().meta({ description: 'SIREN of the authority when known.' }),
      })
      .optional()
      .meta({ description: 'The authority as found in the official geography.' }),
    namespace: z.string().max(63).optional().meta({ description: 'Namespace that holds the territory.' }),
    database: z
      .object({
        endpoint: z
          .string()
          .max(512)
          .optional()
          .meta({ description: 'Host:port of the read-write service.' }),
        credentialsSecret: z
          .string()
          .max(253)
          .optional()
          .meta({ description: 'Secret with the application credentials (its name only).' }),
        phase: z.string().max(256).optional().meta({ description: 'Phase reported by CloudNativePG.' }),
        tier: z
          .enum(DATABASE_TIERS)
          .optional()
          .meta({
            description:
              "Where the database lives: Dedicated (a cluster of the Territory's own) or Shared (a database in " +
              'a DatabasePool), as resolved from spec.database.tier and the live facts.',
          }),
        pool: z
          .string()
          .max(POOL_NAME_MAX)
          .optional()
          .meta({ description: 'The DatabasePool holding the database, when Shared.' }),
      })
      .optional()
      .meta({ description: 'The PostgreSQL database as observed.' }),
    keys: z
      .object({
        current: z.string().max(128).optional().meta({ description: 'Id of the key version in use.' }),
        versions: z
          .array(
            z
              .object({
                id: z.string().max(128).meta({ description: 'Key version id (never key material).' }),
                createdAt: timestamp('When this key version was created.'),
              })
              .meta({ description: 'One key version.' }),
          )
          .max(1000)
          .default([])
          .meta({ description: 'Key versions still kept to read older data and backups.' }),
        nextRotation: timestamp('When the next rotation is due.').optional(),
      })
      .optional()
      .meta({ description: 'Key versions by id only; key material never appears here.' }),
    backup: z
      .object({
        destinationHost: z.string().max(253).optional().meta({ description: 'Host of the backup endpoint.' }),
        lastObject: z.string().max(1024).optional().meta({ description: 'Object key of the last backup.' }),
        logical: backupKindStatus(
          'The logical backups (pg_dump), encrypted with the authority’s keys before they leave the cluster.',
          z.enum(['Authority']).meta({
            description: 'Authority: encrypted with the Territory’s keyring, unreadable by the provider.',
          }),
        ).optional(),
        physical: backupKindStatus(
          'The physical backups (WAL archive and base backups), when spec.backup.physical.enabled.',
          z.enum(PHYSICAL_BACKUP_ENCRYPTIONS).meta({
            description: 'ProviderManaged: encrypted by the storage provider, which can read them.',
          }),
        ).optional(),
        lastRestoreTest: z
          .object({
            state: z.enum(['Succeeded', 'Pending', 'Failing', 'Overdue']).meta({
              description:
                'Succeeded (the last drill passed), Pending (none has finished yet), Failing (the last drill ' +
                'failed), Overdue (none passed within two drill periods).',
            }),
            result: z
              .enum(RESTORE_TEST_RESULTS)
              .optional()
              .meta({
                description:
                  'Passed: the latest backup restored and every table matched what the backup recorded (or, for a ' +
                  'backup without that record, it restored). Failed: see failure.',
              }),
            time: timestamp('When the last drill ended.').optional(),
            durationSeconds: z
              .int()
              .min(0)
              .optional()
              .meta({ description: 'How long the last drill ran, start to end.' }),
            failure: z
              .enum(RESTORE_TEST_FAILURES)
              .optional()
              .meta({
                description:
                  'Why the last drill failed: DataDiffers (restored, but the data does not match the backup), ' +
                  'DoesNotRestore (the backup fails verification or pg_restore refuses it), BadConfiguration, ' +
                  'CouldNotRun (it stopped before a verdict, e.g. the store was unreachable or the Pod was killed), ' +
                  'DeadlineExceeded (it ran out of time).',
              }),
            job: z
              .string()
              .max(63)
              .optional()
              .meta({ description: 'The Job of the last drill: kubectl -n <namespace> logs job/<job>.' }),
            lastPassed: timestamp('When a drill last passed.').optional(),
          })
          .optional()
          .meta({
            description:
              'The last restore drill (spec.backup.restoreDrill): the latest backup restored into a throwaway ' +
              'PostgreSQL server and compared table by table with what it recorded when it was taken.',
          }),
      })
      .optional()
      .meta({ description: 'Backups as observed, each kind on its own.' }),
    restore: z
      .object({
        request: z
          .string()
          .max(16)
          .meta({
            description:
              'Id of the restore request (a hash of spec.restore): its Job is restore-<request> (LogicalBackup); ' +
              'a Cluster recovered to a point in time archives its WAL under db-<request> (PointInTime). A ' +
              'request that Succeeded is never run again.',
          }),
        phase: z.enum(RESTORE_PHASES).meta({
          description:
            'Pending (waiting for the database, or for its Job to start), Running, Succeeded (restored and every ' +
            'table matched what the backup recorded), Failed (see message; the database was left as it was unless ' +
            'the message says the restore committed), Refused (nothing was changed: the database already holds ' +
            'data and spec.restore.replaceExistingData is not set, or, for PointInTime, the physical backups are ' +
            'off or cannot reach targetTime).',
        }),
        job: z
          .string()
          .max(63)
          .optional()
          .meta({ description: 'The restore Job: kubectl -n <namespace> logs job/<job>.' }),
        backup: z
          .string()
          .max(64)
          .optional()
          .meta({ description: 'The backup object restored (or chosen), by name.' }),
        sourceTerritory: z
          .string()
          .max(63)
          .optional()
          .meta({ description: 'Whose backup it is, when not this Territory’s own.' }),
        targetTime: timestamp('The instant the database is recovered to (PointInTime).').optional(),
        sourceServer: z
          .string()
          .max(63)
          .optional()
          .meta({
            description:
              'The physical backups recovered from (PointInTime): their folder under ' +
              '<pathPrefix>/<territory>/physical/, db or db-<request> of an earlier recovery.',
          }),
        startedAt: timestamp('When the restore Job started, or the recovery began (PointInTime).').optional(),
        completedAt: timestamp('When it ended.').optional(),
        durationSeconds: z.int().min(0).optional().meta({ description: 'How long it ran, start to end.' }),
        tables: z.int().min(0).optional().meta({ description: 'Tables restored (those of the backup).' }),
        rows: z.int().min(0).optional().meta({ description: 'Rows in those tables after the restore.' }),
        replacedExistingData: z
          .boolean()
          .optional()
          .meta({ description: 'The database held data before, and the restore replaced it, as confirmed.' }),
        message: z.string().max(2048).optional().meta({ description: 'What happened, in words.' }),
      })
      .optional()
      .meta({
        description:
          'The last declarative restore (spec.restore) and how it went; kept as a record when spec.restore is removed.',
      }),
    sovereignty: z
      .object({
        provider: z
          .string()
          .max(128)
          .optional()
          .meta({ description: 'Hosting provider the cluster runs on.' }),
        regions: z
          .array(z.string().max(63))
          .max(50)
          .optional()
          .meta({ description: 'Provider regions of the nodes that may hold data.' }),
        level: z.string().max(32).optional().meta({ description: 'Hosting level shown to be met.' }),
      })
      .optional()
      .meta({ description: 'Where the stack runs, as the operator could show it.' }),
  })
  .meta({ description: 'Observed state of the territory, written by the operator.' });
