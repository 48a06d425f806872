import { describe, expect, it } from 'vitest';
import { compareQuantities, quantityValue } from './quantity.ts';
import { parseTerritory, schedulePeriodDays, territoryNamespace } from './territory.ts';
import {
  INVALID_CASES,
  invalidCase,
  invalidTerritory,
  type JsonObject,
  minimalTerritory,
  readExamples,
} from './test-fixtures.ts';

describe('parseTerritory', () => {
  it('accepts every example in examples/', () => {
    const examples = readExamples();
    expect(examples.length).toBeGreaterThanOrEqual(4);
    for (const { file, manifest } of examples) {
      const result = parseTerritory(manifest);
      expect(result.ok ? [] : result.errors, file).toEqual([]);
    }
  });

  it('fills in every default of a minimal Territory', () => {
    const result = parseTerritory(minimalTerritory('rennes'));
    if (!result.ok) throw new Error(result.errors.join('\n'));
    const { spec } = result.territory;
    expect(spec.hosting).toEqual({ level: 'standard' });
    // No instances or volume size: the operator sizes the database from the quota profile (database-sizing.ts).
    expect(spec.database).toEqual({ postgresVersion: '17', storage: {} });
    expect(spec.encryption).toEqual({ rotationDays: 90 });
    expect(spec.backup).toMatchObject({
      schedule: '0 2 * * *',
      retentionDays: 35,
      clientSideEncryption: true,
      physical: { enabled: false },
      restoreDrill: { enabled: true, schedule: '0 4 * * 0' },
    });
    expect(spec.backup.restoreDrill.scratchSize).toBeUndefined();
    expect(spec.backup.destination.credentialsSecret).toEqual({
      name: 'backup-s3',
      accessKeyIdKey: 'ACCESS_KEY_ID',
      secretAccessKeyKey: 'ACCESS_SECRET_KEY',
    });
    expect(spec.access).toEqual({ adminGroups: [], readerGroups: [] });
    expect(spec.quota).toEqual({ profile: 'auto' });
    expect(spec.deletionPolicy).toBe('Retain');
    expect(spec.controller.purposes[0]?.legalBasis).toBe('public-task');
    expect(territoryNamespace(result.territory)).toBe('rennes');
  });

  it('keeps the customer key default inside a given customerKey', () => {
    const result = parseTerritory(
      invalidTerritory(
        { name: '', field: '', patch: { spec: { encryption: { customerKey: { secretName: 'kek' } } } } },
        'x',
      ),
    );
    if (!result.ok) throw new Error(result.errors.join('\n'));
    expect(result.territory.spec.encryption.customerKey).toEqual({ secretName: 'kek', key: 'kek' });
  });

  it(`rejects each of the ${INVALID_CASES.length} invalid manifests with an error naming the field`, () => {
    expect(INVALID_CASES.length).toBeGreaterThanOrEqual(30);
    for (const testCase of INVALID_CASES) {
      const result = parseTerritory(invalidTerritory(testCase, 'rennes'));
      expect(result.ok, testCase.name).toBe(false);
      if (result.ok) continue;
      const naming = result.errors.filter((error) => error.startsWith(testCase.field));
      expect(naming, `${testCase.name}: ${result.errors.join(' | ')}`).not.toEqual([]);
    }
  });

  it('writes errors as "path: problem"', () => {
    const result = parseTerritory(invalidTerritory(invalidCase('backup retention of 0 days'), 'x'));
    expect(result).toEqual({ ok: false, errors: ['spec.backup.retentionDays: must be >= 1'] });
    const missing = parseTerritory({
      apiVersion: 'sovereign.dev/v1alpha1',
      kind: 'Territory',
      metadata: { name: 'x' },
    });
    expect(missing).toEqual({ ok: false, errors: ['spec: is required'] });
    const unknown = parseTerritory(
      invalidTerritory({ name: '', field: '', patch: { spec: { colour: 'blue' } } }, 'x'),
    );
    expect(unknown).toEqual({ ok: false, errors: ['spec.colour: unknown field'] });
    const fractional = parseTerritory(
      invalidTerritory({ name: '', field: '', patch: { spec: { database: { instances: 1.5 } } } }, 'x'),
    );
    expect(fractional).toEqual({ ok: false, errors: ['spec.database.instances: must be an integer'] });
  });

  it('accepts a spec.namespace when metadata.name is not a DNS label', () => {
    const result = parseTerritory(
      invalidTerritory(
        { name: '', field: '', patch: { metadata: { name: 'rennes.ville' }, spec: { namespace: 'rennes' } } },
        'x',
      ),
    );
    expect(result.ok).toBe(true);
  });
});

