// The operator's own configuration: what the platform team attests about the cluster, the table of
// French providers (data, extendable), backup egress CIDRs and sharding. Loaded once at start from a
// YAML file (the Helm chart mounts it); the defaults describe no cluster at all, so an unconfigured
// operator fails closed on sovereignty.
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

const ProviderRegionSchema = z.object({
  name: z.string().min(1).describe('Value of topology.kubernetes.io/region on this provider’s nodes.'),
  french: z.boolean().describe('Whether the region is hosted in France.'),
  secnumcloud: z.boolean().default(false).describe('Whether the region is SecNumCloud-qualified.'),
  confirmed: z.boolean().default(true).describe('False when no primary source confirmed the value.'),
});

const ObjectStorageSchema = z.object({
  host: z
    .string()
    .min(1)
    .describe('Endpoint host name, or "*.suffix" for one host per customer (matched on the suffix).'),
  region: z.string().min(1),
  secnumcloud: z
    .boolean()
    .optional()
    .describe('Defaults to the flag of the provider region of the same name, else false.'),
  confirmed: z.boolean().default(true),
});

export const ProviderSchema = z.object({
  name: z.string().min(1),
  displayName: z.string().optional(),
  regions: z.array(ProviderRegionSchema).default([]),
  objectStorage: z.array(ObjectStorageSchema).default([]),
});

export const OperatorConfigSchema = z.object({
  cluster: z
    .object({
      provider: z
        .string()
        .optional()
        .describe('The hosting provider the platform team attests for this cluster.'),
      regions: z
        .array(z.string())
        .default([])
        .describe('Regions the platform team attests the nodes run in.'),
      qualification: z.enum(['standard', 'secnumcloud']).default('standard'),
      nodeEvidence: z
        .enum(['required', 'attestation-only'])
        .default('required')
        .describe(
          'required: every node must carry a French topology.kubernetes.io/region label. attestation-only trusts ' +
            'the attestation alone; meant for clusters without nodes (local development), never production.',
        ),
    })
    .default({ regions: [], qualification: 'standard', nodeEvidence: 'required' }),
  providers: z.array(ProviderSchema).default([]),
  backupEgress: z
    .array(z.object({ host: z.string().min(1), cidrs: z.array(z.string().min(1)).min(1) }))
    .default([])
    .describe(
      "CIDRs of backup endpoints, so NetworkPolicies can allow egress to them (the tenants' backup and " +
        "database Pods; the operator's own Pods, which erase the physical backups of deleted Territories).",
    ),
  apiServerCidrs: z
    .array(z.string().min(1))
    .default([])
    .describe('CIDRs of the Kubernetes API server: CloudNativePG instance managers must reach it.'),
  cnpgNamespace: z
    .string()
    .default('cnpg-system')
    .describe(
      'Namespace of the CloudNativePG operator, allowed to reach database pods. No Territory may claim it.',
    ),
  operatorNamespace: z
    .string()
    .optional()
    .describe(
      'Namespace the operator runs in; no Territory may claim it. Normally left unset: the operator reads ' +
        "its Pod's namespace (POD_NAMESPACE, which the chart sets, else its service account's namespace file).",
    ),
  shardSelector: z
    .string()
    .optional()
    .describe(
      'Label selector: this instance reconciles only the Territories that match (one shard per cluster).',
    ),
  resyncSeconds: z.number().int().min(10).default(300),
  concurrency: z.number().int().min(1).max(64).default(8),
  operatorImage: z
    .string()
    .default('territory-operator:dev')
    .describe('Image of the operator; its backup command runs in each Territory’s logical-backup CronJob.'),
  postgresImage: z
    .string()
    .default('ghcr.io/cloudnative-pg/postgresql')
    .describe('PostgreSQL image repository for CloudNativePG; the tag is the major version.'),
  credentialRotationDays: z.number().int().min(1).max(3650).default(30),
  tenantRoles: z
    .object({
      admin: z.string().min(1).default('territory-tenant-admin'),
      reader: z.string().min(1).default('territory-tenant-reader'),
    })
    .default({ admin: 'territory-tenant-admin', reader: 'territory-tenant-reader' })
    .describe(
      'ClusterRoles the operator binds in each Territory namespace for its admin and reader groups ' +
        '(shipped by the chart; the operator may bind these two and no other).',
    ),
});

export type OperatorConfig = z.infer<typeof OperatorConfigSchema>;
export type Provider = z.infer<typeof ProviderSchema>;

const DEFAULT_PROVIDERS_FILE = new URL('../../data/french-providers.yaml', import.meta.url);

/** The provider table shipped with the operator (operator/data/french-providers.yaml). */
export function defaultProviders(): Provider[] {
  const raw = parseYaml(readFileSync(DEFAULT_PROVIDERS_FILE, 'utf8')) as { providers?: unknown };
  return z.array(ProviderSchema).parse(raw.providers ?? []);
}

/**
 * Providers configured by the platform team replace the shipped entry of the same name and add new ones,
 * so a team can correct an unconfirmed value without forking the table.
 */
export function mergeProviders(shipped: Provider[], configured: Provider[]): Provider[] {
  const byName = new Map(shipped.map((p) => [p.name, p]));
  for (const p of configured) byName.set(p.name, p);
  return [...byName.values()];
}

export function parseOperatorConfig(raw: unknown): OperatorConfig {
  const result = OperatorConfigSchema.safeParse(raw ?? {});
  if (!result.success) {
    const lines = result.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new Error(`invalid operator configuration:\n  ${lines.join('\n  ')}`);
  }
  return { ...result.data, providers: mergeProviders(defaultProviders(), result.data.providers) };
}

const SERVICE_ACCOUNT_NAMESPACE_FILE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';

/**
 * The configuration with `operatorNamespace` filled in when it is not set: the Pod's namespace from
 * POD_NAMESPACE (the chart passes it with the downward API), else the service account's namespace file
 * every in-cluster Pod has. Out of a cluster (npm start) there is none, and none is needed.
 */
export function withOperatorNamespace(
  config: OperatorConfig,
  env: NodeJS.ProcessEnv = process.env,
  readNamespaceFile: () => string | undefined = () => {
    try {
      return readFileSync(SERVICE_ACCOUNT_NAMESPACE_FILE, 'utf8').trim();
    } catch {
      return undefined;
    }
  },
): OperatorConfig {
  if (config.operatorNamespace) return config;
  const namespace = env.POD_NAMESPACE?.trim() || readNamespaceFile();
  return namespace ? { ...config, operatorNamespace: namespace } : config;
}

export function loadOperatorConfig(path: string | undefined): OperatorConfig {
  if (!path) return parseOperatorConfig({});
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(`cannot read operator configuration ${path}: ${(err as Error).message}`);
  }
  return parseOperatorConfig(parseYaml(text));
}
