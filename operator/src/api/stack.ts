// The parts of the data stack: hosting, database, encryption keys, backups, access and quota.

import * as z from 'zod';
import { normalizeSchedule, scheduleCelRules, scheduleProblem } from './cron.ts';
import { checkEndpoint, ENDPOINT_FORM, endpointCelRules } from './endpoint.ts';
import {
  BUCKET,
  type CelRule,
  DNS_SUBDOMAIN,
  label,
  POOL_NAME,
  POOL_NAME_HINT,
  POOL_NAME_MAX,
  PROVIDER_REGION,
  quantity,
  rejectDuplicates,
  SECRET_KEY,
  schedulePeriodDays,
} from './patterns.ts';
import { compareQuantities } from './quantity.ts';
import { bucketCelRules, bucketProblem, pathPrefixCelRules, pathPrefixProblem } from './s3-names.ts';

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
      .superRefine(rejectDuplicates)
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

/**
 * Where a Territory's database lives: a PostgreSQL cluster of its own (Dedicated), or a database of its own
 * in a DatabasePool shared with other small authorities (Shared).
 */
export const DATABASE_TIERS = ['Shared', 'Dedicated'] as const;
export type DatabaseTier = (typeof DATABASE_TIERS)[number];

/** What a Territory whose database is Shared is told about a field that belongs to its pool. */
export const POOL_OWNS =
  "is the pool's when the database is Shared (spec.database.tier Shared, or spec.database.pool set): " +
  "remove it, or set spec.database.tier Dedicated for a cluster of the Territory's own";

const POOL_WITH_DEDICATED =
  "goes with tier Shared (or no tier): it names the pool holding a shared database; remove it for a cluster of the Territory's own";

/** Whether a Territory asks for the Shared tier itself: tier Shared, or a pool named (tier left out). */
export function sharedAsked(database: {
  tier?: DatabaseTier | undefined;
  pool?: string | undefined;
}): boolean {
  return database.tier === 'Shared' || (database.tier === undefined && database.pool !== undefined);
}

/** The same, in CEL, on spec.database (`db`). */
export const sharedAskedCel = (db: string) =>
  `((has(${db}.tier) && ${db}.tier == 'Shared') || (!has(${db}.tier) && has(${db}.pool)))`;

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

/**
 * The volume of each PostgreSQL instance, for a Territory's own cluster (spec.database.storage) and a pool's
 * (spec.storage): `path` is the field's path in the API server's messages, `sizeDefault` says where the size
 * comes from when it is left out.
 */
export function instanceStorageSchema(path: string, sizeDefault: { changed: string; value: string }) {
  return z
    .strictObject({
      size: quantity()
        .refine((size) => (compareQuantities(size, MIN_STORAGE) ?? 0) >= 0, {
          message: `must be at least ${MIN_STORAGE}`,
        })
        .optional()
        .meta({
          description:
            'Volume size of each PostgreSQL instance, e.g. 10Gi. At least 1Gi. It can grow but never ' +
            'shrink (volumes cannot shrink): the API server refuses a smaller value, and when a smaller ' +
            `size takes effect otherwise (this field set where it was absent, or removed, or ${sizeDefault.changed}) ` +
            `the operator keeps the live volume. Default: ${sizeDefault.value}.`,
          'x-kubernetes-validations': [
            {
              rule: `!isQuantity(self) || quantity(self).compareTo(quantity('${MIN_STORAGE}')) >= 0`,
              message: `${path}.size must be at least ${MIN_STORAGE}`,
            },
            {
              rule: '!isQuantity(self) || !isQuantity(oldSelf) || quantity(self).compareTo(quantity(oldSelf)) >= 0',
              message: `${path}.size cannot shrink: volumes can only grow`,
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
    .meta({ description: 'Persistent storage of each PostgreSQL instance.' });
}

/**
 * CPU and memory of each PostgreSQL instance, for a Territory's own cluster (spec.database.resources) and a
 * pool's (spec.resources): a request never above its limit, in zod and CEL, with messages naming `path`.
 */
export function instanceResourcesSchema(path: string, description: string) {
  return z
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
            message: `must not exceed ${path}.limits.${name}`,
          });
        }
      }
    })
    .meta({
      description,
      'x-kubernetes-validations': ['cpu', 'memory'].map((name) => ({
        rule:
          `!has(self.requests) || !has(self.limits) || !has(self.requests.${name}) || !has(self.limits.${name}) ` +
          `|| !isQuantity(self.requests.${name}) || !isQuantity(self.limits.${name}) ` +
          `|| quantity(self.requests.${name}).compareTo(quantity(self.limits.${name})) <= 0`,
        message: `${path}.requests.${name} must not exceed ${path}.limits.${name}`,
        fieldPath: `.requests.${name}`,
      })) satisfies CelRule[],
    });
}

