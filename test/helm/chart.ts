// Running the pinned helm (and kubectl) on the repository's chart, for the chart integration tests. Helm gets
// private config/cache/data folders, so tests never read or write the user's Helm set-up.
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { parseAllDocuments, parse as parseYaml, stringify } from 'yaml';
import { renderCrdYaml } from '../../operator/src/api/crd.ts';
import { cnpgCrds } from '../cnpg/crds.ts';
import { ensureHelmBinary } from './build.ts';

const exec = promisify(execFile);

export const CHART_DIR = resolve(import.meta.dirname, '..', '..', 'charts', 'territory-operator');

export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [key: string]: unknown;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

let helmHome: string | undefined;

function helmEnv(): NodeJS.ProcessEnv {
  helmHome ??= mkdtempSync(join(tmpdir(), 'territory-helm-'));
  return {
    ...process.env,
    HELM_CONFIG_HOME: join(helmHome, 'config'),
    HELM_CACHE_HOME: join(helmHome, 'cache'),
    HELM_DATA_HOME: join(helmHome, 'data'),
  };
}

async function run(file: string, args: string[], env: NodeJS.ProcessEnv, input?: string): Promise<RunResult> {
  const child = exec(file, args, { env, maxBuffer: 64 * 1024 * 1024 });
  if (input !== undefined) {
    child.child.stdin?.end(input);
  }
  try {
    const { stdout, stderr } = await child;
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string; message: string };
    if (typeof e.code !== 'number') throw error;
    return { code: e.code, stdout: e.stdout ?? '', stderr: e.stderr ?? e.message };
  }
}

/** Runs the pinned helm (building it into the cache first if needed). */
export async function helm(args: string[]): Promise<RunResult> {
  return run(await ensureHelmBinary(), args, helmEnv());
}

/** `--set-json` arguments from a values object: exact types, no --set string-parsing surprises. */
export function setJson(values: Record<string, unknown>): string[] {
  return Object.entries(values).flatMap(([k, v]) => ['--set-json', `${k}=${JSON.stringify(v)}`]);
}

/**
 * The Ingress domain every release installed by the tests declares. The test files share one API server,
 * and each release's admission policies judge every Territory namespace (as they do for the shards of one
 * cluster, which must be given the same admissionPolicies values): releases disagreeing on it would refuse
 * each other's Ingresses.
 */
export const TEST_INGRESS_DOMAIN = 'territoires.example.fr';

/** `helm template` of the chart (with TEST_INGRESS_DOMAIN); throws with helm's message when it fails. */
export async function renderChart(opts: {
  release: string;
  namespace: string;
  values?: Record<string, unknown>;
  includeCrds?: boolean;
}): Promise<{ text: string; manifests: Manifest[] }> {
  const args = [
    'template',
    opts.release,
    CHART_DIR,
    '--namespace',
    opts.namespace,
    ...setJson({ 'admissionPolicies.tenantIngressDomain': TEST_INGRESS_DOMAIN, ...opts.values }),
  ];
  if (opts.includeCrds) args.push('--include-crds');
  const result = await helm(args);
  if (result.code !== 0) throw new Error(`helm template failed (exit ${result.code}):\n${result.stderr}`);
  const manifests = parseAllDocuments(result.stdout)
    .map((d) => d.toJS() as Manifest | null)
    .filter((m): m is Manifest => m !== null);
  return { text: result.stdout, manifests };
}

/** kubectl with a given kubeconfig, manifests on stdin when given. */
export function kubectl(kubectlPath: string, kubeconfig: string, args: string[], input?: string) {
  return run(kubectlPath, ['--kubeconfig', kubeconfig, ...args], process.env, input);
}

export function findManifest(manifests: Manifest[], kind: string, name?: string): Manifest {
  const found = manifests.find((m) => m.kind === kind && (name === undefined || m.metadata.name === name));
  if (!found) {
    const have = manifests.map((m) => `${m.kind}/${m.metadata.name}`).join(', ');
    throw new Error(`no ${kind}${name ? ` ${name}` : ''} in the rendered chart (have: ${have})`);
  }
  return found;
}

/**
 * A kubeconfig that authenticates as a ServiceAccount with a real token (TokenRequest API, 1 hour), so the API
 * server authenticates and authorises requests exactly as it would for the operator's pod.
 */
