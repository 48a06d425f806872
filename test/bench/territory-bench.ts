// `npm run bench`: the Territory operator measured at French scale against the API server's own limit
// (issue 7). For each size, on a FRESH control plane (etcd + kube-apiserver + kube-controller-manager):
//
//   1. create N Territories from the official geography (no operator running yet);
//   2. floor: a minimal concurrent server-side-apply writer puts the same objects the operator would
//      create (pure builders' output) into `floor-<name>` namespaces, with the operator's concurrency;
//   3. converge: start the operator process and time it until every Territory converged; requests by
//      verb (its /metrics), peak RSS and CPU seconds (/proc);
//   4. steady state: several resync periods with nothing changed: writes must be zero;
//   5. reaction: spec change on 1% of Territories, and deletion of one owned object in 1% (drift).
//
//   npm run bench -- [--size 100,epci] [--resync-seconds 10] [--idle-periods 6] [--concurrency N]
//                    [--cpu-prof] [--keep]
//
// --size: a number = the first N communes, `epci` = all 1,255 EPCIs, `epci:N` = the first N EPCIs.
// Results: bench-results/bench-<time>.json and .md (the Markdown is also printed at the end).

import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { KubeConfig } from '@kubernetes/client-node';
import { parseTerritory, type Territory } from '../../operator/src/api/territory.ts';
import { type OperatorConfig, parseOperatorConfig } from '../../operator/src/config/operator-config.ts';
import { KubeClient } from '../../operator/src/runtime/kube-client.ts';
import type { KubeObject } from '../../operator/src/runtime/types.ts';
import { installCustomResourceDefinitions } from '../../operator/src/territory/install.ts';
import { removeControlPlaneData, startControlPlane } from '../controlplane/controlplane.ts';
import { sleep } from '../controlplane/processes.ts';
import { authoritiesFor, BENCH_LABEL, parseSizes, type SizeSpec, territoryManifest } from './dataset.ts';
import { FLOOR_MANAGER, floorObjects } from './floor-objects.ts';
import { readKubeconfigTls, runFloorWriter } from './floor-writer.ts';
import {
  diffCounts,
  percentile,
  readProcStats,
  requestCounterName,
  requestCounts,
  scrapeMetrics,
  totals,
} from './observe.ts';
import { benchOperatorConfig, startOperator } from './operator-process.ts';
import {
  type BenchResult,
  evaluateTargets,
  growthOf,
  type LatencyFigures,
  renderMarkdown,
  type SizeResult,
} from './report.ts';
import { converged, observedCurrent, PARTS_POSSIBLE_WITHOUT_CNPG, readySummary, Tracker } from './tracker.ts';

const REPO = resolve(import.meta.dirname, '..', '..');
const MB = 1024 * 1024;

const { values } = parseArgs({
  options: {
    size: { type: 'string', default: '100,epci' },
    'resync-seconds': { type: 'string', default: '10' },
    'idle-periods': { type: 'string', default: '6' },
    concurrency: { type: 'string' },
    'cpu-prof': { type: 'boolean', default: false },
    'node-flags': { type: 'string', default: '' },
    'request-metric': { type: 'string', default: 'rest_client_requests_total' },
    'converge-timeout-seconds': { type: 'string', default: '1800' },
    keep: { type: 'boolean', default: false },
    out: { type: 'string', default: join(REPO, 'bench-results') },
  },
});

const sizes = parseSizes(values.size ?? '');
const resyncSeconds = Number(values['resync-seconds']);
const idlePeriods = Number(values['idle-periods']);
const concurrency = Number(values.concurrency ?? parseOperatorConfig({}).concurrency);
const stamp = new Date().toISOString().replace(/[:.]/g, '-');
const runDir = join(values.out ?? 'bench-results', `bench-${stamp}`);

const t0 = performance.now();
const say = (line: string) =>
  process.stderr.write(`[bench +${((performance.now() - t0) / 1000).toFixed(0)}s] ${line}\n`);