describe('physical backups (readable by the storage provider)', () => {
  const withSpec = (patch: Record<string, unknown>) =>
    parseTerritory(invalidTerritory({ name: '', field: '', patch: { spec: patch } as never }, 'rennes'));

  it('are off by default, and on only when the spec names who can read them', () => {
    const on = withSpec({ backup: { physical: { enabled: true, encryption: 'ProviderManaged' } } });
    if (!on.ok) throw new Error(on.errors.join('\n'));
    expect(on.territory.spec.backup.physical).toEqual({ enabled: true, encryption: 'ProviderManaged' });
    expect(withSpec({ backup: { physical: { enabled: true } } })).toEqual({
      ok: false,
      errors: [
        'spec.backup.physical.encryption: must be set when physical backups are enabled: ProviderManaged (the storage provider can read them)',
      ],
    });
  });

  it('are refused with hosting level secnumcloud, saying why and what to do', () => {
    const result = withSpec({
      hosting: { level: 'secnumcloud' },
      backup: { physical: { enabled: true, encryption: 'ProviderManaged' } },
    });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.errors).toHaveLength(1);
    expect(result.errors[0]).toMatch(
      /^spec\.backup\.physical\.enabled: must be false when spec\.hosting\.level is secnumcloud: /,
    );
    expect(result.errors[0]).toContain('the provider could read the whole database');
    expect(result.errors[0]).toContain('Remove spec.backup.physical');
    // Saying "off" explicitly is fine at that level.
    const off = withSpec({
      hosting: { level: 'secnumcloud' },
      backup: { physical: { enabled: false, encryption: 'ProviderManaged' } },
    });
    expect(off.ok ? [] : off.errors).toEqual([]);
  });

  it('answer a manifest still written with the old boolean with the new form', () => {
    expect(withSpec({ backup: { physical: true } })).toEqual({
      ok: false,
      errors: [
        'spec.backup.physical: is no longer a boolean: write physical: {enabled: true, encryption: ProviderManaged} to keep physical backups, saying that the storage provider can read them (off by default since it can)',
      ],
    });
    expect(withSpec({ backup: { physical: false } })).toEqual({
      ok: false,
      errors: [
        'spec.backup.physical: is no longer a boolean: remove it (physical backups are off by default), or write physical: {enabled: false}',
      ],
    });
    // Other wrong types keep the plain message.
    expect(withSpec({ backup: { physical: 'yes' } })).toEqual({
      ok: false,
      errors: ['spec.backup.physical: must be an object'],
    });
  });
});

describe('restore drills', () => {
  const drill = (restoreDrill: JsonObject) =>
    parseTerritory(
      invalidTerritory({ name: '', field: '', patch: { spec: { backup: { restoreDrill } } } }, 'rennes'),
    );

  it('run weekly by default; a schedule, an off switch and a scratch disk can be given', () => {
    const on = drill({ schedule: '@weekly', scratchSize: '20Gi' });
    if (!on.ok) throw new Error(on.errors.join('\n'));
    // A descriptor is read as the five fields it stands for, like spec.backup.schedule.
    expect(on.territory.spec.backup.restoreDrill).toEqual({
      enabled: true,
      schedule: '0 0 * * 0',
      scratchSize: '20Gi',
    });
    const off = drill({ enabled: false });
    expect(off.ok && off.territory.spec.backup.restoreDrill.enabled).toBe(false);
  });

  it('refuse a scratch disk too small to restore into, saying why', () => {
    const small = drill({ scratchSize: '512Mi' });
    expect(small.ok ? [] : small.errors).toEqual([
      'spec.backup.restoreDrill.scratchSize: must be at least 1Gi: the drill restores the whole database into it',
    ]);
    expect(drill({ scratchSize: '1Gi' }).ok).toBe(true);
  });

  it('refuse a field they do not have (no retries: a failed drill reports, it does not retry)', () => {
    const typo = drill({ retries: 3 });
    expect(typo.ok).toBe(false);
    expect(typo.ok ? [] : typo.errors.join('; ')).toContain('spec.backup.restoreDrill');
  });
});

