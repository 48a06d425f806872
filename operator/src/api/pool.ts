// The DatabasePool API: a PostgreSQL cluster that the platform declares for small authorities to share, one
// database each (the Shared tier, docs/shared-tier.md). Cluster-scoped like the Territory, and in the same
// group, so that RBAC keeps tenants out of it and GitOps declares it beside the Territories it serves.
//
// Same conventions as territory.ts: one zod schema is the types, the offline validation and (through
// crd.ts) the CRD's schema; every rule the API server must enforce is said twice, in zod and in CEL, with
// messages that start with the field's path.

import * as z from 'zod';
import { LabelSelectorSchema } from './label-selector.ts';
import {
  AUTHORITY_CODE_HINTS,
  AUTHORITY_CODE_PATTERNS,
  type CelRule,
  DNS_LABEL,
  isReservedNamespace,
  POOL_NAME,
  POOL_NAME_HINT,
  POOL_NAME_MAX,
  rejectDuplicates,
} from './patterns.ts';
import { HostingSchema, instanceResourcesSchema, instanceStorageSchema, POSTGRES_VERSIONS } from './stack.ts';
import { ConditionSchema } from './status.ts';
import { formatIssues, GROUP, VERSION } from './territory.ts';

export const POOL_KIND = 'DatabasePool';
export const POOL_PLURAL = 'databasepools';
export const POOL_SINGULAR = 'databasepool';
export const POOL_API_VERSION = `${GROUP}/${VERSION}`;

/** The connections of the whole pool, unless spec.maxConnections says otherwise: see its description. */
export const BASE_CONNECTIONS = 100;
export function defaultMaxConnections(maxTenants: number): number {
  return BASE_CONNECTIONS + maxTenants;
}

/**
 * A PostgreSQL duration as a server setting takes it (0 turns the timeout off), bounded per unit so that it
 * stays below PostgreSQL's limit for these settings (2147483647 ms, about 24 days).
 */
export const PG_DURATION = /^(0|[1-9][0-9]{0,8}ms|[1-9][0-9]{0,5}s|[1-9][0-9]{0,3}min|[1-9][0-9]?h|[1-9]d)$/;
const PG_DURATION_HINT = 'a PostgreSQL duration such as 500ms, 30s, 10min, 2h or 1d (0 turns it off)';

const duration = (fallback: string, description: string) =>
  z
    .string()
    .max(16)
    .regex(PG_DURATION, { message: `must be ${PG_DURATION_HINT}` })
    .default(fallback)
    .meta({ description: `${description} Written as ${PG_DURATION_HINT}. Default ${fallback}.` });

export const PoolLimitsSchema = z
  .strictObject({
    connectionsPerTenant: z
      .int()
      .min(1)
      .max(1000)
      .default(20)
      .meta({
        description:
          "Connections one tenant's database accepts at once (its CONNECTION LIMIT), and each of its roles: " +
          "the hard bound on what one authority takes of the pool's connections. At most half of the pool's " +
          'max_connections (spec.maxConnections). Default 20.',
      }),
    statementTimeout: duration(
      '30s',
      'statement_timeout of the pool: a statement running longer is cancelled. A default that a session may ' +
        'change (SET statement_timeout), not a hard bound.',
    ),
    idleInTransactionSessionTimeout: duration(
      '60s',
      'idle_in_transaction_session_timeout of the pool: a session left idle inside a transaction (holding its ' +
        'locks and snapshot) longer is ended. A default a session may change.',
    ),
    idleSessionTimeout: duration(
      '10min',
      'idle_session_timeout of the pool: a session idle outside a transaction longer is ended, giving its ' +
        "connection back (applications' connection pools should close idle connections sooner). A default a " +
        'session may change.',
    ),
  })
  .meta({
    description:
      "What one tenant may take of the pool (noisy neighbours). The hard bounds are the connection limits and the pool's " +
      'CPU and memory; the timeouts are defaults each session may change.',
  });

const departementCode = z
  .string()
  .max(3)
  .regex(AUTHORITY_CODE_PATTERNS.departement, {
    message: `must be ${AUTHORITY_CODE_HINTS.departement}`,
  });