/** Runs `fn` over `items` with `n` in flight, in order of start. */
async function pool<T, R>(items: T[], n: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      for (let i = next++; i < items.length; i = next++) out[i] = await fn(items[i] as T, i);
    }),
  );
  return out;
}

const slug = (label: string) => label.replace(/[^a-z0-9]/gi, '-');

function latency(ms: number[]): LatencyFigures {
  return { count: ms.length, p50Ms: percentile(ms, 50), p99Ms: percentile(ms, 99), maxMs: Math.max(...ms) };
}

/** Every `count`-th object, spread over the list so no region of the data is favoured. */
function spread<T>(items: T[], count: number, offset: number): T[] {
  const step = items.length / count;
  return Array.from({ length: count }, (_, i) => items[Math.floor(i * step + offset) % items.length] as T);
}

/**
 * After namespaces are created, kube-controller-manager adds a ServiceAccount (and a CA ConfigMap) to each:
 * wait for that tail so it does not run into the next measurement.
 */
async function waitControllerManagerQuiet(client: KubeClient): Promise<void> {
  const deadline = Date.now() + 180_000;
  for (;;) {
    const namespaces = (await client.list({ apiVersion: 'v1', kind: 'Namespace' })).items.length;
    const sa = await client.list({
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      fieldSelector: 'metadata.name=default',
    });
    if (sa.items.length >= namespaces) return;
    if (Date.now() > deadline) {
      say(
        `kube-controller-manager still catching up (${sa.items.length}/${namespaces} default ServiceAccounts); going on`,
      );
      return;
    }
    await sleep(1_000);
  }
}

