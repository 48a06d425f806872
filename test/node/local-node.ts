// The cluster `npm start` runs when no cluster is configured (operator/src/cli/start.ts runs this
// file as a child process, so the operator's own code never imports the test harness): decide
// whether this machine can run one real node; if it can, start the control plane with the node,
// detached, in the folder `npm run cluster:up` uses (or reuse the one an earlier run left up), build
// and import the product's images, install CloudNativePG and its Barman Cloud plugin from their
// manifests, and write the operator
// configuration for that node. The e2e suite's global set-up (test/e2e/global-setup.ts) does the same
// for its own cluster; the pure parts are shared through local-stack.ts.
//
//   node test/node/local-node.ts up
//
// Progress goes to stderr; stdout carries one JSON object, LocalNodeResult.
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';
import { formatDuration, type Log } from '../controlplane/binaries.ts';
import {
  isHealthy,
  readState,
  removeControlPlaneData,
  stopRecordedControlPlane,
} from '../controlplane/controlplane.ts';
import { installBarmanCloudPlugin } from './barman-cloud-install.ts';
import { DEFAULT_NODE_REGION, nodeHostProblems, startClusterWithNode } from './cluster.ts';
import { PG_MAJOR } from './images.ts';
import type { Kubectl } from './kubectl.ts';
import {
  authoritySecretManifests,
  backupHostOf,
  localNodeOperatorConfig,
  NODE_DATABASE_RESOURCES,
  NODE_DATABASE_STORAGE,
  NODE_MAX_INSTANCES,
  type SecretManifest,
  sizeForLocalNode,
  type TerritoryManifest,
  UNROUTABLE_BACKUP_CIDR,
} from './local-stack.ts';
import { NODE_NETWORK, netnsExists } from './network.ts';
import { liveNodePids, NODE_OWNER_FILE, type NodeState, readNodeState, stopNode } from './node.ts';
import { ensureProductImages } from './node-images.ts';
import { CNPG_NAMESPACE, importProductImages, installCloudNativePg } from './stack.ts';

const REPO_ROOT = resolve(import.meta.dirname, '..', '..');
const EXAMPLES_DIR = join(REPO_ROOT, 'examples');
const log: Log = (line) => process.stderr.write(`[local node] ${line}\n`);

export type LocalNodeResult =
  | {
      node: false;
      /** Why there is no node, one sentence each (what failed and what to do). */
      reasons: string[];
    }
  | {
      node: true;
      /** True when an earlier run's cluster was still up and is used again. */
      reused: boolean;
      dir: string;
      /** `TERRITORY_CLUSTER_DIR=… ` when the folder is not the default one, for the stop command. */
      stopCommand: string;
      kubeconfig: string;
      kubectl: string;
      region: string;
      /** The operator configuration for this node, written as YAML. */
      configPath: string;
      postgresImage: string;
      operatorImage: string;
      /** The examples, sized for the node. */
      territories: TerritoryManifest[];
      /** The Secrets each authority provides (placeholder backup credentials, a random own key). */
      secrets: SecretManifest[];
      /** The examples' backup hosts, which the configuration points at an unroutable range. */
      unreachableBackupHosts: string[];
      unroutableCidr: string;
      maxInstances: number;
      /** Each instance's resources, and the volume of an example that names none (sizeForLocalNode). */
      databaseResources: typeof NODE_DATABASE_RESOURCES;
      databaseStorage: string;
      postgresMajor: number;
      /** Seconds per step. */
      durations: Record<string, number>;
    };

const DEFAULT_CLUSTER_DIR = resolve(REPO_ROOT, '.territory', 'cluster');

function clusterDir(): string {
  return resolve(process.env.TERRITORY_CLUSTER_DIR ?? DEFAULT_CLUSTER_DIR);
}

function stopCommandFor(dir: string): string {
  return `${dir === DEFAULT_CLUSTER_DIR ? '' : `TERRITORY_CLUSTER_DIR=${dir} `}npm run cluster:down`;
}

export function readExampleTerritories(): TerritoryManifest[] {
  return readdirSync(EXAMPLES_DIR)
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .flatMap((f) => parseAllDocuments(readFileSync(join(EXAMPLES_DIR, f), 'utf8')).map((d) => d.toJS()))
    .filter((o): o is TerritoryManifest & { kind: string } => o?.kind === 'Territory');
}

/** The node recorded in `dir` runs: every agent alive, its network there, and the machine's node ours. */
function nodeRuns(dir: string, state: NodeState | undefined, owner: string): boolean {
  if (!state || !netnsExists(state.network) || owner !== dir) return false;
  const agents = Object.values(state.pids).filter((pid) => pid !== undefined).length;
  return agents > 0 && liveNodePids(state).length === agents;
}

