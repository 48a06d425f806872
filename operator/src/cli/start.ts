// `npm start`: run the operator against the current kubeconfig. With no cluster configured, run a
// local cluster, install the CRDs, apply the examples, and show their status converging: the local
// default a newcomer sees first. When this machine can run one real node (Linux, root, the node's
// host packages: test/node/local-node.ts decides), the local cluster has one, with CloudNativePG,
// so the examples reach Ready with PostgreSQL serving; otherwise it is the node-less control plane,
// where everything but the database converges. The operator keeps running until Ctrl-C.
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { KubeConfig } from '@kubernetes/client-node';
import pino from 'pino';
import { parseAllDocuments } from 'yaml';
import { loadOperatorConfig } from '../config/operator-config.ts';
import { isConflict, isNotFound, KubeClient } from '../runtime/kube-client.ts';
import { createLogger } from '../runtime/logger.ts';
import type { KubeObject } from '../runtime/types.ts';
import { installCustomResourceDefinitions } from '../territory/install.ts';
import { createOperator } from '../territory/operator.ts';
import { formatNextSteps, formatStatusTable } from '../territory/status-table.ts';

const REPO = resolve(import.meta.dirname, '..', '..', '..');
const LOCAL_CONFIG = join(REPO, 'operator', 'data', 'local-config.yaml');
// Run as a child process: the operator's code (compiled into its image) never imports the test harness.
const LOCAL_NODE_CLI = join(REPO, 'test', 'node', 'local-node.ts');
const say = (line: string) => process.stderr.write(`${line}\n`);
/** How to stop the local cluster (test/controlplane/cli.ts honours TERRITORY_CLUSTER_DIR, as local-node.ts does). */
const STOP_CLUSTER = `${process.env.TERRITORY_CLUSTER_DIR ? `TERRITORY_CLUSTER_DIR=${process.env.TERRITORY_CLUSTER_DIR} ` : ''}npm run cluster:down`;
const run = promisify(execFile);

async function reachable(kubeconfigPath: string): Promise<boolean> {
  try {
    const kc = new KubeConfig();
    kc.loadFromFile(kubeconfigPath);
    const client = new KubeClient(kc);
    await client.request('GET', '/readyz', { verb: 'get', resource: 'readyz' });
    return true;
  } catch {
    return false;
  }
}

/** The first configured kubeconfig whose API server answers, if any. */
async function configuredCluster(): Promise<string | undefined> {
  const candidates = (process.env.KUBECONFIG ?? '').split(':').filter(Boolean);
  const home = join(homedir(), '.kube', 'config');
  if (candidates.length === 0 && existsSync(home)) candidates.push(home);
  for (const path of candidates) {
    if (existsSync(path) && (await reachable(path))) return path;
    say(`kubeconfig ${path}: no API server answers`);
  }
  return undefined;
}

/** What test/node/local-node.ts prints (its LocalNodeResult), as far as this file reads it. */
type LocalNode = {
  node: true;
  reused: boolean;
  dir: string;
  kubeconfig: string;
  kubectl: string;
  region: string;
  configPath: string;
  postgresImage: string;
  territories: KubeObject[];
  secrets: KubeObject[];
  unreachableBackupHosts: string[];
  unroutableCidr: string;
  maxInstances: number;
  databaseResources: { requests: { cpu: string; memory: string }; limits: { cpu: string; memory: string } };
  databaseStorage: string;
  postgresMajor: number;
};
type NoLocalNode = { node: false; reasons: string[] };

/**
 * The local cluster with one real node, started (detached) or reused, with the product's images and
 * CloudNativePG; undefined, having said why, when this machine cannot run a node.
 */
async function startLocalNode(): Promise<LocalNode | undefined> {
  say('No cluster configured: checking whether this machine can run a local cluster with one real node.');
  const child = run(process.execPath, [LOCAL_NODE_CLI, 'up'], { cwd: REPO, maxBuffer: 64 * 1024 * 1024 });
  child.child.stderr?.pipe(process.stderr);
  let stdout: string;
  try {
    ({ stdout } = await child);
  } catch (error) {
    const code = (error as { code?: number }).code;
    throw new Error(
      `the local cluster with a node did not come up (exit ${code}; its output is above). What did start ` +
        `keeps running: \`${STOP_CLUSTER}\` stops it. \`TERRITORY_LOCAL_NODE=off npm start\` runs without a node.`,
    );
  }
  const result = JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as LocalNode | NoLocalNode;
  if (result.node) return result;
  say('No local node, because:');
  for (const reason of result.reasons) say(`  - ${reason}`);
  say(
    'Instead: the local control plane without a node, as before. Nothing runs PostgreSQL there: on every ' +
      'Territory DatabaseReady stays False (WaitingForCloudNativePG, or Blocked behind an earlier part), and with it ' +
      'Ready; BackupReady stays False too (BackupCredentialsMissing: nobody provides backup credentials). The examples ' +
      'outside the region operator/data/local-config.yaml attests stay SovereigntyCompliant=False, by design, and ' +
      "Rennes Métropole's KeysReady=False until its own key is given: the table says why for each. The real node " +
      'and what it needs: docs/real-node.md.',
  );
  return undefined;
}