async function runSize(size: SizeSpec, operatorConfigRaw: Record<string, unknown>): Promise<SizeResult> {
  const config: OperatorConfig = parseOperatorConfig(operatorConfigRaw);
  const authorities = authoritiesFor(size);
  const n = authorities.length;
  const runId = `${stamp}-${size.label}`.replace(/[^a-zA-Z0-9.-]/g, '-').slice(0, 63);
  say(`=== size ${size.label}: ${n} Territories (${size.kind}) ===`);

  const cpDir = join(runDir, `controlplane-${slug(size.label)}`);
  const cp = await startControlPlane({ dir: cpDir, log: (l) => say(`controlplane: ${l}`) });
  try {
    const kc = new KubeConfig();
    kc.loadFromFile(cp.kubeconfigPath);
    const client = new KubeClient(kc);
    await installCustomResourceDefinitions(client, { cnpg: 'no' });

    // 1. The Territories, before any operator runs (both the floor and the operator start from them).
    const phase = performance.now();
    let created = 0;
    const territories: Territory[] = await pool(authorities, 16, async (a) => {
      const live = await client.create(territoryManifest(a, runId) as unknown as KubeObject);
      created++;
      if (created % 500 === 0) say(`created ${created}/${n} Territories`);
      const parsed = parseTerritory(live);
      if (!parsed.ok) throw new Error(`${live.metadata.name}: ${parsed.errors.join('; ')}`);
      return parsed.territory;
    });
    const createTerritoriesSeconds = (performance.now() - phase) / 1000;
    say(`created ${n} Territories in ${createTerritoriesSeconds.toFixed(1)} s`);

    // 2. The floor, on the same API server, into other namespaces, before the operator starts.
    const now = new Date();
    const groups = territories.map((t) => floorObjects(t, config, now));
    const objectsPerTerritory = groups[0]?.length ?? 0;
    say(
      `floor: applying ${groups.length * objectsPerTerritory} objects (${objectsPerTerritory} per Territory), concurrency ${concurrency}`,
    );
    // CPU the API server and etcd spend is a load-independent measure of the work each writer causes.
    const controlPlaneCpu = () =>
      readProcStats(cp.pids.kubeApiServer).cpuSeconds + readProcStats(cp.pids.etcd).cpuSeconds;
    const floorCpuBefore = controlPlaneCpu();
    const floor = await runFloorWriter({
      tls: readKubeconfigTls(cp.kubeconfigPath),
      groups,
      concurrency,
      fieldManager: FLOOR_MANAGER,
      onProgress: (done) => {
        if (done % 500 === 0) say(`floor: ${done}/${n} Territories`);
      },
    });
    const floorControlPlaneCpu = controlPlaneCpu() - floorCpuBefore;
    say(`floor: ${floor.seconds.toFixed(1)} s, ${floor.requests} requests (${floor.retries} retried)`);
    await waitControllerManagerQuiet(client);

    // 3. Converge.
    const territoriesTracker = new Tracker(
      client,
      { apiVersion: 'sovereign.dev/v1alpha1', kind: 'Territory', labelSelector: `${BENCH_LABEL}=${runId}` },
      converged,
    );
    await territoriesTracker.start();
    let lastSaid = 0;
    territoriesTracker.onProgress((count) => {
      if (performance.now() - lastSaid > 5_000 || count === n) {
        lastSaid = performance.now();
        say(`converged ${count}/${n}`);
      }
    });
    const operatorCpuBefore = controlPlaneCpu();
    const operator = await startOperator({
      dir: runDir,
      kubeconfigPath: cp.kubeconfigPath,
      config: operatorConfigRaw,
      name: `operator-${slug(size.label)}`,
      nodeFlags: [
        ...(values['cpu-prof']
          ? ['--cpu-prof', `--cpu-prof-dir=${join(runDir, `profile-${slug(size.label)}`)}`]
          : []),
        ...(values['node-flags'] ?? '').split(' ').filter(Boolean),
      ],
    });
    const rssAtStart = readProcStats(operator.pid).rssBytes;
    say(
      `operator pid ${operator.pid} up in ${((operator.readyAt - operator.spawnedAt) / 1000).toFixed(1)} s; logs ${operator.logPath}`,
    );
    try {
      const timeoutMs = Number(values['converge-timeout-seconds']) * 1000;
      const deadline = performance.now() + timeoutMs;
      while (territoriesTracker.satisfiedCount() < n) {
        if (!operator.alive())
          throw new Error(`the operator exited during convergence; see ${operator.logPath}`);
        if (performance.now() > deadline) {
          throw new Error(
            `${territoriesTracker.satisfiedCount()}/${n} converged after ${timeoutMs / 1000} s; Ready: ` +
              JSON.stringify(readySummary(territoriesTracker.informer.list())),
          );
        }
        await sleep(100);
      }
      const convergedAt = Math.max(...territoriesTracker.satisfiedTimes());
      const samples = await scrapeMetrics(operator.metricsUrl);
      const metric = requestCounterName(samples, values['request-metric']);
      const convergeCounts = requestCounts(samples, metric);
      const convergeProc = readProcStats(operator.pid);
      const operatorControlPlaneCpu = controlPlaneCpu() - operatorCpuBefore;
      const convergeTotals = totals(convergeCounts);
      const convergeSeconds = (convergedAt - operator.spawnedAt) / 1000;
      const startupSeconds = (operator.readyAt - operator.spawnedAt) / 1000;
      say(`converged in ${convergeSeconds.toFixed(1)} s: ${JSON.stringify(convergeCounts.byVerb)}`);

      // 4. Steady state: one full (jittered) resync period to settle, then the measured window.
      say(`steady state: settling ${resyncSeconds * 1.2} s, then ${idlePeriods} × ${resyncSeconds} s`);
      await sleep(resyncSeconds * 1200);
      const steadyBefore = requestCounts(await scrapeMetrics(operator.metricsUrl), metric);
      const cpuBefore = readProcStats(operator.pid).cpuSeconds;
      const windowStart = performance.now();
      await sleep(idlePeriods * resyncSeconds * 1000);
      const steadyAfter = requestCounts(await scrapeMetrics(operator.metricsUrl), metric);
      const cpuAfter = readProcStats(operator.pid).cpuSeconds;
      const windowSeconds = (performance.now() - windowStart) / 1000;
      const steady = diffCounts(steadyAfter, steadyBefore);
      const steadyTotals = totals(steady);
      const perMinute = (x: number) => (x * 60) / windowSeconds;
      say(`steady: ${JSON.stringify(steady.byVerbResource)} in ${windowSeconds.toFixed(0)} s`);

      // 5a. Reaction to a spec change: 1% of the Territories get one more reader group.
      const k = Math.max(1, Math.round(n / 100));
      const changed = spread(territories, k, 0);
      say(`reaction: spec change on ${k} Territories, one every 200 ms`);
      const specRuns = await Promise.all(
        changed.map(async (t, i) => {
          await sleep(i * 200);
          const name = t.metadata.name;
          const group = `${name}:bench-reader`;
          const live = territoriesTracker.informer.get(name);
          const readers = ((live?.spec as Territory['spec'] | undefined)?.access.readerGroups ?? []).filter(
            (g) => g !== group,
          );
          const sentAt = performance.now();
          const patched = await client.mergePatch(
            { apiVersion: 'sovereign.dev/v1alpha1', kind: 'Territory', name },
            { spec: { access: { readerGroups: [...readers, group] } } },
          );
          const gen = patched.metadata.generation ?? 0;
          const [observedAt, convergedAt2] = await Promise.all([
            territoriesTracker.until(name, (o) => (o.metadata.generation ?? 0) >= gen && observedCurrent(o)),
            territoriesTracker.until(name, (o) => (o.metadata.generation ?? 0) >= gen && converged(o)),
          ]);
          const binding = await client.get({
            apiVersion: 'rbac.authorization.k8s.io/v1',
            kind: 'RoleBinding',
            namespace: name,
            name: 'territory-reader',
          });
          const subjects = (binding?.subjects as { name: string }[] | undefined) ?? [];
          return {
            observedMs: observedAt - sentAt,
            convergedMs: convergedAt2 - sentAt,
            applied: subjects.some((s) => s.name === group),
          };
        }),
      );

      // 5b. Drift: delete one owned object (a NetworkPolicy) in 1% of the namespaces.
      const policies = new Tracker(client, {
        apiVersion: 'networking.k8s.io/v1',
        kind: 'NetworkPolicy',
        fieldSelector: 'metadata.name=default-deny',
      });
      await policies.start();
      const drifted = spread(territories, k, Math.floor(n / (2 * k)));
      say(`reaction: deleting NetworkPolicy default-deny in ${k} namespaces, one every 200 ms`);
      const driftMs = await Promise.all(
        drifted.map(async (t, i) => {
          await sleep(i * 200);
          const key = `${t.metadata.name}/default-deny`;
          const before = policies.informer.get(key);
          if (!before) throw new Error(`NetworkPolicy ${key} does not exist before the drift test`);
          const deletedAt = performance.now();
          await client.delete({
            apiVersion: 'networking.k8s.io/v1',
            kind: 'NetworkPolicy',
            namespace: t.metadata.name,
            name: 'default-deny',
          });
          const repairedAt = await policies.until(key, (o) => o.metadata.uid !== before.metadata.uid);
          return repairedAt - deletedAt;
        }),
      );
      await policies.stop();

      const endProc = readProcStats(operator.pid);
      const endCounts = requestCounts(await scrapeMetrics(operator.metricsUrl), metric);
      const ready = readySummary(territoriesTracker.informer.list());
      await territoriesTracker.stop();
      const result: SizeResult = {
        size: size.label,
        kind: size.kind,
        territories: n,
        objectsPerTerritory,
        concurrency,
        createTerritoriesSeconds,
        floor: { ...floor, requestsPerSecond: floor.requests / floor.seconds },
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
          ready,
        },
        controlPlaneCpu: {
          floorSeconds: floorControlPlaneCpu,
          operatorSeconds: operatorControlPlaneCpu,
          operatorOverFloor: operatorControlPlaneCpu / floorControlPlaneCpu,
        },
        ratio: {
          operatorOverFloor: convergeSeconds / floor.seconds,
          operatorAfterStartOverFloor: (convergeSeconds - startupSeconds) / floor.seconds,
          requestsOverFloor: convergeTotals.all / floor.requests,
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
        },
        reaction: {
          specChange: {
            ...latency(specRuns.map((r) => r.convergedMs)),
            observedGeneration: latency(specRuns.map((r) => r.observedMs)),
            applied: specRuns.every((r) => r.applied),
          },
          drift: { ...latency(driftMs), kind: 'NetworkPolicy' },
        },
        end: {
          peakRssMB: endProc.peakRssBytes / MB,
          cpuSeconds: endProc.cpuSeconds,
          requestsByVerb: endCounts.byVerb,
        },
      };
      say(
        `size ${size.label}: ratio ${result.ratio.operatorOverFloor.toFixed(2)}, steady writes ${result.steady.writes}, ` +
          `peak RSS ${result.end.peakRssMB.toFixed(0)} MB, spec p99 ${result.reaction.specChange.p99Ms.toFixed(0)} ms`,
      );
      return result;
    } finally {
      say(`operator: ${await operator.stop()}`);
    }
  } finally {
    await cp.stop();
    if (!values.keep) await removeControlPlaneData(cpDir);
  }
}

