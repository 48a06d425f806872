// A whole test cluster: the control plane plus one real node, in the order they depend on each
// other. The node's network comes first because kube-apiserver listens on its host end, which is
// the address Pods reach it at.
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { formatDuration, type Log, resolveBinaries, stderrLog } from '../controlplane/binaries.ts';
import { type ControlPlane, startControlPlane } from '../controlplane/controlplane.ts';
import { type NodeBinaries, resolveNodeBinaries } from './components.ts';
import { createNodeNetwork, NODE_NETWORK, netnsExists } from './network.ts';
import { NODE_OWNER_FILE, nodeDirOf, type RunningNode, startNode, stopNode } from './node.ts';
import { ensureNodeImages } from './node-images.ts';

/** A SecNumCloud-qualified French region of the shipped provider table (Outscale's). */
export const DEFAULT_NODE_REGION = 'cloudgouv-eu-west-1';

export interface ClusterWithNode {
  controlPlane: ControlPlane;
  node: RunningNode;
  nodeBinaries: NodeBinaries;
  /** Seconds per step (builds included), for reports. */
  durations: Record<string, number>;
  stop(): Promise<void>;
}

export async function startClusterWithNode(options: {
  dir: string;
  detached?: boolean;
  region?: string;
  zone?: string | undefined;
  log?: Log;
}): Promise<ClusterWithNode> {
  const log = options.log ?? stderrLog;
  const region = options.region ?? DEFAULT_NODE_REGION;
  const zone = options.zone ?? `${region}a`;
  const durations: Record<string, number> = {};
  const timed = async <T>(name: string, step: () => Promise<T>): Promise<T> => {
    const t = Date.now();
    const result = await step();
    durations[name] = (Date.now() - t) / 1000;
    return result;
  };
  assertCanRunNode();
  if (netnsExists(NODE_NETWORK)) {
    const owner = existsSync(NODE_OWNER_FILE) ? readFileSync(NODE_OWNER_FILE, 'utf8').trim() : 'unknown';
    throw new Error(
      `a test cluster with a node is already running on this host (folder: ${owner}); one node at a time. ` +
        `Stop it first: TERRITORY_CLUSTER_DIR=${owner} npm run cluster:down`,
    );
  }
  const binaries = await timed('control-plane binaries', () => resolveBinaries({ log }));
  const nodeBinaries = await timed('node binaries', () => resolveNodeBinaries({ log }));
  const images = await timed('node images', () => ensureNodeImages(nodeBinaries, { log }));

  await mkdir(nodeDirOf(options.dir), { recursive: true });
  await writeFile(NODE_OWNER_FILE, `${options.dir}\n`);
  const started = Date.now();
  let controlPlane: ControlPlane | undefined;
  try {
    const network = await createNodeNetwork(NODE_NETWORK);
    controlPlane = await timed('control plane start', () =>
      startControlPlane({
        dir: options.dir,
        binaries,
        listenAddress: network.hostAddress,
        ...(options.detached ? { detached: true } : {}),
        log,
      }),
    );
    const cp = controlPlane;
    const node = await timed('node start', () =>
      startNode({
        dir: options.dir,
        controlPlane: { ...cp, kubectl: binaries.kubectl },
        binaries: nodeBinaries,
        images,
        region,
        zone,
        network,
        detached: options.detached ?? false,
        log,
      }),
    );
    log(`cluster with node up in ${formatDuration(Date.now() - started)}`);
    return {
      controlPlane: cp,
      node,
      nodeBinaries,
      durations,
      async stop() {
        await node.stop();
        await cp.stop();
      },
    };
  } catch (error) {
    await stopNode(options.dir, log).catch(() => undefined);
    await controlPlane?.stop();
    throw error;
  }
}

/** A node needs Linux, root (network namespaces, mounts, cgroups) and the tools it drives. */
export function assertCanRunNode(): void {
  if (process.platform !== 'linux') {
    throw new Error(`a test node needs Linux (network namespaces, cgroups); this is ${process.platform}`);
  }
  if (process.getuid?.() !== 0) {
    throw new Error('a test node needs root: it creates a network namespace, cgroups and mounts');
  }
}
