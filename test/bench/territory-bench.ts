// `npm run bench`: the Territory operator measured at French scale against the API server's own limit
// (issue 7). For each size, on a FRESH control plane (etcd + kube-apiserver + kube-controller-manager):
//
//   1. create N Territories from the official geography (no operator running yet);
//   2. floor: a minimal concurrent server-side-apply writer puts the objects the operator would create
//      (the pure builders' output) into `floor-<name>` namespaces, with the operator's concurrency;
//   3. converge: start the operator process and time it until every Territory converged; requests by
//      verb (its /metrics), peak RSS and CPU seconds (/proc), control-plane CPU;
//   4. steady state: several resync periods with nothing changed: writes must be zero;
//   5. reaction: spec change on 1% of the Territories, and deletion of one owned object in 1% (drift);
//   6. floor again (`floor2-<name>`), operator stopped: the two floors bracket the operator's run, so
//      a change in the machine's load during the run shows (their mean is the reference).
//
//   npm run bench -- [--size 100,epci] [--resync-seconds 10] [--idle-periods 6] [--concurrency N]
//                    [--cpu-prof] [--node-flags="--max-semi-space-size=4"] [--no-floor-after] [--keep]
//                    [--tier dedicated|shared]
//
// --tier shared: every Territory asks for the Shared tier, in a DatabasePool per département (created with
// the Territories); CloudNativePG's CRDs are installed, and its part for the pools is played by the bench
// (cnpg-stand-in.ts). Converged then also means: its database, roles and verifiers created in its pool.
//
// --size: a number = the first N communes, `epci` = all 1,255 EPCIs, `epci:N` = the first N EPCIs.
// Results: bench-results/bench-<time>.json and .md (the Markdown is also printed at the end).
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { KubeConfig } from '@kubernetes/client-node';
import { type DatabasePool, parseDatabasePool } from '../../operator/src/api/pool.ts';
import { parseTerritory, type Territory } from '../../operator/src/api/territory.ts';
import { type OperatorConfig, parseOperatorConfig } from '../../operator/src/config/operator-config.ts';
import { KubeClient } from '../../operator/src/runtime/kube-client.ts';
import type { KubeObject } from '../../operator/src/runtime/types.ts';
import { installCustomResourceDefinitions } from '../../operator/src/territory/install.ts';
import {
  type ControlPlane,
  removeControlPlaneData,
  startControlPlane,
} from '../controlplane/controlplane.ts';
import { sleep } from '../controlplane/processes.ts';
import { standInForCnpg } from './cnpg-stand-in.ts';
import {
  authoritiesFor,
  BENCH_LABEL,
  type BenchTier,
  parseSizes,
  poolManifests,
  type SizeSpec,
  territoryManifest,
} from './dataset.ts';
import { type FloorMeasure, measureFloor } from './floor-phase.ts';
import { readKubeconfigTls } from './floor-writer.ts';
import {
  controlPlaneCpuSeconds,
  diffCounts,
  diffWork,
  operatorWork,
  readProcStats,
  requestCounterName,
  requestCounts,
  scrapeMetrics,
  totals,
} from './observe.ts';
import {
  benchOperatorConfig,
  chartNodeFlags,
  type OperatorProcess,
  startOperator,
} from './operator-process.ts';
import { measureDrift, measureSpecChange, spread } from './reaction.ts';
import { type BenchResult, evaluateTargets, growthOf, renderMarkdown, type SizeResult } from './report.ts';
import { converged, convergedShared, PARTS_POSSIBLE_WITHOUT_CNPG, readySummary, Tracker } from './tracker.ts';

const REPO = resolve(import.meta.dirname, '..', '..');
const MB = 1024 * 1024;
const PACE_MS = 200;

const { values } = parseArgs({
  allowNegative: true,
  options: {
    size: { type: 'string', default: '100,epci' },
    'resync-seconds': { type: 'string', default: '10' },
    'idle-periods': { type: 'string', default: '6' },
    concurrency: { type: 'string' },
    'cpu-prof': { type: 'boolean', default: false },
    // Default: the chart's nodeOptions (values.yaml), i.e. what production runs with.
    'node-flags': { type: 'string' },
    'floor-after': { type: 'boolean', default: true },
    'request-metric': { type: 'string', default: 'rest_client_requests_total' },
    'converge-timeout-seconds': { type: 'string', default: '3600' },
    keep: { type: 'boolean', default: false },
    tier: { type: 'string', default: 'dedicated' },
    out: { type: 'string', default: join(REPO, 'bench-results') },
  },
});

