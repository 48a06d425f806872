// Backup schedules against Kubernetes' CronJob rules (robfig/cron v3 standard parser). The API server
// itself is the reference in test/integration/api-admission.test.ts; here the TypeScript side, by table
// and by construction: every schedule built inside the bounds is admitted, and every schedule with one
// field pushed out of them is refused, naming that field.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CRON_FIELDS, normalizeSchedule, scheduleCelRules, scheduleProblem } from './cron.ts';
import { schedulePeriodDays } from './patterns.ts';
import { ACCEPTED_SCHEDULES, INVALID_CASES } from './test-fixtures.ts';

describe('scheduleProblem', () => {
  it.each(ACCEPTED_SCHEDULES)('admits %j', (schedule) => {
    expect(scheduleProblem(schedule)).toBeUndefined();
  });

  const refused: [string, string][] = [
    ['61 2 * * *', 'minute'],
    ['0 24 * * *', 'hour'],
    ['0 2 0 * *', 'day-of-month'],
    ['0 2 32 * *', 'day-of-month'],
    ['0 2 1 13 *', 'month'],
    ['0 2 * * 7', 'day-of-week'],
    ['0 2 * * 5-1', 'day-of-week'],
    ['0 2 * * sat-sun', 'day-of-week'],
    ['0 2 1 DEC-JAN *', 'month'],
    ['*/0 2 * * *', 'minute'],
    ['0 2 * * 1/0', 'day-of-week'],
    ['0 2 1,,15 * *', 'day-of-month'],
    ['*-5 2 * * *', 'minute'],
    ['0 2 * * MON-', 'day-of-week'],
    ['0 2 1 jan-feb-mar *', 'month'],
    ['0 2 * * monday', 'day-of-week'],
    ['jan 2 * * *', 'minute'],
    ['0 2 * * 1/9999999999', 'day-of-week'],
  ];
  it.each(refused)('refuses %j on the %s field', (schedule, field) => {
    expect(scheduleProblem(schedule)).toContain(`the ${field} field`);
  });

  it.each([
    'daily',
    '0 2 * *',
    '0 0 2 * * *',
    '0  2 * * *',
    ' 0 2 * * *',
    '0 2 * * * ',
    '0\t2 * * * *',
    'TZ=UTC 0 2 * * *',
    'TZ=UTC 2 * * *',
    '+5 2 * * *',
    'CRON_TZ=Europe/Paris 0 2 * * *',
    '@every 1h',
    '@reboot',
    '@DAILY',
    '',
  ])('refuses the shape of %j', (schedule) => {
    expect(scheduleProblem(schedule)).toMatch(/^must be five cron fields/);
  });

  it('has one invalid manifest per kind of mistake, shared with the API server test', () => {
    const names = INVALID_CASES.filter((c) => c.field === 'spec.backup.schedule').map((c) => c.name);
    expect(names.length).toBeGreaterThanOrEqual(20);
  });
});

/** An item inside [min, max]: a value, a range, a step, a name, `*` or `?`. */
function itemIn(field: (typeof CRON_FIELDS)[number]) {
  const value = fc.integer({ min: field.min, max: field.max });
  const named = field.names
    ? fc.integer({ min: 0, max: field.names.length - 1 }).map((i) => (field.names?.[i] ?? '').toUpperCase())
    : value.map(String);
  return fc.oneof(
    fc.constantFrom('*', '?'),
    value.map(String),
    value.map((v) => `0${v}`),
    named,
    fc.tuple(value, value).map(([a, b]) => `${Math.min(a, b)}-${Math.max(a, b)}`),
    fc
      .tuple(fc.constantFrom('*', String(field.min)), fc.integer({ min: 1, max: 99 }))
      .map(([b, s]) => `${b}/${s}`),
  );
}
const fieldIn = (index: number) =>
  fc
    .array(itemIn(CRON_FIELDS[index] as (typeof CRON_FIELDS)[number]), { minLength: 1, maxLength: 3 })
    .map((items) => items.join(','));
const validScheduleArb = fc
  .tuple(fieldIn(0), fieldIn(1), fieldIn(2), fieldIn(3), fieldIn(4))
  .map((f) => f.join(' '));

describe('scheduleProblem (property)', () => {
  it('admits every schedule built inside the bounds', () => {
    fc.assert(
      fc.property(validScheduleArb, (schedule) => {
        expect(scheduleProblem(schedule)).toBeUndefined();
      }),
      { numRuns: 500 },
    );
  });

  it('refuses every schedule with one value out of its field bounds, naming the field', () => {
    const outOfBounds = fc
      .tuple(validScheduleArb, fc.integer({ min: 0, max: 4 }), fc.boolean(), fc.integer({ min: 1, max: 40 }))
      .map(([schedule, index, below, by]) => {
        const field = CRON_FIELDS[index] as (typeof CRON_FIELDS)[number];
        const bad = below ? field.min - by : field.max + by;
        const fields = schedule.split(' ');
        fields[index] = `${fields[index]},${bad}`;
        return { schedule: fields.join(' '), field, bad };
      })
      .filter(({ bad }) => bad >= 0); // a negative number is a range for cron: refused too, but elsewhere
    let checked = 0;
    fc.assert(
      fc.property(outOfBounds, ({ schedule, field }) => {
        checked += 1;
        expect(scheduleProblem(schedule), schedule).toContain(`the ${field.name} field`);
      }),
      { numRuns: 500 },
    );
    expect(checked).toBeGreaterThan(300);
  });
});

describe('descriptors and periods', () => {
  it.each([
    ['@yearly', '0 0 1 1 *', 366],
    ['@annually', '0 0 1 1 *', 366],
    ['@monthly', '0 0 1 * *', 31],
    ['@weekly', '0 0 * * 0', 7],
    ['@daily', '0 0 * * *', 1],
    ['@midnight', '0 0 * * *', 1],
    ['@hourly', '0 * * * *', 1],
    ['0 2 ? * *', '0 2 ? * *', 1],
    ['0 2 * * ?', '0 2 * * ?', 1],
    ['0 2 ? * MON', '0 2 ? * MON', 7],
  ])('%s stands for %j and lasts %i day(s)', (schedule, fields, days) => {
    expect(normalizeSchedule(schedule)).toBe(fields);
    expect(schedulePeriodDays(schedule)).toBe(days);
  });

  it('gives the API server one rule per field, each message naming spec.backup.schedule', () => {
    const rules = scheduleCelRules('spec.backup.schedule');
    expect(rules).toHaveLength(1 + CRON_FIELDS.length);
    for (const rule of rules) expect(rule.message).toMatch(/^spec\.backup\.schedule/);
  });
});