describe('schedulePeriodDays', () => {
  it.each([
    ['0 2 * * *', 1],
    ['*/15 * * * *', 1],
    ['0 3 * * 0', 7],
    ['0 3 * * MON-FRI', 7],
    ['0 4 1 * *', 31],
    ['0 4 1,15 * *', 31],
    ['0 5 1 1 *', 366],
  ])('%s lasts %i day(s)', (schedule, days) => {
    expect(schedulePeriodDays(schedule)).toBe(days);
  });
});

describe('quantities', () => {
  it.each([
    ['10Gi', 10 * 2 ** 30],
    ['500m', 0.5],
    ['2', 2],
    ['1.5G', 1.5e9],
    ['2e3', 2000],
    ['.5Ki', 512],
  ])('%s is %d', (quantity, value) => {
    expect(quantityValue(quantity)).toBe(value);
  });

  it.each(['', '-1', '10GB', 'Gi', '1e', '1.5.2'])('%j is not a quantity', (quantity) => {
    expect(quantityValue(quantity)).toBeUndefined();
  });

  it('orders quantities across suffixes', () => {
    expect(compareQuantities('1Gi', '1000Mi')).toBe(1);
    expect(compareQuantities('1G', '1Gi')).toBe(-1);
    expect(compareQuantities('2000m', '2')).toBe(0);
    expect(compareQuantities('x', '2')).toBeUndefined();
  });
});

describe('the database tier', () => {
  const withSpec = (patch: Record<string, unknown>) =>
    parseTerritory(invalidTerritory({ name: '', field: '', patch: { spec: patch } as never }, 'rennes'));

  it('is automatic unless the spec names it, and the pool goes with Shared', () => {
    const auto = withSpec({});
    if (!auto.ok) throw new Error(auto.errors.join('\n'));
    expect(auto.territory.spec.database.tier).toBeUndefined();
    expect(auto.territory.spec.database.pool).toBeUndefined();
    for (const database of [{ tier: 'Shared' }, { pool: 'pool-35' }, { tier: 'Shared', pool: 'pool-35' }]) {
      const shared = withSpec({ database });
      expect(shared.ok ? [] : shared.errors, JSON.stringify(database)).toEqual([]);
    }
    // A Dedicated database keeps every field of its own cluster.
    const dedicated = withSpec({
      database: {
        tier: 'Dedicated',
        instances: 2,
        storage: { size: '30Gi' },
        resources: { limits: { cpu: '2' } },
      },
      backup: { physical: { enabled: true, encryption: 'ProviderManaged' } },
    });
    expect(dedicated.ok ? [] : dedicated.errors).toEqual([]);
  });

  it("refuses what is the pool's in a Shared database, saying what to do instead", () => {
    expect(withSpec({ database: { tier: 'Shared', instances: 2, storage: { size: '10Gi' } } })).toEqual({
      ok: false,
      errors: [
        "spec.database.instances: is the pool's when the database is Shared (spec.database.tier Shared, or spec.database.pool set): remove it, or set spec.database.tier Dedicated for a cluster of the Territory's own",
        "spec.database.storage.size: is the pool's when the database is Shared (spec.database.tier Shared, or spec.database.pool set): remove it, or set spec.database.tier Dedicated for a cluster of the Territory's own",
      ],
    });
  });

  it('refuses physical backups and point-in-time recovery in a pool: they are the platform’s', () => {
    const result = withSpec({
      database: { pool: 'pool-35' },
      backup: { physical: { enabled: true, encryption: 'ProviderManaged' } },
      restore: { from: 'PointInTime', targetTime: '2026-11-01T03:00:00Z' },
    });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.errors).toHaveLength(2);
    expect(result.errors[0]).toMatch(
      /^spec\.backup\.physical\.enabled: must be false when the database is Shared/,
    );
    expect(result.errors[0]).toContain('The logical backups, encrypted with the authority');
    expect(result.errors[1]).toMatch(
      /^spec\.restore\.from: PointInTime needs a cluster of the Territory's own/,
    );
    expect(result.errors[1]).toContain('Restore from a LogicalBackup');
    // A logical restore is the same in both tiers.
    const logical = withSpec({ database: { tier: 'Shared' }, restore: { from: 'LogicalBackup' } });
    expect(logical.ok ? [] : logical.errors).toEqual([]);
  });

  it('refuses a pool named with tier Dedicated', () => {
    expect(withSpec({ database: { tier: 'Dedicated', pool: 'pool-35' } })).toEqual({
      ok: false,
      errors: [
        "spec.database.pool: goes with tier Shared (or no tier): it names the pool holding a shared database; remove it for a cluster of the Territory's own",
      ],
    });
  });
});
