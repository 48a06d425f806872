// The plan's report, on a handful of authorities: the tiers' table, the profiles, the pools and what
// sharing saves, in words a platform engineer reads; -o json|yaml with the defaults it was computed from.
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { DATABASE_SIZES } from '../../builders/database-sizing.ts';
import { DEFAULT_TIERS, planFootprint, SHARED_POOL } from '../../builders/database-tier.ts';
import { formatData } from './output.ts';
import { formatPlan, planData } from './plan.ts';

const plan = planFootprint([
  { kind: 'commune', code: '35001', population: 800, departement: '35' },
  { kind: 'commune', code: '35002', population: 5_000, departement: '35' },
  { kind: 'commune', code: '29001', population: 300, departement: '29' },
  { kind: 'commune', code: '35003', population: 20_000, departement: '35' },
  { kind: 'region', code: '53', population: 3_400_000 },
]);

describe('formatPlan', () => {
  const text = formatPlan(plan);
  const lines = text.split('\n');

  it('gives each tier, the total and the dedicated-only comparison in one table', () => {
    const row = (name: string) => lines.find((l) => l.startsWith(`${name} `))?.split(/\s{2,}/);
    // Shared: pools 35 (2 tenants) and 29 (1): 4 Pods, 2 × 510m + 2 × 505m, 4192Mi, 46Gi.
    expect(row('Shared')).toEqual(['Shared', '3', '2', '4', '2', '4', '0']);
    // Dedicated: the medium commune (1 × 500m, 2Gi, 20Gi) and the région (3 × 2, 8Gi, 500Gi).
    expect(row('Dedicated')).toEqual(['Dedicated', '2', '2', '4', '6.5', '26', '1.5']);
    expect(row('Total')).toEqual(['Total', '5', '4', '8', '8.5', '30', '1.5']);
    expect(row('Dedicated-only')).toEqual(['Dedicated-only', '5', '5', '7', '7.3', '28', '1.5']);
  });

  it('says what each profile gets', () => {
    expect(text).toContain("small    3            Shared        a database in its département's shared pool");
    expect(text).toContain(
      'medium   1            Dedicated     1 instance: 500m CPU, 2Gi of memory requested, a 20Gi volume',
    );
    expect(text).toContain(
      'xlarge   1            Dedicated     3 instances: 2 CPU, 8Gi of memory requested, a 500Gi volume each',
    );
  });

  it('describes the pools, the largest sized by its tenants, and what sharing saves', () => {
    expect(text).toContain('Shared pools: 2, one per département');
    expect(text).toContain(
      'the largest (département 35) holds 2 tenants: 510m CPU, 1056Mi of memory and 12Gi per instance.',
    );
    expect(text).toContain('For the 3 authorities that share: 4 PostgreSQL Pods instead of 3');
  });

  it('leaves the comparison out when nobody shares', () => {
    const dedicated = formatPlan(planFootprint([{ kind: 'region', code: '53' }]));
    expect(dedicated).not.toContain('Against a dedicated cluster');
    expect(dedicated).not.toContain('the largest');
  });
});

describe('planData', () => {
  it('carries the defaults with the figures, in JSON and YAML alike', () => {
    const data = planData(plan);
    expect(data.defaults).toEqual({
      tiers: DEFAULT_TIERS,
      dedicated: DATABASE_SIZES,
      sharedPool: SHARED_POOL,
    });
    expect(data.total.pods).toBe(8);
    expect(JSON.parse(formatData(data, 'json'))).toEqual(parse(formatData(data, 'yaml')));
  });
});
