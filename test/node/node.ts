// One real node for the test cluster: containerd 2 + runc, the kubelet, kube-proxy (iptables),
// kube-router's NetworkPolicy firewall, behind a network namespace of their own (network.ts), and
// kube-scheduler beside the control plane. Cluster DNS and dynamic volumes run on it as Pods.
// Processes are tracked by PID in node/state.json and by cgroup (cgroups.ts), so `cluster:down`
// finds every one of them, containerd's shims and the Pods included.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { formatDuration, type Log, stderrLog } from '../controlplane/binaries.ts';
import { certificateIssuer, ExtendedKeyUsage } from '../controlplane/certs.ts';
import type { ControlPlane } from '../controlplane/controlplane.ts';
import { renderKubeconfig } from '../controlplane/kubeconfig.ts';
import {
  isAlive,
  runsBinary,
  type StartedProcess,
  sleep,
  startProcess,
  stopPid,
  tailFile,
} from '../controlplane/processes.ts';
import { AGENT_USERS, agentRbac, corednsManifests, localPathManifests } from './addons.ts';
import {
  assertCgroupV1,
  createNodeCgroups,
  destroyNodeCgroups,
  joinAgentsCgroup,
  nodeCgroups,
} from './cgroups.ts';
import type { NodeBinaries } from './components.ts';
import { cniNetwork, containerdConfig, containerdPaths } from './containerd.ts';
import { importImages, type LocalImage } from './images.ts';
import { applyManifests, type Kubectl, kubectl, waitForCondition } from './kubectl.ts';
import {
  kubeletArgs,
  kubeletConfiguration,
  kubeletPaths,
  kubeProxyConfiguration,
  NODE_NAME,
} from './kubelet.ts';
import { unmountAllUnder } from './mounts.ts';
import { deleteNodeNetwork, inNodeNetns, NODE_NETWORK, type NodeNetwork } from './network.ts';

export { NODE_NAME };

const run = promisify(execFile);

/** The images the node itself needs; the product's images are imported by whoever installs it. */
export interface NodeImages {
  pause: LocalImage;
  coredns: LocalImage;
  localPathProvisioner: LocalImage;
  localPathHelper: LocalImage;
}

export interface StartNodeOptions {
  /** The cluster's folder (the control plane's); the node's files go to `<dir>/node`. */
  dir: string;
  controlPlane: Pick<ControlPlane, 'kubeconfigPath' | 'apiServerUrl' | 'dir'> & { kubectl: string };
  binaries: NodeBinaries;
  images: NodeImages;
  /** topology.kubernetes.io/region and zone of the node. */
  region: string;
  zone: string;
  network?: NodeNetwork;
  detached?: boolean;
  log?: Log;
}

type AgentName = 'containerd' | 'kubelet' | 'kubeProxy' | 'kubeRouter' | 'kubeScheduler';

export interface NodeState {
  format: 1;
  nodeName: string;
  region: string;
  zone: string;
  network: NodeNetwork;
  cgroupRoot: string;
  containerdSocket: string;
  ctr: string;
  pids: Partial<Record<AgentName, number>>;
  binaries: Partial<Record<AgentName, string>>;
  durations: Record<string, number>;
}

export interface RunningNode {
  state: NodeState;
  kubectl: Kubectl;
  stop(): Promise<void>;
}

export const nodeDirOf = (dir: string) => join(dir, 'node');
/** Which cluster folder owns the machine's one node, for the message when a second one is asked for. */
export const NODE_OWNER_FILE = '/run/territory-node.owner';
const stateFile = (dir: string) => join(nodeDirOf(dir), 'state.json');
const CGROUP_NAME = 'territory-node';

