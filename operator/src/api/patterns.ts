// Shared building blocks of the Territory schema: patterns, CEL rule type, small field schemas.
// All patterns are RE2-compatible: they become OpenAPI `pattern`s checked by Go's regexp.

import * as z from 'zod';
import { normalizeSchedule } from './cron.ts';
import { QUANTITY_PATTERN } from './quantity.ts';

/** One CEL rule as the API server reads it from `x-kubernetes-validations`. */
export type CelRule = {
  rule: string;
  message: string;
  /** JSON path relative to the node carrying the rule, so the error points at the right field. */
  fieldPath?: string;
  reason?: 'FieldValueInvalid' | 'FieldValueForbidden' | 'FieldValueRequired' | 'FieldValueDuplicate';
};

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
export const AUTHORITY_CODE_HINTS: Record<AuthorityKind, string> = {
  commune: 'a 5-character INSEE commune code (code INSEE, e.g. 35238 or 2A004)',
  departement: 'an INSEE département code (e.g. 35, 2A or 974)',
  region: 'a 2-digit INSEE région code (e.g. 53)',
  epci: 'the 9-digit SIREN of the EPCI (e.g. 243500139)',
  syndicat: 'the 9-digit SIREN of the public body',
};

export const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
export const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
export const SECRET_KEY = /^[-._a-zA-Z0-9]+$/;
export const EMAIL =
  /^[A-Za-z0-9._%+'-]+@[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)+$/;
/** Ends with a letter or digit: it becomes part of a Secret name (db-purpose-<name>), a DNS subdomain. */
export const PURPOSE_NAME = /^[a-z]([a-z0-9-]{0,29}[a-z0-9])?$/;
export const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
export const PROVIDER_REGION = /^[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?$/;
export const RFC3339 =
  /^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})$/;
export const CONDITION_REASON = /^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$/;
export const CONDITION_TYPE =
  /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;

/**
 * A DatabasePool's name is its CloudNativePG Cluster's, which CloudNativePG wants a DNS-1035 label (a letter
 * first) of at most 50 characters: its Pods and Services are named after it.
 */
export const POOL_NAME = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
export const POOL_NAME_MAX = 50;
export const POOL_NAME_HINT =
  'a DNS-1035 label (lowercase letters, digits and -, starting with a letter) of at most 50 characters: ' +
  "it names the pool's CloudNativePG Cluster";

/** Namespaces Kubernetes keeps for itself; a Territory must never land in one. */
export function isReservedNamespace(name: string): boolean {
  return name === 'default' || name.startsWith('kube-');
}

/**
 * How many days one backup period lasts for a cron schedule (descriptors spelt out), read
 * conservatively: month restricted -> 366 (yearly-style), day-of-month restricted -> 31
 * (monthly-style), day-of-week restricted -> 7 (weekly-style), otherwise 1 (daily or more often).
 * `?` means `*`, as in Kubernetes. `retentionDays` must cover at least one period, or a restore point
 * could be missing.
 */
export function schedulePeriodDays(schedule: string): number {
  const [, , dayOfMonth, month, dayOfWeek] = normalizeSchedule(schedule).split(' ');
  const restricted = (field: string | undefined) => field !== '*' && field !== '?';
  if (restricted(month)) return 366;
  if (restricted(dayOfMonth)) return 31;
  if (restricted(dayOfWeek)) return 7;
  return 1;
}

export const quantity = (max = 64) =>
  z
    .string()
    .max(max)
    .regex(QUANTITY_PATTERN, { message: 'must be a Kubernetes quantity such as 500m, 2Gi or 10Gi' });

export const email = () => z.string().max(254).regex(EMAIL, { message: 'must be an email address' });

export const label = (max: number) => z.string().min(1).max(max);

/** Mirrors `x-kubernetes-list-type: set`, which makes the API server reject duplicate items. */
export function rejectDuplicates(items: readonly string[], ctx: z.core.$RefinementCtx<string[]>): void {
  items.forEach((item, index) => {
    if (items.indexOf(item) !== index) {
      ctx.addIssue({ code: 'custom', path: [index], message: `duplicate value ${JSON.stringify(item)}` });
    }
  });
}