async function startLocalControlPlane(): Promise<string> {
  say('Starting the local control plane (etcd, kube-apiserver, kube-controller-manager) on 127.0.0.1.');
  say(
    'The first run builds Kubernetes from its Go modules (about 20 minutes on 2 cores), then it is cached.',
  );
  const cli = join(REPO, 'test', 'controlplane', 'cli.ts');
  const child = run(process.execPath, [cli, 'up'], { cwd: REPO, maxBuffer: 16 * 1024 * 1024 });
  child.child.stderr?.pipe(process.stderr);
  const { stdout } = await child;
  const kubeconfig = stdout.trim().split('\n').at(-1);
  if (!kubeconfig || !existsSync(kubeconfig))
    throw new Error(`cluster:up did not print a kubeconfig path (got: ${stdout})`);
  return kubeconfig;
}

/**
 * Creates the Secrets the authorities provide in their namespaces, each once its namespace exists
 * (the operator makes it). An existing one is left alone: a customer key is never replaced.
 */
async function provideAuthoritySecrets(client: KubeClient, secrets: KubeObject[]): Promise<void> {
  const pending = new Set(secrets);
  while (pending.size > 0) {
    for (const secret of pending) {
      try {
        await client.create(secret);
        pending.delete(secret);
      } catch (error) {
        if (isConflict(error)) pending.delete(secret);
        else if (!isNotFound(error)) {
          say(`Secret ${secret.metadata.namespace}/${secret.metadata.name}: ${(error as Error).message}`);
          pending.delete(secret);
        }
      }
    }
    if (pending.size > 0) await new Promise((r) => setTimeout(r, 1_000));
  }
  say(
    `Created what each authority would provide in its namespace: ${secrets.map((s) => `${s.metadata.namespace}/${s.metadata.name}`).join(', ')} ` +
      "(placeholder backup credentials; Rennes Métropole's own key, 32 random bytes; any already there is kept).",
  );
}

