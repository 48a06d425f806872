// spec: the desired sovereign data stack of one local authority, assembled from its parts.

import * as z from 'zod';
import { AuthoritySchema, ControllerSchema } from './authority.ts';
import { type CelRule, DNS_LABEL, isReservedNamespace, schedulePeriodDays } from './patterns.ts';
import {
  AccessSchema,
  BackupSchema,
  DatabaseSchema,
  EncryptionSchema,
  HostingSchema,
  QuotaSchema,
} from './stack.ts';

export const DELETION_POLICIES = ['Retain', 'Delete'] as const;

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
    access: AccessSchema.prefault({}),
    quota: QuotaSchema.prefault({}),
    deletionPolicy: z
      .enum(DELETION_POLICIES)
      .default('Retain')
      .meta({
        description:
          'What happens when the Territory is deleted. Retain (default): the namespace, database and keys stay, ' +
          'so no data is lost by mistake (reversibility). Delete: they are deleted with the Territory, the ' +
          'keys last, so backups left in the bucket can no longer be decrypted (crypto-erasure, SecNumCloud 19.4).',
      }),
  })
  .superRefine((spec, ctx) => {
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
    ] satisfies CelRule[],
  });
