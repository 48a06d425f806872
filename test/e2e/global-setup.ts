// Vitest global set-up of the e2e suite: one whole cluster for the run, installed as users install
// the product. A control plane and one real node (test/node), CloudNativePG from its manifests and
// its Barman Cloud plugin from its own (physical backups go through it), then the operator with
// `helm install` from the image built from the project's Containerfile.
// Tests reach it through inject(); figures go to e2e-results/<time>/ (report.json, report.md).
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { TestProject } from 'vitest/node';
import { resolveBinaries } from '../controlplane/binaries.ts';
import { ensureHelmBinary } from '../helm/build.ts';
import { type ClusterWithNode, DEFAULT_NODE_REGION, startClusterWithNode } from '../node/cluster.ts';
import { nodeBuildRecords } from '../node/components.ts';
import { ensureProductImages } from '../node/node-images.ts';
import { installStack } from './install-stack.ts';
import { type ObjectStoreAccess, startObjectStore, startObjectStoreServer } from './object-store.ts';
import { recordFigure, writeReport } from './report.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    kubeconfigPath: string;
    kubectlPath: string;
    resultsDir: string;
    nodeRegion: string;
    postgresImage: string;
    objectStore: ObjectStoreAccess;
    /** The suite's cluster's folder (TERRITORY_CLUSTER_DIR); empty when reusing a cluster started elsewhere. */
    clusterDir: string;
  }
}

const REPO_ROOT = resolve(import.meta.dirname, '..', '..');

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const resultsDir = join(REPO_ROOT, 'e2e-results', new Date().toISOString().replace(/[:.]/g, '-'));
  mkdirSync(resultsDir, { recursive: true });
  const say = (line: string) => process.stderr.write(`[e2e] ${line}\n`);
  const reuse = process.env.TERRITORY_E2E_KUBECONFIG;
  if (reuse) {
    // A development loop: a cluster already up with CloudNativePG and the operator installed
    // (e.g. from an earlier run kept with TERRITORY_KEEP_E2E_CLUSTER). Nothing is built or torn down.
    say(`reusing the cluster of ${reuse}`);
    project.provide('kubeconfigPath', reuse);
    project.provide('kubectlPath', (await resolveBinaries({ log: say })).kubectl);
    project.provide('resultsDir', resultsDir);
    project.provide('nodeRegion', process.env.TERRITORY_E2E_REGION ?? DEFAULT_NODE_REGION);
    project.provide(
      'postgresImage',
      process.env.TERRITORY_E2E_POSTGRES_IMAGE ?? 'localhost/territory/postgresql:17',
    );
    const kubectlPath = (await resolveBinaries({ log: say })).kubectl;
    const store = await startObjectStore({ binary: kubectlPath, kubeconfig: reuse });
    project.provide('objectStore', store.access);
    project.provide('clusterDir', '');
    return async () => {
      await store.server.stop();
      say(`report: ${writeReport(resultsDir, { cluster: reuse }).markdown}`);
    };
  }
  const dir = mkdtempSync(join(tmpdir(), 'territory-e2e-'));
  const timed = async <T>(what: string, step: () => Promise<T>): Promise<T> => {
    const t = Date.now();
    const result = await step();
    const seconds = (Date.now() - t) / 1000;
    recordFigure(resultsDir, { section: 'set-up', subject: what, value: seconds, unit: 's' });
    say(`${what}: ${seconds.toFixed(1)} s`);
    return result;
  };

  // Builds first (each is cached; their durations are in the report), then the cluster.
  const helm = await timed('helm binary', () => ensureHelmBinary());
  const images = await timed('product images', () => ensureProductImages({ log: say }));
  for (const image of Object.values(images)) {
    if (image.builtInSeconds !== undefined) {
      recordFigure(resultsDir, {
        section: 'builds',
        subject: image.ref,
        value: image.builtInSeconds,
        unit: 's',
        note: 'image build (cached runs reuse it)',
      });
    }
  }
  let cluster: ClusterWithNode;
  try {
    cluster = await timed('cluster with node', () =>
      startClusterWithNode({ dir, region: DEFAULT_NODE_REGION, log: say }),
    );
  } catch (error) {
    throw new Error(`the e2e cluster did not start (files kept in ${dir}): ${(error as Error).message}`);
  }
  // Interrupted (Ctrl-C, a CI time-out): the node's processes, mounts and network go too. Vitest
  // exits on its own SIGINT handler before an async stop could finish, so the stop runs in a process
  // of its own (`cluster:down` on this folder) that outlives this one.
  const stopOnSignal = (signal: NodeJS.Signals) => {
    const log = join(dir, 'teardown.log');
    say(`${signal}: stopping the e2e cluster in the background (log: ${log})`);
    const out = openSync(log, 'a');
    spawn(process.execPath, [join(REPO_ROOT, 'test', 'controlplane', 'cli.ts'), 'down'], {
      cwd: REPO_ROOT,
      detached: true,
      stdio: ['ignore', out, out],
      env: { ...process.env, TERRITORY_CLUSTER_DIR: dir },
    }).unref();
  };
  process.once('SIGINT', stopOnSignal);
  process.once('SIGTERM', stopOnSignal);
  for (const [step, seconds] of Object.entries(cluster.durations)) {
    recordFigure(resultsDir, { section: 'set-up', subject: step, value: seconds, unit: 's' });
  }
  // Each Go component's last build (build.json in its cache folder), cached runs included.
  for (const [name, record] of Object.entries(nodeBuildRecords())) {
    if (record.seconds === undefined) continue;
    recordFigure(resultsDir, {
      section: 'builds',
      subject: name,
      value: record.seconds,
      unit: 's',
      note: `go build${record.builtAt ? ` at ${record.builtAt}` : ''}`,
    });
  }
  let store: Awaited<ReturnType<typeof startObjectStoreServer>> | undefined;
  try {
    store = await timed('object storage started', () => startObjectStoreServer());
    await installStack(cluster, {
      images,
      helm,
      region: DEFAULT_NODE_REGION,
      dir,
      timed,
      log: say,
    });
  } catch (error) {
    await store?.server.stop().catch(() => undefined);
    await cluster.stop().catch(() => undefined);
    throw error;
  }
  const objectStore = store;

  project.provide('kubeconfigPath', cluster.controlPlane.kubeconfigPath);
  project.provide('kubectlPath', cluster.controlPlane.binaries.kubectl);
  project.provide('resultsDir', resultsDir);
  project.provide('nodeRegion', DEFAULT_NODE_REGION);
  project.provide('postgresImage', images.postgresql.ref);
  project.provide('objectStore', objectStore.access);
  project.provide('clusterDir', dir);

  return async () => {
    const { json, markdown } = writeReport(resultsDir, {
      kubernetes: cluster.controlPlane.serverVersion,
      node: `${cluster.node.state.nodeName} (${cluster.node.state.region})`,
      operatorImage: images.operator.ref,
    });
    say(`report: ${markdown} (${json})`);
    process.removeListener('SIGINT', stopOnSignal);
    process.removeListener('SIGTERM', stopOnSignal);
    await objectStore.server.stop();
    await cluster.stop();
    if (!process.env.TERRITORY_KEEP_E2E_DIR) rmSync(dir, { recursive: true, force: true });
  };
}
