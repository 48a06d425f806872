// Resource limits of a Territory: a ResourceQuota and a LimitRange from a size profile. The profile is
// chosen from the authority's kind and its official population (a village and a métropole do not need
// the same share of the cluster), and every value can be overridden in spec.quota.overrides.

import { admittedQuantityValue } from '../api/quantity.ts';
import { type BuildContext, type Owned, ownedMeta } from './context.ts';
import { databaseSizing } from './database-sizing.ts';
import { chooseProfile, type QuotaProfileName } from './profile.ts';

export interface QuotaProfile {
  requestsCpu: string;
  requestsMemory: string;
  limitsCpu: string;
  limitsMemory: string;
  requestsStorage: string;
  persistentVolumeClaims: number;
  pods: number;
  services: number;
  /**
   * Object counts: Secrets and ConfigMaps cost the API server and etcd memory whoever creates them, and
   * a namespace that can create them without bound can exhaust both for every other authority.
   */
  secrets: number;
  configMaps: number;
}

export const QUOTA_PROFILES: Record<QuotaProfileName, QuotaProfile> = {
  small: {
    requestsCpu: '2',
    requestsMemory: '4Gi',
    limitsCpu: '4',
    limitsMemory: '8Gi',
    requestsStorage: '50Gi',
    persistentVolumeClaims: 10,
    pods: 20,
    services: 10,
    secrets: 50,
    configMaps: 50,
  },
  medium: {
    requestsCpu: '4',
    requestsMemory: '8Gi',
    limitsCpu: '8',
    limitsMemory: '16Gi',
    requestsStorage: '200Gi',
    persistentVolumeClaims: 20,
    pods: 40,
    services: 20,
    secrets: 100,
    configMaps: 100,
  },
  large: {
    requestsCpu: '8',
    requestsMemory: '16Gi',
    limitsCpu: '16',
    limitsMemory: '32Gi',
    requestsStorage: '500Gi',
    persistentVolumeClaims: 40,
    pods: 80,
    services: 30,
    secrets: 200,
    configMaps: 200,
  },
  xlarge: {
    requestsCpu: '16',
    requestsMemory: '32Gi',
    limitsCpu: '32',
    limitsMemory: '64Gi',
    // The default xlarge database alone holds 1.5Ti (3 instances of 500Gi, database-sizing.ts): the
    // profile holds it with room for a few more volumes, rather than being raised to it exactly.
    requestsStorage: '2Ti',
    persistentVolumeClaims: 80,
    pods: 150,
    services: 50,
    secrets: 400,
    configMaps: 400,
  },
};

/** Bytes rounded up to whole GiB, the unit platform engineers read storage quotas in. */
function formatGi(value: number): string {
  return `${Math.ceil(value / 2 ** 30)}Gi`;
}

/** The profile, then its own database's volume needs (Dedicated), then the authority's explicit overrides. */
export function effectiveQuota(ctx: BuildContext): QuotaProfile & { profile: QuotaProfileName } {
  const t = ctx.territory;
  const profile = chooseProfile(t, ctx.authority.population);
  const base = { ...QUOTA_PROFILES[profile] };
  // Never create a database the quota would refuse: one volume per instance, at the size the Cluster is
  // built with (the profile's, the spec's, or the live one that cannot shrink). A database in a pool has
  // no volume in the Territory's namespace: the profile's quota stands.
  if (!ctx.databasePool) {
    const database = databaseSizing(ctx);
    const dbBytes = admittedQuantityValue(database.storage) * database.instances;
    if (dbBytes > admittedQuantityValue(base.requestsStorage)) base.requestsStorage = formatGi(dbBytes);
    base.persistentVolumeClaims = Math.max(base.persistentVolumeClaims, database.instances + 2);
  }
  const overrides = t.spec.quota.overrides ?? {};
  const merged = { ...base };
  for (const [k, v] of Object.entries(overrides)) {
    if (v !== undefined && v !== null) (merged as Record<string, unknown>)[k] = v;
  }
  return { ...merged, profile };
}

export function buildResourceQuota(ctx: BuildContext): Owned {
  const q = effectiveQuota(ctx);
  return {
    apiVersion: 'v1',
    kind: 'ResourceQuota',
    metadata: ownedMeta(ctx, 'territory-quota', 'quota', {
      annotations: { 'sovereign.dev/quota-profile': q.profile },
    }),
    spec: {
      hard: {
        'requests.cpu': q.requestsCpu,
        'requests.memory': q.requestsMemory,
        'limits.cpu': q.limitsCpu,
        'limits.memory': q.limitsMemory,
        'requests.storage': q.requestsStorage,
        persistentvolumeclaims: String(q.persistentVolumeClaims),
        pods: String(q.pods),
        services: String(q.services),
        'count/secrets': String(q.secrets),
        'count/configmaps': String(q.configMaps),
        'services.loadbalancers': '0',
        'services.nodeports': '0',
      },
    },
  };
}

/** Defaults so that pods without explicit resources still count against the quota. */
export function buildLimitRange(ctx: BuildContext): Owned {
  return {
    apiVersion: 'v1',
    kind: 'LimitRange',
    metadata: ownedMeta(ctx, 'territory-limits', 'quota'),
    spec: {
      limits: [
        {
          type: 'Container',
          defaultRequest: { cpu: '100m', memory: '128Mi' },
          default: { cpu: '500m', memory: '512Mi' },
        },
      ],
    },
  };
}
