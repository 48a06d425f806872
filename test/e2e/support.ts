// Helpers for e2e tests: the pinned kubectl against the e2e cluster, example Territories adapted to
// the cluster's region, and waiting on a Territory's conditions.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { inject } from 'vitest';
import { parse } from 'yaml';
import { applyManifests, type Kubectl, kubectl } from '../node/kubectl.ts';
import { waitFor } from '../support/kube.ts';

export const EXAMPLES_DIR = join(import.meta.dirname, '..', '..', 'examples');

export function clusterKubectl(): Kubectl {
  return { binary: inject('kubectlPath'), kubeconfig: inject('kubeconfigPath') };
}

export async function kubectlJson<T>(args: string[]): Promise<T> {
  return JSON.parse(await kubectl(clusterKubectl(), [...args, '-o', 'json'])) as T;
}

export interface Condition {
  type: string;
  status: string;
  reason: string;
  message: string;
}

export interface TerritoryObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; generation?: number; labels?: Record<string, string> };
  spec: {
    namespace?: string;
    hosting?: { level?: string; regions?: string[] };
    database?: { instances?: number; storage?: { size?: string } };
    deletionPolicy?: string;
    backup: {
      destination: {
        endpoint: string;
        credentialsSecret: { name: string; accessKeyIdKey?: string; secretAccessKeyKey?: string };
      };
    };
    [key: string]: unknown;
  };
  status?: { observedGeneration?: number; conditions?: Condition[] };
}

/** The test node has 2 CPUs: no example may ask more of it than it has. */
const MAX_TEST_INSTANCES = 2;

/**
 * An example Territory, renamed to be unique, placed in the e2e cluster's region and sized for its
 * one small node: at most two instances, and no CPU or memory reservation (Rennes Métropole's
 * example asks for three instances of one CPU each, which only a bigger cluster can schedule).
 */
export function exampleTerritory(file: string, region: string): TerritoryObject {
  const t = parse(readFileSync(join(EXAMPLES_DIR, file), 'utf8')) as TerritoryObject;
  const name = `${t.metadata.name.slice(0, 40)}-${randomBytes(2).toString('hex')}`;
  const { resources: _resources, ...database } = (t.spec.database ?? {}) as Record<string, unknown>;
  return {
    ...t,
    metadata: { ...t.metadata, name },
    spec: {
      ...t.spec,
      namespace: name,
      hosting: { ...t.spec.hosting, regions: [region] },
      database: { ...database, instances: Math.min(t.spec.database?.instances ?? 2, MAX_TEST_INSTANCES) },
    },
  };
}

export const namespaceOf = (t: TerritoryObject) => t.spec.namespace ?? t.metadata.name;

export const conditionOf = (t: TerritoryObject | undefined, type: string) =>
  t?.status?.conditions?.find((c) => c.type === type);

export async function getTerritory(name: string): Promise<TerritoryObject | undefined> {
  try {
    return await kubectlJson<TerritoryObject>(['get', 'territory', name]);
  } catch (error) {
    if (/NotFound|not found/.test((error as Error).message)) return undefined;
    throw error;
  }
}

/**
 * What the authority itself provides in its namespace once the operator made it: the backup
 * credentials and, when the Territory names one, its own key (32 random bytes).
 */
export async function provideAuthoritySecrets(
  t: TerritoryObject,
  accessKeyId: string,
  secretAccessKey: string,
): Promise<void> {
  const ns = namespaceOf(t);
  await waitFor(() => kubectl(clusterKubectl(), ['get', 'namespace', ns, '-o', 'name']).then(() => true), {
    what: `namespace ${ns} to be created by the operator`,
    timeoutMs: 60_000,
    intervalMs: 500,
  });
  const creds = t.spec.backup.destination.credentialsSecret;
  const customerKey = (
    t.spec.encryption as { customerKey?: { secretName: string; key?: string } } | undefined
  )?.customerKey;
  await applyManifests(clusterKubectl(), [
    {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: creds.name, namespace: ns },
      stringData: {
        [creds.accessKeyIdKey ?? 'ACCESS_KEY_ID']: accessKeyId,
        [creds.secretAccessKeyKey ?? 'ACCESS_SECRET_KEY']: secretAccessKey,
      },
    },
    ...(customerKey
      ? [
          {
            apiVersion: 'v1',
            kind: 'Secret',
            metadata: { name: customerKey.secretName, namespace: ns },
            data: { [customerKey.key ?? 'kek']: randomBytes(32).toString('base64') },
          },
        ]
      : []),
  ]);
}

/** Waits for a condition of the Territory's current generation, and returns the Territory. */
export async function waitForTerritoryCondition(
  name: string,
  type: string,
  status: string,
  timeoutMs: number,
): Promise<TerritoryObject> {
  let last: TerritoryObject | undefined;
  return waitFor(
    async () => {
      last = await getTerritory(name);
      const c = conditionOf(last, type);
      const current = last?.status?.observedGeneration === last?.metadata.generation;
      return current && c?.status === status ? last : undefined;
    },
    {
      what: () =>
        `Territory ${name} ${type}=${status}; conditions now: ${JSON.stringify(last?.status?.conditions?.map((c) => `${c.type}=${c.status} ${c.reason}: ${c.message}`))}`,
      timeoutMs,
      intervalMs: 1_000,
    },
  );
}
