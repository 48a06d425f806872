// `npm run test:chaos`: reliability and isolation under faults, bad input and hostile tenants, against
// a real control plane of its own (etcd + kube-apiserver + kube-controller-manager) and the real
// operator process. Prints progress, writes chaos-results/<time>/report.{json,md}, exits 1 on any
// broken invariant. Counts default to the numbers; smaller runs:
//   npm run test:chaos -- --territories 40 --kills 5 --failovers 2
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { Command } from 'commander';
import { KubeClient } from '../../operator/src/runtime/kube-client.ts';
import { installCustomResourceDefinitions } from '../../operator/src/territory/install.ts';
import { startControlPlane } from '../controlplane/controlplane.ts';
import { FaultProxy } from '../support/fault-proxy.ts';
import { ChaosContext, type ChaosOptions } from './lib/context.ts';
import { KubeHttp, objectPath } from './lib/kube-http.ts';
import { type ChaosReport, writeReport } from './lib/report.ts';
import { SecretTracker } from './lib/secret-tracker.ts';
import { World } from './lib/world.ts';
import { badInput } from './scenarios/bad-input.ts';
import { collisions } from './scenarios/collisions.ts';
import { crashAnywhere } from './scenarios/crash.ts';
import { leaderFailover } from './scenarios/failover.ts';
import { controlPlaneFaults } from './scenarios/faults.ts';
import { secretsStaySecret } from './scenarios/secrets.ts';
import { runTestSuites } from './scenarios/suites.ts';

const ALL_PHASES = ['crash', 'faults', 'failover', 'collisions', 'bad-input', 'secrets', 'suites'];
const env = (name: string, fallback: string) => process.env[name] ?? fallback;

const program = new Command('test:chaos')
  .description('Chaos suite of the Territory operator (issue 8)')
  .option(
    '--territories <n>',
    'Territories converging while the operator is killed',
    env('CHAOS_TERRITORIES', '200'),
  )
  .option('--kills <n>', 'SIGKILLs of the operator during convergence', env('CHAOS_KILLS', '20'))
  .option('--failovers <n>', 'leader kills with two replicas', env('CHAOS_FAILOVERS', '6'))
  .option(
    '--bad-inputs <n>',
    'adversarial Territories sent to the API server',
    env('CHAOS_BAD_INPUTS', '150'),
  )
  .option(
    '--collision-races <n>',
    'pairs of Territories racing for one namespace',
    env('CHAOS_COLLISION_RACES', '5'),
  )
  .option(
    '--seed <n>',
    'random seed (a run is replayable)',
    env('CHAOS_SEED', String(Date.now() % 1_000_000)),
  )
  .option(
    '--phases <list>',
    `comma-separated subset of ${ALL_PHASES.join(',')}`,
    env('CHAOS_PHASES', ALL_PHASES.join(',')),
  )
  .option(
    '--converge-timeout <s>',
    'seconds allowed to converge after faults',
    env('CHAOS_CONVERGE_TIMEOUT', '900'),
  )
  .option(
    '--flood-limit <n>',
    'peak API requests/s allowed while recovering',
    env('CHAOS_FLOOD_LIMIT', '150'),
  )
  .option('--out <dir>', 'where reports go', env('CHAOS_OUT', 'chaos-results'));
program.parse();
const raw = program.opts<Record<string, string>>();
const stamp = new Date().toISOString().replace(/[:.]/g, '-');
const options: ChaosOptions = {
  territories: Number(raw.territories),
  kills: Number(raw.kills),
  failovers: Number(raw.failovers),
  badInputs: Number(raw.badInputs),
  collisionRaces: Number(raw.collisionRaces),
  seed: Number(raw.seed),
  phases: new Set(
    (raw.phases ?? '')
      .split(',')
      .map((p) => p.trim())
      .filter(Boolean),
  ),
  convergeTimeoutMs: Number(raw.convergeTimeout) * 1000,
  floodLimitPerSecond: Number(raw.floodLimit),
  outDir: resolve(raw.out ?? 'chaos-results', stamp),
};
for (const phase of options.phases) {
  if (!ALL_PHASES.includes(phase))
    throw new Error(`unknown phase ${phase}; phases are ${ALL_PHASES.join(', ')}`);
}

const report: ChaosReport = {
  startedAt: new Date().toISOString(),
  seed: options.seed,
  options: { ...options, phases: [...options.phases] },
  environment: {},
  phases: {},
  failures: [],
};

