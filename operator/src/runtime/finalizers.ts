// A controller's finalizer on its primary, added once by server-side apply: the operator's field manager
// owns that one entry of metadata.finalizers, and another controller's entries are left as they are.
import type { Applier, KubeObject } from './types.ts';

export async function ensureFinalizer(
  applier: Pick<Applier, 'apply'>,
  type: { apiVersion: string; kind: string },
  object: KubeObject,
  finalizer: string,
): Promise<void> {
  if (object.metadata.finalizers?.includes(finalizer)) return;
  await applier.apply(
    { ...type, metadata: { name: object.metadata.name, finalizers: [finalizer] } },
    { live: object },
  );
}
