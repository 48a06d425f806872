// `npm run cluster:up | cluster:down | cluster:binaries`: a real control plane for local use,
// running in the background under .territory/cluster (or $TERRITORY_CLUSTER_DIR).
// Progress goes to stderr; stdout carries only results, so `KUBECONFIG=$(npm run -s cluster:up)` works.
import { rm } from 'node:fs/promises';
import { resolve } from 'node:path';
import { Command } from 'commander';
import { DEFAULT_NODE_REGION, startClusterWithNode } from '../node/cluster.ts';
import { stopNode } from '../node/node.ts';
import { formatDuration, resolveBinaries, stderrLog } from './binaries.ts';
import {
  isHealthy,
  livePids,
  readState,
  removeControlPlaneData,
  startControlPlane,
  stopRecordedControlPlane,
} from './controlplane.ts';

const REPO_ROOT = resolve(import.meta.dirname, '..', '..');

function clusterDir(): string {
  return resolve(process.env.TERRITORY_CLUSTER_DIR ?? resolve(REPO_ROOT, '.territory', 'cluster'));
}

const program = new Command('controlplane').description(
  'Real etcd + kube-apiserver + kube-controller-manager for tests and local use',
);

program
  .command('up')
  .description('start the control plane in the background (idempotent); prints the kubeconfig path last')
  .option('--with-node', 'also start one real node (containerd, kubelet, DNS, volumes, NetworkPolicies)')
  .option('--region <region>', 'topology.kubernetes.io/region of the node', DEFAULT_NODE_REGION)
  .option('--zone <zone>', 'topology.kubernetes.io/zone of the node (default: <region>a)')
  .action(async (opts: { withNode?: boolean; region: string; zone?: string }) => {
    const dir = clusterDir();
    const existing = await readState(dir);
    if (existing && (await isHealthy(existing))) {
      stderrLog(
        `already running since ${existing.startedAt} (${existing.serverVersion}, pids ${pidList(existing.pids)})`,
      );
      process.stdout.write(`${existing.kubeconfigPath}\n`);
      return;
    }
    if (existing) {
      // Half-dead leftovers (a crash, a reboot): clear them and start clean.
      stderrLog('found a previous control plane that is not healthy; stopping what is left of it');
      await stopRecordedControlPlane(dir);
    }
    await stopNode(dir);
    await removeControlPlaneData(dir);
    await rm(resolve(dir, 'logs'), { recursive: true, force: true });
    if (opts.withNode) {
      const cluster = await startClusterWithNode({
        dir,
        detached: true,
        region: opts.region,
        zone: opts.zone,
      });
      stderrLog(`node ${cluster.node.state.nodeName} Ready; stop everything with: npm run cluster:down`);
      process.stdout.write(`${cluster.controlPlane.kubeconfigPath}\n`);
      return;
    }
    const controlPlane = await startControlPlane({ dir, detached: true });
    stderrLog(`kube-apiserver ${controlPlane.serverVersion} at ${controlPlane.apiServerUrl}`);
    stderrLog(`pids ${pidList(controlPlane.pids)}; stop with: npm run cluster:down`);
    stderrLog(`kubectl: ${controlPlane.binaries.kubectl}`);
    process.stdout.write(`${controlPlane.kubeconfigPath}\n`);
  });

program
  .command('down')
  .description('stop the control plane started by `up` and delete its data (logs are kept)')
  .action(async () => {
    const dir = clusterDir();
    const state = await readState(dir);
    // The node first: its kubelet would otherwise keep calling a stopped API server.
    await stopNode(dir);
    const stopped = await stopRecordedControlPlane(dir);
    if (state) {
      const left = livePids(state);
      if (left.length > 0) throw new Error(`still running after stop: ${left.map((p) => p.pid).join(', ')}`);
    }
    await removeControlPlaneData(dir);
    stderrLog(
      state ? `stopped ${stopped} process(es); logs kept in ${resolve(dir, 'logs')}` : 'no control plane',
    );
  });

program
  .command('status')
  .description('print the state of the control plane started by `up`')
  .action(async () => {
    const state = await readState(clusterDir());
    if (!state) {
      process.stdout.write('down\n');
      return;
    }
    const healthy = await isHealthy(state);
    process.stdout.write(
      `${healthy ? 'up' : 'unhealthy'} ${state.serverVersion} ${state.apiServerUrl} pids ${pidList(state.pids)}\n` +
        `${state.kubeconfigPath}\n`,
    );
    if (!healthy) process.exitCode = 1;
  });

program
  .command('binaries')
  .description('resolve (building if needed) the control-plane binaries; prints their paths')
  .action(async () => {
    const started = Date.now();
    const binaries = await resolveBinaries();
    stderrLog(`binaries from ${binaries.origin} in ${formatDuration(Date.now() - started)}`);
    for (const path of [
      binaries.etcd,
      binaries.kubeApiServer,
      binaries.kubeControllerManager,
      binaries.kubectl,
    ]) {
      process.stdout.write(`${path}\n`);
    }
  });

function pidList(pids: { etcd: number; kubeApiServer: number; kubeControllerManager: number }): string {
  return `etcd=${pids.etcd} kube-apiserver=${pids.kubeApiServer} kube-controller-manager=${pids.kubeControllerManager}`;
}

try {
  await program.parseAsync(process.argv);
} catch (error) {
  stderrLog(`error: ${(error as Error).message}`);
  process.exitCode = 1;
}