const sizes = parseSizes(values.size ?? '');
if (values.tier !== 'dedicated' && values.tier !== 'shared') {
  throw new Error(`--tier: "${values.tier}" is neither dedicated nor shared`);
}
const tier: BenchTier = values.tier;
const resyncSeconds = Number(values['resync-seconds']);
const idlePeriods = Number(values['idle-periods']);
const concurrency = Number(values.concurrency ?? parseOperatorConfig({}).concurrency);
const nodeFlags =
  values['node-flags'] === undefined ? chartNodeFlags() : values['node-flags'].split(' ').filter(Boolean);
const stamp = new Date().toISOString().replace(/[:.]/g, '-');
const outDir = values.out ?? join(REPO, 'bench-results');
const runDir = join(outDir, `bench-${stamp}`);

const t0 = performance.now();
const say = (line: string) =>
  process.stderr.write(`[bench +${((performance.now() - t0) / 1000).toFixed(0)}s] ${line}\n`);
const slug = (label: string) => label.replace(/[^a-z0-9]/gi, '-');

/** Runs `fn` over `items` with `n` in flight. */
async function pool<T, R>(items: T[], n: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      for (let i = next++; i < items.length; i = next++) out[i] = await fn(items[i] as T);
    }),
  );
  return out;
}

async function createTerritories(client: KubeClient, size: SizeSpec, runId: string): Promise<Territory[]> {
  const authorities = authoritiesFor(size);
  let created = 0;
  return pool(authorities, 16, async (a) => {
    const live = await client.create(territoryManifest(a, runId, tier) as unknown as KubeObject);
    if (++created % 1000 === 0) say(`created ${created}/${authorities.length} Territories`);
    const parsed = parseTerritory(live);
    if (!parsed.ok) throw new Error(`${live.metadata.name}: ${parsed.errors.join('; ')}`);
    return parsed.territory;
  });
}

/** Waits until every Territory converged; fails early if the operator dies. The time the last one did. */
async function waitConverged(tracker: Tracker, n: number, operator: OperatorProcess): Promise<number> {
  const timeoutMs = Number(values['converge-timeout-seconds']) * 1000;
  const deadline = performance.now() + timeoutMs;
  while (tracker.satisfiedCount() < n) {
    if (!operator.alive()) throw new Error(`the operator exited during convergence; see ${operator.logPath}`);
    if (performance.now() > deadline) {
      throw new Error(
        `${tracker.satisfiedCount()}/${n} converged after ${timeoutMs / 1000} s; Ready: ` +
          JSON.stringify(readySummary(tracker.informer.list())),
      );
    }
    await sleep(100);
  }
  return Math.max(...tracker.satisfiedTimes());
}

/** One DatabasePool per département of the size's authorities (dataset.ts), parsed with its defaults. */
async function createPools(client: KubeClient, size: SizeSpec, runId: string): Promise<DatabasePool[]> {
  const manifests = poolManifests(authoritiesFor(size), runId);
  const pools = await pool(manifests, 8, async (m) => {
    const parsed = parseDatabasePool(await client.create(m as unknown as KubeObject));
    if (!parsed.ok) throw new Error(`${m.metadata.name}: ${parsed.errors.join('; ')}`);
    return parsed.pool;
  });
  say(`created ${pools.length} DatabasePools (one per département)`);
  return pools;
}

