// `npm start`: run the operator against the current kubeconfig. With no cluster configured, start the
// local control plane, install the CRDs, apply the examples, and show their status converging: the
// local default a newcomer sees first. The operator keeps running until Ctrl-C.
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { KubeConfig } from '@kubernetes/client-node';
import pino from 'pino';
import { parseAllDocuments } from 'yaml';
import { loadOperatorConfig } from '../config/operator-config.ts';
import { KubeClient } from '../runtime/kube-client.ts';
import { createLogger } from '../runtime/logger.ts';
import type { KubeObject } from '../runtime/types.ts';
import { installCustomResourceDefinitions } from '../territory/install.ts';
import { createOperator } from '../territory/operator.ts';
import { formatNextSteps, formatStatusTable } from '../territory/status-table.ts';

const REPO = resolve(import.meta.dirname, '..', '..', '..');
const LOCAL_CONFIG = join(REPO, 'operator', 'data', 'local-config.yaml');
const say = (line: string) => process.stderr.write(`${line}\n`);
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

async function startLocalControlPlane(): Promise<string> {
  say(
    'No cluster configured: starting the local control plane (etcd, kube-apiserver, kube-controller-manager).',
  );
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
  if (!kubeconfigPath) {
    kubeconfigPath = await startLocalControlPlane();
    configPath ??= LOCAL_CONFIG;
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
    const installed = await installCustomResourceDefinitions(client, { cnpg: 'if-available', log: say });
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

  if (local) {
    for (const t of readExamples()) {
      await client.patch(
        { apiVersion: t.apiVersion, kind: t.kind, name: t.metadata.name ?? '' },
        t,
        'apply',
        { fieldManager: 'territory-examples', force: true },
      );
    }
    say(
      `Applied ${readExamples().length} example Territories. Watching them converge (Ctrl-C to stop; npm run cluster:down to remove the cluster):`,
    );
    say(`  export KUBECONFIG=${kubeconfigPath}`);
  }

  let last = '';
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
