import type { KubeObject, ManagedFieldsEntry } from './types.ts';

// Decides, without I/O, whether a server-side apply of `desired` would change anything. The steady state
// of the operator must make zero writes, so the applier asks this before sending a PATCH.
//
// Two checks, both needed:
// 1. VALUES: every leaf of `desired` is present in `live` with an equal value (quantities such as
//    `1024Mi` / `1Gi` compare by value because the API server canonicalises them).
// 2. OWNERSHIP: the fields our field manager owns (live.metadata.managedFields) are exactly the fields
//    of `desired`. Without this, a field dropped from desired would look "satisfied" forever and never be
//    pruned by SSA; and a field another manager took over would never be re-applied.

/** How a path is held: a plain leaf, or a list with per-item ownership (associative/set list). */
type Shape = { kind: 'leaf' } | { kind: 'items'; count: number };

const SEP = '\u0000'; // label keys contain '/' and '.', so join paths with a byte no key can hold

/** Fields the API server never records in managedFields (see structured-merge-diff "strip meta"). */
const UNTRACKED = new Set(['apiVersion', 'kind', `metadata${SEP}name`, `metadata${SEP}namespace`]);

export interface SatisfiedOptions {
  fieldManager: string;
  /** `status` when comparing a status-subresource apply: only `status.*` is considered. */
  subresource?: 'status';
}

export function isSatisfied(
  desired: KubeObject,
  live: KubeObject | undefined,
  options: SatisfiedOptions,
): boolean {
  if (!live) return false;
  if (live.metadata.deletionTimestamp) return false; // let the caller see the real state via the API
  const scoped = scopeForSubresource(desired, options.subresource);
  const owned = ownedFieldShapes(live.metadata.managedFields, options.fieldManager, options.subresource);
  if (!owned) return false;
  const wanted = desiredFieldShapes(scoped);
  if (!sameShapes(wanted, owned)) return false;
  return isSubset(scoped, live, owned, []);
}

function scopeForSubresource(
  desired: KubeObject,
  subresource: 'status' | undefined,
): Record<string, unknown> {
  const { apiVersion: _a, kind: _k, metadata, status, ...rest } = desired;
  if (subresource === 'status') return status === undefined ? {} : { status };
  // A main-resource apply ignores `status` on kinds with a status subresource; comparing it would make
  // every object look unsatisfied once its controller fills status in.
  const { name: _n, namespace: _ns, ...meta } = metadata;
  // name/namespace are not recorded as owned fields; an otherwise empty metadata is not either.
  return Object.keys(meta).length > 0 ? { metadata: meta, ...rest } : rest;
}

/** Leaf paths of desired (arrays are leaves carrying their length). Nulls are skipped. */
export function desiredFieldShapes(obj: unknown, prefix: string[] = [], out = new Map<string, Shape>()) {
  if (Array.isArray(obj)) {
    out.set(prefix.join(SEP), { kind: 'items', count: obj.length });
    return out;
  }
  if (isRecord(obj)) {
    const entries = Object.entries(obj).filter(([, v]) => v !== null && v !== undefined);
    if (entries.length === 0 && prefix.length > 0) out.set(prefix.join(SEP), { kind: 'leaf' });
    for (const [k, v] of entries) desiredFieldShapes(v, [...prefix, k], out);
    return out;
  }
  if (obj !== null && obj !== undefined) out.set(prefix.join(SEP), { kind: 'leaf' });
  return out;
}

/**
 * Leaf paths owned by `manager` through Apply operations, from fieldsV1. Descends `f:` entries only;
 * a node holding `k:`/`v:`/`i:` entries is a list with per-item ownership, recorded with its item count.
 * Returns undefined when the manager owns nothing (first apply, or ownership was lost).
 */
export function ownedFieldShapes(
  managedFields: ManagedFieldsEntry[] | undefined,
  manager: string,
  subresource?: string,
): Map<string, Shape> | undefined {
  const entries = (managedFields ?? []).filter(
    (m) => m.manager === manager && m.operation === 'Apply' && (m.subresource ?? '') === (subresource ?? ''),
  );
  if (entries.length === 0) return undefined;
  const out = new Map<string, Shape>();
  for (const entry of entries) walkFields(entry.fieldsV1, [], out);
  return out;
}

