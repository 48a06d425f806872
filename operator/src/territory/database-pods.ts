// The database's Pods, read only to explain a database that is not healthy (see withUnschedulablePods in
// health.ts). Not cached: a cluster-wide Pod informer would hold every Pod of 5,000+ namespaces, tenants'
// workloads included, for a question asked only while a database is not healthy. One LIST instead, in the
// Territory's namespace, by CloudNativePG's cluster label, and only of Pods not yet bound to a node
// (`spec.nodeName=`, the field selector kube-scheduler itself uses): a steady, healthy database costs
// nothing, and a starting one usually gets an empty answer.
import { CLUSTER_NAME } from '../builders/database.ts';
import type { KubeObject, Logger } from '../runtime/types.ts';
import type { DirectKube } from './ports.ts';

export const DATABASE_POD_SELECTOR = {
  apiVersion: 'v1',
  kind: 'Pod',
  labelSelector: `cnpg.io/cluster=${CLUSTER_NAME}`,
  fieldSelector: 'spec.nodeName=',
} as const;

/**
 * The Cluster's Pods not yet on a node. Best effort: when the read fails (forbidden by a hand-trimmed
 * ClusterRole, a timeout), it says so at debug level and answers none, so DatabaseReady says what
 * CloudNativePG reports and the reconcile goes on.
 */
export async function readDatabasePods(
  kube: Pick<DirectKube, 'list'>,
  namespace: string,
  log: Logger,
): Promise<KubeObject[]> {
  try {
    return (await kube.list({ ...DATABASE_POD_SELECTOR, namespace })).items;
  } catch (error) {
    log.debug(
      { err: error instanceof Error ? error.message : String(error), namespace },
      "database Pods not read; DatabaseReady reports CloudNativePG's status alone",
    );
    return [];
  }
}
