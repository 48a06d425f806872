// The kubelet's and kube-proxy's configurations for the test node. Settings that differ from a
// default install say why; most come from what the machines running test clusters lack (cgroup v2,
// CAP_SYS_RESOURCE, a registry).
import { join } from 'node:path';
import type { NodeCgroups } from './cgroups.ts';
import type { NodeNetwork } from './network.ts';

export const NODE_NAME = 'territory-node';
/** The kubelet may not ask for more open files than the machine's hard limit allows. */
const MAX_OPEN_FILES = 16_384;

export interface KubeletPaths {
  rootDir: string;
  config: string;
  kubeconfig: string;
  servingCert: string;
  servingKey: string;
  clientCa: string;
  resolvConf: string;
}

export function kubeletPaths(nodeDir: string, pkiDir: string): KubeletPaths {
  return {
    rootDir: join(nodeDir, 'kubelet'),
    config: join(nodeDir, 'kubelet-config.yaml'),
    kubeconfig: join(pkiDir, 'kubelet.kubeconfig'),
    servingCert: join(pkiDir, 'kubelet-serving.crt'),
    servingKey: join(pkiDir, 'kubelet-serving.key'),
    clientCa: join(pkiDir, 'ca.crt'),
    resolvConf: join(nodeDir, 'resolv.conf'),
  };
}

export function kubeletConfiguration(opts: {
  paths: KubeletPaths;
  network: NodeNetwork;
  cgroups: NodeCgroups;
  containerdSocket: string;
}): Record<string, unknown> {
  const { paths, network } = opts;
  return {
    apiVersion: 'kubelet.config.k8s.io/v1beta1',
    kind: 'KubeletConfiguration',
    // Kubernetes 1.35+ refuses cgroup v1 unless told otherwise; test machines may only have v1.
    failCgroupV1: false,
    cgroupDriver: 'cgroupfs',
    cgroupRoot: opts.cgroups.root,
    containerRuntimeEndpoint: `unix://${opts.containerdSocket}`,
    address: network.nodeAddress,
    port: 10250,
    readOnlyPort: 0,
    healthzBindAddress: '127.0.0.1',
    healthzPort: 10248,
    tlsCertFile: paths.servingCert,
    tlsPrivateKeyFile: paths.servingKey,
    authentication: {
      anonymous: { enabled: false },
      webhook: { enabled: true },
      x509: { clientCAFile: paths.clientCa },
    },
    authorization: { mode: 'Webhook' },
    clusterDomain: 'cluster.local',
    clusterDNS: [network.clusterDns],
    // Pods with dnsPolicy Default get no upstream resolver: names outside the cluster never resolve.
    resolvConf: paths.resolvConf,
    maxOpenFiles: MAX_OPEN_FILES,
    failSwapOn: false,
    // Images are imported, never pulled, and never garbage-collected away under disk pressure.
    imageGCHighThresholdPercent: 100,
    imageGCLowThresholdPercent: 99,
    evictionHard: { 'memory.available': '100Mi', 'nodefs.available': '1%', 'imagefs.available': '1%' },
    // A single-node test cluster: status reported quickly so readiness shows without waiting.
    nodeStatusUpdateFrequency: '4s',
    syncFrequency: '10s',
    fileCheckFrequency: '10s',
    serializeImagePulls: false,
    registerNode: true,
    protectKernelDefaults: false,
    // Pods ask for nothing the node's shared kernel would have to grant per Pod.
    allowedUnsafeSysctls: [],
    containerLogMaxSize: '10Mi',
    containerLogMaxFiles: 2,
    shutdownGracePeriod: '0s',
    localStorageCapacityIsolation: true,
  };
}

export function kubeletArgs(opts: {
  paths: KubeletPaths;
  network: NodeNetwork;
  region: string;
  zone: string;
}): string[] {
  return [
    `--config=${opts.paths.config}`,
    `--kubeconfig=${opts.paths.kubeconfig}`,
    `--root-dir=${opts.paths.rootDir}`,
    `--hostname-override=${NODE_NAME}`,
    `--node-ip=${opts.network.nodeAddress}`,
    // The sovereignty gate reads these labels, exactly as on a provider's nodes.
    `--node-labels=topology.kubernetes.io/region=${opts.region},topology.kubernetes.io/zone=${opts.zone}`,
    '--v=1',
  ];
}

export function kubeProxyConfiguration(opts: {
  network: NodeNetwork;
  kubeconfig: string;
}): Record<string, unknown> {
  return {
    apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
    kind: 'KubeProxyConfiguration',
    clientConnection: { kubeconfig: opts.kubeconfig },
    hostnameOverride: NODE_NAME,
    bindAddress: opts.network.nodeAddress,
    // IPVS is often missing from kernels; iptables is what works everywhere.
    mode: 'iptables',
    clusterCIDR: opts.network.podCidr,
    metricsBindAddress: '127.0.0.1:10249',
    healthzBindAddress: '127.0.0.1:10256',
    // The conntrack table size is a machine-wide setting kube-proxy may not change from a
    // network namespace: leave it, and its timeouts, as they are.
    conntrack: { maxPerCore: 0, min: 0, tcpEstablishedTimeout: '0s', tcpCloseWaitTimeout: '0s' },
    // Service traffic is DNATed in the node's namespace only; nothing is masqueraded out.
    iptables: { masqueradeAll: false, localhostNodePorts: false, syncPeriod: '10s', minSyncPeriod: '0s' },
  };
}
