// containerd 2 for the test node: its configuration (CRI with runc, cgroupfs, the CNI bridge) and
// the CNI network the CRI plugin attaches every Pod to. Everything lives under the node's folder;
// sandbox network namespaces too (netns_mounts_under_state_dir), so nothing is left in /var/run.
import { join } from 'node:path';
import type { NodeNetwork } from './network.ts';

export interface ContainerdPaths {
  root: string;
  state: string;
  socket: string;
  config: string;
  cniConfDir: string;
  cniDataDir: string;
}

export function containerdPaths(nodeDir: string): ContainerdPaths {
  const dir = join(nodeDir, 'containerd');
  return {
    root: join(dir, 'root'),
    state: join(dir, 'state'),
    socket: join(dir, 'containerd.sock'),
    config: join(dir, 'config.toml'),
    cniConfDir: join(nodeDir, 'cni', 'net.d'),
    cniDataDir: join(nodeDir, 'cni', 'data'),
  };
}

const toml = (value: string) => `'${value}'`;

export function containerdConfig(opts: {
  paths: ContainerdPaths;
  pauseImage: string;
  runc: string;
  cniBinDir: string;
}): string {
  const { paths } = opts;
  return `# Written by the Territory test node; containerd 2.4 (configuration version 4).
version = 4
root = ${toml(paths.root)}
state = ${toml(paths.state)}
# Nothing from the host's own containerd configuration.
imports = []
[debug]
  level = ${toml(process.env.TERRITORY_CONTAINERD_LOG_LEVEL ?? 'info')}
disabled_plugins = [
  'io.containerd.snapshotter.v1.btrfs',
  'io.containerd.snapshotter.v1.zfs',
  'io.containerd.snapshotter.v1.devmapper',
  'io.containerd.snapshotter.v1.blockfile',
  'io.containerd.tracing.processor.v1.otlp',
  'io.containerd.internal.v1.tracing',
]

[plugins]
  [plugins.'io.containerd.server.v1.grpc']
    address = ${toml(paths.socket)}
  [plugins.'io.containerd.server.v1.ttrpc']
    address = ${toml(`${paths.socket}.ttrpc`)}

  [plugins.'io.containerd.cri.v1.images']
    snapshotter = 'overlayfs'
    # Images are imported, never pulled: there is no registry to pull from.
    [plugins.'io.containerd.cri.v1.images'.pinned_images]
      sandbox = ${toml(opts.pauseImage)}

  [plugins.'io.containerd.cri.v1.runtime']
    netns_mounts_under_state_dir = true
    # Lowering a process's oom_score_adj needs CAP_SYS_RESOURCE, which a node running in a
    # container or a restricted VM may lack: Pods then keep containerd's own score or higher.
    restrict_oom_score_adj = true
    [plugins.'io.containerd.cri.v1.runtime'.containerd]
      default_runtime_name = 'runc'
      [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
        runtime_type = 'io.containerd.runc.v2'
        [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
          BinaryName = ${toml(opts.runc)}
          # cgroup v1 with the cgroupfs driver, as the kubelet is configured.
          SystemdCgroup = false
    [plugins.'io.containerd.cri.v1.runtime'.cni]
      bin_dirs = [${toml(opts.cniBinDir)}]
      conf_dir = ${toml(paths.cniConfDir)}
      max_conf_num = 1

  [plugins.'io.containerd.grpc.v1.cri']
    disable_tcp_service = true
    stream_server_address = '127.0.0.1'
    stream_server_port = '0'
`;
}

/**
 * A bridge with host-local addresses: every Pod on the node's bridge, the bridge as their gateway.
 * No masquerade: a Pod's packet keeps its own address, and nothing is routed beyond the node.
 */
export function cniNetwork(network: NodeNetwork, dataDir: string): Record<string, unknown> {
  return {
    cniVersion: '1.0.0',
    name: 'territory',
    plugins: [
      {
        type: 'bridge',
        bridge: network.bridge,
        isGateway: true,
        ipMasq: false,
        hairpinMode: true,
        ipam: {
          type: 'host-local',
          dataDir,
          ranges: [[{ subnet: network.podCidr }]],
          routes: [{ dst: '0.0.0.0/0' }],
        },
      },
      { type: 'portmap', capabilities: { portMappings: true } },
    ],
  };
}
