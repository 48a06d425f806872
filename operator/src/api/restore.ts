// spec.restore: "start from this backup", the way CloudNativePG users expect a restore to be declared.
// `from` says what kind of source it is: LogicalBackup (an encrypted dump, restored by a Job) or
// PointInTime (the physical backups, through CloudNativePG's bootstrap.recovery), each with its fields.
// A discriminated union would say it in zod, but it becomes oneOf in OpenAPI, which a CRD's structural
// schema refuses: one object, and rules saying which fields go with which `from`, in zod and in CEL.

import { createHash } from 'node:crypto';
import * as z from 'zod';
import { type CelRule, DNS_LABEL, RFC3339 } from './patterns.ts';

export const RESTORE_SOURCES = ['LogicalBackup', 'PointInTime'] as const;

/** A backup's object name, as `territory-backup list` and `territoryctl restore` show it. */
export const BACKUP_OBJECT_NAME = /^[0-9]{8}T[0-9]{6}\.[0-9]{3}Z\.pgdump\.enc$/;

const BOTH_MESSAGE = 'spec.restore: give backup or before, not both';

/**
 * Which fields go with which `from`, said once for zod (the issue's path names the field) and CEL (the
 * message starts with spec.restore, the rule's fieldPath names the field).
 */
const TARGET_TIME_REQUIRED = 'from: PointInTime needs targetTime, the instant to recover the database to';
const TARGET_TIME_ONLY =
  'targetTime goes with from: PointInTime only (a LogicalBackup restore picks its backup with before)';
/** Point-in-time recovery reads this Territory's own physical backups: no logical backup is picked. */
const LOGICAL_ONLY_FIELDS = ['backup', 'before', 'sourceTerritory'] as const;
const logicalOnly = (field: string) =>
  `${field} goes with from: LogicalBackup only (PointInTime recovers this Territory's own physical backups to targetTime)`;

export const RestoreSchema = z
  .strictObject({
    from: z.enum(RESTORE_SOURCES).meta({
      description:
        "What to restore from. LogicalBackup: one of the Territory's encrypted logical backups " +
        '(spec.backup.destination), restored into its database by a Job in its namespace. PointInTime: the ' +
        "Territory's physical backups (spec.backup.physical): the database Cluster is re-created from them " +
        '(a base backup, then the WAL archive replayed) up to targetTime. On an existing Territory this ' +
        'replaces the whole database and needs replaceExistingData. Refused with hosting level secnumcloud, ' +
        'since physical backups are.',
    }),
    backup: z
      .string()
      .max(64)
      .regex(BACKUP_OBJECT_NAME, {
        message: 'must be a backup object name (<YYYYMMDDTHHMMSS.mmmZ>.pgdump.enc)',
      })
      .optional()
      .meta({
        description:
          'The backup to restore, by its object name as `territory-backup list` shows it (status.backup.lastObject ' +
          'names the last one), e.g. 20261101T020000.000Z.pgdump.enc. Default: the latest backup (or, with before, the latest ' +
          'taken at or before that time). Not with before.',
      }),
    before: z
      .string()
      .max(64)
      .regex(RFC3339, { message: 'must be an RFC 3339 time, e.g. 2026-11-01T03:00:00Z' })
      .optional()
      .meta({
        description:
          'Restore the latest backup taken at or before this time (RFC 3339, e.g. 2026-11-01T03:00:00Z). Not ' +
          'with backup.',
        format: 'date-time',
      }),
    targetTime: z
      .string()
      .max(64)
      .regex(RFC3339, { message: 'must be an RFC 3339 time, e.g. 2026-11-01T03:00:00Z' })
      .optional()
      .meta({
        description:
          'Recover the database as it was at this instant (PointInTime only), RFC 3339, e.g. ' +
          '2026-11-01T03:00:00Z: the transactions committed up to it are kept, the later ones are not. ' +
          'Required with PointInTime; it must lie within what the physical backups cover (their retention).',
        format: 'date-time',
      }),
    sourceTerritory: z
      .string()
      .max(63)
      .regex(DNS_LABEL, { message: 'must be a Territory name' })
      .optional()
      .meta({
        description:
          "Restore another Territory's backups, read from the same destination (endpoint, bucket and pathPrefix " +
          'of spec.backup.destination): how a Territory is brought back under another name, or on another ' +
          "cluster. Its backups open only with the keys that encrypted them: this Territory's keyring Secret " +
          "must hold them (restored from your key escrow before the Territory is created). Default: this Territory's own backups.",
      }),
    replaceExistingData: z
      .string()
      .max(63)
      .optional()
      .meta({
        description:
          'Confirmation, required to restore into a database that already holds tables, views or sequences: ' +
          "the Territory's own name (metadata.name). What the backup holds then replaces what the database holds " +
          '(tables the backup does not hold are left as they are), in one transaction. Without it such a restore ' +
          'is refused (status.restore.phase Refused) and nothing is changed. The database is looked at when the ' +
          'restore runs, not guessed. With PointInTime it is required whenever the database Cluster exists: ' +
          'the Cluster is deleted and re-created from the physical backups, which replaces the whole database.',
      }),
  })
  .superRefine((restore, ctx) => {
    if (restore.backup !== undefined && restore.before !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['before'], message: 'give backup or before, not both' });
    }
    if (restore.from === 'PointInTime') {
      if (restore.targetTime === undefined) {
        ctx.addIssue({ code: 'custom', path: ['targetTime'], message: TARGET_TIME_REQUIRED });
      }
      for (const field of LOGICAL_ONLY_FIELDS) {
        if (restore[field] !== undefined)
          ctx.addIssue({ code: 'custom', path: [field], message: logicalOnly(field) });
      }
    } else if (restore.targetTime !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['targetTime'], message: TARGET_TIME_ONLY });
    }
  })
  .meta({
    description:
      'Start from a backup: the database is restored from it once it is ready, and status.restore shows ' +
      'the progress and the result. Each distinct request runs once (changing any field is a new request); ' +
      'removing the field keeps status.restore as a record. A database that already holds data is only ' +
      'overwritten with replaceExistingData. `territoryctl restore` writes this field and follows the restore.',
    'x-kubernetes-validations': [
      { rule: '!(has(self.backup) && has(self.before))', message: BOTH_MESSAGE, fieldPath: '.before' },
      {
        rule: "self.from != 'PointInTime' || has(self.targetTime)",
        message: `spec.restore: ${TARGET_TIME_REQUIRED}`,
        fieldPath: '.targetTime',
      },
      {
        rule: "self.from == 'PointInTime' || !has(self.targetTime)",
        message: `spec.restore: ${TARGET_TIME_ONLY}`,
        fieldPath: '.targetTime',
      },
      ...LOGICAL_ONLY_FIELDS.map((field) => ({
        rule: `self.from != 'PointInTime' || !has(self.${field})`,
        message: `spec.restore: ${logicalOnly(field)}`,
        fieldPath: `.${field}`,
      })),
    ] satisfies CelRule[],
  });

