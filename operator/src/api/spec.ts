// spec: the desired sovereign data stack of one local authority, assembled from its parts.

import * as z from 'zod';
import { AuthoritySchema, ControllerSchema } from './authority.ts';
import { type CelRule, DNS_LABEL, isReservedNamespace, schedulePeriodDays } from './patterns.ts';
import { RestoreSchema } from './restore.ts';
import {
  AccessSchema,
  BackupSchema,
  DatabaseSchema,
  EncryptionSchema,
  HostingSchema,
  QuotaSchema,
  sharedAsked,
  sharedAskedCel,
} from './stack.ts';

export const DELETION_POLICIES = ['Retain', 'Delete'] as const;

/** Why SecNumCloud refuses physical backups, and what to do instead (zod and CEL say the same). */
const PHYSICAL_REFUSAL =
  "physical backups are encrypted with the storage provider's key only (barman-cloud cannot encrypt on the " +
  'client side), so the provider could read the whole database (SecNumCloud 10.5). Remove ' +
  "spec.backup.physical: the logical backups, encrypted with the authority's keys, remain";

/** Why a Shared database has no physical backups of its own, and what to do instead (zod and CEL). */
const SHARED_PHYSICAL_REFUSAL =
  'must be false when the database is Shared (spec.database.tier Shared, or spec.database.pool set): physical ' +
  "backups (the WAL archive, for point-in-time recovery) are the pool's, run by the platform for all its " +
  "tenants. The logical backups, encrypted with the authority's keys, remain; set spec.database.tier " +
  "Dedicated for physical backups of the Territory's own";

/** Why a Shared database cannot be recovered to a point in time, and what to do instead (zod and CEL). */
const SHARED_POINT_IN_TIME_REFUSAL =
  "PointInTime needs a cluster of the Territory's own: a Shared database (spec.database.tier Shared, or " +
  "spec.database.pool set) cannot be rewound alone, since its pool's recovery would rewind every tenant. " +
  'Restore from a LogicalBackup, or set spec.database.tier Dedicated';

export const TerritorySpecSchema = z
  .strictObject({
    authority: AuthoritySchema,
    namespace: z
      .string()
      .max(63)
      .regex(DNS_LABEL, {
        message: 'must be a DNS label (lowercase letters, digits and -, at most 63 characters)',
      })
      .refine((name) => !isReservedNamespace(name), {
        message: "must not be 'default' or start with 'kube-'",
      })
      .optional()
      .meta({
        description:
          'Namespace that holds everything of this territory. Default: metadata.name. Immutable once the ' +
          "Territory exists; must not be 'default' or start with 'kube-'.",
        'x-kubernetes-validations': [
          { rule: 'self == oldSelf', message: 'spec.namespace is immutable: the namespace cannot change' },
          {
            rule: "self != 'default' && !self.startsWith('kube-')",
            message: "spec.namespace must not be 'default' or start with 'kube-' (reserved by Kubernetes)",
          },
        ] satisfies CelRule[],
      }),
    controller: ControllerSchema,
    hosting: HostingSchema.prefault({}),
    database: DatabaseSchema.prefault({}),
    encryption: EncryptionSchema.prefault({}),
    backup: BackupSchema,
    restore: RestoreSchema.optional(),
    access: AccessSchema.prefault({}),
    quota: QuotaSchema.prefault({}),
    deletionPolicy: z
      .enum(DELETION_POLICIES)
      .default('Retain')
      .meta({
        description:
          'What happens when the Territory is deleted. Retain (default): the namespace, database and keys stay, ' +
          'so no data is lost by mistake (reversibility). Delete: they are deleted with the Territory: first ' +
          'the database, then every object under the physical backup prefix (<pathPrefix>/<territory>/physical/, ' +
          'readable by the storage provider, so erased rather than left), then the keys, so the logical backups ' +
          'left in the bucket can no longer be decrypted (crypto-erasure, SecNumCloud 19.4), then the namespace. ' +
          'The deletion waits while the bucket cannot be reached (docs/operations.md).',
      }),
  })
  .superRefine((spec, ctx) => {
    if (sharedAsked(spec.database)) {
      if (spec.backup.physical.enabled) {
        ctx.addIssue({
          code: 'custom',
          path: ['backup', 'physical', 'enabled'],
          message: SHARED_PHYSICAL_REFUSAL,
        });
      }
      if (spec.restore?.from === 'PointInTime') {
        ctx.addIssue({ code: 'custom', path: ['restore', 'from'], message: SHARED_POINT_IN_TIME_REFUSAL });
      }
    }
    if (spec.hosting.level !== 'secnumcloud') return;
    if (schedulePeriodDays(spec.backup.schedule) !== 1) {
      ctx.addIssue({
        code: 'custom',
        path: ['backup', 'schedule'],
        message: 'must run at least daily when spec.hosting.level is secnumcloud (SecNumCloud 12.5)',
      });
    }
    if (!spec.backup.clientSideEncryption) {
      ctx.addIssue({
        code: 'custom',
        path: ['backup', 'clientSideEncryption'],
        message: 'must be true when spec.hosting.level is secnumcloud (SecNumCloud 10.5)',
      });
    }
    if (spec.backup.physical.enabled) {
      ctx.addIssue({
        code: 'custom',
        path: ['backup', 'physical', 'enabled'],
        message: `must be false when spec.hosting.level is secnumcloud: ${PHYSICAL_REFUSAL}`,
      });
    }
  })
  .meta({
    description:
      'Desired sovereign data stack of one local authority: namespace, PostgreSQL database, encryption keys ' +
      'and encrypted backups, hosted in France.',
    'x-kubernetes-validations': [
      {
        rule:
          "self.hosting.level != 'secnumcloud' || self.backup.schedule in ['@daily', '@midnight', '@hourly'] || " +
          String.raw`self.backup.schedule.matches(r'^\S+ \S+ [*?] [*?] [*?]$')`,
        message:
          'spec.backup.schedule must run at least daily when spec.hosting.level is secnumcloud (SecNumCloud 12.5)',
        fieldPath: '.backup.schedule',
      },
      {
        rule: "self.hosting.level != 'secnumcloud' || self.backup.clientSideEncryption",
        message:
          'spec.backup.clientSideEncryption must be true when spec.hosting.level is secnumcloud (SecNumCloud 10.5)',
        fieldPath: '.backup.clientSideEncryption',
      },
      {
        // has(): an object stored before the field's default existed may lack it.
        rule:
          "self.hosting.level != 'secnumcloud' || !has(self.backup.physical) || " +
          '!has(self.backup.physical.enabled) || !self.backup.physical.enabled',
        message: `spec.backup.physical.enabled must be false when spec.hosting.level is secnumcloud: ${PHYSICAL_REFUSAL}`,
        fieldPath: '.backup.physical.enabled',
      },
      {
        // has(): database, physical and enabled are defaulted, and an object stored before may lack them.
        rule:
          `!has(self.database) || !${sharedAskedCel('self.database')} || !has(self.backup.physical) || ` +
          '!has(self.backup.physical.enabled) || !self.backup.physical.enabled',
        message: `spec.backup.physical.enabled ${SHARED_PHYSICAL_REFUSAL}`,
        fieldPath: '.backup.physical.enabled',
      },
      {
        rule:
          `!has(self.database) || !${sharedAskedCel('self.database')} || !has(self.restore) || ` +
          "self.restore.from != 'PointInTime'",
        message: `spec.restore.from: ${SHARED_POINT_IN_TIME_REFUSAL}`,
        fieldPath: '.restore.from',
      },
    ] satisfies CelRule[],
  });
