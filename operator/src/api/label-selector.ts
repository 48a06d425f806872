// A Kubernetes label selector (metav1.LabelSelector) as a schema field, and the matching the API server
// does with one, so that a pure function can tell which objects it selects without asking the API server.

import * as z from 'zod';
import type { CelRule } from './patterns.ts';

/** A label key: an optional DNS subdomain prefix and `/`, then a name of at most 63 characters. */
export const LABEL_KEY =
  /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
/** A label value: empty, or at most 63 letters, digits, `-`, `_` and `.`, starting and ending with a letter or digit. */
export const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$/;

export const SELECTOR_OPERATORS = ['In', 'NotIn', 'Exists', 'DoesNotExist'] as const;

const labelKey = () =>
  z
    .string()
    .min(1)
    .max(317)
    .regex(LABEL_KEY, { message: 'must be a label key, e.g. sovereign.dev/tier or pilot' });
const labelValue = () =>
  z.string().max(63).regex(LABEL_VALUE, { message: 'must be a label value (at most 63 characters)' });

const needsValues = (operator: string) => operator === 'In' || operator === 'NotIn';

export const LabelSelectorRequirementSchema = z
  .strictObject({
    key: labelKey().meta({ description: 'The label key the requirement applies to.' }),
    operator: z.enum(SELECTOR_OPERATORS).meta({
      description: 'In, NotIn (the label has, or has not, one of values), Exists or DoesNotExist.',
    }),
    values: z
      .array(labelValue())
      .max(64)
      .optional()
      .meta({ description: 'The values In and NotIn compare with; none with Exists and DoesNotExist.' }),
  })
  .superRefine((requirement, ctx) => {
    const count = requirement.values?.length ?? 0;
    if (needsValues(requirement.operator) && count === 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['values'],
        message: `must not be empty with ${requirement.operator}`,
      });
    }
    if (!needsValues(requirement.operator) && count > 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['values'],
        message: `must be empty with ${requirement.operator}`,
      });
    }
  })
  .meta({
    description: 'One requirement on a label.',
    'x-kubernetes-validations': [
      {
        rule: "!(self.operator in ['In', 'NotIn']) || (has(self.values) && size(self.values) > 0)",
        message: 'values must not be empty with operator In or NotIn',
        fieldPath: '.values',
      },
      {
        rule: "self.operator in ['In', 'NotIn'] || !has(self.values) || size(self.values) == 0",
        message: 'values must be empty with operator Exists or DoesNotExist',
        fieldPath: '.values',
      },
    ] satisfies CelRule[],
  });

/**
 * metav1.LabelSelector. Its keys are checked here and by the API server's pattern on each value only:
 * a map key has no pattern in a CRD's structural schema (and a CEL rule over every key of a map costs more
 * than the API server's estimate allows). A key that is not a label key matches nothing.
 */
export const LabelSelectorSchema = z
  .strictObject({
    matchLabels: z
      .record(z.string(), labelValue().meta({ description: 'The value the label must have.' }))
      .superRefine((labels, ctx) => {
        for (const key of Object.keys(labels)) {
          if (!LABEL_KEY.test(key)) {
            ctx.addIssue({ code: 'custom', path: [key], message: 'is not a label key' });
          }
        }
      })
      .optional()
      .meta({ description: 'Labels an object must carry, each with exactly this value.' }),
    matchExpressions: z
      .array(LabelSelectorRequirementSchema)
      .max(20)
      .optional()
      .meta({ description: 'Requirements an object must meet, all of them.' }),
  })
  .meta({
    description:
      'A Kubernetes label selector: matchLabels and matchExpressions, all of which must hold. An empty ' +
      'selector selects everything.',
  });

export type LabelSelector = z.output<typeof LabelSelectorSchema>;

/** Whether `labels` meet `selector`, as the API server's labels.Selector would say. */
export function matchesSelector(
  selector: LabelSelector,
  labels: Record<string, string> | undefined,
): boolean {
  const have = labels ?? {};
  const has = (key: string) => Object.hasOwn(have, key);
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) {
    if (!has(key) || have[key] !== value) return false;
  }
  for (const { key, operator, values = [] } of selector.matchExpressions ?? []) {
    const present = has(key);
    const value = have[key];
    const matched =
      operator === 'Exists'
        ? present
        : operator === 'DoesNotExist'
          ? !present
          : operator === 'In'
            ? present && values.includes(value as string)
            : // NotIn: an object without the label meets it, as in Kubernetes.
              !present || !values.includes(value as string);
    if (!matched) return false;
  }
  return true;
}
