// A whole test cluster: the control plane plus one real node, in the order they depend on each
// other. The node's network comes first because kube-apiserver listens on its host end, which is
// the address Pods reach it at.
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { formatDuration, type Log, resolveBinaries, stderrLog } from '../controlplane/binaries.ts';
import { type ControlPlane, startControlPlane } from '../controlplane/controlplane.ts';
import { findGo, isExecutable, noGoFound } from '../support/go-tool.ts';
import { assertCgroupV1 } from './cgroups.ts';
import { findCniBinDir, findRunc, type NodeBinaries, resolveNodeBinaries } from './components.ts';
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

/** Host commands a node and its image builds run by name: [command, Debian package, what for]. */
const HOST_TOOLS: [string, string, string][] = [
  ['ip', 'iproute2', "the node's network namespace and veth pair"],
  ['nsenter', 'util-linux', "running the node's agents inside its network namespace"],
  ['sysctl', 'procps', "forwarding and bridge netfilter inside the node's network namespace"],
  ['iptables', 'iptables', 'kube-proxy (iptables mode) and NetworkPolicy enforcement'],
  ['ipset', 'ipset', "kube-router's NetworkPolicy firewall"],
  ['buildah', 'buildah', 'building the images the node runs (no registry is used)'],
  ['mmdebstrap', 'mmdebstrap', 'the Debian trixie images (PostgreSQL, the Node base)'],
  ['setcap', 'libcap2-bin', "the CoreDNS image's file capability"],
];

/**
 * Everything this machine lacks to run a node, one sentence each (none: it can), checked before
 * anything is built or started: Linux and root (assertCanRunNode), the cgroup v1 layout the node is
 * set up for, bridge netfilter, runc and the CNI plugins, the host commands the node and its image
 * builds run, and Go (the node's components and CloudNativePG's manifests come from Go modules).
 */
export async function nodeHostProblems(env: NodeJS.ProcessEnv = process.env): Promise<string[]> {
  const reason = (error: unknown) => (error as Error).message;
  try {
    assertCanRunNode();
  } catch (error) {
    if (process.platform !== 'linux') return [reason(error)];
    return [reason(error), ...(await hostPackageProblems(env))];
  }
  const problems: string[] = [];
  try {
    assertCgroupV1();
  } catch (error) {
    problems.push(reason(error));
  }
  if (!existsSync('/proc/sys/net/bridge/bridge-nf-call-iptables')) {
    problems.push(
      'bridge netfilter is off, so NetworkPolicies would not apply between Pods: load the module (modprobe br_netfilter)',
    );
  }
  return [...problems, ...(await hostPackageProblems(env))];
}

async function hostPackageProblems(env: NodeJS.ProcessEnv): Promise<string[]> {
  const problems: string[] = [];
  for (const find of [() => findRunc(env), () => findCniBinDir()]) {
    try {
      await find();
    } catch (error) {
      problems.push((error as Error).message);
    }
  }
  const path = (env.PATH ?? '').split(delimiter).filter(Boolean);
  for (const [command, pkg, purpose] of HOST_TOOLS) {
    let found = false;
    for (const dir of path) if (!found && (await isExecutable(join(dir, command)))) found = true;
    if (!found) problems.push(`${command} is not on the PATH (Debian package ${pkg}): ${purpose}`);
  }
  if (!findGo(env))
    problems.push(
      `${noGoFound(env)}: the node's components and CloudNativePG's install manifests come from Go modules`,
    );
  return problems;
}