export const DatabaseSchema = z
  .strictObject({
    tier: z
      .enum(DATABASE_TIERS)
      .optional()
      .meta({
        description:
          "Where the database lives. Dedicated: a PostgreSQL cluster of the Territory's own, in its namespace, " +
          'sized from its profile and the fields below. Shared: a database of its own in a DatabasePool, a ' +
          'PostgreSQL cluster the platform runs for small authorities (spec.database.pool, or a pool serving the ' +
          'Territory), sized by the pool: no instances, storage or resources of its own, and no physical backups ' +
          "or point-in-time recovery (they are the pool's). Left out (automatic): a Territory whose dedicated " +
          'cluster exists keeps it (a database is never moved silently); otherwise Shared when its profile shares ' +
          'by default (small), asks for nothing a pool cannot give, and a ready pool serves its département (or ' +
          'selects it) with room and meets its hosting; else Dedicated. status.database.tier says which it got.',
      }),
    pool: z
      .string()
      .max(POOL_NAME_MAX)
      .regex(POOL_NAME, { message: `must be a DatabasePool name: ${POOL_NAME_HINT}` })
      .optional()
      .meta({
        description:
          'The DatabasePool to hold the database, by name: the Shared tier in this very pool. Left out with tier ' +
          'Shared: a pool that serves the Territory. Not with tier Dedicated. A pool that does not serve the ' +
          'Territory, is full, or does not meet its hosting (level and regions) is refused, and DatabaseReady ' +
          'says why: the Territory then waits for it rather than getting a cluster of its own.',
      }),
    postgresVersion: z.enum(POSTGRES_VERSIONS).default('17').meta({
      description: 'PostgreSQL major version: "15", "16", "17" or "18" (quoted in YAML).',
    }),
    // `instances` and `storage.size` had defaults (2 and 10Gi) until the database was sized from the
    // quota profile: Territories the API server stored before hold those values, written by the CRD's
    // defaults, and keep them (the operator cannot tell them from values a person wrote).
    instances: z
      .int()
      .min(1)
      .max(9)
      .optional()
      .meta({
        description:
          'Number of PostgreSQL instances (1 primary + replicas), 1 to 9. Use 2 or more for high availability. ' +
          'Default: from the quota profile: small 1, medium 1, large 2, xlarge 3.',
      }),
    storage: instanceStorageSchema('spec.database.storage', {
      changed: 'the profile changed',
      value: 'from the quota profile: small 5Gi, medium 20Gi, large 100Gi, xlarge 500Gi',
    }).prefault({}),
    resources: instanceResourcesSchema(
      'spec.database.resources',
      'CPU and memory of each PostgreSQL instance. Each value left out comes from the quota profile ' +
        '(requests/limits): small cpu 250m/1, memory 512Mi/512Mi; medium cpu 500m/2, memory 2Gi/2Gi; ' +
        'large cpu 1/4, memory 4Gi/4Gi; xlarge cpu 2/8, memory 8Gi/8Gi. ' +
        "A request above the profile's limit raises the limit to it; a CPU limit below the profile's " +
        'request lowers the request to it; a memory request left out equals the memory limit (reserved ' +
        "in full, so PostgreSQL is not the first Pod a node under memory pressure kills). PostgreSQL's " +
        'memory parameters follow the memory limit: shared_buffers 25%, effective_cache_size 75%, ' +
        'maintenance_work_mem 1/16 (64MB to 2GB), work_mem half of what shared_buffers leaves shared ' +
        'among max_connections (at least 4MB); max_connections comes from the profile (small 50, medium 100, ' +
        'large 200, xlarge 300), lowered to one per 10MB of a memory limit below the profile’s (at least 20).',
    ).optional(),
  })
  .superRefine((database, ctx) => {
    if (database.pool !== undefined && database.tier === 'Dedicated') {
      ctx.addIssue({ code: 'custom', path: ['pool'], message: POOL_WITH_DEDICATED });
    }
    if (!sharedAsked(database)) return;
    const owned: [string[], unknown][] = [
      [['instances'], database.instances],
      [['storage', 'size'], database.storage.size],
      [['storage', 'storageClass'], database.storage.storageClass],
      [['resources'], database.resources],
    ];
    for (const [path, value] of owned) {
      if (value !== undefined) ctx.addIssue({ code: 'custom', path, message: POOL_OWNS });
    }
  })
  .meta({
    description: 'The PostgreSQL cluster (run by CloudNativePG) that holds the authority data.',
    'x-kubernetes-validations': [
      {
        rule: "!has(self.pool) || !has(self.tier) || self.tier == 'Shared'",
        message: `spec.database.pool ${POOL_WITH_DEDICATED}`,
        fieldPath: '.pool',
      },
      ...(
        [
          ['instances', '!has(self.instances)'],
          ['storage.size', '!has(self.storage) || !has(self.storage.size)'],
          ['storage.storageClass', '!has(self.storage) || !has(self.storage.storageClass)'],
          ['resources', '!has(self.resources)'],
        ] as const
      ).map(([field, absent]) => ({
        rule: `!${sharedAskedCel('self')} || ${absent}`,
        message: `spec.database.${field} ${POOL_OWNS}`,
        fieldPath: `.${field}`,
      })),
    ] satisfies CelRule[],
  });

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

