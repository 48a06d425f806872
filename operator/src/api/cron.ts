// Backup schedules, validated the way Kubernetes validates a CronJob's, so a schedule the Territory
// admits is never refused later when the operator applies the backup CronJob.
//
// The reference is the API server's CronJob validation: robfig/cron v3's ParseStandard (five fields,
// or a descriptor) plus a refusal of any "TZ" in the schedule. Mirrored here, field by field:
//   minute 0-59, hour 0-23, day of month 1-31, month 1-12 or jan-dec, day of week 0-6 or sun-sat
//   (7 is NOT Sunday for Kubernetes); names in any case; each comma-separated item is `*`, `?`, a value,
//   or a range `a-b` with a <= b, optionally followed by `/step` with step >= 1 (`5/15` means 5-max/15);
//   descriptors @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly.
// Stricter than Kubernetes, on purpose and documented (docs/operations.md):
//   - fields are separated by single spaces (the retention and SecNumCloud rules read fields by position);
//   - `@every <duration>` is refused: it has no calendar period, and retention and the SecNumCloud daily
//     rule are judged per calendar period;
//   - forms robfig tolerates by accident are refused: empty list items (`1,,2`), `*-5`, signs (`+5`),
//     steps of more than 9 digits.
// test/integration/api-admission.test.ts checks this against the API server's own CronJob validation.
//
// The same rules exist twice: as a TypeScript check (zod, with a precise message) and as CEL rules (the
// API server, one per field, with a message naming the field).

import type { CelRule } from './patterns.ts';

/** Descriptors Kubernetes accepts (but @every), with the five fields they stand for in robfig/cron. */
export const CRON_DESCRIPTORS: Readonly<Record<string, string>> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
};

interface CronField {
  name: string;
  min: number;
  max: number;
  /** RE2 for an in-range number without leading zeros (leading zeros are added around it). */
  number: string;
  /** Lower-case names, the first one worth `min`. */
  names?: readonly string[];
}

export const CRON_FIELDS: readonly CronField[] = [
  { name: 'minute', min: 0, max: 59, number: '[1-5]?[0-9]' },
  { name: 'hour', min: 0, max: 23, number: '1?[0-9]|2[0-3]' },
  { name: 'day-of-month', min: 1, max: 31, number: '[1-9]|[12][0-9]|3[01]' },
  {
    name: 'month',
    min: 1,
    max: 12,
    number: '[1-9]|1[0-2]',
    names: ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'],
  },
  {
    name: 'day-of-week',
    min: 0,
    max: 6,
    number: '[0-6]',
    names: ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'],
  },
];

/** Any case: `[Jj][Aa][Nn]` (RE2 and JavaScript read it alike, unlike inline flags). */
const anyCase = (word: string) =>
  [...word].map((c) => (/[a-z]/.test(c) ? `[${c.toUpperCase()}${c}]` : c)).join('');

/** One value of a field: an in-range number (leading zeros allowed, as Go's Atoi reads them) or a name. */
function valuePattern(field: CronField): string {
  const names = field.names ? `|${field.names.map(anyCase).join('|')}` : '';
  return `(0*(${field.number})${names})`;
}

/** One comma-separated item of a field: `*`, `?`, a value or a range, and an optional `/step`. */
export function itemPattern(field: CronField): string {
  const value = valuePattern(field);
  return `^([*?]|${value}(-${value})?)(/0*[1-9][0-9]{0,8})?$`;
}

const SHAPE =
  /^(@(yearly|annually|monthly|weekly|daily|midnight|hourly)|[0-9A-Za-z*?,/-]+( [0-9A-Za-z*?,/-]+){4})$/;
const DESCRIPTOR_LIST = Object.keys(CRON_DESCRIPTORS).join(', ');
export const SCHEDULE_SHAPE_MESSAGE =
  'must be five cron fields separated by single spaces (minute hour day-of-month month day-of-week), ' +
  `or one of ${DESCRIPTOR_LIST}; a time zone (TZ=, CRON_TZ=) and @every are not accepted`;

function fieldMessage(field: CronField): string {
  const names = field.names ? ` or ${field.names[0]}-${field.names.at(-1)}` : '';
  return (
    `the ${field.name} field must be a comma-separated list of *, ?, values ${field.min}-${field.max}${names}, ` +
    `or ranges a-b with a <= b, each optionally followed by /step (step >= 1)`
  );
}

function fieldValue(field: CronField, text: string): number {
  if (/^[0-9]+$/.test(text)) return Number.parseInt(text, 10);
  return (field.names?.indexOf(text.toLowerCase()) ?? -1) + field.min;
}

/** Why a schedule would be refused by a Kubernetes CronJob (or by our stricter form), or undefined. */
export function scheduleProblem(schedule: string): string | undefined {
  if (!SHAPE.test(schedule)) return SCHEDULE_SHAPE_MESSAGE;
  if (schedule.startsWith('@')) return undefined;
  const fields = schedule.split(' ');
  for (const [index, field] of CRON_FIELDS.entries()) {
    const item = new RegExp(itemPattern(field));
    for (const part of (fields[index] ?? '').split(',')) {
      if (!item.test(part)) return fieldMessage(field);
      const range = (part.split('/')[0] ?? '').split('-');
      if (range.length === 2 && fieldValue(field, range[0] ?? '') > fieldValue(field, range[1] ?? '')) {
        return fieldMessage(field);
      }
    }
  }
  return undefined;
}

/** The five fields a schedule stands for: descriptors spelt out, anything else unchanged. */
export function normalizeSchedule(schedule: string): string {
  return CRON_DESCRIPTORS[schedule] ?? schedule;
}

/** CEL: the value of one side of a range, `part` being a CEL string expression. */
function celValue(field: CronField, part: string): string {
  if (!field.names) return `int(${part})`;
  const table = field.names.map((name, i) => `'${name}': ${i + field.min}`).join(', ');
  return `(${part}.matches('^[0-9]+$') ? int(${part}) : {${table}}[${part}.lowerAscii()])`;
}

/**
 * The CEL rules of spec.backup.schedule (on the field itself): its shape, then each field's items and
 * range order. A rule for one field holds for descriptors and for malformed schedules (reported once,
 * by the shape rule).
 */
export function scheduleCelRules(path: string): CelRule[] {
  const shape: CelRule = {
    rule: `self.matches(r'${SHAPE.source}')`,
    message: `${path} ${SCHEDULE_SHAPE_MESSAGE}`,
  };
  return [
    shape,
    ...CRON_FIELDS.map((field, index): CelRule => {
      const bounds = "r.split('/')[0].split('-')";
      const ordered = `${celValue(field, `${bounds}[0]`)} <= ${celValue(field, `${bounds}[1]`)}`;
      return {
        rule:
          `!self.matches(r'${SHAPE.source}') || self.startsWith('@') || ` +
          `self.split(' ')[${index}].split(',').all(r, r.matches(r'${itemPattern(field)}') && ` +
          `(!r.contains('-') || ${ordered}))`,
        message: `${path}: ${fieldMessage(field)}`,
      };
    }),
  ];
}