export type RestoreSpec = z.output<typeof RestoreSchema>;

/** The confirmation rule, on the whole object: only there can CEL see metadata.name. */
export const REPLACE_CONFIRMATION_RULE: CelRule = {
  rule:
    '!has(self.spec.restore) || !has(self.spec.restore.replaceExistingData) || ' +
    'self.spec.restore.replaceExistingData == self.metadata.name',
  message:
    "spec.restore.replaceExistingData must be the Territory's own name (metadata.name): it confirms that " +
    'the restore may replace the data of this very Territory',
};

export const POINT_IN_TIME_NEEDS_PHYSICAL =
  'PointInTime recovers from the physical backups, so it needs spec.backup.physical.enabled: true ' +
  '(refused with hosting level secnumcloud, as physical backups are)';

/**
 * Point-in-time recovery reads the physical backups, so it needs them on (spec.backup.physical.enabled,
 * which SecNumCloud refuses). On the whole object, like the confirmation: CEL sees spec.restore and
 * spec.backup together there. has(): physical and enabled are defaulted, and an object stored before
 * their defaults existed may lack them.
 */
export const POINT_IN_TIME_PHYSICAL_RULE: CelRule = {
  rule:
    "!has(self.spec.restore) || self.spec.restore.from != 'PointInTime' || " +
    '(has(self.spec.backup.physical) && has(self.spec.backup.physical.enabled) && self.spec.backup.physical.enabled)',
  message: `spec.restore.from: ${POINT_IN_TIME_NEEDS_PHYSICAL}`,
  fieldPath: '.spec.restore.from',
};

/** Which fields make a request, in a fixed order: the same request always hashes the same. */
const REQUEST_FIELDS = ['from', 'backup', 'before', 'sourceTerritory', 'replaceExistingData'] as const;

/** A time as the instant it names, so 2026-11-01T04:00:00+01:00 and 2026-11-01T03:00:00Z are one request. */
const instant = (time: string) => new Date(Date.parse(time)).toISOString();

/**
 * The id of a restore request: a short hash of its fields, whatever their order in the manifest. It
 * names the restore's Job (restore-<id>) and is recorded in status.restore.request, so a request runs
 * once, and changing any field makes a new request. Times (`before`, `targetTime`) are hashed as the
 * instant they name.
 */
export function restoreRequestId(restore: RestoreSpec): string {
  const canonical = REQUEST_FIELDS.map((field) => {
    const value = restore[field];
    if (value === undefined) return null;
    return field === 'before' ? instant(value) : value;
  });
  // Appended only when set, not listed in REQUEST_FIELDS: the id of every request made before targetTime
  // existed stays the same (a changed id would run a restore that Succeeded once more).
  if (restore.targetTime !== undefined) canonical.push(instant(restore.targetTime));
  return createHash('sha256').update(JSON.stringify(canonical)).digest('hex').slice(0, 10);
}
