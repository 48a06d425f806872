// Reaching the cluster: kubeconfig loading with errors that say what to do, and the reads every
// cluster subcommand shares (Territories, one Secret). Talks through the runtime's KubeClient, which
// returns plain JSON (timestamps stay strings, unknown fields are kept) — what the CLI prints.
// The Kubernetes client is loaded only when a command needs a cluster, so offline commands
// (render, register --file, decrypt) start without paying for it.
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import { API_VERSION, KIND, PLURAL } from '../../api/territory.ts';
import type { KubeClient } from '../../runtime/kube-client.ts';
import type { KubeObject } from '../../runtime/types.ts';
import { CliError, EXIT } from './errors.ts';

export interface ClusterOptions {
  kubeconfig?: string;
  context?: string;
}

const NO_CLUSTER_HINT = 'set KUBECONFIG or pass --kubeconfig (and --context to pick a context)';

/** The kubeconfig kubectl would use: --kubeconfig, then $KUBECONFIG, ~/.kube/config, in-cluster. */
export async function loadKubeConfig(
  opts: ClusterOptions,
  env: NodeJS.ProcessEnv = process.env,
): Promise<KubeConfig> {
  const { KubeConfig } = await import('@kubernetes/client-node');
  const kc = new KubeConfig();
  try {
    if (opts.kubeconfig) {
      if (!existsSync(opts.kubeconfig)) {
        throw new CliError(`no kubeconfig at ${opts.kubeconfig}`, {
          hint: NO_CLUSTER_HINT,
          exitCode: EXIT.usage,
        });
      }
      kc.loadFromFile(opts.kubeconfig);
    } else if (env.KUBECONFIG || existsSync(join(env.HOME ?? homedir(), '.kube', 'config'))) {
      kc.loadFromDefault();
    } else if (
      env.KUBERNETES_SERVICE_HOST &&
      existsSync('/var/run/secrets/kubernetes.io/serviceaccount/token')
    ) {
      kc.loadFromCluster();
    } else {
      throw new CliError('no cluster: no kubeconfig found', { hint: NO_CLUSTER_HINT, exitCode: EXIT.usage });
    }
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw new CliError(`cannot load the kubeconfig: ${(err as Error).message}`, {
      hint: NO_CLUSTER_HINT,
      exitCode: EXIT.usage,
    });
  }
  if (opts.context) {
    if (!kc.getContexts().some((c) => c.name === opts.context)) {
      throw new CliError(`no context "${opts.context}" in the kubeconfig`, {
        hint: `use one of: ${
          kc
            .getContexts()
            .map((c) => c.name)
            .join(', ') || '(none)'
        }`,
        exitCode: EXIT.usage,
      });
    }
    kc.setCurrentContext(opts.context);
  }
  if (!kc.getCurrentCluster()) {
    throw new CliError('no cluster: the kubeconfig has no current context', {
      hint: NO_CLUSTER_HINT,
      exitCode: EXIT.usage,
    });
  }
  return kc;
}

export async function connect(opts: ClusterOptions): Promise<KubeClient> {
  const kubeConfig = await loadKubeConfig(opts);
  const { KubeClient } = await import('../../runtime/kube-client.ts');
  return new KubeClient(kubeConfig);
}

/** The runtime's KubeApiError, recognised without loading the client. */
function apiError(err: unknown): { statusCode: number; message: string } | undefined {
  const e = err as { name?: unknown; statusCode?: unknown; message?: unknown };
  return e?.name === 'KubeApiError' && typeof e.statusCode === 'number'
    ? { statusCode: e.statusCode, message: String(e.message) }
    : undefined;
}

/** Turns transport and API errors into messages that say what to do. */
export function explain(err: unknown, kube: KubeClient, doing: string): Error {
  if (err instanceof CliError) return err;
  const server = kube.server || '(unknown server)';
  const api = apiError(err);
  if (api) {
    if (api.statusCode === 401) {
      return new CliError(`the cluster at ${server} refused the credentials while ${doing}`, {
        hint: 'log in again or refresh the kubeconfig credentials',
        exitCode: EXIT.usage,
      });
    }
    if (api.statusCode === 403) {
      return new CliError(`not allowed while ${doing}: ${api.message}`, {
        hint: 'ask a cluster administrator for the RBAC permission named above',
        exitCode: EXIT.usage,
      });
    }
    return new CliError(`the API server answered ${api.statusCode} while ${doing}: ${api.message}`);
  }
  // Transport failures are Node system errors (ECONNREFUSED, ENOTFOUND, ETIMEDOUT...), possibly wrapped.
  const { code, cause } = err as { code?: unknown; cause?: { code?: string } };
  const detail = typeof code === 'string' && code.startsWith('E') ? code : cause?.code;
  if (detail === undefined) return new CliError(`${doing}: ${(err as Error).message}`);
  return new CliError(`cannot reach the cluster at ${server} while ${doing} (${detail})`, {
    hint: `check the cluster is up and the kubeconfig points to it; ${NO_CLUSTER_HINT}`,
    exitCode: EXIT.usage,
  });
}

async function requireTerritoryApi(kube: KubeClient): Promise<void> {
  if (!(await kube.serves(API_VERSION, KIND))) {
    throw new CliError(`the cluster does not serve ${KIND} (${PLURAL}.${API_VERSION.split('/')[0]})`, {
      hint: 'install the Territory CRD (helm install the chart, or kubectl apply -f crds/); `territoryctl doctor` checks the rest',
      exitCode: EXIT.usage,
    });
  }
}

/** Every Territory on the cluster, sorted by name. */
export async function listTerritories(kube: KubeClient): Promise<KubeObject[]> {
  try {
    await requireTerritoryApi(kube);
    const { items } = await kube.list({ apiVersion: API_VERSION, kind: KIND });
    return items.sort((a, b) => (a.metadata.name ?? '').localeCompare(b.metadata.name ?? ''));
  } catch (err) {
    throw explain(err, kube, 'listing Territories');
  }
}

export async function getTerritory(kube: KubeClient, name: string): Promise<KubeObject> {
  let found: KubeObject | undefined;
  try {
    await requireTerritoryApi(kube);
    found = await kube.get({ apiVersion: API_VERSION, kind: KIND, name });
  } catch (err) {
    throw explain(err, kube, `reading Territory ${name}`);
  }
  if (!found) {
    throw new CliError(`no Territory named ${name}`, { hint: '`territoryctl status` lists them' });
  }
  return found;
}

/** A Secret's data, decoded; undefined when the Secret does not exist. Values never leave the caller. */
export async function readSecret(
  kube: KubeClient,
  namespace: string,
  name: string,
): Promise<Record<string, Buffer> | undefined> {
  let secret: KubeObject | undefined;
  try {
    secret = await kube.get({ apiVersion: 'v1', kind: 'Secret', namespace, name });
  } catch (err) {
    throw explain(err, kube, `reading Secret ${namespace}/${name}`);
  }
  if (!secret) return undefined;
  const data = (secret.data ?? {}) as Record<string, string>;
  return Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v, 'base64')]));
}