export const PoolServesSchema = z
  .strictObject({
    departements: z
      .array(departementCode)
      .min(1)
      .max(110)
      .superRefine(rejectDuplicates)
      .optional()
      .meta({
        description:
          'INSEE codes of the départements whose authorities the pool takes (e.g. 35, 2A or 974): a Territory ' +
          'whose authority lies in one of them (its official département) may land here.',
        'x-kubernetes-list-type': 'set',
      }),
    territorySelector: LabelSelectorSchema.optional().meta({
      description:
        'A label selector on Territories (their metadata.labels): the Territories it matches may land here, ' +
        'whatever their département. Empty ({}) matches every Territory.',
    }),
  })
  .superRefine((serves, ctx) => {
    if (serves.departements === undefined && serves.territorySelector === undefined) {
      ctx.addIssue({
        code: 'custom',
        message: 'must give departements, territorySelector or both: which Territories the pool takes',
      });
    }
  })
  .meta({
    description:
      'Which Territories the pool takes: those of the listed départements, and those the selector matches ' +
      "(either is enough). A Territory also needs the pool's hosting to meet its own (level and regions), and " +
      'the pool to have room (maxTenants).',
    'x-kubernetes-validations': [
      {
        rule: 'has(self.departements) || has(self.territorySelector)',
        message:
          'spec.serves must give departements, territorySelector or both: which Territories the pool takes',
      },
    ] satisfies CelRule[],
  });

export const DatabasePoolSpecSchema = z
  .strictObject({
    namespace: z
      .string()
      .max(63)
      .regex(DNS_LABEL, {
        message: 'must be a DNS label (lowercase letters, digits and -, at most 63 characters)',
      })
      .refine((name) => !isReservedNamespace(name), {
        message: "must not be 'default' or start with 'kube-'",
      })
      .meta({
        description:
          "Namespace of the pool's PostgreSQL cluster, its tenants' databases and roles: created and owned by " +
          "the operator, never a Territory's. Immutable.",
        'x-kubernetes-validations': [
          { rule: 'self == oldSelf', message: "spec.namespace is immutable: the pool's data lives there" },
          {
            rule: "self != 'default' && !self.startsWith('kube-')",
            message: "spec.namespace must not be 'default' or start with 'kube-' (reserved by Kubernetes)",
          },
        ] satisfies CelRule[],
      }),
    instances: z
      .int()
      .min(1)
      .max(9)
      .default(2)
      .meta({
        description:
          'Number of PostgreSQL instances (1 primary + replicas), 1 to 9. Default 2: a failover keeps every ' +
          'tenant served.',
      }),
    postgresVersion: z
      .enum(POSTGRES_VERSIONS)
      .default('17')
      .meta({
        description:
          'PostgreSQL major version: "15", "16", "17" or "18" (quoted in YAML). A Territory moved into the pool ' +
          'is restored from a logical backup, so it needs no particular version.',
      }),
    hosting: HostingSchema.prefault({}).meta({
      description:
        'Where the pool may be hosted, as for a Territory (spec.hosting): a Territory lands in the pool only ' +
        'if the pool meets its own requirement: a secnumcloud Territory only in a secnumcloud pool, and a ' +
        'Territory that names regions only in a pool whose regions are all among them.',
    }),
    maxTenants: z
      .int()
      .min(1)
      .max(2000)
      .meta({
        description:
          'How many Territories the pool takes at most, 1 to 2000; a full pool takes no more (they get a ' +
          'cluster of their own). The default size follows it (resources, storage).',
      }),
    serves: PoolServesSchema,
    maxConnections: z
      .int()
      .min(10)
      .max(10000)
      .optional()
      .meta({
        description:
          "PostgreSQL's max_connections for the whole pool, 10 to 10000. Default: 100 + maxTenants (room for " +
          'bursts, and one connection per tenant on average, which the per-tenant memory share pays for; a ' +
          'small authority is mostly idle). work_mem is shared among them.',
      }),
    limits: PoolLimitsSchema.prefault({}),
    resources: instanceResourcesSchema(
      'spec.resources',
      'CPU and memory of each PostgreSQL instance. Default, from maxTenants: a request of 500m CPU and 1Gi of ' +
        'memory plus 5m and 16Mi per tenant, a memory limit equal to its request (reserved in full) and a CPU ' +
        "limit four times its request. Each value given replaces its default; PostgreSQL's memory parameters " +
        'follow the memory limit, as for a dedicated cluster.',
    ).optional(),
    storage: instanceStorageSchema('spec.storage', {
      changed: 'maxTenants lowered',
      value: '10Gi plus 1Gi per tenant (maxTenants)',
    }).optional(),
  })
  .superRefine((spec, ctx) => {
    const max = spec.maxConnections ?? defaultMaxConnections(spec.maxTenants);
    if (spec.limits.connectionsPerTenant * 2 > max) {
      ctx.addIssue({
        code: 'custom',
        path: ['limits', 'connectionsPerTenant'],
        message: `must be at most half of the pool's max_connections (${max}): one tenant must never take every connection`,
      });
    }
  })
  .meta({
    description:
      'A PostgreSQL cluster shared by small authorities, one database each, in a namespace of its own.',
    'x-kubernetes-validations': [
      {
        // has(): limits and its fields are defaulted, but a rule must hold on whatever is stored; and a
        // missing maxTenants is reported as required, not as this rule failing to evaluate.
        rule:
          '!has(self.limits) || !has(self.limits.connectionsPerTenant) || ' +
          '(!has(self.maxConnections) && !has(self.maxTenants)) || ' +
          `self.limits.connectionsPerTenant * 2 <= (has(self.maxConnections) ? self.maxConnections : ${BASE_CONNECTIONS} + self.maxTenants)`,
        message:
          "spec.limits.connectionsPerTenant must be at most half of the pool's max_connections " +
          `(spec.maxConnections, default ${BASE_CONNECTIONS} + maxTenants): one tenant must never take every connection`,
        fieldPath: '.limits.connectionsPerTenant',
      },
    ] satisfies CelRule[],
  });

