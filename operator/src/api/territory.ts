// The Territory API: ONE zod schema that is at the same time the TypeScript types, the runtime
// validation used by the operator and `territoryctl`, and (through crd.ts) the CRD's OpenAPI schema.
//
// Every rule the API server must enforce at admission lives next to the field it guards, twice:
// as a CEL rule in `x-kubernetes-validations` (for the API server) and as a zod refinement (for
// offline validation). The messages are the same and always start with the field path, so a
// platform engineer reading a `kubectl apply` error knows which line of YAML to fix.
// Transition rules (immutability, no shrinking) only exist in CEL: zod never sees the old object.

import * as z from 'zod';
import { compareQuantities, QUANTITY_PATTERN } from './quantity.ts';

export const GROUP = 'sovereign.dev';
export const VERSION = 'v1alpha1';
export const KIND = 'Territory';
export const PLURAL = 'territories';
export const SINGULAR = 'territory';
export const API_VERSION = `${GROUP}/${VERSION}`;

/** Condition types the operator reports, `Ready` first; Reconciling/Stalled are the kstatus pair. */
export const CONDITION_TYPES = [
  'Ready',
  'AuthorityVerified',
  'SovereigntyCompliant',
  'NamespaceReady',
  'KeysReady',
  'DatabaseReady',
  'BackupReady',
  'Reconciling',
  'Stalled',
] as const;
export type ConditionType = (typeof CONDITION_TYPES)[number];

/** One CEL rule as the API server reads it from `x-kubernetes-validations`. */
export type CelRule = {
  rule: string;
  message: string;
  /** JSON path relative to the node carrying the rule, so the error points at the right field. */
  fieldPath?: string;
  reason?: 'FieldValueInvalid' | 'FieldValueForbidden' | 'FieldValueRequired' | 'FieldValueDuplicate';
};

// ---------------------------------------------------------------------------------------------
// Shared patterns (all RE2-compatible: they become OpenAPI `pattern`s checked by Go's regexp).

export const AUTHORITY_KINDS = ['commune', 'epci', 'departement', 'region', 'syndicat'] as const;
export type AuthorityKind = (typeof AUTHORITY_KINDS)[number];

/** Code format per authority kind: INSEE codes for communes/départements/régions, SIREN otherwise. */
export const AUTHORITY_CODE_PATTERNS: Record<AuthorityKind, RegExp> = {
  commune: /^([0-9]{2}|2A|2B)[0-9]{3}$/,
  departement: /^([0-9]{2}|2A|2B|97[1-6])$/,
  region: /^[0-9]{2}$/,
  epci: /^[0-9]{9}$/,
  syndicat: /^[0-9]{9}$/,
};
const AUTHORITY_CODE_HINTS: Record<AuthorityKind, string> = {
  commune: 'a 5-character INSEE commune code (code INSEE, e.g. 35238 or 2A004)',
  departement: 'an INSEE département code (e.g. 35, 2A or 974)',
  region: 'a 2-digit INSEE région code (e.g. 53)',
  epci: 'the 9-digit SIREN of the EPCI (e.g. 243500139)',
  syndicat: 'the 9-digit SIREN of the public body',
};

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const SECRET_KEY = /^[-._a-zA-Z0-9]+$/;
const EMAIL =
  /^[A-Za-z0-9._%+'-]+@[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)+$/;
const PURPOSE_NAME = /^[a-z][a-z0-9-]{0,30}$/;
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const PROVIDER_REGION = /^[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?$/;
/** Five cron fields separated by single spaces (the CEL period rules below rely on single spaces). */
const CRON_5_FIELDS = /^[0-9A-Za-z*,/-]+( [0-9A-Za-z*,/-]+){4}$/;
const RFC3339 = /^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})$/;
const CONDITION_REASON = /^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$/;
const CONDITION_TYPE =
  /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;

/** Namespaces Kubernetes keeps for itself; a Territory must never land in one. */
export function isReservedNamespace(name: string): boolean {
  return name === 'default' || name.startsWith('kube-');
}

