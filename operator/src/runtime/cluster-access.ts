// Where the API server is and how to prove who we are: server URL, TLS material and the Authorization
// header. The operator loads this itself for the common cases (the in-cluster service account, or a
// kubeconfig holding certificates or a token) instead of importing @kubernetes/client-node's KubeConfig:
// that module loads every generated API model and costs ~90 MB of resident memory, more than a whole
// cache of 1,000 Territories. Kubeconfigs that need more (exec plugins, auth providers, basic auth) are
// handed to client-node, loaded only then.
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, dirname, isAbsolute, join } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import { parse as parseYaml } from 'yaml';

export interface ClusterTls {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  rejectUnauthorized: boolean;
  servername?: string;
}

export interface ClusterAccess {
  /** `https://host:port`, no trailing slash. */
  readonly server: string;
  /** Fixed for the life of a connection pool. */
  readonly tls: ClusterTls;
  /** Headers to send with each request (Authorization). Asked per request: tokens rotate. */
  headers(): Promise<Record<string, string>>;
}

const IN_CLUSTER_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';
/** A projected service-account token is refreshed by the kubelet well before expiry; client-go re-reads it every minute. */
const TOKEN_REREAD_MS = 60_000;

/**
 * Like client-node's `loadFromDefault`: `path` if given, else $KUBECONFIG (several files merged, the
 * first one wins), else ~/.kube/config, else the in-cluster service account.
 */
export async function loadClusterAccess(path?: string): Promise<ClusterAccess> {
  const fromEnv = (process.env.KUBECONFIG ?? '').split(delimiter).filter(Boolean);
  const home = join(homedir(), '.kube', 'config');
  const files = path ? [path] : fromEnv.length > 0 ? fromEnv : existsSync(home) ? [home] : [];
  if (files.length > 0) return fromKubeconfigFiles(files);
  if (process.env.KUBERNETES_SERVICE_HOST && existsSync(join(IN_CLUSTER_DIR, 'token'))) return inCluster();
  throw new Error(
    'no cluster configured: pass --kubeconfig, set KUBECONFIG, or run in a pod with a service account',
  );
}

export function inCluster(dir = IN_CLUSTER_DIR): ClusterAccess {
  const host = process.env.KUBERNETES_SERVICE_HOST ?? '';
  const port = process.env.KUBERNETES_SERVICE_PORT ?? '443';
  return {
    server: `https://${host.includes(':') ? `[${host}]` : host}:${port}`,
    tls: { ca: readFileSync(join(dir, 'ca.crt')), rejectUnauthorized: true },
    headers: bearerFromFile(join(dir, 'token')),
  };
}

type Named<T> = { name: string } & T;
interface KubeconfigFile {
  'current-context'?: string;
  contexts?: Named<{ context?: { cluster?: string; user?: string } }>[];
  clusters?: Named<{ cluster?: Record<string, unknown> }>[];
  users?: Named<{ user?: Record<string, unknown> }>[];
}

/** User entries this loader does not handle itself: client-node does, loaded only for them. */
const DELEGATED_USER_FIELDS = ['exec', 'auth-provider', 'username', 'password'];