export async function startNode(options: StartNodeOptions): Promise<RunningNode> {
  const log = options.log ?? stderrLog;
  const network = options.network ?? NODE_NETWORK;
  const detached = options.detached ?? false;
  assertCgroupV1();
  const started = Date.now();
  const nodeDir = nodeDirOf(options.dir);
  const logs = join(options.dir, 'logs');
  const pkiDir = join(options.dir, 'pki');
  await mkdir(nodeDir, { recursive: true });
  await mkdir(logs, { recursive: true });
  const k: Kubectl = {
    binary: options.controlPlane.kubectl,
    kubeconfig: options.controlPlane.kubeconfigPath,
  };
  const cgroups = nodeCgroups(CGROUP_NAME);
  const paths = containerdPaths(nodeDir);
  const kubelet = kubeletPaths(nodeDir, pkiDir);
  const b = options.binaries;

  const state: NodeState = {
    format: 1,
    nodeName: NODE_NAME,
    region: options.region,
    zone: options.zone,
    network,
    cgroupRoot: cgroups.root,
    containerdSocket: paths.socket,
    ctr: b.ctr,
    pids: {},
    binaries: {},
    durations: {},
  };
  const procs: StartedProcess[] = [];
  const persist = () => writeFile(stateFile(options.dir), `${JSON.stringify(state, null, 2)}\n`);
  const killOnExit = () => {
    for (const proc of procs) if (isAlive(proc.pid)) process.kill(proc.pid, 'SIGKILL');
  };
  if (!detached) process.once('exit', killOnExit);

  const launch = (
    name: AgentName,
    binary: string,
    args: string[],
    where: 'node' | 'host',
    env?: NodeJS.ProcessEnv,
  ) => {
    const [command, argv] = where === 'node' ? inNodeNetns(network, binary, args) : [binary, args];
    const proc = startProcess({
      name,
      command,
      args: argv,
      logPath: join(logs, `${name}.log`),
      detached,
      ...(env ? { env } : {}),
    });
    // Everything started on the node's side is tracked by cgroup too (shims and Pods inherit it).
    if (where === 'node') joinAgentsCgroup(cgroups, proc.pid);
    procs.push(proc);
    state.pids[name] = proc.pid;
    state.binaries[name] = binary;
    return proc;
  };
  const phase = async (name: string, step: () => Promise<void>) => {
    const t = Date.now();
    await step();
    state.durations[name] = (Date.now() - t) / 1000;
    log(`node: ${name} in ${formatDuration(Date.now() - t)}`);
    await persist();
  };

  try {
    await persist();
    await createNodeCgroups(cgroups);

    // ---- certificates and kubeconfigs of the node's agents, from the control plane's CA ----
    const issue = await certificateIssuer(
      {
        certPem: await readFile(join(pkiDir, 'ca.crt'), 'utf8'),
        keyPem: await readFile(join(pkiDir, 'ca.key'), 'utf8'),
      },
      new Date(),
    );
    const caPem = await readFile(join(pkiDir, 'ca.crt'), 'utf8');
    const writeKubeconfig = async (file: string, user: string, subject: Parameters<typeof issue>[0]) => {
      const pair = await issue(subject, ExtendedKeyUsage.clientAuth);
      await writeFile(
        file,
        renderKubeconfig({
          server: options.controlPlane.apiServerUrl,
          caPem,
          user,
          certPem: pair.certPem,
          keyPem: pair.keyPem,
        }),
        { mode: 0o600 },
      );
    };
    const kubeProxyKubeconfig = join(pkiDir, 'kube-proxy.kubeconfig');
    const kubeRouterKubeconfig = join(pkiDir, 'kube-router.kubeconfig');
    const schedulerKubeconfig = join(pkiDir, 'kube-scheduler.kubeconfig');
    await writeKubeconfig(kubelet.kubeconfig, `system:node:${NODE_NAME}`, [
      { O: ['system:nodes'] },
      { CN: [`system:node:${NODE_NAME}`] },
    ]);
    await writeKubeconfig(kubeProxyKubeconfig, AGENT_USERS.kubeProxy, [{ CN: [AGENT_USERS.kubeProxy] }]);
    await writeKubeconfig(kubeRouterKubeconfig, AGENT_USERS.kubeRouter, [{ CN: [AGENT_USERS.kubeRouter] }]);
    await writeKubeconfig(schedulerKubeconfig, AGENT_USERS.kubeScheduler, [
      { CN: [AGENT_USERS.kubeScheduler] },
    ]);
    const serving = await issue([{ CN: [NODE_NAME] }], ExtendedKeyUsage.serverAuth, [
      { type: 'ip', value: network.nodeAddress },
      { type: 'dns', value: NODE_NAME },
    ]);
    await writeFile(kubelet.servingCert, serving.certPem);
    await writeFile(kubelet.servingKey, serving.keyPem, { mode: 0o600 });
    await applyManifests(k, agentRbac());

    // ---- kube-scheduler: nothing runs on a node without it ----
    await phase('kube-scheduler', async () => {
      const proc = launch(
        'kubeScheduler',
        b.kubeScheduler,
        [
          `--kubeconfig=${schedulerKubeconfig}`,
          `--authentication-kubeconfig=${schedulerKubeconfig}`,
          `--authorization-kubeconfig=${schedulerKubeconfig}`,
          '--leader-elect=false',
          '--bind-address=127.0.0.1',
          '--secure-port=0',
        ],
        'host',
      );
      // Its proof of work comes later: the node's first Pods get scheduled.
      await sleep(1_000);
      await waitUntil(proc, 'kube-scheduler to start', async () => true, 1_000);
    });

    // ---- containerd ----
    await phase('containerd', async () => {
      for (const d of [paths.root, paths.state, paths.cniConfDir, paths.cniDataDir])
        await mkdir(d, { recursive: true });
      await writeFile(
        paths.config,
        containerdConfig({
          paths,
          pauseImage: options.images.pause.ref,
          runc: b.runc,
          cniBinDir: b.cniBinDir,
        }),
      );
      await writeFile(
        join(paths.cniConfDir, '10-territory.conflist'),
        `${JSON.stringify(cniNetwork(network, paths.cniDataDir), null, 2)}\n`,
      );
      const env = {
        ...process.env,
        PATH: `${join(b.containerdShimRuncV2, '..')}:/usr/sbin:/usr/bin:/sbin:/bin`,
      };
      const proc = launch('containerd', b.containerd, ['--config', paths.config], 'node', env);
      await waitUntil(
        proc,
        `containerd to listen on ${paths.socket}`,
        async () => existsSync(paths.socket),
        30_000,
      );
    });
    await phase('images imported', async () => {
      await importImages(b.ctr, paths.socket, Object.values(options.images), { log });
    });

    // ---- kubelet ----
    await phase('kubelet (node Ready)', async () => {
      await mkdir(kubelet.rootDir, { recursive: true });
      await writeFile(
        kubelet.resolvConf,
        '# No upstream resolvers: the test cluster resolves cluster names only.\n',
      );
      await writeFile(
        kubelet.config,
        stringify(kubeletConfiguration({ paths: kubelet, network, cgroups, containerdSocket: paths.socket })),
      );
      const proc = launch(
        'kubelet',
        b.kubelet,
        kubeletArgs({ paths: kubelet, network, region: options.region, zone: options.zone }),
        'node',
      );
      await waitUntil(
        proc,
        `node ${NODE_NAME} to register`,
        async () => {
          try {
            await kubectl(k, ['get', 'node', NODE_NAME, '-o', 'name'], 5_000);
            return true;
          } catch {
            return false;
          }
        },
        120_000,
      );
    });

    // ---- kube-proxy and the NetworkPolicy enforcer ----
    await phase('kube-proxy', async () => {
      const config = join(nodeDir, 'kube-proxy-config.yaml');
      await writeFile(
        config,
        stringify(kubeProxyConfiguration({ network, kubeconfig: kubeProxyKubeconfig })),
      );
      launch('kubeProxy', b.kubeProxy, [`--config=${config}`, '--v=1'], 'node');
    });
    await phase('kube-router firewall', async () => {
      const proc = launch(
        'kubeRouter',
        b.kubeRouter,
        [
          `--kubeconfig=${kubeRouterKubeconfig}`,
          '--run-firewall=true',
          '--run-router=false',
          '--run-service-proxy=false',
          `--hostname-override=${NODE_NAME}`,
          `--service-cluster-ip-range=${network.serviceCidr}`,
          '--metrics-port=0',
          '--health-port=20244',
          '--v=1',
        ],
        'node',
      );
      await waitUntil(
        proc,
        'kube-router to answer on its health port',
        async () => {
          try {
            return (await fetch(`http://${network.nodeAddress}:20244/healthz`)).ok;
          } catch {
            return false;
          }
        },
        60_000,
      );
    });
    await phase('node Ready', () => waitForCondition(k, ['node', NODE_NAME], 'condition=Ready', 120));

    // ---- cluster DNS and volumes ----
    await phase('CoreDNS and local-path-provisioner', async () => {
      await applyManifests(k, corednsManifests(network, options.images.coredns.ref));
      await applyManifests(
        k,
        localPathManifests({
          provisionerImage: options.images.localPathProvisioner.ref,
          helperImage: options.images.localPathHelper.ref,
          dataDir: join(nodeDir, 'volumes'),
        }),
      );
      await waitForCondition(k, ['-n', 'kube-system', 'deployment/coredns'], 'condition=Available', 180);
      await waitForCondition(
        k,
        ['-n', 'local-path-storage', 'deployment/local-path-provisioner'],
        'condition=Available',
        180,
      );
    });
  } catch (error) {
    log(`node: start failed, cleaning up: ${(error as Error).message.split('\n')[0]}`);
    await stopNode(options.dir, log).catch((e: Error) => log(`node: cleanup after failure: ${e.message}`));
    if (!detached) process.removeListener('exit', killOnExit);
    throw error;
  }
  log(
    `node ${NODE_NAME} (${options.region}/${options.zone}) ready in ${formatDuration(Date.now() - started)}`,
  );

  return {
    state,
    kubectl: k,
    async stop() {
      await stopNode(options.dir, log);
      if (!detached) process.removeListener('exit', killOnExit);
    },
  };
}