export const DatabasePoolStatusSchema = z
  .object({
    observedGeneration: z
      .int()
      .min(0)
      .optional()
      .meta({ description: 'metadata.generation last reconciled.' }),
    tenants: z
      .int()
      .min(0)
      .max(100000)
      .optional()
      .meta({
        description:
          'How many Territories have their database in the pool: the Database objects in its namespace ' +
          'labelled sovereign.dev/pool=<pool> (one per Territory; one being deleted still counts).',
      }),
    conditions: z
      .array(ConditionSchema)
      .max(32)
      .default([])
      .meta({
        description:
          'Ready and the kstatus pair Reconciling/Stalled. Ready is True (reason Serving) when the pool takes ' +
          'tenants: every instance of its cluster is ready and CloudNativePG has issued its CA Secret ' +
          '(<pool>-ca). Otherwise False, with the reason: ClusterNotReady, NamespaceTerminating or Deleting ' +
          '(converging: Reconciling True); InvalidSpec, ReservedNamespace, NamespaceConflict, ' +
          "CloudNativePGNotInstalled, RefusedByAPIServer, DeletionBlocked or the sovereignty gate's " +
          '(NoHostingAttestation, QualificationNotMet, RegionNotEligible...): a person must act (Stalled True).',
        'x-kubernetes-list-type': 'map',
        'x-kubernetes-list-map-keys': ['type'],
      }),
  })
  .meta({ description: 'The pool as the operator observed it.' });

const PoolMetadataSchema = z
  .looseObject({
    name: z
      .string()
      .min(1)
      .max(POOL_NAME_MAX)
      .regex(POOL_NAME, { message: `must be ${POOL_NAME_HINT}` }),
    uid: z.string().optional(),
    generation: z.int().optional(),
    resourceVersion: z.string().optional(),
    labels: z.record(z.string(), z.string()).optional(),
    annotations: z.record(z.string(), z.string()).optional(),
  })
  .meta({ description: 'Standard object metadata.' });

/** On the whole object: only there can CEL see metadata.name. */
export const POOL_ROOT_RULES: CelRule[] = [
  {
    rule: `self.metadata.name.matches('${POOL_NAME.source}')`,
    message: `metadata.name must be ${POOL_NAME_HINT}`,
  },
];

export const DatabasePoolSchema = z
  .object({
    apiVersion: z.literal(POOL_API_VERSION),
    kind: z.literal(POOL_KIND),
    metadata: PoolMetadataSchema,
    spec: DatabasePoolSpecSchema,
    status: DatabasePoolStatusSchema.optional(),
  })
  .meta({
    description:
      'A DatabasePool is a PostgreSQL cluster the platform runs for small authorities to share: each Territory ' +
      'that lands in it gets a database and roles of its own there, reachable only by its own roles, over TLS.',
    'x-kubernetes-validations': POOL_ROOT_RULES,
  });

export type DatabasePool = z.output<typeof DatabasePoolSchema>;
export type DatabasePoolSpec = z.output<typeof DatabasePoolSpecSchema>;
export type DatabasePoolSpecInput = z.input<typeof DatabasePoolSpecSchema>;
export type DatabasePoolStatus = z.output<typeof DatabasePoolStatusSchema>;

export type PoolParseResult = { ok: true; pool: DatabasePool } | { ok: false; errors: string[] };

/** Validate and default a DatabasePool. Errors read `path: problem`, as parseTerritory's. */
export function parseDatabasePool(obj: unknown): PoolParseResult {
  const result = DatabasePoolSchema.safeParse(obj, { reportInput: true });
  if (result.success) return { ok: true, pool: result.data };
  return { ok: false, errors: formatIssues(result.error.issues) };
}