/**
 * How many days one backup period lasts for a 5-field cron schedule, read conservatively:
 * month restricted -> 366 (yearly-style), day-of-month restricted -> 31 (monthly-style),
 * day-of-week restricted -> 7 (weekly-style), otherwise 1 (daily or more often).
 * `retentionDays` must cover at least one period, or a restore point could be missing.
 */
export function schedulePeriodDays(schedule: string): number {
  const [, , dayOfMonth, month, dayOfWeek] = schedule.split(' ');
  if (month !== '*') return 366;
  if (dayOfMonth !== '*') return 31;
  if (dayOfWeek !== '*') return 7;
  return 1;
}

// ---------------------------------------------------------------------------------------------
// Small building blocks.

const quantity = (max = 64) =>
  z
    .string()
    .max(max)
    .regex(QUANTITY_PATTERN, { message: 'must be a Kubernetes quantity such as 500m, 2Gi or 10Gi' });

const email = () => z.string().max(254).regex(EMAIL, { message: 'must be an email address' });

const label = (max: number) => z.string().min(1).max(max);

// ---------------------------------------------------------------------------------------------
// spec.authority

const authorityCodeRules: CelRule[] = AUTHORITY_KINDS.map((kind) => ({
  rule: `self.kind != '${kind}' || self.code.matches('${AUTHORITY_CODE_PATTERNS[kind].source}')`,
  message: `spec.authority.code must be ${AUTHORITY_CODE_HINTS[kind]} when spec.authority.kind is ${kind}`,
  fieldPath: '.code',
  reason: 'FieldValueInvalid' as const,
}));

export const AuthoritySchema = z
  .strictObject({
    kind: z.enum(AUTHORITY_KINDS).meta({
      description:
        'Kind of local authority (collectivité): commune, epci (intercommunalité: CC, CA, CU, métropole), ' +
        'departement, region, or syndicat for any other public body (syndicat mixte, SIVU, SIVOM...). ' +
        'Immutable.',
      'x-kubernetes-validations': [
        {
          rule: 'self == oldSelf',
          message: 'spec.authority.kind is immutable: create a new Territory instead',
        },
      ],
    }),
    code: z
      .string()
      .min(2)
      .max(9)
      .regex(/^[0-9][0-9AB][0-9]{0,7}$/, { message: 'must be an INSEE code or a 9-digit SIREN' })
      .meta({
        description:
          'Official identifier of the authority: the INSEE code (code INSEE) for a commune (e.g. 35238), ' +
          'a département (e.g. 35, 2A, 974) or a région (e.g. 53); the 9-digit SIREN for an epci or a ' +
          'syndicat (e.g. 243500139). Checked against the official geography (découpage administratif). ' +
          'Immutable.',
        'x-kubernetes-validations': [
          {
            rule: 'self == oldSelf',
            message: 'spec.authority.code is immutable: create a new Territory instead',
          },
        ],
      }),
    displayName: z
      .string()
      .min(1)
      .max(200)
      .optional()
      .meta({
        description:
          'Name to show for the authority. Optional except for a syndicat: the official name (from the ' +
          'INSEE/BANATIC data) is used when it is absent.',
      }),
  })
  .superRefine((authority, ctx) => {
    if (!AUTHORITY_CODE_PATTERNS[authority.kind].test(authority.code)) {
      ctx.addIssue({
        code: 'custom',
        path: ['code'],
        message: `must be ${AUTHORITY_CODE_HINTS[authority.kind]} when spec.authority.kind is ${authority.kind}`,
      });
    }
    if (authority.kind === 'syndicat' && authority.displayName === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['displayName'],
        message:
          'is required when spec.authority.kind is syndicat (there is no official list to take it from)',
      });
    }
  })
  .meta({
    description:
      'The local authority (collectivité territoriale or groupement) this Territory serves. It is the ' +
      'data controller (responsable de traitement, GDPR art. 4.7); the platform is only its processor.',
    'x-kubernetes-validations': [
      ...authorityCodeRules,
      {
        rule: "self.kind != 'syndicat' || has(self.displayName)",
        message: 'spec.authority.displayName is required when spec.authority.kind is syndicat',
        fieldPath: '.displayName',
        reason: 'FieldValueRequired',
      },
    ] satisfies CelRule[],
  });

