// The dedicated database's size: the table per profile, the spec's fields replacing it one by one, the
// PostgreSQL parameters that follow the memory limit, a volume that never shrinks, and a quota profile that
// always holds its own database with the backup and the drill beside it.
import { describe, expect, it } from 'vitest';
import { quantityValue } from '../api/quantity.ts';
import { DatabaseSchema } from '../api/stack.ts';
import { LOGICAL_BACKUP_CRONJOB } from './backup.ts';
import type { Owned } from './context.ts';
import {
  DATABASE_SIZES,
  type DatabaseSize,
  liveStorageOf,
  postgresParameters,
  resolveDatabaseSizing,
} from './database-sizing.ts';
import { context, withPhysicalBackups } from './fixtures.test-helpers.ts';
import { buildDesiredState } from './index.ts';
import { SIDECAR_RESOURCES } from './object-store.ts';
import { PROFILE_NAMES, type QuotaProfileName } from './profile.ts';
import { effectiveQuota, QUOTA_PROFILES } from './quota.ts';
import { RESTORE_DRILL_CRONJOB } from './restore-drill.ts';

const amount = (q: string | undefined) => {
  const value = q === undefined ? undefined : quantityValue(q);
  if (value === undefined) throw new Error(`not a quantity: ${q}`);
  return value;
};

describe('the sizes per profile', () => {
  it.each(PROFILE_NAMES)('%s: memory requested in full, CPU requested below its limit', (profile) => {
    const size = DATABASE_SIZES[profile];
    expect(size.requests.memory).toBe(size.limits.memory);
    expect(amount(size.requests.cpu)).toBeLessThan(amount(size.limits.cpu));
  });

  it('is the table the API reference gives (the schema cannot import the builders: it says it in words)', () => {
    const description = (schema: { meta(): { description?: string } | undefined }) =>
      schema.meta()?.description;
    const per = (value: (size: DatabaseSize) => string) =>
      PROFILE_NAMES.map((p) => `${p} ${value(DATABASE_SIZES[p])}`).join(', ');
    expect(description(DatabaseSchema.shape.instances)).toContain(per((s) => String(s.instances)));
    expect(description(DatabaseSchema.shape.storage.unwrap().shape.size)).toContain(per((s) => s.storage));
    const resources = description(DatabaseSchema.shape.resources.unwrap());
    expect(resources).toContain(
      PROFILE_NAMES.map((p) => {
        const { requests, limits } = DATABASE_SIZES[p];
        return `${p} cpu ${requests.cpu}/${limits.cpu}, memory ${requests.memory}/${limits.memory}`;
      }).join('; '),
    );
    expect(resources).toContain(per((s) => String(s.maxConnections)));
  });

  it('grows with the profile', () => {
    const sizes = PROFILE_NAMES.map((p) => DATABASE_SIZES[p]);
    for (let i = 1; i < sizes.length; i++) {
      const [smaller, larger] = [sizes[i - 1], sizes[i]];
      if (!smaller || !larger) continue;
      expect(larger.instances).toBeGreaterThanOrEqual(smaller.instances);
      expect(amount(larger.storage)).toBeGreaterThan(amount(smaller.storage));
      expect(amount(larger.limits.memory)).toBeGreaterThan(amount(smaller.limits.memory));
      expect(larger.maxConnections).toBeGreaterThan(smaller.maxConnections);
    }
  });
});