export async function fromKubeconfigFiles(files: string[]): Promise<ClusterAccess> {
  const docs = files.map((file) => ({
    file,
    doc: (parseYaml(readFileSync(file, 'utf8')) ?? {}) as KubeconfigFile,
  }));
  const contextName = docs.find((d) => d.doc['current-context'])?.doc['current-context'];
  if (!contextName) throw new Error(`kubeconfig ${files.join(', ')}: no current-context`);
  const find = <T>(key: 'contexts' | 'clusters' | 'users', name: string | undefined) => {
    for (const { file, doc } of docs) {
      const hit = (doc[key] as Named<T>[] | undefined)?.find((e) => e.name === name);
      if (hit) return { entry: hit, base: dirname(file) };
    }
    return undefined;
  };
  const context = find<{ context?: { cluster?: string; user?: string } }>('contexts', contextName)?.entry
    .context;
  const cluster = find<{ cluster?: Record<string, unknown> }>('clusters', context?.cluster);
  const user = find<{ user?: Record<string, unknown> }>('users', context?.user);
  if (!context || !cluster?.entry.cluster) {
    throw new Error(`kubeconfig ${files.join(', ')}: context "${contextName}" or its cluster is missing`);
  }
  const u = user?.entry.user ?? {};
  if (DELEGATED_USER_FIELDS.some((f) => u[f] !== undefined)) return delegateToClientNode(files);
  const c = cluster.entry.cluster;
  const material = (dataKey: string, fileKey: string, base: string) => {
    const data = c[dataKey] ?? u[dataKey];
    if (typeof data === 'string') return Buffer.from(data, 'base64');
    const file = c[fileKey] ?? u[fileKey];
    return typeof file === 'string' ? readFileSync(isAbsolute(file) ? file : join(base, file)) : undefined;
  };
  const tls: ClusterTls = { rejectUnauthorized: c['insecure-skip-tls-verify'] !== true };
  const ca = material('certificate-authority-data', 'certificate-authority', cluster.base);
  const userBase = user?.base ?? cluster.base;
  const cert = material('client-certificate-data', 'client-certificate', userBase);
  const key = material('client-key-data', 'client-key', userBase);
  if (ca) tls.ca = ca;
  if (cert) tls.cert = cert;
  if (key) tls.key = key;
  if (typeof c['tls-server-name'] === 'string') tls.servername = c['tls-server-name'];
  const token = u.token;
  const tokenFile = u.tokenFile;
  const headers =
    typeof token === 'string'
      ? async () => ({ Authorization: `Bearer ${token}` })
      : typeof tokenFile === 'string'
        ? bearerFromFile(isAbsolute(tokenFile) ? tokenFile : join(userBase, tokenFile))
        : async () => ({});
  return { server: String(c.server ?? '').replace(/\/+$/, ''), tls, headers };
}

/** For callers that already hold a client-node KubeConfig (territoryctl, tests, exec-plugin users). */
export async function fromKubeConfig(kc: KubeConfig): Promise<ClusterAccess> {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('KubeConfig has no current cluster');
  const probe: Record<string, unknown> = {};
  await kc.applyToHTTPSOptions(probe);
  const tls: ClusterTls = { rejectUnauthorized: probe.rejectUnauthorized !== false };
  for (const k of ['ca', 'cert', 'key'] as const) {
    const v = probe[k];
    if (v !== undefined) tls[k] = Buffer.isBuffer(v) ? v : Buffer.from(String(v));
  }
  if (typeof probe.servername === 'string') tls.servername = probe.servername;
  return {
    server: cluster.server.replace(/\/+$/, ''),
    tls,
    async headers() {
      const opts: { headers?: Record<string, unknown>; auth?: string } = {};
      await kc.applyToHTTPSOptions(opts);
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(opts.headers ?? {})) headers[k] = String(v);
      if (opts.auth) headers.Authorization = `Basic ${Buffer.from(opts.auth).toString('base64')}`;
      return headers;
    },
  };
}

async function delegateToClientNode(files: string[]): Promise<ClusterAccess> {
  const { KubeConfig } = await import('@kubernetes/client-node');
  const kc = new KubeConfig();
  if (files.length === 1) kc.loadFromFile(files[0] as string);
  else kc.loadFromDefault();
  return fromKubeConfig(kc);
}

function bearerFromFile(file: string): () => Promise<Record<string, string>> {
  let token = '';
  let readAt = Number.NEGATIVE_INFINITY;
  return async () => {
    if (Date.now() - readAt > TOKEN_REREAD_MS) {
      token = readFileSync(file, 'utf8').trim();
      readAt = Date.now();
    }
    return { Authorization: `Bearer ${token}` };
  };
}
