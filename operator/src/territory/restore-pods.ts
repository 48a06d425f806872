// The restore Job's result, from its Pod's termination message (what `territory-backup restore-into`
// writes: counts and the backup's name, never data). Read once per request, when its Job has ended and
// status does not record it yet: one LIST in the namespace by the Job's own label, no Pod cache.
import { RESTORE_CONTAINER } from '../builders/restore.ts';
import type { Logger } from '../runtime/types.ts';
import type { DirectKube } from './ports.ts';
import { parseTermination, type RestoreTermination } from './restore.ts';

interface PodStatus {
  containerStatuses?: { name: string; state?: { terminated?: { message?: string } } }[];
}

/** Best effort: when the Pod is gone or cannot be read, status gives the phase without the details. */
export async function readRestoreTermination(
  kube: Pick<DirectKube, 'list'>,
  namespace: string,
  job: string,
  log: Logger,
): Promise<RestoreTermination | undefined> {
  try {
    const { items } = await kube.list({
      apiVersion: 'v1',
      kind: 'Pod',
      namespace,
      labelSelector: `batch.kubernetes.io/job-name=${job}`,
    });
    // The newest Pod that says something (a drained one is replaced and says nothing).
    const pods = items.sort((a, b) =>
      (b.metadata.creationTimestamp ?? '')
        .toString()
        .localeCompare((a.metadata.creationTimestamp ?? '').toString()),
    );
    for (const pod of pods) {
      const statuses = (pod.status as PodStatus | undefined)?.containerStatuses ?? [];
      const message = statuses.find((c) => c.name === RESTORE_CONTAINER)?.state?.terminated?.message;
      const parsed = parseTermination(message);
      if (parsed) return parsed;
    }
  } catch (error) {
    log.debug(
      { err: error instanceof Error ? error.message : String(error), namespace, job },
      'restore Pod not read; status.restore gives the phase without the details',
    );
  }
  return undefined;
}