describe('postgresParameters', () => {
  it('gives each profile parameters consistent with its memory limit', () => {
    const parameters = Object.fromEntries(
      PROFILE_NAMES.map((p) => [
        p,
        postgresParameters(DATABASE_SIZES[p].limits.memory, DATABASE_SIZES[p].maxConnections),
      ]),
    );
    expect(parameters).toEqual({
      // 512MB: a 32MB maintenance_work_mem is raised to PostgreSQL's default 64MB, and work_mem
      // (192MB over 50 connections, 3MB) to its default 4MB.
      small: {
        max_connections: '50',
        shared_buffers: '128MB',
        effective_cache_size: '384MB',
        maintenance_work_mem: '64MB',
        work_mem: '4MB',
      },
      medium: {
        max_connections: '100',
        shared_buffers: '512MB',
        effective_cache_size: '1536MB',
        maintenance_work_mem: '128MB',
        work_mem: '7MB',
      },
      large: {
        max_connections: '200',
        shared_buffers: '1024MB',
        effective_cache_size: '3072MB',
        maintenance_work_mem: '256MB',
        work_mem: '7MB',
      },
      xlarge: {
        max_connections: '300',
        shared_buffers: '2048MB',
        effective_cache_size: '6144MB',
        maintenance_work_mem: '512MB',
        work_mem: '10MB',
      },
    });
  });

  it('keeps maintenance_work_mem within 64MB and 2GB, work_mem at least 4MB, and reads decimal units', () => {
    expect(postgresParameters('64Gi', 100)).toMatchObject({
      shared_buffers: '16384MB',
      maintenance_work_mem: '2048MB',
      work_mem: '245MB',
    });
    expect(postgresParameters('256Mi', 400)).toMatchObject({
      shared_buffers: '64MB',
      maintenance_work_mem: '64MB',
      work_mem: '4MB',
    });
    // 1G = 10^9 bytes = 953 MB (PostgreSQL's MB is a MiB), rounded down.
    expect(postgresParameters('1G', 100)).toMatchObject({
      shared_buffers: '238MB',
      effective_cache_size: '714MB',
    });
  });

  it('writes whole numbers of MB, which PostgreSQL accepts', () => {
    for (const limit of ['300Mi', '1.5Gi', '3G', '7777Mi']) {
      for (const value of Object.values(postgresParameters(limit, 123)))
        expect(value).toMatch(/^[1-9][0-9]*(MB)?$/);
    }
  });
});

describe('resolveDatabaseSizing', () => {
  it('takes everything from the profile when the spec says nothing', () => {
    expect(resolveDatabaseSizing('large', { storage: {} })).toEqual({
      profile: 'large',
      instances: 2,
      storage: '100Gi',
      resources: { requests: { cpu: '1', memory: '4Gi' }, limits: { cpu: '4', memory: '4Gi' } },
      parameters: postgresParameters('4Gi', 200),
    });
  });

  it('replaces each default by the field the spec gives, one by one', () => {
    const sized = resolveDatabaseSizing('small', {
      instances: 2,
      storage: { size: '8Gi' },
      resources: { limits: { cpu: '2' } },
    });
    expect(sized).toMatchObject({
      instances: 2,
      storage: '8Gi',
      resources: { requests: { cpu: '250m', memory: '512Mi' }, limits: { cpu: '2', memory: '512Mi' } },
    });
  });

  it('never lets a request exceed its limit: a request above the profile limit raises it, a limit below the profile request lowers it', () => {
    expect(
      resolveDatabaseSizing('small', { resources: { requests: { cpu: '2', memory: '1Gi' } } }).resources,
    ).toEqual({
      requests: { cpu: '2', memory: '1Gi' },
      limits: { cpu: '2', memory: '1Gi' },
    });
    expect(resolveDatabaseSizing('large', { resources: { limits: { cpu: '500m' } } }).resources).toEqual({
      requests: { cpu: '500m', memory: '4Gi' },
      limits: { cpu: '500m', memory: '4Gi' },
    });
  });

  it('reserves the memory limit in full unless the spec asks for less', () => {
    expect(
      resolveDatabaseSizing('medium', { resources: { limits: { memory: '6Gi' } } }).resources.requests.memory,
    ).toBe('6Gi');
    expect(
      resolveDatabaseSizing('medium', { resources: { limits: { memory: '1Gi' } } }).resources.requests.memory,
    ).toBe('1Gi');
    // A request below the profile's limit is the authority's choice; the limit stays the profile's.
    expect(
      resolveDatabaseSizing('medium', { resources: { requests: { memory: '1Gi' } } }).resources,
    ).toMatchObject({
      requests: { memory: '1Gi' },
      limits: { memory: '2Gi' },
    });
  });

  it('derives the parameters from the effective memory limit, with the profile max_connections', () => {
    expect(resolveDatabaseSizing('small', { resources: { limits: { memory: '4Gi' } } }).parameters).toEqual(
      postgresParameters('4Gi', 50),
    );
    expect(
      resolveDatabaseSizing('xlarge', { resources: { requests: { memory: '12Gi' } } }).parameters,
    ).toEqual(postgresParameters('12Gi', 300));
  });

  it('lowers max_connections with a memory limit below the profile’s, so the memory settings fit inside it', () => {
    expect(postgresParameters('512Mi', 200)).toMatchObject({ max_connections: '51', work_mem: '4MB' });
    for (const profile of PROFILE_NAMES) {
      for (let limitMb = 256; limitMb <= 16 * 1024; limitMb += 64) {
        const p = postgresParameters(`${limitMb}Mi`, DATABASE_SIZES[profile].maxConnections);
        const mb = (name: string) => Number.parseInt(p[name] ?? '', 10);
        const planned =
          mb('shared_buffers') + mb('max_connections') * mb('work_mem') + mb('maintenance_work_mem');
        expect(planned, `${profile} at ${limitMb}Mi`).toBeLessThanOrEqual(limitMb);
      }
    }
  });

  it('keeps a live volume larger than the size asked for, and grows a smaller one', () => {
    // The profile went from large to medium: 100Gi volumes stay 100Gi.
    expect(resolveDatabaseSizing('medium', {}, '100Gi').storage).toBe('100Gi');
    // The spec's size was removed after a grow to 30Gi: the live size stays, in its own unit.
    expect(resolveDatabaseSizing('small', { storage: {} }, '30720Mi').storage).toBe('30720Mi');
    // Growing is what the spec or the profile asks.
    expect(resolveDatabaseSizing('medium', {}, '5Gi').storage).toBe('20Gi');
    expect(resolveDatabaseSizing('medium', { storage: { size: '40Gi' } }, '20Gi').storage).toBe('40Gi');
  });
});

