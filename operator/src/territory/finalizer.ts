// Deleting a Territory. The finalizer makes deletion a deliberate, resumable sequence:
// - Retain (the default): every owned object loses its owner reference, so garbage collection keeps
//   the namespace, the database and the keys; an Event says so. Data is never deleted by accident.
// - Delete: backups schedules, then the database, then credentials, then the keyring LAST
//   (crypto-shredding: what remains in backups becomes unreadable, SecNumCloud 19.4), then the namespace.
// Each step is idempotent; a crash in the middle resumes where it stopped.
import { API_VERSION, KIND, type Territory } from '../api/territory.ts';
import { namespaceOf } from '../builders/context.ts';
import { KEYRING_SECRET } from '../builders/keys.ts';
import type { KubeObject, Logger, ReconcileResult } from '../runtime/types.ts';
import { OWNED_KINDS, territoryOf } from './owned-kinds.ts';
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
    await deleteStack(ports, t, object, owned, log);
  } else {
    await orphanStack(ports, t, object, owned, log);
  }
  // Releasing our finalizer (an apply that no longer lists it) lets the API server finish the deletion.
  await ports.applier.apply(
    { apiVersion: API_VERSION, kind: KIND, metadata: { name: t.metadata.name, finalizers: [] } },
    { alwaysSend: true },
  );
}

function ownedObjects(ports: TerritoryPorts, t: Territory): KubeObject[] {
  const ns = namespaceOf(t);
  return OWNED_KINDS.flatMap((k) =>
    (k.namespaced
      ? (ports.cache(k.apiVersion, k.kind)?.listInNamespace(ns) ?? [])
      : [ports.cache(k.apiVersion, k.kind)?.get(ns)].filter((o) => o !== undefined)
    ).filter((o) => territoryOf(o) === t.metadata.name),
  );
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

/** Order matters: nothing may still write backups or data once the keys are gone. */
const DELETE_ORDER = ['CronJob', 'ScheduledBackup', 'Cluster', 'Secret'];

async function deleteStack(
  ports: TerritoryPorts,
  t: Territory,
  object: KubeObject,
  owned: KubeObject[],
  log: Logger,
) {
  const ns = namespaceOf(t);
  const byOrder = (o: KubeObject) => {
    const i = DELETE_ORDER.indexOf(o.kind);
    // The keyring is the very last Secret.
    return o.kind === 'Secret' && o.metadata.name === KEYRING_SECRET ? DELETE_ORDER.length : i;
  };
  const steps = owned.filter((o) => byOrder(o) >= 0).sort((a, b) => byOrder(a) - byOrder(b));
  for (const o of steps) {
    const ref = { apiVersion: o.apiVersion, kind: o.kind, name: o.metadata.name ?? '', namespace: ns };
    await ports.applier.deleteIfExists(ref, { propagationPolicy: 'Foreground' });
    if (o.kind === 'Secret' && o.metadata.name === KEYRING_SECRET) {
      log.info({}, 'keyring destroyed (crypto-shredding)');
      ports.events.record(object, {
        type: 'Normal',
        reason: 'KeyringDestroyed',
        message: `deletionPolicy Delete: keyring of ${t.metadata.name} destroyed; its backups can no longer be decrypted`,
        action: 'Delete',
      });
    }
  }
  // Only a namespace labelled for this Territory: one it was refused (NamespaceConflict) belongs to
  // someone else, and deleting it would delete their data.
  if (!owned.some((o) => o.kind === 'Namespace' && o.metadata.name === ns)) {
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
}
