// Conditions in the metav1.Condition shape, and the one honest health of the whole stack. Pure.
//
// Each part (authority, sovereignty, namespace, keys, database, backup) reports an outcome; `Ready` is
// True only when every part is. The kstatus "abnormal-true" pair tells GitOps tools how to read a
// not-ready Territory: `Reconciling=True` means it is still converging (wait), `Stalled=True` means it
// cannot progress without a human (fix the spec, the cluster or the configuration).
import type { Condition, ConditionType } from '../api/territory.ts';

export type ConditionStatus = 'True' | 'False' | 'Unknown';

export interface PartOutcome {
  type: Exclude<ConditionType, 'Ready' | 'Reconciling' | 'Stalled'>;
  status: ConditionStatus;
  reason: string;
  message: string;
  /** Not True yet but expected to become so without intervention (e.g. the database is starting). */
  progressing?: boolean;
}

/** Part conditions in the order a reader (and `territoryctl status`) goes through them. */
export const PART_ORDER = [
  'AuthorityVerified',
  'SovereigntyCompliant',
  'NamespaceReady',
  'KeysReady',
  'DatabaseReady',
  'BackupReady',
] as const satisfies PartOutcome['type'][];

/** The parts every Territory has: one not reported (not reached) counts as not ready. */
export type RequiredPart = (typeof PART_ORDER)[number];

/**
 * Parts only some Territories have, reported only then: Restored, while spec.restore asks for a
 * restore. When reported they weigh on Ready like any part (a refused or failed restore leaves the
 * declared state unreached); when not, they are not missing.
 */
export const OPTIONAL_PARTS = ['Restored'] as const satisfies PartOutcome['type'][];

/**
 * Sets a condition, keeping lastTransitionTime when the status did not change, so that a
 * reconcile that observes nothing new writes nothing new.
 */
export function setCondition(
  existing: Condition[],
  next: { type: ConditionType; status: ConditionStatus; reason: string; message: string },
  now: string,
  generation: number | undefined,
): Condition[] {
  const previous = existing.find((c) => c.type === next.type);
  const condition: Condition = {
    type: next.type,
    status: next.status,
    reason: next.reason,
    message: truncate(next.message),
    lastTransitionTime: previous && previous.status === next.status ? previous.lastTransitionTime : now,
    ...(generation !== undefined ? { observedGeneration: generation } : {}),
  };
  return [...existing.filter((c) => c.type !== next.type), condition];
}

function truncate(message: string, max = 1024): string {
  return message.length <= max ? message : `${message.slice(0, max - 1)}…`;
}

export interface Health {
  ready: { status: ConditionStatus; reason: string; message: string };
  reconciling: { status: ConditionStatus; reason: string; message: string };
  stalled: { status: ConditionStatus; reason: string; message: string };
}

/**
 * Aggregates part outcomes. Parts not reported (not reached because an earlier part failed) count as
 * not ready. The first failing part, in PART_ORDER, gives Ready its reason: that is what to fix first.
 */
export function aggregateHealth(parts: PartOutcome[]): Health {
  const byType = new Map<string, PartOutcome>(parts.map((p) => [p.type, p]));
  const failing = [...PART_ORDER, ...OPTIONAL_PARTS]
    .map((type) => byType.get(type))
    .filter((p): p is PartOutcome => p !== undefined && p.status !== 'True');
  const missing = PART_ORDER.filter((type) => !byType.has(type));
  if (failing.length === 0 && missing.length === 0) {
    const ok = { status: 'False' as const, reason: 'Ready', message: 'every part of the stack is ready' };
    return {
      ready: { status: 'True', reason: 'Ready', message: 'namespace, keys, database and backups are ready' },
      reconciling: ok,
      stalled: ok,
    };
  }
  const first = failing[0];
  const blocked = failing.filter((p) => !p.progressing);
  const ready = first
    ? { status: 'False' as const, reason: first.reason, message: `${first.type}: ${first.message}` }
    : { status: 'False' as const, reason: 'Pending', message: `waiting for ${missing.join(', ')}` };
  if (blocked.length > 0) {
    const b = blocked[0] as PartOutcome;
    return {
      ready,
      reconciling: {
        status: 'False',
        reason: 'Stalled',
        message: 'cannot progress until the stalled part is fixed',
      },
      stalled: { status: 'True', reason: b.reason, message: `${b.type}: ${b.message}` },
    };
  }
  return {
    ready,
    reconciling: { status: 'True', reason: ready.reason, message: ready.message },
    stalled: { status: 'False', reason: 'Progressing', message: 'converging without intervention' },
  };
}

/** Builds the full, ordered condition list for status from part outcomes. */
export function buildConditions(
  existing: Condition[],
  parts: PartOutcome[],
  now: string,
  generation: number | undefined,
): Condition[] {
  const health = aggregateHealth(parts);
  let conditions = existing;
  for (const part of parts) conditions = setCondition(conditions, part, now, generation);
  conditions = setCondition(conditions, { type: 'Ready', ...health.ready }, now, generation);
  conditions = setCondition(conditions, { type: 'Reconciling', ...health.reconciling }, now, generation);
  conditions = setCondition(conditions, { type: 'Stalled', ...health.stalled }, now, generation);
  // Parts not reached this time are removed rather than left stale and misleading.
  const reported = new Set<string>(['Ready', 'Reconciling', 'Stalled', ...parts.map((p) => p.type)]);
  const order: string[] = ['Ready', ...PART_ORDER, ...OPTIONAL_PARTS, 'Reconciling', 'Stalled'];
  return conditions
    .filter((c) => reported.has(c.type))
    .sort((a, b) => order.indexOf(a.type) - order.indexOf(b.type));
}