// ---------------------------------------------------------------------------------------------
// spec.controller: the GDPR art. 30 record of processing (registre des traitements), controller side.

export const LEGAL_BASES = [
  'public-task',
  'legal-obligation',
  'consent',
  'contract',
  'vital-interests',
  'legitimate-interests',
] as const;

export const PurposeSchema = z
  .strictObject({
    name: z
      .string()
      .max(31)
      .regex(PURPOSE_NAME, {
        message:
          'must start with a lowercase letter, then lowercase letters, digits or -, at most 31 characters',
      })
      .meta({
        description:
          'Short name of the processing purpose (finalité), e.g. mobility or waste-collection. Lowercase ' +
          'letters, digits and -, at most 31 characters; each purpose gets its own PostgreSQL role.',
      }),
    description: z.string().max(1000).optional().meta({
      description: 'What the processing is for, in plain words, as written in the registre des traitements.',
    }),
    legalBasis: z
      .enum(LEGAL_BASES)
      .default('public-task')
      .meta({
        description:
          'Legal basis (base légale, GDPR art. 6.1): public-task (mission de service public, the usual one ' +
          'for an authority), legal-obligation, consent, contract, vital-interests or legitimate-interests.',
      }),
    dataCategories: z.array(label(200)).min(1).max(50).meta({
      description: 'Categories of personal data processed (catégories de données), e.g. identity, address.',
    }),
    dataSubjects: z
      .array(label(200))
      .min(1)
      .max(50)
      .meta({ description: 'Categories of data subjects (personnes concernées), e.g. residents, agents.' }),
    retentionDays: z
      .int()
      .min(1)
      .max(36500)
      .meta({ description: 'How long the data is kept, in days (durée de conservation), 1 to 36500.' }),
  })
  .meta({ description: 'One processing purpose (finalité) of the record of processing.' });

export const ControllerSchema = z
  .strictObject({
    contactEmail: email().meta({
      description:
        "Contact email of the data controller (responsable de traitement), e.g. the authority's DPO office.",
    }),
    dpo: z
      .strictObject({
        name: z.string().min(1).max(200).optional().meta({
          description: 'Name of the data protection officer (délégué à la protection des données, DPO).',
        }),
        email: email().meta({ description: 'Email of the data protection officer (DPO).' }),
      })
      .meta({
        description:
          'Data protection officer (délégué à la protection des données, DPO). Public authorities must ' +
          'appoint one (GDPR art. 37.1.a).',
      }),
    purposes: z
      .array(PurposeSchema)
      .min(1)
      .max(50)
      .superRefine((purposes, ctx) => {
        const seen = new Set<string>();
        purposes.forEach((purpose, index) => {
          if (seen.has(purpose.name)) {
            ctx.addIssue({
              code: 'custom',
              path: [index, 'name'],
              message: `duplicate purpose name ${purpose.name}: purpose names must be unique`,
            });
          }
          seen.add(purpose.name);
        });
      })
      .meta({
        description:
          'Processing purposes (finalités, GDPR art. 30.1.b), at least one. Names must be unique; each ' +
          'purpose gets its own PostgreSQL role so access can be granted and audited per purpose.',
        'x-kubernetes-list-type': 'map',
        'x-kubernetes-list-map-keys': ['name'],
        'x-kubernetes-validations': [
          {
            rule: 'self.all(p, self.exists_one(q, q.name == p.name))',
            message: 'spec.controller.purposes names must be unique',
            reason: 'FieldValueDuplicate',
          },
        ] satisfies CelRule[],
      }),
    recipients: z
      .array(label(200))
      .max(50)
      .optional()
      .meta({
        description:
          'Categories of recipients (destinataires, GDPR art. 30.1.d), e.g. internal services, a named ' +
          'subcontractor (sous-traitant).',
      }),
  })
  .meta({
    description:
      'Record of processing (registre des traitements, GDPR art. 30), controller side: who is responsible, ' +
      'who the DPO is, and what the data is for.',
  });

// ---------------------------------------------------------------------------------------------
// spec.hosting

export const HOSTING_LEVELS = ['standard', 'secnumcloud'] as const;