// What a schedule restricts, read like schedulePeriodDays: descriptors by what they stand for, `?` as `*`.
// A malformed schedule restricts nothing here: it is reported once, by its own rules.
const FIVE_FIELDS = String.raw`self.schedule.matches(r'^\S+ \S+ \S+ \S+ \S+$')`;
const restricts = (descriptors: string[], field: string) =>
  `(self.schedule in [${descriptors.map((d) => `'${d}'`).join(', ')}] || ` +
  `(${FIVE_FIELDS} && !self.schedule.matches(r'${field}')))`;

const BACKUP_PERIOD_RULES: CelRule[] = [
  {
    rule: `!${restricts(['@yearly', '@annually'], String.raw`^\S+ \S+ \S+ [*?] `)} || self.retentionDays >= 366`,
    message:
      'spec.backup.retentionDays must be at least 366 when spec.backup.schedule restricts the month: ' +
      'retention must cover at least one backup period',
    fieldPath: '.retentionDays',
  },
  {
    rule: `!${restricts(['@yearly', '@annually', '@monthly'], String.raw`^\S+ \S+ [*?] `)} || self.retentionDays >= 31`,
    message:
      'spec.backup.retentionDays must be at least 31 when spec.backup.schedule restricts the day of month: ' +
      'retention must cover at least one backup period',
    fieldPath: '.retentionDays',
  },
  {
    rule: `!${restricts(['@weekly'], ' [*?]$')} || self.retentionDays >= 7`,
    message:
      'spec.backup.retentionDays must be at least 7 when spec.backup.schedule restricts the day of week: ' +
      'retention must cover at least one backup period',
    fieldPath: '.retentionDays',
  },
];

