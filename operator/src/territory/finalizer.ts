// Deleting a Territory. The finalizer makes deletion a deliberate, resumable sequence:
// - Retain (the default): every owned object loses its owner reference, so garbage collection keeps
//   the namespace, the database and the keys; an Event says so. Data is never deleted by accident.
// - Delete: backups schedules, then the database; once it is gone (nothing writes WAL any more), its
//   ObjectStore (the Barman Cloud plugin's destination), then every object under the physical backup prefix in the bucket (readable by the storage provider: the keys do not
//   protect them, physical-erasure.ts), then credentials, then the keyring LAST (crypto-shredding: the
//   logical backups left in the bucket become unreadable, SecNumCloud 19.4), then the namespace.
// Each step is idempotent; a crash in the middle resumes where it stopped. A step that cannot be done
// (the bucket unreachable) stops the sequence there: the reconcile fails and is retried with backoff.
import { POOL_API_VERSION, POOL_KIND } from '../api/pool.ts';
import { API_VERSION, KIND, type Territory } from '../api/territory.ts';
import { namespaceOf } from '../builders/context.ts';
import { CLUSTER_NAME } from '../builders/database.ts';
import { KEYRING_SECRET } from '../builders/keys.ts';
import type { KubeObject, Logger, ReconcileResult } from '../runtime/types.ts';
import { OWNED_KINDS, territoryOf } from './owned-kinds.ts';
import {
  erasedMessage,
  failedMessage,
  leftMessage,
  notCheckedMessage,
  planErasure,
} from './physical-erasure.ts';
import { ErasureError, erasePhysicalBackups } from './physical-erasure-store.ts';
import type { TerritoryPorts } from './ports.ts';

export const FINALIZER = 'sovereign.dev/territory-protection';

export async function finalizeTerritory(
  ports: TerritoryPorts,
  t: Territory,
  object: KubeObject,
  log: Logger,
): Promise<ReconcileResult> {
  if (!object.metadata.finalizers?.includes(FINALIZER)) return;
  const owned = ownedObjects(ports, t);
  if (t.spec.deletionPolicy === 'Delete') {
    const waiting = await deleteStack(ports, t, object, owned, log);
    if (waiting) return waiting;
  } else {
    await orphanStack(ports, t, object, owned, log);
  }
  // Releasing our finalizer (an apply that no longer lists it) lets the API server finish the deletion.
  await ports.applier.apply(
    { apiVersion: API_VERSION, kind: KIND, metadata: { name: t.metadata.name, finalizers: [] } },
    { alwaysSend: true },
  );
}

/** The Territory's objects: in its namespace, and in the pools' namespaces (its database in a pool). */
function ownedObjects(ports: TerritoryPorts, t: Territory): KubeObject[] {
  const ns = namespaceOf(t);
  const namespaces = [ns, ...poolNamespaces(ports).filter((n) => n !== ns)];
  return OWNED_KINDS.flatMap((k) =>
    (k.namespaced
      ? namespaces.flatMap((n) => ports.cache(k.apiVersion, k.kind)?.listInNamespace(n) ?? [])
      : [ports.cache(k.apiVersion, k.kind)?.get(ns)].filter((o) => o !== undefined)
    ).filter((o) => territoryOf(o) === t.metadata.name),
  );
}

function poolNamespaces(ports: TerritoryPorts): string[] {
  return (ports.cache(POOL_API_VERSION, POOL_KIND)?.list() ?? []).flatMap((pool) => {
    const namespace = (pool as { spec?: { namespace?: string } }).spec?.namespace;
    return namespace ? [namespace] : [];
  });
}