export const HostingSchema = z
  .strictObject({
    level: z
      .enum(HOSTING_LEVELS)
      .default('standard')
      .meta({
        description:
          'Required hosting level: standard (hosted in France) or secnumcloud (only on cluster regions and ' +
          "backup endpoints qualified SecNumCloud by ANSSI in the operator's provider table). With " +
          'secnumcloud, backups must run at least daily and be encrypted client-side.',
      }),
    regions: z
      .array(z.string().min(1).max(63).regex(PROVIDER_REGION, { message: 'must be a provider region name' }))
      .max(20)
      .optional()
      .meta({
        description:
          "Provider regions the data may live in, as the nodes' topology.kubernetes.io/region label shows " +
          'them (e.g. cloudgouv-eu-west-1, fr-par, GRA7). Empty: any French region known to the ' +
          "operator's provider table.",
        'x-kubernetes-list-type': 'set',
      }),
  })
  .meta({
    description: 'Where the data may be hosted (hébergement). Nothing data-bearing is created elsewhere.',
  });

// ---------------------------------------------------------------------------------------------
// spec.database

export const POSTGRES_VERSIONS = ['15', '16', '17', '18'] as const;

const cpuMemory = (what: string) =>
  z
    .strictObject({
      cpu: quantity()
        .optional()
        .meta({ description: `CPU ${what}, e.g. 500m or 2.` }),
      memory: quantity()
        .optional()
        .meta({ description: `Memory ${what}, e.g. 1Gi.` }),
    })
    .meta({ description: `Resource ${what} for each PostgreSQL instance.` });

const MIN_STORAGE = '1Gi';

export const DatabaseSchema = z
  .strictObject({
    postgresVersion: z.enum(POSTGRES_VERSIONS).default('17').meta({
      description: 'PostgreSQL major version: "15", "16", "17" or "18" (quoted in YAML).',
    }),
    instances: z.int().min(1).max(9).default(2).meta({
      description:
        'Number of PostgreSQL instances (1 primary + replicas), 1 to 9. Use 2 or more for high availability.',
    }),
    storage: z
      .strictObject({
        size: quantity()
          .refine((size) => (compareQuantities(size, MIN_STORAGE) ?? 0) >= 0, {
            message: `must be at least ${MIN_STORAGE}`,
          })
          .default('10Gi')
          .meta({
            description:
              'Volume size of each PostgreSQL instance, e.g. 10Gi. At least 1Gi. It can grow but never ' +
              'shrink (volumes cannot shrink).',
            'x-kubernetes-validations': [
              {
                rule: `!isQuantity(self) || quantity(self).compareTo(quantity('${MIN_STORAGE}')) >= 0`,
                message: `spec.database.storage.size must be at least ${MIN_STORAGE}`,
              },
              {
                rule: '!isQuantity(self) || !isQuantity(oldSelf) || quantity(self).compareTo(quantity(oldSelf)) >= 0',
                message: 'spec.database.storage.size cannot shrink: volumes can only grow',
              },
            ] satisfies CelRule[],
          }),
        storageClass: z
          .string()
          .max(253)
          .regex(DNS_SUBDOMAIN, { message: 'must be a StorageClass name' })
          .optional()
          .meta({ description: "StorageClass of the volumes; the cluster's default class when absent." }),
      })
      .prefault({})
      .meta({ description: 'Persistent storage of each PostgreSQL instance.' }),
    resources: z
      .strictObject({
        requests: cpuMemory('requests').optional(),
        limits: cpuMemory('limits').optional(),
      })
      .superRefine((resources, ctx) => {
        for (const name of ['cpu', 'memory'] as const) {
          const request = resources.requests?.[name];
          const limit = resources.limits?.[name];
          if (request !== undefined && limit !== undefined && (compareQuantities(request, limit) ?? 0) > 0) {
            ctx.addIssue({
              code: 'custom',
              path: ['requests', name],
              message: `must not exceed spec.database.resources.limits.${name}`,
            });
          }
        }
      })
      .optional()
      .meta({
        description:
          'CPU and memory of each PostgreSQL instance; defaults come from the quota profile when absent.',
        'x-kubernetes-validations': ['cpu', 'memory'].map((name) => ({
          rule:
            `!has(self.requests) || !has(self.limits) || !has(self.requests.${name}) || !has(self.limits.${name}) ` +
            `|| !isQuantity(self.requests.${name}) || !isQuantity(self.limits.${name}) ` +
            `|| quantity(self.requests.${name}).compareTo(quantity(self.limits.${name})) <= 0`,
          message: `spec.database.resources.requests.${name} must not exceed spec.database.resources.limits.${name}`,
          fieldPath: `.requests.${name}`,
        })) satisfies CelRule[],
      }),
  })
  .meta({ description: 'The PostgreSQL cluster (run by CloudNativePG) that holds the authority data.' });

