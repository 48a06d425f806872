// The node's network: a network namespace of its own, joined to the host by one veth pair. The
// node's agents (containerd, kubelet, kube-proxy, the NetworkPolicy enforcer) and every Pod live
// behind it, so the iptables rules they write never touch the host's, and `cluster:down` is a
// namespace deletion. kube-apiserver listens on the host end of the pair, which is the only
// address outside the namespace that Pods can reach: the namespace has no default route, so a
// Pod's packet to any other address is refused inside the node (network unreachable) before it
// could leave the machine. Nothing is NATed out.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { SERVICE_CLUSTER_IP_RANGE } from '../controlplane/controlplane.ts';

const run = promisify(execFile);

export interface NodeNetwork {
  /** Name of the network namespace (under /var/run/netns). */
  netns: string;
  netnsPath: string;
  hostInterface: string;
  nodeInterface: string;
  /** kube-apiserver listens here; the host end of the veth pair. */
  hostAddress: string;
  /** The Node's InternalIP: the kubelet, kube-proxy and the enforcer bind here. */
  nodeAddress: string;
  /** Pod addresses, handed out by the CNI bridge's host-local IPAM. */
  podCidr: string;
  /** The bridge Pods attach to (its address is the Pods' gateway). */
  bridge: string;
  serviceCidr: string;
  /** The cluster DNS Service's ClusterIP. */
  clusterDns: string;
}

/**
 * One node per machine: the names and addresses are fixed so a leftover from a killed run is
 * found and removed by the next `cluster:up` or `cluster:down`.
 */
export const NODE_NETWORK: NodeNetwork = {
  netns: 'territory-node',
  netnsPath: '/var/run/netns/territory-node',
  hostInterface: 'trt-host',
  nodeInterface: 'trt-node',
  hostAddress: '10.213.255.1',
  nodeAddress: '10.213.255.2',
  podCidr: '10.244.0.0/24',
  bridge: 'trt-pods',
  serviceCidr: SERVICE_CLUSTER_IP_RANGE,
  clusterDns: '10.0.0.10',
};

const LINK_PREFIX = 30;

async function ip(args: string[]): Promise<string> {
  try {
    return (await run('ip', args, { encoding: 'utf8' })).stdout;
  } catch (error) {
    const e = error as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT')
      throw new Error('the `ip` command (Debian package iproute2) is needed for a node');
    throw new Error(`ip ${args.join(' ')}: ${(e.stderr ?? e.message).trim()}`);
  }
}

/** Runs a command inside the node's network namespace only (mounts and the rest stay the host's). */
export function inNodeNetns(network: NodeNetwork, command: string, args: string[]): [string, string[]] {
  return ['nsenter', [`--net=${network.netnsPath}`, '--', command, ...args]];
}

export function netnsExists(network: NodeNetwork): boolean {
  return existsSync(network.netnsPath);
}

export async function createNodeNetwork(network: NodeNetwork = NODE_NETWORK): Promise<NodeNetwork> {
  if (netnsExists(network)) {
    throw new Error(
      `network namespace ${network.netns} already exists: another test cluster with a node is running, or ` +
        'one was killed without cleaning up. Stop it with `npm run cluster:down` (with its TERRITORY_CLUSTER_DIR)',
    );
  }
  await ip(['netns', 'add', network.netns]);
  try {
    const n = ['-n', network.netns];
    await ip(['link', 'add', network.hostInterface, 'type', 'veth', 'peer', 'name', network.nodeInterface]);
    await ip(['link', 'set', network.nodeInterface, 'netns', network.netns]);
    await ip(['addr', 'add', `${network.hostAddress}/${LINK_PREFIX}`, 'dev', network.hostInterface]);
    await ip(['link', 'set', network.hostInterface, 'up']);
    await ip([...n, 'link', 'set', 'lo', 'up']);
    await ip([...n, 'addr', 'add', `${network.nodeAddress}/${LINK_PREFIX}`, 'dev', network.nodeInterface]);
    await ip([...n, 'link', 'set', network.nodeInterface, 'up']);
    // The host answers Pods (the API server's replies) and reaches Services (admission webhooks)
    // through the node; nothing else is routed, and the host does not forward.
    for (const cidr of [network.podCidr, network.serviceCidr]) {
      await ip(['route', 'add', cidr, 'via', network.nodeAddress, 'dev', network.hostInterface]);
    }
    // Per namespace: the node forwards between Pods and the veth; bridged Pod-to-Pod traffic goes
    // through iptables, without which every NetworkPolicy would be silently bypassed.
    await sysctlInNode(network, {
      'net.ipv4.ip_forward': '1',
      'net.bridge.bridge-nf-call-iptables': '1',
      'net.bridge.bridge-nf-call-ip6tables': '1',
    });
    return network;
  } catch (error) {
    await deleteNodeNetwork(network);
    throw error;
  }
}

export async function sysctlInNode(network: NodeNetwork, values: Record<string, string>): Promise<void> {
  for (const [key, value] of Object.entries(values)) {
    const [command, args] = inNodeNetns(network, 'sysctl', ['-q', '-w', `${key}=${value}`]);
    try {
      await run(command, args);
    } catch (error) {
      throw new Error(
        `cannot set ${key}=${value} in the node's network namespace: ${(error as Error).message}`,
      );
    }
  }
}

/** Deletes the namespace (and with it both veth ends, the bridge and the routes through them). */
export async function deleteNodeNetwork(network: NodeNetwork = NODE_NETWORK): Promise<void> {
  const links = await ip(['-o', 'link', 'show']);
  if (new RegExp(`\\b${network.hostInterface}@`).test(links)) {
    await ip(['link', 'del', network.hostInterface]);
  }
  if (netnsExists(network)) await ip(['netns', 'del', network.netns]);
}
