// Helpers for e2e tests: the pinned kubectl against the e2e cluster, example Territories adapted to
// the cluster's region, and waiting on a Territory's conditions.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { inject } from 'vitest';
import { parse } from 'yaml';
import { PG_MAJOR } from '../node/images.ts';
import { applyManifests, type Kubectl, kubectl } from '../node/kubectl.ts';
import { authoritySecretManifests, sizeForLocalNode } from '../node/local-stack.ts';
import { waitFor } from '../support/kube.ts';
import type { ObjectStoreAccess } from './object-store.ts';

export const EXAMPLES_DIR = join(import.meta.dirname, '..', '..', 'examples');

let otherCluster: Kubectl | undefined;

/** The cluster the helpers below talk to: the suite's, or the one `useCluster` named (disaster recovery). */
export function clusterKubectl(): Kubectl {
  return otherCluster ?? { binary: inject('kubectlPath'), kubeconfig: inject('kubeconfigPath') };
}

/** Points every helper of this test file at another cluster (undefined: back to the suite's). */
export function useCluster(k: Kubectl | undefined): void {
  otherCluster = k;
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
    database?: { instances?: number; storage?: { size?: string }; tier?: string; pool?: string };
    deletionPolicy?: string;
    backup: {
      destination: {
        endpoint: string;
        credentialsSecret: { name: string; accessKeyIdKey?: string; secretAccessKeyKey?: string };
        endpointCA?: { name: string; key?: string };
      };
    };
    [key: string]: unknown;
  };
  status?: {
    observedGeneration?: number;
    conditions?: Condition[];
    database?: { tier?: string; pool?: string; endpoint?: string };
  };
}

/** The Secrets each example's namespace gets for the cluster's object storage. */
const STORE_CREDENTIALS = 'objectstore-credentials';
const STORE_CA = 'objectstore-ca';

/**
 * An example Territory, renamed to be unique, placed in the e2e cluster's region and sized for its
 * one small node (sizeForLocalNode, shared with `npm start`: two instances unless the example asks
 * for one, of the PostgreSQL major the node has an image for, the LimitRange's small resources, a
 * 10Gi volume unless the example names one, the node's default StorageClass), all said explicitly: the
 * operator would otherwise size the database from the authority's profile.
 * Its backups go to the cluster's own object storage: the examples name real providers' endpoints,
 * outside this machine. Below the SecNumCloud level (which refuses them), physical backups are turned
 * on explicitly, saying that the provider can read them, so that CloudNativePG's WAL archive is
 * exercised; the examples leave them off, the default.
 */
export function exampleTerritory(file: string, region: string, store: ObjectStoreAccess): TerritoryObject {
  const t = parse(readFileSync(join(EXAMPLES_DIR, file), 'utf8')) as TerritoryObject;
  const name = `${t.metadata.name.slice(0, 40)}-${randomBytes(2).toString('hex')}`;
  const destination = {
    endpoint: store.endpoint,
    bucket: store.bucket,
    region: store.region,
    credentialsSecret: { name: STORE_CREDENTIALS },
    endpointCA: { name: STORE_CA },
  };
  const physical =
    t.spec.hosting?.level === 'secnumcloud'
      ? {}
      : { physical: { enabled: true, encryption: 'ProviderManaged' } };
  return sizeForLocalNode(
    {
      ...t,
      metadata: { ...t.metadata, name },
      spec: { ...t.spec, namespace: name, backup: { ...t.spec.backup, ...physical, destination } },
    },
    { region, postgresMajor: PG_MAJOR },
  );
}

export const namespaceOf = (t: TerritoryObject) => t.spec.namespace ?? t.metadata.name;

/** The instances a Territory of exampleTerritory runs: always explicit (sizeForLocalNode). */
export function instancesOf(t: TerritoryObject): number {
  const instances = t.spec.database?.instances;
  if (instances === undefined)
    throw new Error(`${t.metadata.name} names no instances: not sized for the node`);
  return instances;
}

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
 * What the authority itself provides in its namespace once the operator made it: the object
 * storage's credentials and CA, and, when the Territory names one, its own key (32 random bytes).
 */
export async function provideAuthoritySecrets(
  t: TerritoryObject,
  store: ObjectStoreAccess,
  opts: { customerKey?: Uint8Array } = {},
): Promise<void> {
  const ns = namespaceOf(t);
  await waitFor(() => kubectl(clusterKubectl(), ['get', 'namespace', ns, '-o', 'name']).then(() => true), {
    what: `namespace ${ns} to be created by the operator`,
    timeoutMs: 60_000,
    intervalMs: 500,
  });
  const secrets = authoritySecretManifests(t, {
    accessKeyId: store.accessKeyId,
    secretAccessKey: store.secretAccessKey,
    customerKey: opts.customerKey ?? randomBytes(32),
  });
  await applyManifests(clusterKubectl(), [
    ...(secrets as unknown as Record<string, unknown>[]),
    {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: STORE_CA, namespace: ns },
      stringData: { 'ca.crt': store.caPem },
    },
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

/**
 * Runs `during` with the operator stopped (its Deployment scaled to 0 and its Pods gone), then starts it
 * again and waits for it to be available. A fresh operator lists everything anew: what `during` changed
 * is what it sees first, with no event of the old process's cache in between.
 */
export async function withOperatorStopped<T>(namespace: string, during: () => Promise<T>): Promise<T> {
  const selector = 'app.kubernetes.io/name=territory-operator';
  const k = clusterKubectl();
  const { items } = await kubectlJson<{
    items: { metadata: { name: string }; spec: { replicas?: number } }[];
  }>(['-n', namespace, 'get', 'deployments', '-l', selector]);
  const [deployment] = items;
  if (!deployment || items.length !== 1) throw new Error(`expected one operator Deployment in ${namespace}`);
  const name = deployment.metadata.name;
  await kubectl(k, ['-n', namespace, 'scale', 'deployment', name, '--replicas=0']);
  await kubectl(k, ['-n', namespace, 'wait', '--for=delete', 'pod', '-l', selector, '--timeout=180s']);
  try {
    return await during();
  } finally {
    await kubectl(k, [
      '-n',
      namespace,
      'scale',
      'deployment',
      name,
      `--replicas=${deployment.spec.replicas ?? 1}`,
    ]);
    await kubectl(k, ['-n', namespace, 'rollout', 'status', 'deployment', name, '--timeout=300s']);
  }
}