function walkFields(node: unknown, prefix: string[], out: Map<string, Shape>): void {
  if (!isRecord(node)) return;
  const keys = Object.keys(node).filter((k) => k !== '.');
  const itemKeys = keys.filter((k) => k.startsWith('k:') || k.startsWith('v:') || k.startsWith('i:'));
  if (itemKeys.length > 0) {
    out.set(prefix.join(SEP), { kind: 'items', count: itemKeys.length });
    return;
  }
  const fieldKeys = keys.filter((k) => k.startsWith('f:'));
  if (fieldKeys.length === 0) {
    if (prefix.length > 0) out.set(prefix.join(SEP), { kind: 'leaf' });
    return;
  }
  for (const k of fieldKeys) walkFields(node[k], [...prefix, k.slice(2)], out);
}

/**
 * The API server records an atomic struct (`x-kubernetes-map-type: atomic`, e.g. a RoleBinding's roleRef
 * or a NetworkPolicy's podSelector) as ONE owned leaf, while desired spells out its inner fields: those
 * inner paths count as that one leaf. Without this, such objects never look satisfied and are re-applied
 * on every reconcile.
 */
function collapseIntoAtomic(wanted: Map<string, Shape>, owned: Map<string, Shape>): Map<string, Shape> {
  const atomic = [...owned].filter(([, shape]) => shape.kind === 'leaf').map(([path]) => `${path}${SEP}`);
  const out = new Map<string, Shape>();
  for (const [path, shape] of wanted) {
    const holder = atomic.find((prefix) => path.startsWith(prefix));
    if (holder) out.set(holder.slice(0, -SEP.length), { kind: 'leaf' });
    else out.set(path, shape);
  }
  return out;
}

function sameShapes(desiredShapes: Map<string, Shape>, owned: Map<string, Shape>): boolean {
  const wanted = collapseIntoAtomic(desiredShapes, owned);
  const ownedTracked = [...owned.keys()].filter((p) => !UNTRACKED.has(p));
  const wantedTracked = [...wanted.keys()].filter((p) => !UNTRACKED.has(p));
  if (ownedTracked.length !== wantedTracked.length) return false;
  for (const path of wantedTracked) {
    const w = wanted.get(path);
    const o = owned.get(path);
    if (!w || !o) return false;
    // Per-item ownership: we must own exactly as many items as we want (a dropped item must be pruned).
    // An owned leaf for a desired array is an atomic list: the value comparison decides.
    if (w.kind === 'items' && o.kind === 'items' && w.count !== o.count) return false;
    if (w.kind === 'leaf' && o.kind === 'items') return false;
  }
  return true;
}

function isSubset(desired: unknown, live: unknown, owned: Map<string, Shape>, path: string[]): boolean {
  if (desired === null || desired === undefined) return true;
  if (Array.isArray(desired)) {
    if (!Array.isArray(live)) return false;
    const shape = owned.get(path.join(SEP));
    if (shape?.kind === 'items') {
      // Associative or set list: other managers may own extra items; ours must each be present.
      const used = new Set<number>();
      return desired.every((d) => {
        const i = live.findIndex((l, idx) => !used.has(idx) && isSubset(d, l, new Map(), [...path, '*']));
        if (i < 0) return false;
        used.add(i);
        return true;
      });
    }
    // Atomic list: we own it whole, so it must match element for element.
    return (
      desired.length === live.length &&
      desired.every((d, i) => isSubset(d, live[i], new Map(), [...path, String(i)]))
    );
  }
  if (isRecord(desired)) {
    if (!isRecord(live)) return false;
    return Object.entries(desired).every(([k, v]) => isSubset(v, live[k], owned, [...path, k]));
  }
  return scalarEqual(desired, live);
}

function scalarEqual(desired: unknown, live: unknown): boolean {
  if (desired === live) return true;
  if (typeof desired === 'string' && typeof live === 'string') {
    const a = parseQuantity(desired);
    const b = parseQuantity(live);
    return a !== undefined && b !== undefined && Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a));
  }
  // int-or-string fields (ports, quantities) may come back as the other type
  if (typeof desired === 'number' && typeof live === 'string') return parseQuantity(live) === desired;
  if (typeof desired === 'string' && typeof live === 'number') return parseQuantity(desired) === live;
  return false;
}

const SUFFIX: Record<string, number> = {
  '': 1,
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};
const QUANTITY = /^([+-]?(?:\d+\.?\d*|\.\d+))(?:([eE][+-]?\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]))?$/;

/** Value of a Kubernetes resource.Quantity string, or undefined if it is not one. */
export function parseQuantity(s: string): number | undefined {
  const m = QUANTITY.exec(s.trim());
  if (!m?.[1]) return undefined;
  const base = Number(m[1]);
  if (m[2]) return Number(`${m[1]}${m[2]}`);
  const factor = SUFFIX[m[3] ?? ''];
  return factor === undefined ? undefined : base * factor;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