async function runSize(size: SizeSpec, operatorConfigRaw: Record<string, unknown>): Promise<SizeResult> {
  const config: OperatorConfig = parseOperatorConfig(operatorConfigRaw);
  const runId = `${stamp}-${size.label}`.replace(/[^a-zA-Z0-9.-]/g, '-').slice(0, 63);
  say(`=== size ${size.label} ===`);
  const cpDir = join(runDir, `controlplane-${slug(size.label)}`);
  const cp: ControlPlane = await startControlPlane({ dir: cpDir, log: (l) => say(`controlplane: ${l}`) });
  try {
    const kc = new KubeConfig();
    kc.loadFromFile(cp.kubeconfigPath);
    const client = new KubeClient(kc);
    await installCustomResourceDefinitions(client, { cnpg: tier === 'shared' ? 'required' : 'no' });
    const controlPlaneCpu = () => controlPlaneCpuSeconds(cp.pids);

    // 0. Shared tier: the pools, declared before the Territories, as a platform team would.
    const pools = tier === 'shared' ? await createPools(client, size, runId) : [];

    // 1. The Territories, before any operator runs (the floor and the operator start from them).
    let started = performance.now();
    const territories = await createTerritories(client, size, runId);
    const n = territories.length;
    const createTerritoriesSeconds = (performance.now() - started) / 1000;
    say(`created ${n} Territories in ${createTerritoriesSeconds.toFixed(1)} s`);

    // 2. The floor, on the same API server, before the operator starts.
    const floorArgs = {
      client,
      pools,
      tls: readKubeconfigTls(cp.kubeconfigPath),
      territories,
      config,
      concurrency,
      controlPlaneCpu,
      say,
    };
    const floors: FloorMeasure[] = [await measureFloor({ ...floorArgs, prefix: 'floor-' })];

    // 3. Converge.
    const tracker = new Tracker(
      client,
      { apiVersion: 'sovereign.dev/v1alpha1', kind: 'Territory', labelSelector: `${BENCH_LABEL}=${runId}` },
      tier === 'shared' ? convergedShared : converged,
    );
    await tracker.start();
    let lastSaid = 0;
    tracker.onProgress((count) => {
      if (performance.now() - lastSaid > 10_000 || count === n) {
        lastSaid = performance.now();
        say(`converged ${count}/${n}`);
      }
    });
    const operatorCpuBefore = controlPlaneCpu();
    const standIn =
      tier === 'shared'
        ? standInForCnpg(
            client,
            pools.map((p) => ({ name: p.metadata.name, namespace: p.spec.namespace })),
            say,
          )
        : undefined;
    const operator = await startOperator({
      dir: runDir,
      kubeconfigPath: cp.kubeconfigPath,
      config: operatorConfigRaw,
      name: `operator-${slug(size.label)}`,
      nodeFlags: [
        ...(values['cpu-prof']
          ? ['--cpu-prof', `--cpu-prof-dir=${join(runDir, `profile-${slug(size.label)}`)}`]
          : []),
        ...nodeFlags,
      ],
    });
    const rssAtStart = readProcStats(operator.pid).rssBytes;
    const startupSeconds = (operator.readyAt - operator.spawnedAt) / 1000;
    say(`operator pid ${operator.pid} up in ${startupSeconds.toFixed(1)} s; log ${operator.logPath}`);
    let stopped = false;
    try {
      const convergedAt = await waitConverged(tracker, n, operator);
      await standIn?.stop();
      const samples = await scrapeMetrics(operator.metricsUrl);
      const operatorControlPlaneCpu = controlPlaneCpu() - operatorCpuBefore;
      const convergeProc = readProcStats(operator.pid);
      const metric = requestCounterName(samples, values['request-metric']);
      const convergeCounts = requestCounts(samples, metric);
      const convergeWork = operatorWork(samples);
      const convergeTotals = totals(convergeCounts);
      const convergeSeconds = (convergedAt - operator.spawnedAt) / 1000;
      say(`converged in ${convergeSeconds.toFixed(1)} s: ${JSON.stringify(convergeCounts.byVerb)}`);

      // 4. Steady state: one full (jittered) resync period to settle, then the measured window.
      say(`steady state: settling ${resyncSeconds * 1.2} s, then ${idlePeriods} × ${resyncSeconds} s`);
      await sleep(resyncSeconds * 1200);
      const before = await scrapeMetrics(operator.metricsUrl);
      const cpuBefore = readProcStats(operator.pid).cpuSeconds;
      started = performance.now();
      await sleep(idlePeriods * resyncSeconds * 1000);
      const after = await scrapeMetrics(operator.metricsUrl);
      const cpuAfter = readProcStats(operator.pid).cpuSeconds;
      const windowSeconds = (performance.now() - started) / 1000;
      const steady = diffCounts(requestCounts(after, metric), requestCounts(before, metric));
      const steadyWork = diffWork(operatorWork(after), operatorWork(before));
      const steadyTotals = totals(steady);
      const perMinute = (x: number) => (x * 60) / windowSeconds;
      say(`steady: ${JSON.stringify(steady.byVerbResource)} in ${windowSeconds.toFixed(0)} s`);

      // 5. Reaction: 1% of the Territories, spread over the data, paced.
      const k = Math.max(1, Math.round(n / 100));
      say(`reaction: spec change on ${k} Territories, one every ${PACE_MS} ms`);
      const specChange = await measureSpecChange({
        client,
        territories: tracker,
        chosen: spread(territories, k, 0),
        paceMs: PACE_MS,
      });
      say(`reaction: deleting NetworkPolicy default-deny in ${k} namespaces, one every ${PACE_MS} ms`);
      const drift = await measureDrift({
        client,
        chosen: spread(territories, k, Math.floor(n / (2 * k))),
        paceMs: PACE_MS,
      });

      const endProc = readProcStats(operator.pid);
      const endCounts = requestCounts(await scrapeMetrics(operator.metricsUrl), metric);
      const ready = readySummary(tracker.informer.list());
      await tracker.stop();
      say(`operator: ${await operator.stop()}`);
      stopped = true;

      // 6. The floor again, operator stopped.
      if (values['floor-after']) floors.push(await measureFloor({ ...floorArgs, prefix: 'floor2-' }));
      const floorSeconds = floors.reduce((a, f) => a + f.seconds, 0) / floors.length;
      const floorCpu = floors.reduce((a, f) => a + f.controlPlaneCpuSeconds, 0) / floors.length;
      const floorRequests = floors[0]?.requests ?? 0;
      const objectsPerTerritory = floors[0]?.objectsPerTerritory ?? 0;
      const workSeconds = convergeSeconds - startupSeconds;

      const result: SizeResult = {
        size: tier === 'shared' ? `${size.label} (Shared tier)` : size.label,
        kind: size.kind,
        territories: n,
        objectsPerTerritory,
        concurrency,
        createTerritoriesSeconds,
        floor: {
          seconds: floorSeconds,
          requests: floorRequests,
          runs: floors.map(
            ({ prefix, seconds, requests, retries, requestsPerSecond, controlPlaneCpuSeconds }) => ({
              prefix,
              seconds,
              requests,
              retries,
              requestsPerSecond,
              controlPlaneCpuSeconds,
            }),
          ),
        },
        converge: {
          seconds: convergeSeconds,
          startupSeconds,
          requestsByVerb: convergeCounts.byVerb,
          requestsByVerbResource: convergeCounts.byVerbResource,
          ...convergeTotals,
          requestsPerTerritory: convergeTotals.all / n,
          writesPerTerritory: convergeTotals.writes / n,
          readsPerTerritory: convergeTotals.reads / n,
          cpuSeconds: convergeProc.cpuSeconds,
          cpuMsPerTerritory: (convergeProc.cpuSeconds * 1000) / n,
          peakRssMB: convergeProc.peakRssBytes / MB,
          rssAtStartMB: rssAtStart / MB,
          reconcilesPerTerritory: convergeWork.reconciles / n,
          reconcileErrors: convergeWork.reconcileErrors,
          meanReconcileMs: (convergeWork.reconcileSeconds * 1000) / Math.max(1, convergeWork.reconciles),
          workerUtilization: convergeWork.reconcileSeconds / (concurrency * workSeconds),
          meanQueueWaitMs: (convergeWork.queueWaitSeconds * 1000) / Math.max(1, convergeWork.queueWaits),
          ready,
        },
        controlPlaneCpu: {
          floorSeconds: floorCpu,
          operatorSeconds: operatorControlPlaneCpu,
          operatorOverFloor: operatorControlPlaneCpu / floorCpu,
        },
        ratio: {
          operatorOverFloor: convergeSeconds / floorSeconds,
          operatorAfterStartOverFloor: workSeconds / floorSeconds,
          requestsOverFloor: convergeTotals.all / floorRequests,
        },
        steady: {
          periods: idlePeriods,
          resyncSeconds,
          windowSeconds,
          requestsByVerb: steady.byVerbResource,
          reads: steadyTotals.reads,
          writes: steadyTotals.writes,
          readsPerMinute: perMinute(steadyTotals.reads),
          writesPerMinute: perMinute(steadyTotals.writes),
          cpuSecondsPerMinute: perMinute(cpuAfter - cpuBefore),
          reconcilesPerMinute: perMinute(steadyWork.reconciles),
        },
        reaction: { specChange, drift },
        end: {
          peakRssMB: endProc.peakRssBytes / MB,
          cpuSeconds: endProc.cpuSeconds,
          requestsByVerb: endCounts.byVerb,
        },
      };
      say(
        `size ${size.label}: ratio ${result.ratio.operatorOverFloor.toFixed(2)}, steady writes ${result.steady.writes}, ` +
          `peak RSS ${result.end.peakRssMB.toFixed(0)} MB, spec p99 ${specChange.p99Ms.toFixed(0)} ms`,
      );
      return result;
    } finally {
      if (!stopped) say(`operator: ${await operator.stop()}`);
    }
  } finally {
    await cp.stop();
    if (!values.keep) await removeControlPlaneData(cpDir);
  }
}

