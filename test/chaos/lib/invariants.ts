// What must hold after any fault, computed from the API server alone (never from the operator's
// memory): every Territory converged to exactly what the builders say it owns (nothing missing,
// nothing extra, no duplicate, correct owner), no object left behind for a Territory that does not
// exist, and every keyring and password exactly as first seen.
import { lookupAuthority } from '../../../operator/src/api/geography.ts';
import { quantityValue } from '../../../operator/src/api/quantity.ts';
import {
  API_VERSION,
  KIND,
  parseTerritory,
  territoryNamespace,
} from '../../../operator/src/api/territory.ts';
import type { BuildContext, Owned } from '../../../operator/src/builders/context.ts';
import { credentialRoles } from '../../../operator/src/builders/database.ts';
import { buildDesiredState } from '../../../operator/src/builders/index.ts';
import { KEYRING_SECRET } from '../../../operator/src/builders/keys.ts';
import type { OperatorConfig } from '../../../operator/src/config/operator-config.ts';
import { OWNED_KINDS } from '../../../operator/src/territory/owned-kinds.ts';
import { type KubeHttp, type KubeItem, objectPath } from './kube-http.ts';
import type { SecretTracker } from './secret-tracker.ts';
import { BACKUP_SECRET, CHAOS_REGION } from './world.ts';

const MANAGED = encodeURIComponent('app.kubernetes.io/managed-by=territory-operator');
const TERRITORY_LABEL = 'sovereign.dev/territory';
/** Parts the operator alone brings to True (DatabaseReady needs CloudNativePG's controller, not run here). */
export const PARTS_DONE_BY_OPERATOR = [
  'AuthorityVerified',
  'SovereigntyCompliant',
  'NamespaceReady',
  'KeysReady',
  'BackupReady',
];

type Condition = { type: string; status: string; reason: string; message: string };
export type TerritoryItem = KubeItem & {
  spec?: Record<string, unknown>;
  status?: { observedGeneration?: number; conditions?: Condition[]; keys?: { versions?: { id: string }[] } };
};

export interface WorldCheck {
  territories: number;
  converged: number;
  notConverged: { name: string; why: string }[];
  /** Broken invariants: duplicates, orphans, wrong owners, changed keys. Must be empty. */
  violations: string[];
  ownedObjects: number;
}

/** desired ⊆ live: every field we set is there with our value (quantities compared by value). */
export function isSubset(desired: unknown, live: unknown): boolean {
  return firstDifference(desired, live) === undefined;
}

/** The path of the first field where live does not hold the desired value, or undefined. */
export function firstDifference(desired: unknown, live: unknown, path = ''): string | undefined {
  if (desired === undefined) return undefined;
  if (Array.isArray(desired)) {
    if (!Array.isArray(live) || desired.length !== live.length) return `${path} (array length)`;
    for (const [i, item] of desired.entries()) {
      const found = firstDifference(item, live[i], `${path}[${i}]`);
      if (found) return found;
    }
    return undefined;
  }
  if (desired !== null && typeof desired === 'object') {
    if (live === null || typeof live !== 'object' || Array.isArray(live)) return `${path} (not an object)`;
    for (const [k, v] of Object.entries(desired)) {
      const found = firstDifference(v, (live as Record<string, unknown>)[k], `${path}.${k}`);
      if (found) return found;
    }
    return undefined;
  }
  return scalarEqual(desired, live)
    ? undefined
    : `${path} (${JSON.stringify(desired)} != ${JSON.stringify(live)})`;
}

function scalarEqual(desired: unknown, live: unknown): boolean {
  if (desired === live) return true;
  if (typeof desired === 'string' && typeof live === 'string') {
    const a = quantityValue(desired);
    const b = quantityValue(live);
    return a !== undefined && b !== undefined && Math.abs(a - b) <= Math.abs(a) * 1e-9;
  }
  if (typeof desired === 'number' && typeof live === 'string') return String(desired) === live;
  return false;
}

const key = (kind: string, namespace: string | undefined, name: string) =>
  `${kind} ${namespace ?? ''}/${name}`;

/** The content fields the operator sets on each kind (metadata is checked separately). */
function contentOf(o: Owned | KubeItem): Record<string, unknown> {
  const {
    apiVersion: _a,
    kind: _k,
    metadata: _m,
    stringData: _s,
    status: _st,
    ...rest
  } = o as Record<string, unknown>;
  return rest;
}

export async function listOwned(kube: KubeHttp): Promise<KubeItem[]> {
  const all: KubeItem[] = [];
  for (const k of OWNED_KINDS) {
    const path = `${objectPath({ apiVersion: k.apiVersion, kind: k.kind })}?labelSelector=${MANAGED}`;
    const { items } = await kube.list(path).catch((error: Error) => {
      if (k.cnpg && /404/.test(error.message)) return { items: [] as KubeItem[] };
      throw error;
    });
    for (const item of items) all.push({ ...item, apiVersion: k.apiVersion, kind: k.kind });
  }
  return all;
}

export async function listTerritories(kube: KubeHttp, selector?: string): Promise<TerritoryItem[]> {
  const query = selector ? `?labelSelector=${encodeURIComponent(selector)}` : '';
  return (await kube.list<TerritoryItem>(`${objectPath({ apiVersion: API_VERSION, kind: KIND })}${query}`))
    .items;
}