const dir = await mkdtemp(join(tmpdir(), 'territory-chaos-'));
console.log(`[chaos] seed ${options.seed}; control plane in ${dir}; report in ${options.outDir}`);
const cp = await startControlPlane({ dir });
const [apiHost = '127.0.0.1', apiPort = '0'] = new URL(cp.apiServerUrl).host.split(':');
const proxy = await FaultProxy.start({ host: apiHost, port: Number(apiPort) });
const runLabel = `chaos-${options.seed}`;
const world = new World(options.seed, runLabel);
let ctx: ChaosContext | undefined;
try {
  const kc = new KubeConfig();
  kc.loadFromFile(cp.kubeconfigPath);
  const installed = await installCustomResourceDefinitions(new KubeClient(kc), {
    cnpg: 'if-available',
    log: (line) => console.log(`[chaos] ${line}`),
  });
  report.environment = {
    kubernetes: cp.serverVersion,
    crds: installed,
    binaries: cp.binaries.origin,
    node: process.version,
  };
  const tracker = new SecretTracker(KubeHttp.fromKubeconfig(cp.kubeconfigPath), (namespace) =>
    world.keks.get(namespace),
  );
  ctx = new ChaosContext({ options, cp, proxy, world, tracker });
  const lease = await ctx.kube.request('POST', objectPath({ apiVersion: 'v1', kind: 'Namespace' }), {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name: 'territory-system' },
  });
  if (lease.status !== 201) throw new Error(`create namespace territory-system: ${lease.status}`);
  await tracker.start();
  ctx.startSampler();
  ctx.startProvisioner();

  const phase = async (
    name: string,
    run: () => Promise<{ failures: string[] } & Record<string, unknown>>,
  ) => {
    if (!options.phases.has(name)) return;
    const started = Date.now();
    ctx?.log(`=== ${name} ===`);
    try {
      const result = await run();
      report.phases[name] = { ...result, seconds: Math.round((Date.now() - started) / 1000) };
      for (const failure of result.failures) report.failures.push(`${name}: ${failure}`);
    } catch (error) {
      report.phases[name] = {
        error: (error as Error).stack ?? String(error),
        seconds: Math.round((Date.now() - started) / 1000),
      };
      report.failures.push(`${name}: ${(error as Error).message}`);
    }
    ctx?.log(`=== ${name} done in ${Math.round((Date.now() - started) / 1000)} s ===`);
  };

  await phase('crash', async () => {
    const result = await crashAnywhere(ctx as ChaosContext, runLabel);
    const failures = [...result.check.violations];
    if (!result.converged)
      failures.push(
        `${result.check.territories - result.check.converged} Territories did not converge: ${JSON.stringify(result.check.notConverged.slice(0, 5))}`,
      );
    if (result.kills.length < options.kills) failures.push(`only ${result.kills.length} kills`);
    if (result.idleWrites > 0)
      failures.push(`${result.idleWrites} writes while idle (steady state must make none)`);
    if (result.idleReconciles === 0)
      failures.push('no reconcile while idle: the resync did not run, idle check inconclusive');
    return { ...result, failures };
  });
  await phase('faults', () => controlPlaneFaults(ctx as ChaosContext, runLabel));
  await phase('failover', () => leaderFailover(ctx as ChaosContext, runLabel));
  await phase('collisions', () => collisions(ctx as ChaosContext));
  await phase('bad-input', () => badInput(ctx as ChaosContext));
  await phase('secrets', () => secretsStaySecret(ctx as ChaosContext));
  await phase('suites', () => runTestSuites(ctx as ChaosContext));
} catch (error) {
  report.failures.push(`set-up: ${(error as Error).stack ?? error}`);
} finally {
  await ctx?.stopAll();
  ctx?.tracker.stop();
  await proxy.close();
  await cp.stop();
  if (!process.env.CHAOS_KEEP_CLUSTER_DIR) await rm(dir, { recursive: true, force: true });
}
report.finishedAt = new Date().toISOString();
const files = writeReport(options.outDir, report);
console.log(`[chaos] report: ${files.markdown}`);
if (report.failures.length > 0) {
  console.log(`[chaos] FAILED: ${report.failures.length} failure(s)`);
  for (const failure of report.failures) console.log(`  - ${failure.slice(0, 500)}`);
  process.exitCode = 1;
} else {
  console.log('[chaos] all invariants held');
}
