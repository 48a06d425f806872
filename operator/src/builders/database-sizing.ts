// The size of a Territory's own PostgreSQL cluster (the dedicated tier): how many instances, how large a
// volume, how much CPU and memory each instance gets, and the PostgreSQL parameters that follow from
// that memory. The defaults come from the authority's size profile (profile.ts): a village and a région
// do not need the same database, and without explicit resources every database got the namespace's
// LimitRange defaults (a 512Mi limit), a région's as a village's. Each field of spec.database replaces
// its default one by one. Pure.

import { admittedQuantityValue, quantityValue } from '../api/quantity.ts';
import type { BuildContext } from './context.ts';
import { chooseProfile, type QuotaProfileName } from './profile.ts';

export interface CpuMemory {
  cpu: string;
  memory: string;
}

export interface DatabaseSize {
  /** PostgreSQL instances: 1 primary + replicas. */
  instances: number;
  /** Volume of each instance. */
  storage: string;
  /** Of each instance. The memory request equals the limit: see DATABASE_SIZES. */
  requests: CpuMemory;
  limits: CpuMemory;
  /** PostgreSQL's max_connections; work_mem is shared among them (postgresParameters). */
  maxConnections: number;
}

/**
 * One dedicated PostgreSQL cluster per profile.
 *
 * Memory: requested in full (request = limit), so a node under memory pressure evicts and OOM-kills
 * other Pods before PostgreSQL, whose every backend would be killed with the postmaster's restart.
 * CPU: compressible, so it is requested at a quarter of its limit and may burst.
 *
 * One instance for small and medium authorities, on purpose: small ones are meant for the shared tier
 * (database-tier.ts) once it exists, and a national platform must stay under 3,000 PostgreSQL Pods
 * (`territoryctl plan` counts them); any of them can ask for `instances: 2`. Large authorities get a
 * replica (high availability), xlarge ones two (a failover still leaves a replica).
 *
 * Volumes, per instance: a village's data fits in a few GiB; the quota profile (quota.ts) holds every
 * instance's volume with room to spare.
 */
export const DATABASE_SIZES: Record<QuotaProfileName, DatabaseSize> = {
  small: {
    instances: 1,
    storage: '5Gi',
    requests: { cpu: '250m', memory: '512Mi' },
    limits: { cpu: '1', memory: '512Mi' },
    maxConnections: 50,
  },
  medium: {
    instances: 1,
    storage: '20Gi',
    requests: { cpu: '500m', memory: '2Gi' },
    limits: { cpu: '2', memory: '2Gi' },
    maxConnections: 100,
  },
  large: {
    instances: 2,
    storage: '100Gi',
    requests: { cpu: '1', memory: '4Gi' },
    limits: { cpu: '4', memory: '4Gi' },
    maxConnections: 200,
  },
  xlarge: {
    instances: 3,
    storage: '500Gi',
    requests: { cpu: '2', memory: '8Gi' },
    limits: { cpu: '8', memory: '8Gi' },
    maxConnections: 300,
  },
};

const MB = 2 ** 20;
/** PostgreSQL's own default work_mem: below it, sorts spill to disk for no gain in safety. */
const MIN_WORK_MEM_MB = 4;
const MIN_MAINTENANCE_WORK_MEM_MB = 64;
const MAX_MAINTENANCE_WORK_MEM_MB = 2048;
/**
 * Memory a connection may take at the least (its backend, plus work_mem for a sort or two): a memory limit
 * set below the profile's lowers max_connections with it, so the sum below stays inside the limit.
 */
const MB_PER_CONNECTION = 10;
const MIN_CONNECTIONS = 20;

/**
 * PostgreSQL's memory parameters for an instance limited to `memoryLimit`, in whole MB (PostgreSQL's MB
 * is 1024 kB, i.e. a MiB), so that they stay inside the limit whatever the load:
 * - shared_buffers: 25% of the limit, the usual share for a server that has the machine to itself;
 * - effective_cache_size: 75% (a planner hint, allocates nothing: what shared_buffers and the page cache
 *   hold together);
 * - maintenance_work_mem: 1/16 of the limit, between 64MB (PostgreSQL's default) and 2GB (beyond, VACUUM
 *   and index builds gain little), taken by a few maintenance processes at a time;
 * - work_mem: half of what shared_buffers leaves, shared among max_connections: a query may take several
 *   work_mem at once (each sort or hash), and the rest is each connection's own memory, maintenance and
 *   autovacuum. Never below 4MB, PostgreSQL's default;
 * - max_connections: the profile's, lowered to one per 10MB of the limit (at least 20) when the limit is
 *   set below the profile's, so that shared_buffers, every connection's work_mem and maintenance_work_mem
 *   together stay inside the limit (from a 256Mi limit up).
 */