/** Gives an image of the node's containerd a second name (stack.ts importProductImages: the PostgreSQL major tag). */
export async function tagNodeImage(
  node: Pick<NodeState, 'ctr' | 'containerdSocket'>,
  source: string,
  target: string,
): Promise<void> {
  await run(node.ctr, [
    '--address',
    node.containerdSocket,
    '--namespace',
    'k8s.io',
    'images',
    'tag',
    '--force',
    source,
    target,
  ]);
}

async function waitUntil(
  proc: StartedProcess,
  what: string,
  probe: () => Promise<boolean>,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (true) {
    const exit = proc.exitCode();
    if (exit !== undefined) {
      throw new Error(
        `${proc.name} exited (${exit}) before ${what}. Last lines of ${proc.logPath}:\n${await tailFile(proc.logPath)}`,
      );
    }
    if (await probe()) return;
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${formatDuration(timeoutMs)} waiting for ${what}. Last lines of ${proc.logPath}:\n${await tailFile(proc.logPath)}`,
      );
    }
    await sleep(200);
  }
}

export async function readNodeState(dir: string): Promise<NodeState | undefined> {
  try {
    return JSON.parse(await readFile(stateFile(dir), 'utf8')) as NodeState;
  } catch {
    return undefined;
  }
}

/** PIDs of the recorded agents that still run their binary. */
export function liveNodePids(state: NodeState): number[] {
  return Object.entries(state.pids)
    .filter(
      ([name, pid]) =>
        pid !== undefined && isAlive(pid) && runsBinary(pid, state.binaries[name as AgentName] ?? ''),
    )
    .map(([, pid]) => pid as number);
}

/**
 * Stops the node recorded under `dir` (or what a killed run left of one): the kubelet first (so it
 * does not restart what is being killed), the other agents, then every process left in the node's
 * cgroups (shims, Pods), the mounts under the node's folder, the network namespace, the folder.
 */
export async function stopNode(dir: string, log: Log = stderrLog): Promise<void> {
  // Only a cluster that made a node cleans one: the names are fixed, and another folder's node
  // may be running.
  if (!existsSync(nodeDirOf(dir))) return;
  const state = await readNodeState(dir);
  const order: AgentName[] = ['kubelet', 'kubeScheduler', 'kubeProxy', 'kubeRouter', 'containerd'];
  if (state) {
    for (const name of order) {
      const pid = state.pids[name];
      if (pid !== undefined && isAlive(pid) && runsBinary(pid, state.binaries[name] ?? '')) {
        log(`node: ${name} (pid ${pid}): ${await stopPid(pid, 5_000)}`);
      }
    }
  }
  const killed = await destroyNodeCgroups(nodeCgroups(CGROUP_NAME));
  if (killed > 0) log(`node: killed ${killed} process(es) left in the node's cgroups (shims, Pods)`);
  const unmounted = await unmountAllUnder(nodeDirOf(dir));
  if (unmounted > 0) log(`node: unmounted ${unmounted} mount(s)`);
  await deleteNodeNetwork(state?.network ?? NODE_NETWORK);
  await rm(nodeDirOf(dir), { recursive: true, force: true });
  await rm(NODE_OWNER_FILE, { force: true });
}