// ---------------------------------------------------------------------------------------------
// spec.encryption

export const EncryptionSchema = z
  .strictObject({
    rotationDays: z
      .int()
      .min(1)
      .max(3650)
      .default(90)
      .meta({
        description:
          'Days between two data-key rotations, 1 to 3650. Old key versions are kept to read older data ' +
          'and backups (ANSSI: planned renewal of keys).',
      }),
    customerKey: z
      .strictObject({
        secretName: z.string().max(253).regex(DNS_SUBDOMAIN, { message: 'must be a Secret name' }).meta({
          description: "Name of the Secret, in the territory's namespace, that holds the customer key.",
        }),
        key: z
          .string()
          .max(253)
          .regex(SECRET_KEY, { message: 'must be a Secret data key' })
          .default('kek')
          .meta({ description: 'Key inside the Secret whose value is the 32-byte AES-256 key.' }),
      })
      .optional()
      .meta({
        description:
          "Key-encryption key the authority controls (clé maîtrisée par la collectivité): a Secret in the territory's " +
          'namespace holding a 32-byte AES-256 key, used to wrap the data keys so keys at rest are unreadable ' +
          'without it (SecNumCloud 3.3.2). Absent: the operator generates and keeps the key-encryption key.',
      }),
  })
  .meta({
    description: 'Encryption keys of the territory. Key material never appears in status, events or logs.',
  });

// ---------------------------------------------------------------------------------------------
// spec.backup

const BACKUP_PERIOD_RULES: CelRule[] = [
  {
    rule: String.raw`self.schedule.matches(r'^\S+ \S+ \S+ \* ') || self.retentionDays >= 366`,
    message:
      'spec.backup.retentionDays must be at least 366 when spec.backup.schedule restricts the month: ' +
      'retention must cover at least one backup period',
    fieldPath: '.retentionDays',
  },
  {
    rule: String.raw`self.schedule.matches(r'^\S+ \S+ \* ') || self.retentionDays >= 31`,
    message:
      'spec.backup.retentionDays must be at least 31 when spec.backup.schedule restricts the day of month: ' +
      'retention must cover at least one backup period',
    fieldPath: '.retentionDays',
  },
  {
    rule: String.raw`self.schedule.matches(r' \*$') || self.retentionDays >= 7`,
    message:
      'spec.backup.retentionDays must be at least 7 when spec.backup.schedule restricts the day of week: ' +
      'retention must cover at least one backup period',
    fieldPath: '.retentionDays',
  },
];

