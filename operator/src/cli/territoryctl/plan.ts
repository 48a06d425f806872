// `territoryctl plan`: what the databases of every local authority of France would cost a platform with
// the default tiers (small authorities in their département's shared pool, every other one in a cluster of
// its own, sized by its profile), against a dedicated cluster for everyone. OFFLINE: it reads the official
// geography shipped with territoryctl, and the same sizing and tier decisions the operator uses
// (builders/database-sizing.ts, builders/database-tier.ts).
import { Command, Option } from 'commander';
import { listAuthorities } from '../../api/geography.ts';
import { DATABASE_SIZES } from '../../builders/database-sizing.ts';
import {
  DATABASE_TIERS,
  DEFAULT_TIERS,
  type Footprint,
  type NationalPlan,
  planFootprint,
  SHARED_POOL,
  sharedPoolSize,
} from '../../builders/database-tier.ts';
import { PROFILE_NAMES } from '../../builders/profile.ts';
import { formatData, formatTable, outputFormat } from './output.ts';

const GiB = 2 ** 30;
const TiB = 2 ** 40;

const number = new Intl.NumberFormat('en-US', { maximumFractionDigits: 1 });
const whole = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

/** How many times less `b` is than `a`: one decimal below 100, whole numbers above. */
function times(a: number, b: number): string {
  const ratio = a / b;
  return `${(ratio >= 100 ? whole : number).format(ratio)}×`;
}

function footprintRow(name: string, f: Footprint): string[] {
  return [
    name,
    whole.format(f.authorities),
    whole.format(f.clusters),
    whole.format(f.pods),
    number.format(f.cpuMillicores / 1000),
    whole.format(f.memoryBytes / GiB),
    number.format(f.storageBytes / TiB),
  ];
}

function sizeInWords(profile: (typeof PROFILE_NAMES)[number]): string {
  if (DEFAULT_TIERS[profile] === 'Shared') return "a database in its département's shared pool";
  const size = DATABASE_SIZES[profile];
  const each = size.instances > 1 ? ' each' : '';
  return (
    `${size.instances} instance${size.instances > 1 ? 's' : ''}: ${size.requests.cpu} CPU, ` +
    `${size.requests.memory} of memory requested, a ${size.storage} volume${each}`
  );
}

/** The human report: the footprint per tier, the profiles, the pools, and what sharing saves. Pure. */
export function formatPlan(plan: NationalPlan): string {
  const { total, dedicatedOnly, sharedAsDedicated } = plan;
  const shared = plan.tiers.Shared;
  const lines: string[] = [
    `Every commune, EPCI, département and région of the official geography: ${whole.format(total.authorities)} ` +
      'authorities, each with its default database tier (resources are requests).',
    '',
    formatTable(
      ['TIER', 'AUTHORITIES', 'CLUSTERS', 'POSTGRESQL PODS', 'CPU (CORES)', 'MEMORY (GiB)', 'VOLUMES (TiB)'],
      [
        ...DATABASE_TIERS.map((tier) => footprintRow(tier, plan.tiers[tier])),
        footprintRow('Total', total),
        footprintRow('Dedicated-only', dedicatedOnly),
      ],
    ),
    formatTable(
      ['PROFILE', 'AUTHORITIES', 'DEFAULT TIER', 'DATABASE'],
      PROFILE_NAMES.map((p) => [
        p,
        whole.format(plan.profiles[p].authorities),
        plan.profiles[p].tier,
        sizeInWords(p),
      ]),
    ),
  ];
  const { base, perTenant } = SHARED_POOL;
  let pools =
    `Shared pools: ${whole.format(plan.pools.count)}, one per département (or overseas collectivity), each of ${SHARED_POOL.instances} ` +
    `instances of ${base.cpu} CPU, ${base.memory} of memory and a ${base.storage} volume, plus ${perTenant.cpu}, ` +
    `${perTenant.memory} and ${perTenant.storage} per tenant`;
  const largest = plan.pools.largest;
  if (largest) {
    const size = sharedPoolSize(largest.tenants);
    pools +=
      `; the largest (département ${largest.pool}) holds ${whole.format(largest.tenants)} tenants: ` +
      `${size.requests.cpu} CPU, ${size.requests.memory} of memory and ${size.storage} per instance`;
  }
  lines.push(`${pools}.`);
  if (total.pods > 0 && shared.pods > 0) {
    lines.push(
      '',
      `Against a dedicated cluster for every authority: ${times(dedicatedOnly.pods, total.pods)} fewer PostgreSQL ` +
        `Pods, ${times(dedicatedOnly.cpuMillicores, total.cpuMillicores)} less CPU and ` +
        `${times(dedicatedOnly.memoryBytes, total.memoryBytes)} less memory requested, ` +
        `${times(dedicatedOnly.storageBytes, total.storageBytes)} less volume. ` +
        `For the ${whole.format(shared.authorities)} authorities that share: ` +
        `${whole.format(shared.pods)} PostgreSQL Pods instead of ${whole.format(sharedAsDedicated.pods)}, ` +
        `${whole.format(shared.memoryBytes / GiB)} GiB of memory instead of ` +
        `${whole.format(sharedAsDedicated.memoryBytes / GiB)} (${times(sharedAsDedicated.memoryBytes, shared.memoryBytes)} less).`,
    );
  }
  return `${lines.join('\n')}\n`;
}

/** What `-o json|yaml` prints: the plan, with the defaults it was computed from. */
export function planData(plan: NationalPlan) {
  return {
    defaults: { tiers: DEFAULT_TIERS, dedicated: DATABASE_SIZES, sharedPool: SHARED_POOL },
    ...plan,
  };
}

export function planCommand(): Command {
  return new Command('plan')
    .description(
      'print what the databases of every commune, EPCI, département and région would cost with the default tiers (offline)',
    )
    .addOption(new Option('-o, --output <format>', 'table, json or yaml').default('table'))
    .addHelpText(
      'after',
      '\nSmall authorities (under 10,000 inhabitants) share their département’s PostgreSQL pool; every other ' +
        'one has its own cluster, sized by its profile. Compared with a dedicated cluster for everyone.' +
        '\nExit codes: 0 printed; 2 bad usage.',
    )
    .action((o: { output: string }) => {
      const format = outputFormat(o.output, ['table', 'json', 'yaml'] as const);
      const plan = planFootprint(listAuthorities());
      process.stdout.write(format === 'table' ? formatPlan(plan) : formatData(planData(plan), format));
    });
}
