// What a stack declares: the French-hosted clusters to install the operator on (with what the platform
// team attests about each: provider, regions, qualification) and, optionally, Territories as code. One
// zod schema, reusing the operator's own (OperatorConfigSchema, TerritorySpecSchema), so a mistake fails
// `pulumi preview` with the field's path instead of reaching a cluster.
import { z } from 'zod';
import { DNS_LABEL } from '../operator/src/api/patterns.ts';
import { formatPath, type TerritorySpecInput, TerritorySpecSchema } from '../operator/src/api/territory.ts';
import { OperatorConfigSchema } from '../operator/src/config/operator-config.ts';

/** The operator configuration keys a stack may set per cluster; the attestation and shard are set above them. */
export type OperatorExtras = Omit<
  z.input<typeof OperatorConfigSchema>,
  'cluster' | 'shardSelector' | 'operatorImage'
>;
const RESERVED_OPERATOR_KEYS = ['cluster', 'shardSelector', 'operatorImage'];

export const ClusterSchema = z.strictObject({
  /** Names the Pulumi resources and the `kubeconfig-<name>` secret of this cluster. */
  name: z.string().regex(DNS_LABEL, { message: 'must be a DNS label' }).max(40),
  /** Path to a kubeconfig file; else the stack secret `kubeconfig-<name>`; else the ambient kubeconfig. */
  kubeconfigPath: z.string().min(1).optional(),
  context: z.string().min(1).optional(),
  /** The platform team's attestation: the operator's `config.cluster`. */
  provider: z.string().min(1),
  regions: z.array(z.string().min(1)).min(1),
  qualification: z.enum(['standard', 'secnumcloud']).default('standard'),
  nodeEvidence: z.enum(['required', 'attestation-only']).default('required'),
  /** This cluster's shard: the Territories (by label) its operator reconciles. */
  shardSelector: z.string().min(1).optional(),
  namespace: z.string().regex(DNS_LABEL).default('territory-system'),
  image: z
    .strictObject({
      repository: z.string().min(1),
      tag: z.string().min(1).optional(),
      digest: z.string().startsWith('sha256:').optional(),
    })
    .optional(),
  /** The rest of the operator configuration (providers table overrides, backupEgress, apiServerCidrs…). */
  // Passed through as written (the operator applies its own defaults), validated below with its schema.
  operator: z
    .custom<OperatorExtras>((v) => typeof v === 'object' && v !== null && !Array.isArray(v), {
      message: 'must be an object (operator configuration keys)',
    })
    .default({}),
  /** Extra Helm values, merged under the ones computed here. */
  chartValues: z.record(z.string(), z.unknown()).default({}),
  /** Do not wait for the operator's pods to be ready (clusters without nodes, e.g. a test control plane). */
  skipAwait: z.boolean().default(false),
});

export const TerritoryDeclarationSchema = z.strictObject({
  name: z.string().min(1).max(253),
  /** The cluster (by `name`) that hosts it. */
  cluster: z.string().min(1),
  labels: z.record(z.string(), z.string()).default({}),
  spec: z.custom<TerritorySpecInput>(),
});

export const StackConfigSchema = z.strictObject({
  clusters: z.array(ClusterSchema).min(1),
  territories: z.array(TerritoryDeclarationSchema).default([]),
});

export type ClusterInput = z.input<typeof ClusterSchema>;
export type Cluster = z.output<typeof ClusterSchema>;
export type TerritoryDeclaration = z.input<typeof TerritoryDeclarationSchema>;
export type StackConfigInput = z.input<typeof StackConfigSchema>;
export type StackConfig = z.output<typeof StackConfigSchema>;

/** Thrown at preview: every problem, each with its path, e.g. `territories[0].spec.hosting.level: …`. */
export class StackConfigError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`invalid stack configuration:\n  ${problems.join('\n  ')}`);
    this.problems = problems;
    this.name = 'StackConfigError';
  }
}

function issues(prefix: readonly PropertyKey[], error: z.ZodError): string[] {
  return error.issues.map((i) => `${formatPath([...prefix, ...i.path])}: ${i.message}`);
}