const DEFINITIONS: Record<string, string> = {
  converged:
    `status.observedGeneration == metadata.generation and ${PARTS_POSSIBLE_WITHOUT_CNPG.join(', ')} True. Ready ` +
    'cannot be True here: DatabaseReady needs CloudNativePG running PostgreSQL and BackupReady a real bucket, ' +
    'its credentials and a first backup (the table shows what Ready says)',
  floor:
    'the objects the operator creates with the gate open and no CloudNativePG (the pure builders and Secret ' +
    'planners: namespace, tenancy, keyring and credential Secrets), server-side-applied by a minimal node:https ' +
    'keep-alive writer, one PATCH each, with the operator’s concurrency, on the same API server in the same run, ' +
    'into floor-<name> namespaces BEFORE the operator starts (so the operator shares etcd with them: against the ' +
    'operator), and again into floor2-<name> after it stopped; the reference is the mean of the two',
  'operator time':
    'from spawning the operator process to the last Territory converged (includes process start)',
  'control-plane CPU':
    'kube-apiserver + etcd CPU seconds during the floor writes and during the operator’s convergence',
  'steady state':
    'after convergence, one resync period to settle, then idle-periods × resyncSeconds with nothing changed; ' +
    'writes = create/update/patch/delete requests',
  reaction:
    `1% of Territories (at least 1), one every ${PACE_MS} ms: spec.access.readerGroups gains a group (time from the ` +
    'PATCH to converged at the new generation; the RoleBinding is then checked); drift = NetworkPolicy ' +
    'default-deny deleted, time until a new one exists',
  'peak RSS': 'VmHWM of the operator process, as started (node flags in the table)',
};

