// What the operator keeps of each watched object, and why. At 5,000 Territories the caches hold about
// 85,000 objects, so anything the reconciler never reads is dropped before caching:
// - managedFields of other managers, and our own Update entries (from creates): only our Apply entries
//   decide whether an apply would change anything (runtime/satisfies.ts);
// - the status of kinds whose status the reconciler does not judge (a ResourceQuota's usage...);
// - a Node's spec and status: only its name and region label matter to the sovereignty gate;
// - of the authority's Secrets (metadata-only watch), everything but name and resourceVersion;
// - of a restore drill's or a restore's Job, everything but who it is and how it is doing (its spec is
//   the CronJob's, or the builder's).
// The Territory keeps its status: conditions keep their transition times from it.
import { REGION_LABEL } from '../builders/sovereignty.ts';
import type { KubeObject } from '../runtime/types.ts';

const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

export function slimForCache(fieldManager: string, keepStatus: boolean) {
  return (obj: KubeObject): KubeObject => {
    const { managedFields, annotations, ...metadata } = obj.metadata;
    const ours = managedFields?.filter((e) => e.manager === fieldManager && e.operation === 'Apply') ?? [];
    const slim: KubeObject = { ...obj, metadata: { ...metadata } };
    if (ours.length > 0) slim.metadata.managedFields = ours;
    if (annotations) {
      const { [LAST_APPLIED]: _dropped, ...rest } = annotations;
      if (Object.keys(rest).length > 0) slim.metadata.annotations = rest;
    }
    if (!keepStatus) delete slim.status;
    return slim;
  };
}

/** An object seen through a metadata-only watch, reduced to who it is and its version. */
export function identityForCache(obj: KubeObject): KubeObject {
  const { name, namespace, uid, resourceVersion } = obj.metadata;
  return {
    apiVersion: obj.apiVersion,
    kind: obj.kind,
    metadata: { name, namespace, uid, resourceVersion },
  } as KubeObject;
}

/**
 * An object reduced to who it is and its labels: what the caches need of Nodes (the sovereignty gate reads
 * their region label) and of a pool's tenants' Database objects (counted by their pool label).
 */
export function labelledIdentityForCache(obj: KubeObject): KubeObject {
  const { name, namespace, uid, resourceVersion, labels, deletionTimestamp } = obj.metadata;
  return {
    apiVersion: obj.apiVersion,
    kind: obj.kind,
    metadata: {
      name,
      ...(namespace ? { namespace } : {}),
      uid,
      resourceVersion,
      ...(labels ? { labels } : {}),
      ...(deletionTimestamp ? { deletionTimestamp } : {}),
    },
  } as KubeObject;
}

/** A Node as the sovereignty gate sees it: a name and labels. */
export const nodeForCache = labelledIdentityForCache;

/** The Nodes of a cache as the sovereignty gate takes them: a name and a region, if labelled with one. */
export function nodeRegions(nodes: readonly KubeObject[]): { name: string; region: string | undefined }[] {
  return nodes.map((n) => ({ name: n.metadata.name ?? '', region: n.metadata.labels?.[REGION_LABEL] }));
}

/** A drill's or a restore's Job as the reconciler judges it: identity, labels, start, end, active Pods and conditions. */
export function jobForCache(job: KubeObject): KubeObject {
  const { name, namespace, uid, resourceVersion, labels, creationTimestamp } = job.metadata;
  const status = (job.status ?? {}) as {
    startTime?: string;
    completionTime?: string;
    active?: number;
    conditions?: {
      type: string;
      status: string;
      reason?: string;
      message?: string;
      lastTransitionTime?: string;
    }[];
  };
  return {
    apiVersion: job.apiVersion,
    kind: job.kind,
    metadata: {
      name,
      namespace,
      uid,
      resourceVersion,
      ...(labels ? { labels } : {}),
      ...(creationTimestamp ? { creationTimestamp } : {}),
    },
    status: {
      ...(status.startTime ? { startTime: status.startTime } : {}),
      ...(status.completionTime ? { completionTime: status.completionTime } : {}),
      ...(status.active ? { active: status.active } : {}),
      ...(status.conditions
        ? {
            conditions: status.conditions.map(({ type, status, reason, message, lastTransitionTime }) => ({
              type,
              status,
              ...(reason ? { reason } : {}),
              ...(message ? { message } : {}),
              ...(lastTransitionTime ? { lastTransitionTime } : {}),
            })),
          }
        : {}),
    },
  } as KubeObject;
}

/**
 * A DatabasePool as the Territories see it: its spec and whether it is Ready. Its other status (tenants,
 * times) is dropped, so that a pool taking one more tenant does not wake every Territory.
 */
export function poolForCache(pool: KubeObject): KubeObject {
  const { name, uid, resourceVersion, generation, labels, deletionTimestamp } = pool.metadata;
  const conditions = (pool.status as { conditions?: { type: string; status: string }[] } | undefined)
    ?.conditions;
  const ready = conditions?.find((c) => c.type === 'Ready');
  return {
    apiVersion: pool.apiVersion,
    kind: pool.kind,
    metadata: {
      name,
      uid,
      resourceVersion,
      generation,
      ...(labels ? { labels } : {}),
      ...(deletionTimestamp ? { deletionTimestamp } : {}),
    },
    spec: (pool as { spec?: unknown }).spec,
    ...(ready ? { status: { conditions: [{ type: 'Ready', status: ready.status }] } } : {}),
  } as KubeObject;
}
