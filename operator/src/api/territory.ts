// The Territory API: ONE zod schema that is at the same time the TypeScript types, the runtime
// validation used by the operator and `territoryctl`, and (through crd.ts) the CRD's OpenAPI schema.
//
// Every rule the API server must enforce at admission lives next to the field it guards, twice:
// as a CEL rule in `x-kubernetes-validations` (for the API server) and as a zod refinement (for
// offline validation). The messages are the same and always start with the field path, so a
// platform engineer reading a `kubectl apply` error knows which line of YAML to fix.
// Transition rules (immutability, no shrinking) only exist in CEL: zod never sees the old object.
//
// The schema is split by concern (patterns.ts, authority.ts, stack.ts, spec.ts, status.ts); this
// module assembles the whole object and is the one other code imports.

import * as z from 'zod';
import type { AuthoritySchema, PurposeSchema } from './authority.ts';
import { type CelRule, DNS_LABEL, isReservedNamespace } from './patterns.ts';
import {
  POINT_IN_TIME_NEEDS_PHYSICAL,
  POINT_IN_TIME_PHYSICAL_RULE,
  REPLACE_CONFIRMATION_RULE,
} from './restore.ts';
import { TerritorySpecSchema } from './spec.ts';
import { type ConditionSchema, TerritoryStatusSchema } from './status.ts';

export * from './authority.ts';
export * from './patterns.ts';
export * from './restore.ts';
export * from './spec.ts';
export * from './stack.ts';
export * from './status.ts';

export const GROUP = 'sovereign.dev';
export const VERSION = 'v1alpha1';
export const KIND = 'Territory';
export const PLURAL = 'territories';
export const SINGULAR = 'territory';
export const API_VERSION = `${GROUP}/${VERSION}`;

// ---------------------------------------------------------------------------------------------
// The whole object.

const MetadataSchema = z
  .looseObject({
    // 63, not the API server's 253: the name is the value of the sovereign.dev/territory label on
    // every owned object, and label values stop at 63 characters.
    name: z.string().min(1).max(63),
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
    // Changing a set spec.namespace is refused on the field itself (spec.ts). Here: adding or
    // removing it, which is fine only if the namespace stays metadata.name. Each comparison has
    // metadata.name on one side on purpose: comparing two root-level oldSelf/self strings makes
    // CEL's cost estimator lose their bounds, and the API server then refuses the CRD.
    rule:
      'has(self.spec.namespace) == has(oldSelf.spec.namespace) || ' +
      '(has(self.spec.namespace) ? self.spec.namespace == self.metadata.name : oldSelf.spec.namespace == self.metadata.name)',
    message:
      'spec.namespace is immutable: the namespace (spec.namespace, or metadata.name when unset) cannot change',
  },
  REPLACE_CONFIRMATION_RULE,
  POINT_IN_TIME_PHYSICAL_RULE,
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
    const confirmation = territory.spec.restore?.replaceExistingData;
    if (confirmation !== undefined && confirmation !== territory.metadata.name) {
      ctx.addIssue({
        code: 'custom',
        path: ['spec', 'restore', 'replaceExistingData'],
        message:
          "must be the Territory's own name (metadata.name): it confirms that the restore may replace the data of this very Territory",
      });
    }
    if (territory.spec.restore?.from === 'PointInTime' && !territory.spec.backup.physical.enabled) {
      ctx.addIssue({
        code: 'custom',
        path: ['spec', 'restore', 'from'],
        message: POINT_IN_TIME_NEEDS_PHYSICAL,
      });
    }
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
  // reportInput tells a missing field (input undefined) from a wrong type; inputs are not shown.
  const result = TerritorySchema.safeParse(obj, { reportInput: true });
  if (result.success) return { ok: true, territory: result.data };
  return { ok: false, errors: formatIssues(result.error.issues) };
}

/** zod's issues as `path: problem` lines, as parseTerritory (and parseDatabasePool) report them. */
export function formatIssues(issues: readonly z.core.$ZodIssue[]): string[] {
  return issues.flatMap(formatIssue);
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

function formatIssue(issue: z.core.$ZodIssue): string[] {
  // One line per unknown field, so each line names the field to remove, like the API server does.
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => `${formatPath([...issue.path, key])}: unknown field`);
  }
  return [`${formatPath(issue.path)}: ${describeIssue(issue)}`];
}

function describeIssue(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case 'invalid_type':
      if (issue.input === undefined) return 'is required';
      // zod's own message shows types the way TypeScript does; a schema's own message says more.
      return issue.message.startsWith('Invalid input') ? `must be ${article(issue.expected)}` : issue.message;
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
    case 'invalid_format':
      // Our regexes carry a message saying what is expected; zod's default one shows the raw regex.
      return issue.message.startsWith('Invalid') ? `has an invalid format (${issue.format})` : issue.message;
    default:
      return issue.message;
  }
}

function article(expected: string): string {
  const noun = expected === 'int' ? 'integer' : expected;
  return /^[aeiou]/.test(noun) ? `an ${noun}` : `a ${noun}`;
}