async function orphanStack(
  ports: TerritoryPorts,
  t: Territory,
  object: KubeObject,
  owned: KubeObject[],
  log: Logger,
) {
  let orphaned = 0;
  for (const o of owned) {
    if (!o.metadata.ownerReferences?.some((r) => r.uid === t.metadata.uid)) continue;
    const rest = o.metadata.ownerReferences.filter((r) => r.uid !== t.metadata.uid);
    await ports.kube.mergePatch(
      {
        apiVersion: o.apiVersion,
        kind: o.kind,
        name: o.metadata.name ?? '',
        ...(o.metadata.namespace ? { namespace: o.metadata.namespace } : {}),
      },
      { metadata: { ownerReferences: rest.length > 0 ? rest : null } },
    );
    orphaned++;
  }
  log.info({ orphaned }, 'territory deleted with deletionPolicy Retain: its objects are kept');
  ports.events.record(object, {
    type: 'Normal',
    reason: 'Retained',
    message: `deletionPolicy Retain: namespace ${namespaceOf(t)}, its database, keys and backups are kept (${orphaned} objects released from the Territory)`,
    action: 'Orphan',
  });
}

/**
 * Order matters: nothing may still write backups or data once the keys are gone. The ObjectStore goes
 * once the database is gone (its instances archive WAL through it until they stop), before the erasure.
 * In a pool, the Database object goes first (CloudNativePG drops the database), its roles once it is gone
 * (a role that owns a database cannot be dropped), then their password copies with the other Secrets.
 */
const DELETE_ORDER = [
  'CronJob',
  'ScheduledBackup',
  'Cluster',
  'Database',
  'DatabaseRole',
  'ObjectStore',
  'Secret',
];
const AFTER_THE_DATABASE = ['DatabaseRole', 'ObjectStore', 'Secret'];

/** How soon to look again while the database's instances stop (its deletion also wakes the Territory). */
const DATABASE_GONE_POLL_MS = 5_000;

/** Undefined once the stack is deleted; `requeueAfterMs` while a step waits for the cluster. */
async function deleteStack(
  ports: TerritoryPorts,
  t: Territory,
  object: KubeObject,
  owned: KubeObject[],
  log: Logger,
): Promise<{ requeueAfterMs: number } | undefined> {
  const ns = namespaceOf(t);
  const byOrder = (o: KubeObject) => {
    const i = DELETE_ORDER.indexOf(o.kind);
    // The keyring is the very last Secret.
    return o.kind === 'Secret' && o.metadata.name === KEYRING_SECRET ? DELETE_ORDER.length : i;
  };
  const steps = owned.filter((o) => byOrder(o) >= 0).sort((a, b) => byOrder(a) - byOrder(b));
  const remove = (o: KubeObject) =>
    ports.applier.deleteIfExists(
      { ...refOf(o), namespace: o.metadata.namespace ?? ns },
      { propagationPolicy: 'Foreground' },
    );
  for (const o of steps.filter((o) => !AFTER_THE_DATABASE.includes(o.kind))) await remove(o);
  // A database in a pool: CloudNativePG drops it when its Database object goes (reclaim policy delete).
  const database = owned.find((o) => o.kind === 'Database');
  if (
    database &&
    (await ports.kube.get({ ...refOf(database), namespace: database.metadata.namespace ?? ns }))
  ) {
    log.info({ pool: database.metadata.namespace }, 'waiting for the database to be dropped from its pool');
    return { requeueAfterMs: DATABASE_GONE_POLL_MS };
  }
  for (const o of steps.filter((o) => o.kind === 'DatabaseRole')) await remove(o);
  // Only a namespace labelled for this Territory: one it was refused (NamespaceConflict) belongs to
  // someone else, and deleting it (or using the credentials in it) would touch their data.
  const ownsNamespace = owned.some((o) => o.kind === 'Namespace' && o.metadata.name === ns);
  if (ownsNamespace) {
    // The bucket is emptied once the database is gone: with Foreground deletion, that is once its
    // instances have stopped, so no WAL is archived behind the erasure.
    const cluster = owned.find((o) => o.kind === 'Cluster' && o.metadata.name === CLUSTER_NAME);
    if (cluster && (await ports.kube.get({ ...refOf(cluster), namespace: ns }))) {
      log.info({}, 'waiting for the database to be deleted before erasing its physical backups');
      return { requeueAfterMs: DATABASE_GONE_POLL_MS };
    }
    for (const o of steps.filter((o) => o.kind === 'ObjectStore')) await remove(o);
    const namespace = owned.find((o) => o.kind === 'Namespace' && o.metadata.name === ns);
    await erasePhysical(ports, t, object, log, namespace?.metadata.deletionTimestamp !== undefined);
  } else if (!ports.cache('v1', 'Namespace')?.get(ns)) {
    ports.events.record(object, {
      type: 'Warning',
      reason: 'PhysicalBackupsNotChecked',
      message: notCheckedMessage(planErasure(t).target),
      action: 'Delete',
    });
  }
  for (const o of steps.filter((o) => o.kind === 'Secret')) {
    await remove(o);
    if (o.metadata.name === KEYRING_SECRET) {
      log.info({}, 'keyring destroyed (crypto-shredding)');
      ports.events.record(object, {
        type: 'Normal',
        reason: 'KeyringDestroyed',
        message: `deletionPolicy Delete: keyring of ${t.metadata.name} destroyed; the logical backups left in the bucket can no longer be decrypted (physical backups are not encrypted with it: see the PhysicalBackups Events)`,
        action: 'Delete',
      });
    }
  }
  if (!ownsNamespace) {
    ports.events.record(object, {
      type: 'Normal',
      reason: 'Deleted',
      message: `deletionPolicy Delete: namespace ${ns} was not created for this Territory and is left untouched`,
      action: 'Delete',
    });
    return;
  }
  await ports.applier.deleteIfExists({ apiVersion: 'v1', kind: 'Namespace', name: ns });
  ports.events.record(object, {
    type: 'Normal',
    reason: 'Deleted',
    message: `deletionPolicy Delete: namespace ${ns} is being deleted with everything in it`,
    action: 'Delete',
  });
  return undefined;
}