/** Whether a label set matches an equality-based selector (`a=b,c!=d,e`); undefined when it cannot tell. */
export function matchesSelector(selector: string, labels: Record<string, string>): boolean | undefined {
  for (const term of selector.split(',').map((t) => t.trim())) {
    if (term === '') continue;
    if (/\s(in|notin)\s|\(/.test(term)) return undefined; // set-based: the operator decides
    const ne = /^([^!=]+)!=(.*)$/.exec(term);
    const eq = /^([^!=]+)==?(.*)$/.exec(term);
    if (ne?.[1] !== undefined) {
      if (labels[ne[1].trim()] === (ne[2] ?? '').trim()) return false;
    } else if (eq?.[1] !== undefined) {
      if (labels[eq[1].trim()] !== (eq[2] ?? '').trim()) return false;
    } else if (term.startsWith('!')) {
      if (term.slice(1) in labels) return false;
    } else if (!(term in labels)) {
      return false;
    }
  }
  return true;
}

/**
 * Validate a whole stack: each cluster's operator configuration with the operator's schema, each Territory
 * with the Territory schema, and that each Territory can live where it is declared (the cluster exists, is
 * qualified enough, shares a region with it, and its shard selects it). The operator would refuse or ignore
 * such a Territory later; preview refuses it now.
 */
export function parseStackConfig(raw: unknown): StackConfig {
  const parsed = StackConfigSchema.safeParse(raw);
  if (!parsed.success) throw new StackConfigError(issues([], parsed.error));
  const stack = parsed.data;
  const problems: string[] = [];
  const names = new Set<string>();
  stack.clusters.forEach((c, i) => {
    if (names.has(c.name)) problems.push(`clusters[${i}].name: duplicate cluster ${c.name}`);
    names.add(c.name);
    for (const key of RESERVED_OPERATOR_KEYS.filter((k) => k in c.operator)) {
      problems.push(
        `clusters[${i}].operator.${key}: set on the cluster entry (provider, regions, image…), not here`,
      );
    }
    const config = OperatorConfigSchema.strict().safeParse(operatorConfigOf(c));
    if (!config.success) problems.push(...issues(['clusters', i, 'operator'], config.error));
  });
  const declared = new Set<string>();
  stack.territories.forEach((t, i) => {
    const at = (...path: PropertyKey[]) => formatPath(['territories', i, ...path]);
    if (declared.has(t.name)) problems.push(`${at('name')}: duplicate Territory ${t.name}`);
    declared.add(t.name);
    const spec = TerritorySpecSchema.safeParse(t.spec, { reportInput: true });
    if (!spec.success) {
      problems.push(...issues(['territories', i, 'spec'], spec.error));
      return;
    }
    const cluster = stack.clusters.find((c) => c.name === t.cluster);
    if (!cluster) {
      problems.push(`${at('cluster')}: no cluster named ${t.cluster} (clusters: ${[...names].join(', ')})`);
      return;
    }
    const hosting = spec.data.hosting;
    if (hosting.level === 'secnumcloud' && cluster.qualification !== 'secnumcloud') {
      problems.push(
        `${at('spec', 'hosting', 'level')}: requires secnumcloud, but cluster ${cluster.name} is attested ${cluster.qualification}`,
      );
    }
    if (hosting.regions && !hosting.regions.some((r) => cluster.regions.includes(r))) {
      problems.push(
        `${at('spec', 'hosting', 'regions')}: none of ${hosting.regions.join(', ')} is a region of cluster ${cluster.name} (${cluster.regions.join(', ')})`,
      );
    }
    if (cluster.shardSelector && matchesSelector(cluster.shardSelector, t.labels) === false) {
      problems.push(
        `${at('labels')}: cluster ${cluster.name} reconciles only "${cluster.shardSelector}"; this Territory would be ignored`,
      );
    }
  });
  if (problems.length > 0) throw new StackConfigError(problems);
  return stack;
}

/** The operator configuration (the chart's `config` value) for one cluster. */
export function operatorConfigOf(cluster: Cluster): Record<string, unknown> {
  return {
    ...cluster.operator,
    cluster: {
      provider: cluster.provider,
      regions: cluster.regions,
      qualification: cluster.qualification,
      nodeEvidence: cluster.nodeEvidence,
    },
    ...(cluster.shardSelector ? { shardSelector: cluster.shardSelector } : {}),
  };
}