async function main(): Promise<void> {
  await mkdir(runDir, { recursive: true });
  const operatorConfigRaw = benchOperatorConfig({ resyncSeconds, concurrency });
  const startedAt = new Date().toISOString();
  const loadAverage = loadavg();
  const results: SizeResult[] = [];
  let kubernetes = '';
  for (const size of [...sizes].sort((a, b) => Math.min(a.count, 1e9) - Math.min(b.count, 1e9))) {
    results.push(await runSize(size, operatorConfigRaw));
    kubernetes ||= 'see control plane log';
  }
  const growth = growthOf(results);
  const result: BenchResult = {
    startedAt,
    machine: { cpus: cpus().length, loadAverage, node: process.version, kubernetes },
    definitions: {
      converged:
        `status.observedGeneration == metadata.generation and ${PARTS_POSSIBLE_WITHOUT_CNPG.join(', ')} True. Ready cannot be ` +
        'True here: DatabaseReady needs CloudNativePG running PostgreSQL and BackupReady a real bucket with credentials ' +
        'and a first backup (the table shows what Ready says)',
      floor:
        'the same objects the operator creates (builders + Secret planners: namespace, tenancy, keyring and credential ' +
        'Secrets) server-side-applied by a minimal node:https keep-alive writer, one PATCH each, with the operator’s ' +
        'concurrency, on the same API server in the same run, into floor-<name> namespaces, BEFORE the operator starts ' +
        '(the operator then shares etcd with the floor’s objects: a fairness choice against the operator)',
      'operator time':
        'from spawning the operator process to the last Territory converged (includes process start)',
      'steady state':
        'after convergence, one resync period to settle, then idle-periods × resyncSeconds with nothing changed; ' +
        'writes = create/update/patch/delete requests',
      reaction:
        '1% of Territories (at least 1), one every 200 ms: spec.access.readerGroups gains a group (time from the PATCH ' +
        'to converged at the new generation, and the RoleBinding checked); drift = NetworkPolicy default-deny deleted, ' +
        'time until a new one exists',
      'requests by verb': `the operator's own counter on /metrics (${values['request-metric'] ?? 'found by shape'})`,
    },
    sizes: results,
    growth,
    targets: evaluateTargets(results, growth),
  };
  await mkdir(values.out ?? 'bench-results', { recursive: true });
  const base = join(values.out ?? 'bench-results', `bench-${stamp}`);
  const markdown = renderMarkdown(result);
  await writeFile(`${base}.json`, `${JSON.stringify(result, null, 2)}\n`);
  await writeFile(`${base}.md`, markdown);
  process.stdout.write(markdown);
  say(`results: ${base}.json, ${base}.md`);
}

main().catch((error: unknown) => {
  process.stderr.write(
    `bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
});