const elapsed = (ms: number) => {
  const s = Math.round(ms / 1000);
  return s < 60 ? `${s} s` : `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
};

type Cond = { type: string; status: string; reason?: string; message?: string; lastTransitionTime?: string };
const conditionOf = (t: KubeObject, type: string) =>
  ((t.status as { conditions?: Cond[] } | undefined)?.conditions ?? []).find((c) => c.type === type);

function readExamples(): KubeObject[] {
  const dir = join(REPO, 'examples');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .flatMap((f) => parseAllDocuments(readFileSync(join(dir, f), 'utf8')).map((d) => d.toJS() as KubeObject))
    .filter((o) => o?.kind === 'Territory');
}

async function main(): Promise<void> {
  let kubeconfigPath = await configuredCluster();
  let configPath = process.env.TERRITORY_CONFIG;
  const local = !kubeconfigPath;
  let node: LocalNode | undefined;
  if (!kubeconfigPath) {
    node = await startLocalNode();
    if (node) {
      kubeconfigPath = node.kubeconfig;
      configPath ??= node.configPath;
    } else {
      kubeconfigPath = await startLocalControlPlane();
      configPath ??= LOCAL_CONFIG;
    }
  }
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfigPath);
  const client = new KubeClient(kc);
  const config = loadOperatorConfig(configPath);
  if (!configPath) {
    say(
      'No operator configuration (TERRITORY_CONFIG): no hosting is attested, so every Territory stays fail-closed.',
    );
  }

  if (local) {
    // With the node, CloudNativePG's CRDs came with its manifests.
    const installed = await installCustomResourceDefinitions(client, {
      cnpg: node ? 'no' : 'if-available',
      log: say,
    });
    say(`Installed ${installed.join(', ')}.`);
  }

  // Operator logs go to a file in local mode so the status table stays readable.
  const logDir = join(REPO, '.territory');
  mkdirSync(logDir, { recursive: true });
  const logFile = join(logDir, 'operator.log');
  const logger = createLogger({
    level: process.env.LOG_LEVEL ?? 'info',
    ...(local ? { destination: pino.destination({ dest: logFile, mkdir: true, sync: false }) } : {}),
  });
  const operator = createOperator({
    kubeConfig: kc,
    config,
    logger,
    healthPort: Number(process.env.HEALTH_PORT ?? 8081),
  });
  const running = operator.start();
  say(
    `Operator running (health and metrics on :${process.env.HEALTH_PORT ?? 8081})${local ? `, logs in ${logFile}` : ''}.`,
  );

  const appliedAt = new Map<string, number>();
  if (local) {
    const territories = node ? node.territories : readExamples();
    if (node) {
      say(
        `Operator configuration: ${configPath} (Outscale SecNumCloud attested for the node's region ${node.region}, node evidence required).`,
      );
      const { requests, limits } = node.databaseResources;
      say(
        `The examples are sized for the one node: region ${node.region}, at most ${node.maxInstances} instances of ` +
          `PostgreSQL ${node.postgresMajor} (${node.postgresImage}), each requesting ${requests.cpu} CPU and ${requests.memory} ` +
          `(limits ${limits.cpu}, ${limits.memory}) rather than its profile's, a ${node.databaseStorage} volume unless the ` +
          "example names one, the node's StorageClass.",
      );
      say(
        `Backups cannot run locally: the examples back up to real providers' S3 endpoints (${node.unreachableBackupHosts.join(', ')}), ` +
          `which the configuration opens only to ${node.unroutableCidr}, a documentation range the node never routes, ` +
          'with placeholder credentials. BackupReady=True here means scheduled, NetworkPolicies written; every run will fail to connect.',
      );
    }
    for (const t of territories) {
      await client.patch(
        { apiVersion: t.apiVersion, kind: t.kind, name: t.metadata.name ?? '' },
        t,
        'apply',
        { fieldManager: 'territory-examples', force: true },
      );
      appliedAt.set(t.metadata.name ?? '', Date.now());
    }
    if (node) void provideAuthoritySecrets(client, node.secrets);
    say(
      `Applied ${territories.length} example Territories. Watching them converge (Ctrl-C stops the operator; ${STOP_CLUSTER} removes the cluster):`,
    );
    say(`  export KUBECONFIG=${kubeconfigPath}`);
    if (node) say(`  kubectl: ${node.kubectl}`);
    process.once('SIGINT', () =>
      say(`\nStopping the operator; the cluster keeps running (${STOP_CLUSTER} stops it).`),
    );
  }

  let last = '';
  const readyAt = new Map<string, number>();
  let allReadySaid = false;
  const readyBeforeThisRun = new Set<string>();
  const timer = setInterval(async () => {
    try {
      const list = await client.list({ apiVersion: 'sovereign.dev/v1alpha1', kind: 'Territory' });
      const table = formatStatusTable(list.items);
      if (table !== last) {
        const steps = formatNextSteps(list.items);
        process.stdout.write(
          `\n${new Date().toISOString()}\n${table}\n${steps ? `Not ready yet:\n${steps}\n` : ''}`,
        );
        last = table;
      }
      for (const t of list.items) {
        const name = t.metadata.name ?? '';
        if (readyAt.has(name) || conditionOf(t, 'Ready')?.status !== 'True') continue;
        readyAt.set(name, Date.now());
        const applied = appliedAt.get(name);
        const since = Date.parse(conditionOf(t, 'Ready')?.lastTransitionTime ?? '');
        if (applied !== undefined && since < applied - 1_000) readyBeforeThisRun.add(name);
        const when =
          applied === undefined
            ? ''
            : readyBeforeThisRun.has(name)
              ? ` since ${new Date(since).toISOString()}, before this run`
              : ` ${elapsed(Date.now() - applied)} after apply`;
        const endpoint = (t.status as { database?: { endpoint?: string } } | undefined)?.database?.endpoint;
        process.stdout.write(
          `${name}: Ready${when}; PostgreSQL serving${endpoint ? ` at ${endpoint}` : ''} ` +
            `(${conditionOf(t, 'DatabaseReady')?.message ?? 'database ready'})\n`,
        );
      }
      if (node && !allReadySaid && appliedAt.size > 0 && [...appliedAt.keys()].every((n) => readyAt.has(n))) {
        allReadySaid = true;
        const first = Math.min(...appliedAt.values());
        const after =
          readyBeforeThisRun.size === appliedAt.size
            ? '(since an earlier run)'
            : `${elapsed(Date.now() - first)} after the first apply`;
        process.stdout.write(
          `All ${appliedAt.size} examples Ready ${after}, PostgreSQL serving ` +
            `(TLS only) in each namespace. Try: ${node.kubectl} --kubeconfig ${kubeconfigPath} get pods -A\n`,
        );
      }
    } catch (err) {
      say(`status: ${(err as Error).message}`);
    }
  }, 2_000);
  await running;
  clearInterval(timer);
}

main().catch((err: unknown) => {
  say(`territory operator: ${(err as Error).message}`);
  process.exit(1);
});