export async function serviceAccountKubeconfig(opts: {
  kubectlPath: string;
  adminKubeconfig: string;
  namespace: string;
  serviceAccount: string;
}): Promise<string> {
  const admin = async (args: string[]) => {
    const r = await kubectl(opts.kubectlPath, opts.adminKubeconfig, args);
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed:\n${r.stderr}`);
    return r.stdout;
  };
  const token = (
    await admin(['create', 'token', opts.serviceAccount, '-n', opts.namespace, '--duration=1h'])
  ).trim();
  const view = parseYaml(await admin(['config', 'view', '--raw', '--minify'])) as {
    clusters: { name: string; cluster: Record<string, unknown> }[];
  };
  const cluster = view.clusters[0];
  if (!cluster) throw new Error('the admin kubeconfig has no cluster');
  const path = join(mkdtempSync(join(tmpdir(), 'territory-sa-')), `${opts.serviceAccount}.kubeconfig`);
  const user = `system:serviceaccount:${opts.namespace}:${opts.serviceAccount}`;
  writeFileSync(
    path,
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [cluster],
      users: [{ name: user, user: { token } }],
      contexts: [{ name: user, context: { cluster: cluster.name, user, namespace: opts.namespace } }],
      'current-context': user,
    }),
    { mode: 0o600 },
  );
  return path;
}

/** Our CRD (as generated), CloudNativePG's and its Barman Cloud plugin's pinned ones, applied as the platform would (admin). */
export async function installCrdsAsAdmin(kubectlPath: string, adminKubeconfig: string): Promise<void> {
  const cnpg = (await cnpgCrds()).map((o) => stringify(o)).join('---\n');
  for (const [args, input] of [
    [['apply', '--server-side', '--force-conflicts', '-f', '-'], renderCrdYaml()],
    [['apply', '--server-side', '--force-conflicts', '-f', '-'], cnpg],
    [
      [
        'wait',
        '--for=condition=Established',
        '--timeout=60s',
        'crd/territories.sovereign.dev',
        'crd/clusters.postgresql.cnpg.io',
        'crd/objectstores.barmancloud.cnpg.io',
      ],
      undefined,
    ],
  ] as const) {
    const r = await kubectl(kubectlPath, adminKubeconfig, [...args], input);
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed:\n${r.stderr}`);
  }
}

/** The kinds that make the operator's access: its identity, RBAC, and the chart's admission policies. */
export const ACCESS_KINDS = [
  'ServiceAccount',
  'ClusterRole',
  'ClusterRoleBinding',
  'Role',
  'RoleBinding',
  'ValidatingAdmissionPolicy',
  'ValidatingAdmissionPolicyBinding',
] as const;

export interface InstalledAccess {
  manifests: Manifest[];
  /** The cluster-scoped objects applied, for the clean-up. */
  clusterScoped: Manifest[];
  /** The operator's ServiceAccount name and a kubeconfig holding a real token for it. */
  serviceAccount: string;
  kubeconfig: string;
}

/**
 * Renders the chart and applies, as the platform's admin, what makes the operator's access (ACCESS_KINDS),
 * into an existing release namespace; returns a kubeconfig that authenticates as the operator.
 */
export async function installChartAccess(opts: {
  kubectlPath: string;
  adminKubeconfig: string;
  release: string;
  namespace: string;
  values?: Record<string, unknown>;
}): Promise<InstalledAccess> {
  const { manifests } = await renderChart({
    release: opts.release,
    namespace: opts.namespace,
    ...(opts.values ? { values: opts.values } : {}),
  });
  const access = manifests.filter((m) => (ACCESS_KINDS as readonly string[]).includes(m.kind));
  const r = await kubectl(
    opts.kubectlPath,
    opts.adminKubeconfig,
    ['apply', '--server-side', '-f', '-'],
    access.map((m) => stringify(m)).join('---\n'),
  );
  if (r.code !== 0) throw new Error(`applying the chart's access objects failed:\n${r.stderr}`);
  const serviceAccount = findManifest(access, 'ServiceAccount').metadata.name;
  const kubeconfig = await serviceAccountKubeconfig({
    kubectlPath: opts.kubectlPath,
    adminKubeconfig: opts.adminKubeconfig,
    namespace: opts.namespace,
    serviceAccount,
  });
  return {
    manifests,
    clusterScoped: access.filter((m) => !m.metadata.namespace && m.kind !== 'ServiceAccount'),
    serviceAccount,
    kubeconfig,
  };
}
