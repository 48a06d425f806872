import type { KubeClient } from './kube-client.ts';
import { isSatisfied } from './satisfies.ts';
import type { Applier, ApplyOptions, ApplyResult, KubeObject, ObjectRef } from './types.ts';

export interface ServerSideApplierOptions {
  /** The one field manager every apply uses, e.g. `territory-operator`. */
  fieldManager: string;
  /** Default for ApplyOptions.force. False: a conflict with another manager is an error to surface. */
  force?: boolean;
}

/** Server-managed metadata that must not be sent in an apply (SSA rejects managedFields; a stale
 * resourceVersion would turn the apply into a failing precondition). */
const SERVER_METADATA = [
  'managedFields',
  'resourceVersion',
  'uid',
  'creationTimestamp',
  'generation',
  'selfLink',
];

export function applyBody(desired: KubeObject): KubeObject {
  const metadata = { ...desired.metadata };
  for (const k of SERVER_METADATA) delete metadata[k];
  return { ...desired, metadata };
}

export function refOf(obj: KubeObject): ObjectRef {
  const { name, namespace } = obj.metadata;
  if (!name) throw new Error(`${obj.kind} without metadata.name cannot be applied`);
  return { apiVersion: obj.apiVersion, kind: obj.kind, name, ...(namespace ? { namespace } : {}) };
}

/**
 * Server-side apply with ONE field manager. Before writing it asks `isSatisfied(desired, live)`: when
 * the live object (from the caller's informer cache, or one GET) already holds every desired value and
 * our manager owns exactly those fields, no request is made. The steady state therefore writes nothing.
 */
export class ServerSideApplier implements Applier {
  readonly fieldManager: string;
  readonly #client: KubeClient;
  readonly #force: boolean;

  constructor(client: KubeClient, options: ServerSideApplierOptions) {
    this.#client = client;
    this.fieldManager = options.fieldManager;
    this.#force = options.force ?? false;
  }

  async apply(desired: KubeObject, options: ApplyOptions = {}): Promise<ApplyResult> {
    const ref = refOf(desired);
    if (!options.alwaysSend) {
      const live = options.live === undefined ? await this.#client.get(ref) : (options.live ?? undefined);
      if (live && isSatisfied(desired, live, { fieldManager: this.fieldManager })) {
        return { object: live, written: false };
      }
    }
    const object = await this.#client.patch(ref, applyBody(desired), 'apply', {
      fieldManager: this.fieldManager,
      force: options.force ?? this.#force,
    });
    return { object, written: true };
  }

  async applyStatus(desired: KubeObject, options: ApplyOptions = {}): Promise<ApplyResult> {
    const ref = refOf(desired);
    if (!options.alwaysSend) {
      const live = options.live === undefined ? await this.#client.get(ref) : (options.live ?? undefined);
      if (live && isSatisfied(desired, live, { fieldManager: this.fieldManager, subresource: 'status' })) {
        return { object: live, written: false };
      }
    }
    // Only identity + status: the /status endpoint ignores the rest, and sending it would muddle ownership.
    const body: KubeObject = {
      apiVersion: desired.apiVersion,
      kind: desired.kind,
      metadata: { name: ref.name, ...(ref.namespace ? { namespace: ref.namespace } : {}) },
      status: desired.status,
    };
    const object = await this.#client.patch(ref, body, 'apply', {
      fieldManager: this.fieldManager,
      // Status belongs to the controller alone: taking it over from a stale manager is always right.
      force: options.force ?? true,
      subresource: 'status',
    });
    return { object, written: true };
  }

  deleteIfExists(
    ref: ObjectRef,
    options: { propagationPolicy?: 'Foreground' | 'Background' | 'Orphan'; preconditionUid?: string } = {},
  ): Promise<boolean> {
    return this.#client.delete(ref, options);
  }
}