export const BackupDestinationSchema = z
  .strictObject({
    endpoint: z
      .string()
      .max(2048)
      .refine(isHttpsUrl, { message: 'must be an https:// URL' })
      .meta({
        description:
          'S3-compatible endpoint hosted in France, https only, e.g. https://oos.cloudgouv-eu-west-1.outscale.com, ' +
          'https://s3.gra.io.cloud.ovh.net or https://s3.fr-par.scw.cloud.',
        'x-kubernetes-validations': [
          {
            rule: "isURL(self) && url(self).getScheme() == 'https' && url(self).getHost() != ''",
            message: 'spec.backup.destination.endpoint must be an https:// URL',
          },
        ] satisfies CelRule[],
      }),
    bucket: z
      .string()
      .min(3)
      .max(63)
      .regex(BUCKET, { message: 'must be an S3 bucket name (3-63 lowercase letters, digits, . and -)' })
      .meta({ description: 'Bucket name (3 to 63 lowercase letters, digits, dots and dashes).' }),
    region: z
      .string()
      .min(1)
      .max(63)
      .regex(PROVIDER_REGION, { message: 'must be a provider region name' })
      .optional()
      .meta({ description: 'S3 region of the bucket, e.g. cloudgouv-eu-west-1, gra or fr-par.' }),
    pathPrefix: z
      .string()
      .max(512)
      .regex(/^[A-Za-z0-9!_.*'()/-]*$/, { message: 'must use only S3-safe characters' })
      .optional()
      .meta({ description: 'Prefix of the object keys inside the bucket, e.g. territories/rennes/.' }),
    credentialsSecret: z
      .strictObject({
        name: z.string().max(253).regex(DNS_SUBDOMAIN, { message: 'must be a Secret name' }).meta({
          description: "Name of the Secret, in the territory's namespace, that holds the S3 credentials.",
        }),
        accessKeyIdKey: z
          .string()
          .max(253)
          .regex(SECRET_KEY, { message: 'must be a Secret data key' })
          .default('ACCESS_KEY_ID')
          .meta({ description: 'Key inside the Secret holding the access key id.' }),
        secretAccessKeyKey: z
          .string()
          .max(253)
          .regex(SECRET_KEY, { message: 'must be a Secret data key' })
          .default('ACCESS_SECRET_KEY')
          .meta({ description: 'Key inside the Secret holding the secret access key.' }),
      })
      .meta({ description: "Secret in the territory's namespace with the S3 credentials for the bucket." }),
  })
  .meta({
    description:
      'Where backups go: an S3-compatible bucket hosted in France, under the same location rules as the data ' +
      '(SecNumCloud 12.5).',
  });

export const BackupSchema = z
  .strictObject({
    schedule: z
      .string()
      .max(100)
      .regex(CRON_5_FIELDS, { message: 'must be a 5-field cron expression separated by single spaces' })
      .default('0 2 * * *')
      .meta({
        description:
          'When logical backups run: a 5-field cron expression (minute hour day-of-month month day-of-week) ' +
          'with single spaces, in UTC. Default: every day at 02:00.',
      }),
    retentionDays: z
      .int()
      .min(1)
      .max(3650)
      .default(35)
      .meta({
        description:
          'How many days backups are kept, 1 to 3650. It must cover at least one backup period: at least 7 ' +
          'when the schedule restricts the day of week, 31 when it restricts the day of month, 366 when it ' +
          'restricts the month.',
      }),
    clientSideEncryption: z
      .boolean()
      .default(true)
      .meta({
        description:
          "Encrypt logical backups with the territory's own keys before they leave the cluster, so the storage " +
          'provider never sees clear data (SecNumCloud 10.5). Required with hosting level secnumcloud.',
      }),
    physical: z
      .boolean()
      .default(true)
      .meta({
        description:
          'Also keep CloudNativePG physical backups (WAL archive and base backups, for point-in-time recovery) ' +
          'in addition to the logical dumps.',
      }),
    destination: BackupDestinationSchema,
  })
  .superRefine((backup, ctx) => {
    const period = schedulePeriodDays(backup.schedule);
    // Daily schedules are already covered by the minimum of 1 day.
    if (period > 1 && backup.retentionDays < period) {
      ctx.addIssue({
        code: 'custom',
        path: ['retentionDays'],
        message: `must be >= ${period} to cover one period of schedule "${backup.schedule}"`,
      });
    }
  })
  .meta({
    description:
      'Backups of the database. Required: SecNumCloud 12.5 asks for daily backups kept under the same ' +
      'location rules as the data, and reversibility (réversibilité) needs a copy the authority can take away.',
    'x-kubernetes-validations': BACKUP_PERIOD_RULES,
  });

// ---------------------------------------------------------------------------------------------
// spec.access, spec.quota

const groups = (description: string) =>
  z.array(label(256)).max(100).default([]).meta({ description, 'x-kubernetes-list-type': 'set' });

export const AccessSchema = z
  .strictObject({
    adminGroups: groups(
      "Groups (from the cluster's identity provider, e.g. ProConnect or Keycloak) that administer the " +
        "territory's namespace.",
    ),
    readerGroups: groups("Groups that may read (but not change) the territory's namespace."),
  })
  .meta({ description: "Who may work in the territory's namespace, by identity-provider group." });

export const QUOTA_PROFILES = ['auto', 'small', 'medium', 'large', 'xlarge'] as const;

const count = (what: string) =>
  z
    .int32()
    .min(0)
    .max(100000)
    .optional()
    .meta({ description: `Maximum number of ${what} in the namespace.` });

export const QuotaSchema = z
  .strictObject({
    profile: z
      .enum(QUOTA_PROFILES)
      .default('auto')
      .meta({
        description:
          "Size of the namespace's ResourceQuota: small, medium, large or xlarge; auto chooses from the " +
          "authority's kind and official population.",
      }),
    overrides: z
      .strictObject({
        requestsCpu: quantity().optional().meta({ description: 'Total CPU requests allowed, e.g. 4.' }),
        requestsMemory: quantity()
          .optional()
          .meta({ description: 'Total memory requests allowed, e.g. 16Gi.' }),
        limitsCpu: quantity().optional().meta({ description: 'Total CPU limits allowed, e.g. 8.' }),
        limitsMemory: quantity().optional().meta({ description: 'Total memory limits allowed, e.g. 32Gi.' }),
        requestsStorage: quantity()
          .optional()
          .meta({ description: 'Total storage requested by volumes, e.g. 500Gi.' }),
        persistentVolumeClaims: count('PersistentVolumeClaims'),
        pods: count('pods'),
        services: count('Services'),
      })
      .optional()
      .meta({ description: 'Values that replace those of the profile, one by one.' }),
  })
  .meta({ description: "Resource quota of the territory's namespace." });

// ---------------------------------------------------------------------------------------------
// spec

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
          'so no data is lost by mistake (reversibility). Delete: they are deleted with the Territory.',
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
        rule: String.raw`self.hosting.level != 'secnumcloud' || self.backup.schedule.matches(r'^\S+ \S+ \* \* \*$')`,
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

// ---------------------------------------------------------------------------------------------
// status (written by the operator only; never key material or passwords)

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
          'KeysReady, DatabaseReady, BackupReady) and the kstatus pair Reconciling/Stalled.',
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
      })
      .optional()
      .meta({ description: 'The PostgreSQL cluster as observed.' }),
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
        lastSuccessful: timestamp('When the last backup succeeded.').optional(),
        lastObject: z.string().max(1024).optional().meta({ description: 'Object key of the last backup.' }),
        destinationHost: z.string().max(253).optional().meta({ description: 'Host of the backup endpoint.' }),
      })
      .optional()
      .meta({ description: 'Last backups as observed.' }),
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