/** How a schedule is written, said once for every schedule of the spec. */
const CRON_FORM =
  'a cron schedule as a Kubernetes CronJob takes it, with single spaces: ' +
  'minute (0-59) hour (0-23) day-of-month (1-31) month (1-12 or jan-dec) day-of-week (0-6 or sun-sat); ' +
  'each field a comma-separated list of *, ?, values or ranges a-b, each optionally /step; or one of ' +
  '@yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly. No time zone (TZ=), no @every.';

/** A CronJob schedule field, validated as the API server validates a CronJob's (zod and CEL). */
function cronSchedule(path: string, fallback: string, what: string, fallbackInWords: string) {
  return (
    z
      .string()
      .max(100)
      .superRefine((schedule, ctx) => {
        const problem = scheduleProblem(schedule);
        if (problem) ctx.addIssue({ code: 'custom', message: problem });
      })
      // The operator works on the five fields a descriptor stands for (CloudNativePG's schedule has six).
      .overwrite(normalizeSchedule)
      .default(fallback)
      .meta({
        description: `${what}, in UTC: ${CRON_FORM} Default: ${fallbackInWords}.`,
        'x-kubernetes-validations': scheduleCelRules(path),
      })
  );
}

/** The smallest scratch volume a drill gets: initdb alone takes about 40 MB, and a restore needs room. */
const MIN_SCRATCH = '1Gi';

export const RestoreDrillSchema = z
  .strictObject({
    enabled: z
      .boolean()
      .default(true)
      .meta({
        description:
          'Run restore drills on schedule (default true). Turning them off removes the restore-drill CronJob ' +
          'and status.backup.lastRestoreTest; the backups themselves are unaffected.',
      }),
    schedule: cronSchedule(
      'spec.backup.restoreDrill.schedule',
      '0 4 * * 0',
      'When restore drills run',
      'every Sunday at 04:00, after the default daily backup',
    ),
    scratchSize: quantity()
      .refine((size) => (compareQuantities(size, MIN_SCRATCH) ?? 0) >= 0, {
        message: `must be at least ${MIN_SCRATCH}: the drill restores the whole database into it`,
      })
      .optional()
      .meta({
        description:
          'Size of the disk the drill restores into, e.g. 20Gi: a disk-backed emptyDir holding the throwaway ' +
          "PostgreSQL server's data directory, that is the backup decrypted, for the drill's duration only (it " +
          "is deleted with the drill's Pod, whatever the outcome). It must hold the restored database with its " +
          'indexes. It is also requested from the node as ephemeral storage, so a drill only starts on a node ' +
          `with that much free disk. At least ${MIN_SCRATCH}. Default: the database's volume size ` +
          '(spec.database.storage.size, or its default; a restore is no larger than the volume it came from).',
        'x-kubernetes-validations': [
          {
            rule: `!isQuantity(self) || quantity(self).compareTo(quantity('${MIN_SCRATCH}')) >= 0`,
            message: `spec.backup.restoreDrill.scratchSize must be at least ${MIN_SCRATCH}: the drill restores the whole database into it`,
          },
        ] satisfies CelRule[],
      }),
  })
  .meta({
    description:
      'Restore drills (regular restore tests, as SecNumCloud asks): on schedule, a Job in the namespace ' +
      'restores the latest encrypted logical backup into a throwaway PostgreSQL server of its own, compares ' +
      "every table's row count and checksum with what the backup recorded when it was taken, and the result " +
      'is reported in status.backup.lastRestoreTest and the BackupReady condition. The drill never connects to ' +
      'the database and holds no database credential.',
  });