export function postgresParameters(memoryLimit: string, maxConnections: number): Record<string, string> {
  const limitMb = Math.floor(admittedQuantityValue(memoryLimit) / MB);
  const connections = Math.min(
    maxConnections,
    Math.max(MIN_CONNECTIONS, Math.floor(limitMb / MB_PER_CONNECTION)),
  );
  const sharedBuffers = Math.max(1, Math.floor(limitMb / 4));
  const effectiveCacheSize = Math.max(1, Math.floor((limitMb * 3) / 4));
  const maintenanceWorkMem = Math.min(
    MAX_MAINTENANCE_WORK_MEM_MB,
    Math.max(MIN_MAINTENANCE_WORK_MEM_MB, Math.floor(limitMb / 16)),
  );
  const workMem = Math.max(MIN_WORK_MEM_MB, Math.floor((limitMb - sharedBuffers) / 2 / connections));
  return {
    max_connections: String(connections),
    shared_buffers: `${sharedBuffers}MB`,
    effective_cache_size: `${effectiveCacheSize}MB`,
    maintenance_work_mem: `${maintenanceWorkMem}MB`,
    work_mem: `${workMem}MB`,
  };
}

/** The fields of spec.database that size it (all optional: the profile fills the gaps). */
export interface DatabaseSizeRequest {
  instances?: number | undefined;
  storage?: { size?: string | undefined } | undefined;
  resources?:
    | {
        requests?: { cpu?: string | undefined; memory?: string | undefined } | undefined;
        limits?: { cpu?: string | undefined; memory?: string | undefined } | undefined;
      }
    | undefined;
}

/** What a database Cluster is built with: a Territory's own (with its profile), or a pool's. */
export interface ClusterSizing {
  instances: number;
  storage: string;
  resources: { requests: CpuMemory; limits: CpuMemory };
  /** Follow the effective memory limit and the size's max_connections. */
  parameters: Record<string, string>;
}

/** What the database Cluster of a Territory is built with. */
export interface DatabaseSizing extends ClusterSizing {
  profile: QuotaProfileName;
}

/**
 * The profile's size, then each field the spec gives, one by one. A request the spec gives above the
 * profile's limit raises the limit to it, and a CPU limit below the profile's request lowers the request
 * to it: a request never exceeds its limit (Kubernetes refuses the Pod otherwise). A memory request the
 * spec leaves out equals the effective memory limit (reserved in full, as in the table); one it gives
 * below the limit is the authority's choice. The PostgreSQL parameters follow the effective memory limit.
 *
 * A volume never shrinks: `liveStorage`, the live Cluster's volume size, is kept when it is larger than
 * the effective one (the profile changed, or spec.database.storage.size was removed).
 */
export function resolveDatabaseSizing(
  profile: QuotaProfileName,
  asked: DatabaseSizeRequest,
  liveStorage?: string,
): DatabaseSizing {
  return { profile, ...resolveClusterSizing(DATABASE_SIZES[profile], asked, liveStorage) };
}

/** `size`, then each field `asked` gives, by the rules of resolveDatabaseSizing (shared with the pools). */
export function resolveClusterSizing(
  size: DatabaseSize,
  asked: DatabaseSizeRequest,
  liveStorage?: string,
): ClusterSizing {
  const requests = asked.resources?.requests;
  const limits = asked.resources?.limits;
  const cpuRequest = requests?.cpu ?? smaller(size.requests.cpu, limits?.cpu);
  const cpuLimit = limits?.cpu ?? larger(size.limits.cpu, cpuRequest);
  const memoryLimit = limits?.memory ?? larger(size.limits.memory, requests?.memory);
  const memoryRequest = requests?.memory ?? memoryLimit;
  return {
    instances: asked.instances ?? size.instances,
    storage: larger(asked.storage?.size ?? size.storage, liveStorage),
    resources: {
      requests: { cpu: cpuRequest, memory: memoryRequest },
      limits: { cpu: cpuLimit, memory: memoryLimit },
    },
    parameters: postgresParameters(memoryLimit, size.maxConnections),
  };
}

/** The Territory's database size: its profile, its spec, and the live Cluster's volume. */
export function databaseSizing(ctx: BuildContext): DatabaseSizing {
  const t = ctx.territory;
  return resolveDatabaseSizing(
    chooseProfile(t, ctx.authority.population),
    t.spec.database,
    ctx.liveDatabaseStorage,
  );
}

/**
 * The volume size a live Cluster was built with (its spec.storage.size), for BuildContext.liveDatabaseStorage;
 * undefined when there is no Cluster or it holds no valid quantity there. Never throws.
 */
export function liveStorageOf(cluster: object | undefined): string | undefined {
  const size = (cluster as { spec?: { storage?: { size?: unknown } } } | undefined)?.spec?.storage?.size;
  return typeof size === 'string' && quantityValue(size) !== undefined ? size : undefined;
}

/** The larger of two quantities, as written; `b` when absent is ignored. */
function larger(a: string, b: string | undefined): string {
  return b !== undefined && admittedQuantityValue(b) > admittedQuantityValue(a) ? b : a;
}

function smaller(a: string, b: string | undefined): string {
  return b !== undefined && admittedQuantityValue(b) < admittedQuantityValue(a) ? b : a;
}