async function main(): Promise<void> {
  await mkdir(runDir, { recursive: true });
  const operatorConfigRaw = benchOperatorConfig({ resyncSeconds, concurrency });
  const startedAt = new Date().toISOString();
  const loadAverage = loadavg();
  const results: SizeResult[] = [];
  const failures: { size: string; error: string }[] = [];
  for (const size of [...sizes].sort((a, b) => Math.min(a.count, 1e9) - Math.min(b.count, 1e9))) {
    try {
      results.push(await runSize(size, operatorConfigRaw));
    } catch (error) {
      // One size failing (e.g. the operator running out of memory) is a result too; the others still run.
      const message = error instanceof Error ? error.message : String(error);
      say(`size ${size.label} FAILED: ${message}`);
      failures.push({ size: size.label, error: message });
    }
  }
  const growth = growthOf(results);
  const result: BenchResult = {
    startedAt,
    machine: {
      cpus: cpus().length,
      loadAverage,
      node: process.version,
      operatorNodeFlags: nodeFlags.join(' '),
    },
    definitions: {
      ...DEFINITIONS,
      'requests by verb': `the operator's own counter on /metrics (${values['request-metric']})`,
    },
    sizes: results,
    failures,
    growth,
    targets: evaluateTargets(results, growth),
  };
  const base = join(outDir, `bench-${stamp}`);
  const markdown = renderMarkdown(result);
  await writeFile(`${base}.json`, `${JSON.stringify(result, null, 2)}\n`);
  await writeFile(`${base}.md`, markdown);
  process.stdout.write(markdown);
  say(`results: ${base}.json, ${base}.md`);
  if (failures.length > 0) process.exitCode = 1;
}

main().catch((error: unknown) => {
  process.stderr.write(
    `bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
});