// ---------------------------------------------------------------------------------------------
// The whole object.

const MetadataSchema = z
  .looseObject({
    name: z.string().min(1).max(253),
    uid: z.string().optional(),
    generation: z.int().optional(),
    resourceVersion: z.string().optional(),
    labels: z.record(z.string(), z.string()).optional(),
    annotations: z.record(z.string(), z.string()).optional(),
    finalizers: z.array(z.string()).optional(),
  })
  .meta({ description: 'Standard object metadata.' });

/**
 * Rules on the whole object: the only place CEL can see metadata.name, which is the namespace
 * when spec.namespace is not set.
 */
export const ROOT_RULES: CelRule[] = [
  {
    rule:
      'has(self.spec.namespace) || (size(self.metadata.name) <= 63 && ' +
      `self.metadata.name.matches('${DNS_LABEL.source}') && ` +
      "self.metadata.name != 'default' && !self.metadata.name.startsWith('kube-'))",
    message:
      "metadata.name becomes the namespace when spec.namespace is not set, so it must be a DNS label (lowercase letters, digits and -, at most 63 characters), not 'default' nor 'kube-*'; or set spec.namespace",
  },
  {
    rule:
      '(has(self.spec.namespace) ? self.spec.namespace : self.metadata.name) == ' +
      '(has(oldSelf.spec.namespace) ? oldSelf.spec.namespace : oldSelf.metadata.name)',
    message:
      'spec.namespace is immutable: the namespace (spec.namespace, or metadata.name when unset) cannot change',
  },
];