describe('liveStorageOf', () => {
  it('reads the live Cluster’s volume size, and nothing that is not a quantity', () => {
    expect(liveStorageOf({ spec: { storage: { size: '10Gi' } } })).toBe('10Gi');
    expect(liveStorageOf(undefined)).toBeUndefined();
    expect(liveStorageOf({ spec: {} })).toBeUndefined();
    expect(liveStorageOf({ spec: { storage: { size: 10 } } })).toBeUndefined();
    expect(liveStorageOf({ spec: { storage: { size: 'ten gigabytes' } } })).toBeUndefined();
  });
});

interface Resources {
  requests: { cpu: string; memory: string };
  limits: { cpu: string; memory: string };
}

function podResources(o: Owned | undefined): Resources {
  const spec = (
    o as {
      spec: { jobTemplate: { spec: { template: { spec: { containers: { resources: Resources }[] } } } } };
    }
  ).spec;
  const resources = spec.jobTemplate.spec.template.spec.containers[0]?.resources;
  if (!resources) throw new Error('no container');
  return resources;
}

describe('each quota profile holds its own default database', () => {
  it.each(PROFILE_NAMES)(
    '%s: every instance (with the Barman Cloud sidecar), the backup and the drill at once, and the volumes',
    (profile: QuotaProfileName) => {
      // Physical backups on: the plugin's sidecar runs in every instance Pod, the most a database costs.
      const t = withPhysicalBackups();
      t.spec.quota.profile = profile;
      const ctx = context(t);
      const state = buildDesiredState(ctx);
      const cluster = state.database.find((o) => o.kind === 'Cluster') as Owned & {
        spec: { instances: number; storage: { size: string }; resources: Resources };
      };
      const backup = podResources(state.backup.find((o) => o.metadata?.name === LOGICAL_BACKUP_CRONJOB));
      const drill = podResources(state.backup.find((o) => o.metadata?.name === RESTORE_DRILL_CRONJOB));
      const { instances, resources } = cluster.spec;
      expect(instances).toBe(DATABASE_SIZES[profile].instances);
      const quota = QUOTA_PROFILES[profile];
      for (const [side, wanted] of [
        ['requests', { cpu: quota.requestsCpu, memory: quota.requestsMemory }],
        ['limits', { cpu: quota.limitsCpu, memory: quota.limitsMemory }],
      ] as const) {
        for (const name of ['cpu', 'memory'] as const) {
          const used =
            instances * (amount(resources[side][name]) + amount(SIDECAR_RESOURCES[side][name])) +
            amount(backup[side][name]) +
            amount(drill[side][name]);
          expect(used, `${side}.${name}`).toBeLessThanOrEqual(amount(wanted[name]));
        }
      }
      expect(instances * amount(cluster.spec.storage.size)).toBeLessThanOrEqual(
        amount(quota.requestsStorage),
      );
      // The profile is enough as it is: the quota is not raised to make room.
      expect(effectiveQuota(ctx)).toMatchObject({
        requestsStorage: quota.requestsStorage,
        persistentVolumeClaims: quota.persistentVolumeClaims,
      });
    },
  );
});
