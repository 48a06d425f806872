// What every builder receives, and the metadata every owned object carries. Builders are pure:
// everything they need (the Territory, official facts, configuration, the sovereignty verdict) is
// in the context, so `territoryctl render` and the reconciler produce the same objects.
import type { KubernetesObject, V1ObjectMeta, V1OwnerReference } from '@kubernetes/client-node';
import type { DatabasePoolSpec } from '../api/pool.ts';
import type { Territory } from '../api/territory.ts';
import { API_VERSION, KIND, territoryNamespace } from '../api/territory.ts';
import type { OperatorConfig } from '../config/operator-config.ts';

export const MANAGED_BY = 'territory-operator';

export const LABELS = {
  managedBy: 'app.kubernetes.io/managed-by',
  partOf: 'app.kubernetes.io/part-of',
  component: 'app.kubernetes.io/component',
  territory: 'sovereign.dev/territory',
  authorityKind: 'sovereign.dev/authority-kind',
  authorityCode: 'sovereign.dev/authority-code',
  departement: 'sovereign.dev/departement',
  region: 'sovereign.dev/region',
  /** On a Territory's namespace: the DatabasePool holding its database, whose Pods then accept it. */
  pool: 'sovereign.dev/pool',
} as const;

/** Official facts derived from the authority's code (geography), never from free text in the spec. */
export interface AuthorityFacts {
  officialName: string;
  departement?: string | undefined;
  region?: string | undefined;
  population?: number | undefined;
  siren?: string | undefined;
}

/**
 * A point-in-time recovery of the database Cluster: the request (restoreRequestId) it serves, the instant
 * it recovers to, and the server whose physical backups it reads (a folder under
 * <pathPrefix>/<territory>/physical/: db, or db-<request> of an earlier recovery).
 */
export interface DatabaseBootstrap {
  request: string;
  targetTime: string;
  sourceServer: string;
}

/**
 * The DatabasePool a Territory's database lives in (the Shared tier), as the reconciler resolved it
 * (territory/tier.ts): the pool's name (its CloudNativePG Cluster's too), namespace and parsed spec.
 */
export interface DatabasePoolPlacement {
  name: string;
  namespace: string;
  spec: DatabasePoolSpec;
  /**
   * The PEM of the pool's server CA (`ca.crt` of CloudNativePG's `<pool>-ca` Secret in the pool's namespace),
   * which the Territory's `db-ca` Secret holds so that its Pods verify the pool's certificate. Absent until
   * CloudNativePG has issued it: no `db-ca` is built then.
   */
  serverCa?: string;
}

export interface BuildContext {
  territory: Territory;
  authority: AuthorityFacts;
  config: OperatorConfig;
  /** Regions workloads may be scheduled in: the sovereignty verdict's allowed regions. */
  allowedRegions: string[];
  /**
   * Whether backups may be configured: the destination is sovereign and its credentials exist.
   * When false, no backup object is built and the Cluster carries no object store.
   */
  backupAllowed: boolean;
  /**
   * Whether the API server serves the Barman Cloud plugin's ObjectStore kind (the plugin is installed):
   * physical backups go through it. Without it the Cluster names no plugin, since CloudNativePG refuses
   * to reconcile a Cluster whose plugin is unknown, and the database comes up without physical backups.
   * (The reconciler asks the API server only when physical backups are wanted; false otherwise.)
   */
  barmanCloudPlugin: boolean;
  /**
   * The API server's own addresses, read from the `kubernetes` Service's EndpointSlices (what Pods
   * reach behind its ClusterIP). Used for the instances' egress when `config.apiServerCidrs` is empty.
   */
  apiServerAddresses?: string[];
  /** The ports those addresses listen on (same EndpointSlices); the only ports the instances may reach. */
  apiServerPorts?: number[];
  /**
   * The point-in-time recovery the database Cluster was or is being created from; read by the reconciler
   * from the Cluster's annotation sovereign.dev/bootstrap, or from status.restore while it is re-created.
   * Absent: the Cluster is (or was) created empty by initdb, and everything is built as it always was.
   */
  databaseBootstrap?: DatabaseBootstrap;
  /**
   * The volume size of the live database Cluster (its spec.storage.size), read by the reconciler from the
   * cached Cluster. Volumes never shrink: when the size the Territory now asks for is smaller (its profile
   * changed, or spec.database.storage.size was removed), this one is kept. Absent: no Cluster yet, or
   * offline (`territoryctl render`).
   */
  liveDatabaseStorage?: string;
  /**
   * Where the database lives when it is Shared: a database of its own in this DatabasePool, and no cluster
   * in the Territory's namespace. Absent: the Dedicated tier, a cluster of the Territory's own, built as it
   * always was.
   */
  databasePool?: DatabasePoolPlacement;
  /**
   * When true, objects are built without owner references: used when a Territory with
   * `deletionPolicy: Retain` is deleted, so garbage collection leaves its data in place.
   */
  orphan?: boolean;
}

/** The namespace a Territory lives in (spec.namespace, or its name). */
export const namespaceOf = territoryNamespace;

export function ownerReference(t: Territory): V1OwnerReference {
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    name: t.metadata.name,
    uid: t.metadata.uid ?? '',
    controller: true,
    blockOwnerDeletion: true,
  };
}

export function territoryLabels(ctx: BuildContext): Record<string, string> {
  const { territory: t, authority } = ctx;
  const labels: Record<string, string> = {
    [LABELS.managedBy]: MANAGED_BY,
    [LABELS.partOf]: 'territory',
    [LABELS.territory]: t.metadata.name,
    [LABELS.authorityKind]: t.spec.authority.kind,
    [LABELS.authorityCode]: t.spec.authority.code,
  };
  if (authority.departement) labels[LABELS.departement] = authority.departement;
  if (authority.region) labels[LABELS.region] = authority.region;
  return labels;
}

/** Metadata for an object the Territory owns, in its namespace unless `namespaced` is false. */
export function ownedMeta(
  ctx: BuildContext,
  name: string,
  component: string,
  opts: { namespaced?: boolean; labels?: Record<string, string>; annotations?: Record<string, string> } = {},
): V1ObjectMeta {
  const meta: V1ObjectMeta = {
    name,
    labels: { ...territoryLabels(ctx), [LABELS.component]: component, ...opts.labels },
  };
  if (opts.namespaced !== false) meta.namespace = namespaceOf(ctx.territory);
  if (opts.annotations) meta.annotations = opts.annotations;
  if (!ctx.orphan && ctx.territory.metadata.uid) meta.ownerReferences = [ownerReference(ctx.territory)];
  return meta;
}

/** Node affinity that keeps a workload in the regions the sovereignty gate allowed (a Territory's or a pool's). */
export function regionAffinity(ctx: Pick<BuildContext, 'allowedRegions'>) {
  return {
    requiredDuringSchedulingIgnoredDuringExecution: {
      nodeSelectorTerms: [
        {
          matchExpressions: [
            { key: 'topology.kubernetes.io/region', operator: 'In', values: [...ctx.allowedRegions] },
          ],
        },
      ],
    },
  };
}

export type Owned = KubernetesObject & Record<string, unknown>;
