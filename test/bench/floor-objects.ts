// What the floor writer applies: for each Territory, exactly the objects the operator creates when the
// sovereignty gate is open and CloudNativePG is absent: the namespace, the tenancy objects (quota, limit
// range, network policies, roles, bindings) and the Secrets (keyring + one credential per role), built
// by the operator's own pure builders and planners. Only where they go differs: into `<prefix><name>`,
// labelled as the bench's, so the operator neither watches nor prunes them. In the Shared tier, also what
// the operator creates in the Territory's pool (its DatabaseRoles, Database and password verifiers, in
// `<prefix><pool namespace>`) and the pool's CA in its own namespace.
import { randomBytes } from 'node:crypto';
import { lookupAuthority } from '../../operator/src/api/geography.ts';
import type { DatabasePool } from '../../operator/src/api/pool.ts';
import type { Territory } from '../../operator/src/api/territory.ts';
import { type BuildContext, LABELS, type Owned } from '../../operator/src/builders/context.ts';
import { buildDesiredState } from '../../operator/src/builders/index.ts';
import { evaluateSovereignty } from '../../operator/src/builders/sovereignty.ts';
import type { OperatorConfig } from '../../operator/src/config/operator-config.ts';
import type { KubeObject } from '../../operator/src/runtime/types.ts';
import { planPoolCredentials } from '../../operator/src/territory/pool-credentials.ts';
import { planCredentials, planKeyring } from '../../operator/src/territory/secrets.ts';

export const FLOOR_PREFIX = 'floor-';
export const FLOOR_MANAGER = 'territory-bench-floor';
/** A certificate's shape, as the Territories' db-ca copies of their pool's CA (cnpg-stand-in.ts). */
const FLOOR_POOL_CA = '-----BEGIN CERTIFICATE-----\nTUlJQmJlbmNoQ0E=\n-----END CERTIFICATE-----\n';

/** The objects of one Territory, namespace first (everything else lives in it). */
export function floorObjects(
  t: Territory,
  config: OperatorConfig,
  now: Date,
  prefix = FLOOR_PREFIX,
  pool?: DatabasePool,
): Owned[] {
  const authority = lookupAuthority(t.spec.authority.kind, t.spec.authority.code);
  if (!authority.found) throw new Error(`${t.metadata.name}: ${authority.message}`);
  const verdict = evaluateSovereignty(
    { level: t.spec.hosting.level, regions: t.spec.hosting.regions ?? [] },
    config.cluster,
    config.providers,
    [],
  );
  if (!verdict.compliant)
    throw new Error(`${t.metadata.name}: the bench config must open the gate: ${verdict.message}`);
  const moved: Territory = { ...t, spec: { ...t.spec, namespace: `${prefix}${t.metadata.name}` } };
  const ctx: BuildContext = {
    territory: moved,
    authority,
    config,
    allowedRegions: verdict.allowedRegions,
    backupAllowed: false,
    barmanCloudPlugin: false,
    ...(pool
      ? {
          databasePool: {
            name: pool.metadata.name,
            namespace: floorPoolNamespace(pool, prefix),
            spec: pool.spec,
            serverCa: FLOOR_POOL_CA,
          },
        }
      : {}),
  };
  const desired = buildDesiredState(ctx);
  const keyring = planKeyring({ ctx, live: undefined, issued: [], kek: undefined, now, randomBytes });
  const credentials = planCredentials({
    ctx,
    live: () => undefined,
    now,
    rotationDays: config.credentialRotationDays,
    randomBytes,
  });
  const secrets = [keyring.write, ...credentials.writes].flatMap((w) => (w ? [w.object] : []));
  if (!pool) return [desired.namespace, ...desired.tenancy, ...secrets].map(relabel);
  const written = new Map(credentials.writes.map((w) => [w.object.metadata?.name, w.object as KubeObject]));
  const verifiers = planPoolCredentials({
    ctx,
    source: (name) => written.get(name),
    live: () => undefined,
    randomBytes,
  }).writes.map((w) => w.object);
  return [desired.namespace, ...desired.tenancy, ...secrets, ...verifiers, ...desired.database].map(relabel);
}

/** Where the floor writes a pool's share of the Territories' objects: `<prefix><pool namespace>`. */
export function floorPoolNamespace(pool: DatabasePool, prefix: string): string {
  return `${prefix}${pool.spec.namespace}`;
}

function relabel(o: Owned): Owned {
  return {
    ...o,
    metadata: { ...o.metadata, labels: { ...o.metadata?.labels, [LABELS.managedBy]: FLOOR_MANAGER } },
  };
}