/** Everything a Territory should own once converged, by `kind ns/name`. */
export function desiredObjects(
  t: TerritoryItem,
  config: OperatorConfig,
  backupCredentials: boolean,
): { objects: Map<string, Owned>; secrets: Set<string> } | { error: string } {
  const parsed = parseTerritory(t);
  if (!parsed.ok) return { error: `invalid spec: ${parsed.errors.join('; ')}` };
  const territory = parsed.territory;
  const a = territory.spec.authority;
  const facts = lookupAuthority(a.kind, a.code, a.displayName);
  if (!facts.found) return { error: facts.message };
  const ctx: BuildContext = {
    territory,
    authority: facts,
    config,
    allowedRegions: [CHAOS_REGION],
    backupAllowed: backupCredentials,
    // The chaos Territories ask for no physical backups.
    barmanCloudPlugin: false,
  };
  const state = buildDesiredState(ctx);
  const objects = new Map<string, Owned>();
  for (const o of [state.namespace, ...state.tenancy, ...state.database, ...state.backup]) {
    objects.set(key(o.kind ?? '', o.metadata?.namespace, o.metadata?.name ?? ''), o);
  }
  const ns = territoryNamespace(territory);
  const secrets = new Set(
    [KEYRING_SECRET, ...credentialRoles(ctx).map((r) => r.secret)].map((n) => key('Secret', ns, n)),
  );
  return { objects, secrets };
}

export async function checkWorld(
  kube: KubeHttp,
  config: OperatorConfig,
  tracker: SecretTracker,
  selector?: string,
): Promise<WorldCheck> {
  const territories = await listTerritories(kube, selector);
  const allTerritories = new Set((await listTerritories(kube)).map((t) => t.metadata.name));
  const owned = await listOwned(kube);
  const violations: string[] = [];
  const notConverged: { name: string; why: string }[] = [];

  const byTerritory = new Map<string, KubeItem[]>();
  for (const o of owned) {
    const owner = o.metadata.labels?.[TERRITORY_LABEL] ?? '';
    if (!allTerritories.has(owner)) {
      violations.push(
        `orphan: ${key(o.kind ?? '', o.metadata.namespace, o.metadata.name)} belongs to no Territory (${owner})`,
      );
      continue;
    }
    const list = byTerritory.get(owner) ?? [];
    list.push(o);
    byTerritory.set(owner, list);
  }

  let converged = 0;
  for (const t of territories) {
    const name = t.metadata.name;
    const why: string[] = [];
    const live = byTerritory.get(name) ?? [];
    const liveByKey = new Map<string, KubeItem>();
    for (const o of live) {
      const k = key(o.kind ?? '', o.metadata.namespace, o.metadata.name);
      if (liveByKey.has(k)) violations.push(`duplicate: ${k}`);
      liveByKey.set(k, o);
    }
    const ns = (t.spec?.namespace as string | undefined) ?? name;
    const credentials = await kube.get(
      objectPath({ apiVersion: 'v1', kind: 'Secret', namespace: ns, name: BACKUP_SECRET }),
    );
    const desired = desiredObjects(t, config, credentials.status === 200);
    if ('error' in desired) {
      notConverged.push({ name, why: desired.error });
      continue;
    }
    const expected = new Set([...desired.objects.keys(), ...desired.secrets]);
    for (const [k, want] of desired.objects) {
      const have = liveByKey.get(k);
      if (!have) {
        why.push(`missing ${k}`);
        continue;
      }
      if (!isSubset(want.metadata?.labels, have.metadata.labels)) why.push(`labels of ${k} differ`);
      const difference = firstDifference(contentOf(want), have);
      if (difference) why.push(`content of ${k} differs at ${difference}`);
    }
    for (const k of desired.secrets) if (!liveByKey.has(k)) why.push(`missing ${k}`);
    for (const [k, o] of liveByKey) {
      if (!expected.has(k)) violations.push(`extra: ${k} labelled for ${name} but not desired`);
      const controllers = (o.metadata.ownerReferences ?? []).filter((r) => r.controller);
      if (controllers.length !== 1 || controllers[0]?.uid !== t.metadata.uid) {
        violations.push(
          `owner: ${k} has controller owners ${JSON.stringify(controllers.map((r) => r.uid))}, not ${t.metadata.uid}`,
        );
      }
    }
    const namespaces = live.filter((o) => o.kind === 'Namespace');
    if (namespaces.length > 1) violations.push(`duplicate: ${name} owns ${namespaces.length} namespaces`);

    const status = t.status;
    if (status?.observedGeneration !== t.metadata.generation) {
      why.push(`observedGeneration ${status?.observedGeneration} != generation ${t.metadata.generation}`);
    }
    for (const type of PARTS_DONE_BY_OPERATOR) {
      const c = status?.conditions?.find((x) => x.type === type);
      if (c?.status !== 'True') why.push(`${type}=${c?.status ?? 'absent'} (${c?.reason ?? ''})`);
    }
    const keyring = tracker.keyrings.get(ns);
    const statusIds = (status?.keys?.versions ?? []).map((v) => v.id);
    if (keyring && statusIds.length > 0 && JSON.stringify(keyring.ids) !== JSON.stringify(statusIds)) {
      violations.push(
        `keys: status of ${name} lists ${statusIds.join(',')} but its keyring holds ${keyring.ids.join(',')}`,
      );
    }
    if (why.length === 0) converged++;
    else notConverged.push({ name, why: why.join('; ') });
  }

  for (const change of tracker.changes) {
    violations.push(`LOSS: ${change.secret} changed (${change.before} -> ${change.after}) at ${change.at}`);
  }
  for (const deleted of tracker.deletions) {
    violations.push(`LOSS: ${deleted} was deleted`);
  }
  return { territories: territories.length, converged, notConverged, violations, ownedObjects: owned.length };
}