async function up(): Promise<LocalNodeResult> {
  const optOut = process.env.TERRITORY_LOCAL_NODE;
  if (optOut && /^(0|no|off|false)$/i.test(optOut)) {
    return { node: false, reasons: [`TERRITORY_LOCAL_NODE=${optOut} asks for no node`] };
  }
  const problems = await nodeHostProblems();
  if (problems.length > 0) return { node: false, reasons: problems };

  const dir = clusterDir();
  const durations: Record<string, number> = {};
  const timed = async <T>(what: string, step: () => Promise<T>): Promise<T> => {
    const started = Date.now();
    const result = await step();
    durations[what] = (Date.now() - started) / 1000;
    log(`${what}: ${formatDuration(Date.now() - started)}`);
    return result;
  };
  const existing = await readState(dir);
  const healthy = existing !== undefined && (await isHealthy(existing));
  const recordedNode = await readNodeState(dir);
  const owner = existsSync(NODE_OWNER_FILE)
    ? resolve(readFileSync(NODE_OWNER_FILE, 'utf8').trim())
    : 'unknown';
  const reuse = healthy && nodeRuns(dir, recordedNode, owner);
  if (healthy && !reuse) {
    const what = recordedNode
      ? 'its node is not running any more'
      : 'it has no node (an earlier `npm start` that could not run one, or `npm run cluster:up`)';
    return {
      node: false,
      reasons: [
        `a local control plane is already running in ${dir} (since ${existing.startedAt}), but ${what}; ` +
          `\`${stopCommandFor(dir)}\` stops it (and deletes its data), then \`npm start\` starts one with a node`,
      ],
    };
  }
  if (!reuse && netnsExists(NODE_NETWORK) && owner !== dir) {
    return {
      node: false,
      reasons: [
        `another cluster with a node is running on this machine (folder ${owner}) and a machine runs one ` +
          `node at a time; \`TERRITORY_CLUSTER_DIR=${owner} npm run cluster:down\` stops it`,
      ],
    };
  }

  log(
    reuse
      ? `reusing the cluster with a node started at ${existing?.startedAt} in ${dir}`
      : 'this machine can run a real node (Linux, root, cgroup v1, runc, CNI plugins, iptables, ipset, buildah, Go)',
  );
  log(
    'images first: PostgreSQL for CloudNativePG, CloudNativePG and its Barman Cloud plugin, the operator (from ' +
      'the Containerfile). A first ' +
      'run builds them from Debian packages and the npm registry: about 12 minutes on 2 cores; a change under ' +
      'operator/ rebuilds the operator image only (a minute or two). Cached in ~/.cache/territory.',
  );
  const images = await timed('product images', () => ensureProductImages({ log }));

  let kubeconfig: string;
  let kubectlBinary: string;
  let node: NodeState;
  if (reuse && existing && recordedNode) {
    kubeconfig = existing.kubeconfigPath;
    kubectlBinary = existing.binaries.kubectl;
    node = recordedNode;
  } else {
    log(
      `starting the control plane and one node in ${dir}, detached (they outlive npm start). A first run ` +
        'builds Kubernetes (about 20 minutes on 2 cores) and the node’s components (containerd, CoreDNS, ' +
        'kube-router, local-path-provisioner, CloudNativePG: about 30 minutes), then caches them.',
    );
    // What a killed run may have left in this folder (cluster:up does the same).
    if (existing) await stopRecordedControlPlane(dir, log);
    await stopNode(dir, log);
    await removeControlPlaneData(dir);
    await rm(join(dir, 'logs'), { recursive: true, force: true });
    const cluster = await timed('cluster with node', () =>
      startClusterWithNode({ dir, detached: true, region: DEFAULT_NODE_REGION, log }),
    );
    kubeconfig = cluster.controlPlane.kubeconfigPath;
    kubectlBinary = cluster.controlPlane.binaries.kubectl;
    node = cluster.node.state;
  }
  const k: Kubectl = { binary: kubectlBinary, kubeconfig };
  const postgresImage = await timed('images imported into the node', () =>
    importProductImages(node, images, log),
  );
  log(`installing CloudNativePG from its release manifests in ${CNPG_NAMESPACE}`);
  await timed('CloudNativePG installed', () => installCloudNativePg(k, images.cnpg.ref));
  log(`installing CloudNativePG's Barman Cloud plugin (physical backups) in ${CNPG_NAMESPACE}`);
  await timed('Barman Cloud plugin installed', () =>
    installBarmanCloudPlugin(k, {
      plugin: images.barmanCloudPlugin.ref,
      sidecar: images.barmanCloudSidecar.ref,
    }),
  );

  const examples = readExampleTerritories();
  const unreachableBackupHosts = [...new Set(examples.map(backupHostOf))];
  const config = localNodeOperatorConfig({
    region: node.region,
    postgresImage,
    operatorImage: images.operator.ref,
    unreachableBackupHosts,
  });
  const configPath = join(dir, 'operator-config.yaml');
  await mkdir(dir, { recursive: true });
  await writeFile(
    configPath,
    `# The operator configuration npm start wrote for the local cluster with one node (test/node/local-stack.ts).\n${stringify(config)}`,
  );
  const territories = examples.map((t) =>
    sizeForLocalNode(t, { region: node.region, postgresMajor: PG_MAJOR }),
  );
  return {
    node: true,
    reused: reuse,
    dir,
    stopCommand: stopCommandFor(dir),
    kubeconfig,
    kubectl: kubectlBinary,
    region: node.region,
    configPath,
    postgresImage,
    operatorImage: images.operator.ref,
    territories,
    secrets: territories.flatMap((t) =>
      authoritySecretManifests(t, {
        accessKeyId: 'local-placeholder',
        secretAccessKey: 'local-placeholder',
        customerKey: randomBytes(32),
      }),
    ),
    unreachableBackupHosts,
    unroutableCidr: UNROUTABLE_BACKUP_CIDR,
    maxInstances: NODE_MAX_INSTANCES,
    databaseResources: NODE_DATABASE_RESOURCES,
    databaseStorage: NODE_DATABASE_STORAGE,
    postgresMajor: PG_MAJOR,
    durations,
  };
}

if (import.meta.main) {
  const command = process.argv[2];
  if (command !== 'up') {
    process.stderr.write('usage: node test/node/local-node.ts up\n');
    process.exit(2);
  }
  up().then(
    (result) => process.stdout.write(`${JSON.stringify(result)}\n`),
    (error: Error) => {
      process.stderr.write(`[local node] ${error.message}\n`);
      process.exit(1);
    },
  );
}