export const BackupDestinationSchema = z
  .strictObject({
    endpoint: z
      .string()
      .max(2048)
      .superRefine((endpoint, ctx) => {
        const checked = checkEndpoint(endpoint);
        if (!checked.ok) ctx.addIssue({ code: 'custom', message: checked.problem });
      })
      .meta({
        description:
          'S3-compatible endpoint hosted in France, e.g. https://oos.cloudgouv-eu-west-1.outscale.com, ' +
          `https://s3.gra.io.cloud.ovh.net or https://s3.fr-par.scw.cloud. Exactly ${ENDPOINT_FORM}: ` +
          'no user name or password (credentials go in credentialsSecret), query, fragment, percent-encoding ' +
          'or IPv6 literal, so that every program reading it (Node, Python, Go) reaches the same host.',
        'x-kubernetes-validations': endpointCelRules('spec.backup.destination.endpoint'),
      }),
    bucket: z
      .string()
      .min(3)
      .max(63)
      .regex(BUCKET, { message: 'must be an S3 bucket name (3-63 lowercase letters, digits, . and -)' })
      .superRefine((bucket, ctx) => {
        const problem = bucketProblem(bucket);
        if (problem) ctx.addIssue({ code: 'custom', message: problem });
      })
      .meta({
        description:
          'Bucket name, by the S3 naming rules: 3 to 63 lowercase letters, digits, dots and dashes, starting and ' +
          'ending with a letter or digit; no "..", ".-" or "-."; not shaped like an IP address; not starting with ' +
          'xn--, sthree- or amzn-s3-demo-; not ending with -s3alias, --ol-s3, .mrap, --x-s3 or --table-s3.',
        'x-kubernetes-validations': bucketCelRules('spec.backup.destination.bucket'),
      }),
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
      .superRefine((prefix, ctx) => {
        const problem = pathPrefixProblem(prefix);
        if (problem) ctx.addIssue({ code: 'custom', message: problem });
      })
      .optional()
      .meta({
        description:
          'Prefix of the object keys inside the bucket, e.g. territories/rennes/: segments separated by single ' +
          'slashes, no leading slash, no empty, . or .. segment.',
        'x-kubernetes-validations': pathPrefixCelRules('spec.backup.destination.pathPrefix'),
      }),
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
    endpointCA: z
      .strictObject({
        name: z.string().max(253).regex(DNS_SUBDOMAIN, { message: 'must be a Secret name' }).meta({
          description: "Name of the Secret, in the territory's namespace, that holds the CA bundle.",
        }),
        key: z
          .string()
          .max(253)
          .regex(SECRET_KEY, { message: 'must be a Secret data key' })
          .default('ca.crt')
          .meta({ description: 'Key inside the Secret holding the PEM bundle.' }),
      })
      .optional()
      .meta({
        description:
          "CA bundle (PEM) that signs the endpoint's certificate, for object storage behind a private CA " +
          "(on-premises, a regional cooperative's own). When set, backups trust this bundle only, not the " +
          "public CAs. Public providers need none. Same shape as CloudNativePG's endpointCA.",
      }),
  })
  .meta({
    description:
      'Where backups go: an S3-compatible bucket hosted in France, under the same location rules as the data ' +
      '(SecNumCloud 12.5).',
  });

/** Who can read physical backups: barman-cloud encrypts only on the storage side (S3 SSE). */
export const PHYSICAL_BACKUP_ENCRYPTIONS = ['ProviderManaged'] as const;

/**
 * `physical` was a boolean (true by default) before physical backups became opt-in. A manifest still
 * written that way gets the new form in the error, not a bare "must be an object".
 */
function legacyPhysicalMessage(issue: { code?: string; input?: unknown }): string | undefined {
  if (issue.code !== 'invalid_type' || typeof issue.input !== 'boolean') return undefined;
  return issue.input
    ? 'is no longer a boolean: write physical: {enabled: true, encryption: ProviderManaged} to keep physical ' +
        'backups, saying that the storage provider can read them (off by default since it can)'
    : 'is no longer a boolean: remove it (physical backups are off by default), or write physical: {enabled: false}';
}

