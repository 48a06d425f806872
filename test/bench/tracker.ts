// The bench's eyes: one informer (the runtime's own list+watch) per observed kind, recording WHEN each
// object first satisfied a predicate, so convergence and reaction times are read from watch events
// rather than from polling (5,000 Territories polled every second would load the API server more
// than the operator does).
import { Informer } from '../../operator/src/runtime/informer.ts';
import type { KubeClient } from '../../operator/src/runtime/kube-client.ts';
import type { KubeObject, ResourceSelector } from '../../operator/src/runtime/types.ts';

type Predicate = (o: KubeObject) => boolean;

interface Waiter {
  key: string;
  predicate: Predicate;
  resolve: (at: number) => void;
}

export class Tracker {
  readonly informer: Informer;
  readonly #goal: Predicate;
  /** performance.now() when each key last became satisfying (cleared when it stops satisfying). */
  readonly #satisfiedAt = new Map<string, number>();
  #waiters: Waiter[] = [];
  #onSatisfied: ((count: number) => void) | undefined;

  constructor(client: KubeClient, selector: ResourceSelector, goal: Predicate = () => true) {
    this.#goal = goal;
    this.informer = new Informer(client, { ...selector, watchTimeoutSeconds: 300 });
    const seen = (o: KubeObject) => this.#seen(o);
    this.informer.on({
      add: seen,
      update: (_old, o) => seen(o),
      delete: (o) => {
        const key = keyOf(o);
        this.#satisfiedAt.delete(key);
      },
    });
  }

  async start(): Promise<void> {
    this.informer.start();
    await this.informer.waitForSync();
  }

  stop(): Promise<void> {
    return this.informer.stop();
  }

  /** Called with the number of satisfying objects each time one more satisfies the goal. */
  onProgress(fn: (count: number) => void): void {
    this.#onSatisfied = fn;
  }

  satisfiedCount(): number {
    return this.#satisfiedAt.size;
  }

  satisfiedTimes(): number[] {
    return [...this.#satisfiedAt.values()];
  }

  /** Resolves when the object `key` satisfies `predicate` (now, or at a later watch event): the time it did. */
  until(key: string, predicate: Predicate): Promise<number> {
    const now = this.informer.get(key);
    if (now && predicate(now)) return Promise.resolve(performance.now());
    return new Promise((resolve) => this.#waiters.push({ key, predicate, resolve }));
  }

  #seen(o: KubeObject): void {
    const at = performance.now();
    const key = keyOf(o);
    if (this.#goal(o)) {
      if (!this.#satisfiedAt.has(key)) {
        this.#satisfiedAt.set(key, at);
        this.#onSatisfied?.(this.#satisfiedAt.size);
      }
    } else {
      this.#satisfiedAt.delete(key);
    }
    if (this.#waiters.length === 0) return;
    const still: Waiter[] = [];
    for (const w of this.#waiters) {
      if (w.key === key && w.predicate(o)) w.resolve(at);
      else still.push(w);
    }
    this.#waiters = still;
  }
}

export function keyOf(o: KubeObject): string {
  return o.metadata.namespace ? `${o.metadata.namespace}/${o.metadata.name}` : (o.metadata.name ?? '');
}

interface ConditionLike {
  type: string;
  status: string;
  observedGeneration?: number;
}

/**
 * The parts that can be True on a cluster without CloudNativePG running. DatabaseReady needs a running
 * PostgreSQL (CloudNativePG's controller) and BackupReady a real S3 bucket with credentials and a first
 * backup, so Ready itself cannot be True here; "converged" is everything else.
 */
export const PARTS_POSSIBLE_WITHOUT_CNPG = [
  'AuthorityVerified',
  'SovereigntyCompliant',
  'NamespaceReady',
  'KeysReady',
];

/** observedGeneration caught up with generation (the operator has seen the latest spec). */
export function observedCurrent(o: KubeObject): boolean {
  const status = o.status as { observedGeneration?: number } | undefined;
  return status?.observedGeneration !== undefined && status.observedGeneration === o.metadata.generation;
}

/** Converged: observedGeneration current and every part possible without CloudNativePG True for it. */
export function converged(o: KubeObject): boolean {
  if (!observedCurrent(o)) return false;
  const conditions = ((o.status as { conditions?: ConditionLike[] } | undefined)?.conditions ??
    []) as ConditionLike[];
  return PARTS_POSSIBLE_WITHOUT_CNPG.every((type) =>
    conditions.some(
      (c) =>
        c.type === type &&
        c.status === 'True' &&
        (c.observedGeneration === undefined || c.observedGeneration === o.metadata.generation),
    ),
  );
}

/**
 * Converged in the Shared tier: as `converged`, and the Territory's database, roles and password verifiers
 * all created in its pool, waiting only for CloudNativePG's instance manager to apply them (DatabaseReady
 * DatabaseProvisioning), which a bench run does not have.
 */
export function convergedShared(o: KubeObject): boolean {
  if (!converged(o)) return false;
  const status = o.status as
    | { database?: { tier?: string }; conditions?: (ConditionLike & { reason?: string })[] }
    | undefined;
  const database = status?.conditions?.find((c) => c.type === 'DatabaseReady');
  return status?.database?.tier === 'Shared' && database?.reason === 'DatabaseProvisioning';
}

/** `Ready=False (Reason)` counts over the Territories: what Ready the cluster allows, said plainly. */
export function readySummary(objects: KubeObject[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const o of objects) {
    const c = (
      (o.status as { conditions?: (ConditionLike & { reason?: string })[] } | undefined)?.conditions ?? []
    ).find((x) => x.type === 'Ready');
    const key = c ? `Ready=${c.status} (${c.reason ?? ''})` : 'no Ready condition';
    out[key] = (out[key] ?? 0) + 1;
  }
  return out;
}