export const TerritorySchema = z
  .object({
    apiVersion: z.literal(API_VERSION),
    kind: z.literal(KIND),
    metadata: MetadataSchema,
    spec: TerritorySpecSchema,
    status: TerritoryStatusSchema.optional(),
  })
  .superRefine((territory, ctx) => {
    if (territory.spec.namespace !== undefined) return;
    const name = territory.metadata.name;
    if (name.length > 63 || !DNS_LABEL.test(name) || isReservedNamespace(name)) {
      ctx.addIssue({
        code: 'custom',
        path: ['metadata', 'name'],
        message:
          "becomes the namespace when spec.namespace is not set, so it must be a DNS label (lowercase letters, digits and -, at most 63 characters), not 'default' nor 'kube-*'; or set spec.namespace",
      });
    }
  })
  .meta({
    description:
      'A Territory gives one French local authority (collectivité) its own sovereign data stack: a namespace, ' +
      'a PostgreSQL database, encryption keys it controls and encrypted backups, hosted in France.',
    'x-kubernetes-validations': ROOT_RULES,
  });

export type Territory = z.output<typeof TerritorySchema>;
export type TerritoryInput = z.input<typeof TerritorySchema>;
export type TerritorySpec = z.output<typeof TerritorySpecSchema>;
export type TerritorySpecInput = z.input<typeof TerritorySpecSchema>;
export type TerritoryStatus = z.output<typeof TerritoryStatusSchema>;
export type Condition = z.output<typeof ConditionSchema>;
export type Authority = z.output<typeof AuthoritySchema>;
export type Purpose = z.output<typeof PurposeSchema>;

/** The namespace a Territory lives in: spec.namespace, or metadata.name when it is not set. */
export function territoryNamespace(territory: Pick<Territory, 'metadata' | 'spec'>): string {
  return territory.spec.namespace ?? territory.metadata.name;
}

// ---------------------------------------------------------------------------------------------
// Parsing with messages that name the field path.

export type ParseResult = { ok: true; territory: Territory } | { ok: false; errors: string[] };

/** Validate and default a Territory (e.g. from YAML or the API server). Errors read `path: problem`. */
export function parseTerritory(obj: unknown): ParseResult {
  const result = TerritorySchema.safeParse(obj);
  if (result.success) return { ok: true, territory: result.data };
  return { ok: false, errors: result.error.issues.map(formatIssue) };
}

/** `spec.controller.purposes[0].name` from zod's `['spec','controller','purposes',0,'name']`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else out += out === '' ? String(segment) : `.${String(segment)}`;
  }
  return out === '' ? '(root)' : out;
}

function formatIssue(issue: z.core.$ZodIssue): string {
  return `${formatPath(issue.path)}: ${describeIssue(issue)}`;
}

function describeIssue(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case 'invalid_type':
      return issue.input === undefined ? 'is required' : `must be ${article(issue.expected)}`;
    case 'too_small':
      if (issue.origin === 'array') return `must have at least ${issue.minimum} item(s)`;
      if (issue.origin === 'string') return `must be at least ${issue.minimum} character(s) long`;
      return `must be >= ${issue.minimum}`;
    case 'too_big':
      if (issue.origin === 'array') return `must have at most ${issue.maximum} item(s)`;
      if (issue.origin === 'string') return `must be at most ${issue.maximum} character(s) long`;
      return `must be <= ${issue.maximum}`;
    case 'invalid_value':
      return `must be one of ${issue.values.map((value) => JSON.stringify(value)).join(', ')}`;
    case 'unrecognized_keys':
      return `unknown field(s) ${issue.keys.join(', ')}`;
    case 'invalid_format':
      // Our regexes carry a message saying what is expected; zod's default one shows the raw regex.
      return issue.message.startsWith('Invalid') ? `has an invalid format (${issue.format})` : issue.message;
    default:
      return issue.message;
  }
}

function article(expected: string): string {
  return /^[aeiou]/.test(expected) ? `an ${expected}` : `a ${expected}`;
}

function isHttpsUrl(value: string): boolean {
  if (!URL.canParse(value)) return false;
  const url = new URL(value);
  return url.protocol === 'https:' && url.hostname !== '';
}