export const PhysicalBackupSchema = z
  .strictObject(
    {
      enabled: z
        .boolean()
        .default(false)
        .meta({
          description:
            'Also keep CloudNativePG physical backups (WAL archive and base backups, for point-in-time recovery) ' +
            'beside the logical dumps. Off by default: see encryption.',
        }),
      encryption: z
        .enum(PHYSICAL_BACKUP_ENCRYPTIONS)
        .optional()
        .meta({
          description:
            'Required when enabled, to say plainly who can read physical backups. ProviderManaged (the only value ' +
            'today): barman-cloud cannot encrypt on the client side, so base backups and WAL are encrypted by the ' +
            "storage provider with the provider's key (S3 server-side encryption, AES256): the provider can read " +
            'the whole database. Refused with hosting level secnumcloud; shown in status and in the record of ' +
            'processing. Logical backups stay encrypted with the authority’s keys either way.',
        }),
    },
    { error: legacyPhysicalMessage },
  )
  .superRefine((physical, ctx) => {
    if (physical.enabled && physical.encryption === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['encryption'],
        message:
          'must be set when physical backups are enabled: ProviderManaged (the storage provider can read them)',
      });
    }
  })
  .meta({
    description:
      'Physical backups through CloudNativePG (point-in-time recovery), readable by the storage provider. ' +
      'Formerly a boolean (true by default): write {enabled: true, encryption: ProviderManaged} for true.',
    'x-kubernetes-validations': [
      {
        // The CRD's default is {} (enabled then defaults inside): has() keeps the rule valid on it.
        rule: '!(has(self.enabled) && self.enabled) || has(self.encryption)',
        message:
          'spec.backup.physical.encryption must be set when physical backups are enabled: ProviderManaged (the storage provider can read them)',
        fieldPath: '.encryption',
      },
    ] satisfies CelRule[],
  });

export const BackupSchema = z
  .strictObject({
    schedule: cronSchedule('spec.backup.schedule', '0 2 * * *', 'When backups run', 'every day at 02:00'),
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
          'provider cannot read them (SecNumCloud 10.5). Required with hosting level secnumcloud. It does not ' +
          'cover physical backups (spec.backup.physical), which the provider can read.',
      }),
    physical: PhysicalBackupSchema.prefault({}),
    restoreDrill: RestoreDrillSchema.prefault({}),
    destination: BackupDestinationSchema,
  })
  .superRefine((backup, ctx) => {
    if (scheduleProblem(backup.schedule) !== undefined) return; // already reported on the schedule itself
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

/**
 * Kubernetes' own groups (system:masters, system:authenticated, system:serviceaccounts[:<ns>],
 * system:nodes...) are given by the API server, not by an identity provider: binding one would open
 * a Territory to every user, every workload or the cluster's administrators.
 */
export const SYSTEM_GROUP_PREFIX = 'system:';

const groups = (field: string, description: string) =>
  z
    .array(
      label(256)
        .refine((group) => !group.startsWith(SYSTEM_GROUP_PREFIX), {
          message: `must not be one of Kubernetes' own groups (${SYSTEM_GROUP_PREFIX}*)`,
        })
        .meta({
          'x-kubernetes-validations': [
            {
              rule: `!self.startsWith('${SYSTEM_GROUP_PREFIX}')`,
              message: `spec.access.${field} must not name Kubernetes' own groups (${SYSTEM_GROUP_PREFIX}*: system:masters, system:authenticated, system:serviceaccounts...): they are not the authority's`,
            },
          ] satisfies CelRule[],
        }),
    )
    .max(100)
    .superRefine(rejectDuplicates)
    .default([])
    .meta({ description, 'x-kubernetes-list-type': 'set' });

export const AccessSchema = z
  .strictObject({
    adminGroups: groups(
      'adminGroups',
      "Groups (from the cluster's identity provider, e.g. ProConnect or Keycloak) that administer the " +
        "territory's namespace. Kubernetes' own groups (system:*) are refused.",
    ),
    readerGroups: groups(
      'readerGroups',
      "Groups that may read (but not change) the territory's namespace. Kubernetes' own groups (system:*) are refused.",
    ),
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