const refOf = (o: KubeObject) => ({ apiVersion: o.apiVersion, kind: o.kind, name: o.metadata.name ?? '' });

/**
 * Erases the physical backups, or records that a person accepted leaving them. Throws when it cannot, after
 * a Warning Event that says why: the finalizer goes no further (the bucket's credentials are in the
 * namespace), and the controller retries with backoff.
 *
 * A namespace already terminating was deleted by this finalizer after an erasure (a crash before the
 * finalizer was released brings us back here), or by hand: its Secrets may be gone, and a missing
 * credentials Secret then cannot be fixed by anyone. That case is reported, not waited on.
 */
async function erasePhysical(
  ports: TerritoryPorts,
  t: Territory,
  object: KubeObject,
  log: Logger,
  namespaceTerminating: boolean,
) {
  const plan = planErasure(t);
  const { target } = plan;
  const where = { bucket: target.bucket, prefix: target.prefix, host: target.host };
  if (plan.action === 'leave') {
    log.warn(where, 'physical backups left in the bucket, as the Territory’s annotation accepts');
    ports.events.record(object, {
      type: 'Warning',
      reason: 'PhysicalBackupsLeft',
      message: leftMessage(target, plan.acceptedBy),
      action: 'Delete',
    });
    return;
  }
  const fail = (reason: string): never => {
    const message = failedMessage(target, reason);
    log.warn({ ...where, reason }, 'cannot erase the physical backups: the deletion waits');
    ports.events.record(object, {
      type: 'Warning',
      reason: 'PhysicalBackupErasureFailed',
      message,
      action: 'Delete',
    });
    throw new Error(message);
  };
  if (plan.action === 'fail') fail(plan.reason);
  let result: Awaited<ReturnType<typeof erasePhysicalBackups>>;
  try {
    result = await erasePhysicalBackups(ports.kube, target);
  } catch (error) {
    if (namespaceTerminating && error instanceof ErasureError && error.secretMissing) {
      ports.events.record(object, {
        type: 'Warning',
        reason: 'PhysicalBackupsNotChecked',
        message: notCheckedMessage(target),
        action: 'Delete',
      });
      return;
    }
    return fail((error as Error).message);
  }
  log.info({ ...where, ...result }, 'physical backups erased');
  // A pass that finds the prefix empty (nothing was ever written, or an earlier pass of this same
  // deletion erased it before a retry) has nothing to tell a person: one Event per real erasure.
  if (result.erased + result.abortedUploads === 0) return;
  ports.events.record(object, {
    type: 'Normal',
    reason: 'PhysicalBackupsErased',
    message: erasedMessage(target, result.erased, result.abortedUploads),
    action: 'Delete',
  });
}
