// `territoryctl plan` as a platform engineer runs it: the real binary over the official geography it
// ships with, offline (no cluster: a kubeconfig that does not exist changes nothing), a table for people
// and JSON or YAML for scripts, exit code 2 on a bad -o. It also holds the national plan to the limits it
// was designed for.
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import type { Footprint } from '../../operator/src/builders/database-tier.ts';
import type { planData } from '../../operator/src/cli/territoryctl/plan.ts';
import { ok, territoryctl } from './territoryctl-support.ts';

type Plan = ReturnType<typeof planData>;

const offline = { env: { KUBECONFIG: '/nonexistent/kubeconfig' } };

/** The official geography's authorities: current communes, EPCIs, départements, régions. */
const AUTHORITIES = 34_969 + 1_255 + 101 + 18;

describe('territoryctl plan', () => {
  it('prints the footprint per tier against dedicated-only, offline, with exit code 0', async () => {
    const r = ok(await territoryctl(['plan'], offline), 'plan');
    expect(r.stdout).toContain(`${AUTHORITIES.toLocaleString('en-US')} authorities`);
    for (const heading of ['TIER', 'POSTGRESQL PODS', 'MEMORY (GiB)', 'PROFILE', 'DEFAULT TIER']) {
      expect(r.stdout).toContain(heading);
    }
    for (const row of ['Shared', 'Dedicated', 'Total', 'Dedicated-only']) {
      expect(r.stdout).toMatch(new RegExp(`^${row} `, 'm'));
    }
    expect(r.stdout).toContain('Against a dedicated cluster for every authority');
  });

  it('gives scripts the same figures in JSON and YAML, with the defaults they come from', async () => {
    const json = JSON.parse(
      ok(await territoryctl(['plan', '-o', 'json'], offline), 'plan -o json').stdout,
    ) as Plan;
    const yaml = parse(
      ok(await territoryctl(['plan', '-o', 'yaml'], offline), 'plan -o yaml').stdout,
    ) as Plan;
    expect(yaml).toEqual(json);
    expect(json.defaults.tiers.small).toBe('Shared');

    const sum = (a: Footprint, b: Footprint) =>
      Object.fromEntries(Object.keys(a).map((k) => [k, a[k as keyof Footprint] + b[k as keyof Footprint]]));
    expect(json.total).toEqual(sum(json.tiers.Shared, json.tiers.Dedicated));
    expect(json.total.authorities).toBe(AUTHORITIES);
    expect(json.dedicatedOnly.authorities).toBe(AUTHORITIES);
    expect(json.dedicatedOnly.clusters).toBe(AUTHORITIES);
    expect(Object.values(json.profiles).reduce((n, p) => n + p.authorities, 0)).toBe(AUTHORITIES);
  });

  it('stays within 3,000 PostgreSQL Pods for all of France, and shares the small authorities at least 10× cheaper in memory', async () => {
    const json = JSON.parse(
      ok(await territoryctl(['plan', '-o', 'json'], offline), 'plan -o json').stdout,
    ) as Plan;
    expect(json.total.pods).toBeLessThanOrEqual(3_000);
    expect(json.sharedAsDedicated.memoryBytes / json.tiers.Shared.memoryBytes).toBeGreaterThanOrEqual(10);
  });

  it('refuses an unknown output format with exit code 2', async () => {
    const r = await territoryctl(['plan', '-o', 'csv'], offline);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('unknown output format "csv"');
  });
});
