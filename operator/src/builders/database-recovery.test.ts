// A database Cluster recovered to a point in time from the physical backups (spec.restore PointInTime):
// its bootstrap, the external cluster it reads, the folder it archives into, and the annotation that
// records how it was made. The shapes are those of test/node/barman-cloud-proof.ts, which recovered a
// Cluster through the plugin (CloudNativePG v1.30.0, plugin v0.14.0).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildScheduledBackup } from './backup.ts';
import type { DatabaseBootstrap, Owned } from './context.ts';
import {
  BOOTSTRAP_ANNOTATION,
  buildDatabaseCluster,
  parseDatabaseBootstrap,
  RECOVERY_SOURCE,
  serverNameOf,
} from './database.ts';
import { context, withPhysicalBackups } from './fixtures.test-helpers.ts';
import { buildDesiredState } from './index.ts';
import { BARMAN_CLOUD_PLUGIN, OBJECT_STORE_NAME } from './object-store.ts';

const recovery: DatabaseBootstrap = {
  request: '0123456789',
  targetTime: '2026-11-01T03:00:00+01:00',
  sourceServer: 'db',
};
const recovered = context(withPhysicalBackups(), { databaseBootstrap: recovery });
const spec = (o: Owned) => o.spec as Record<string, unknown>;

describe('a Cluster recovered to a point in time', () => {
  it('recovers from the physical backups of its source server, up to the target time', () => {
    const s = spec(buildDatabaseCluster(recovered));
    expect(s.bootstrap).toEqual({
      recovery: {
        source: RECOVERY_SOURCE,
        database: 'rennes_metropole',
        owner: 'rennes_metropole_owner',
        secret: { name: 'db-owner' },
        recoveryTarget: { targetTime: '2026-11-01T03:00:00+01:00' },
      },
    });
    expect(s.externalClusters).toEqual([
      {
        name: 'origin',
        plugin: {
          name: BARMAN_CLOUD_PLUGIN,
          parameters: { barmanObjectName: OBJECT_STORE_NAME, serverName: 'db' },
        },
      },
    ]);
  });

  it('archives under db-<request>, never into the folder it recovers from', () => {
    expect(serverNameOf(context(withPhysicalBackups()))).toBe('db');
    expect(serverNameOf(recovered)).toBe('db-0123456789');
    expect(spec(buildDatabaseCluster(recovered)).plugins).toEqual([
      {
        name: BARMAN_CLOUD_PLUGIN,
        enabled: true,
        isWALArchiver: true,
        parameters: { barmanObjectName: OBJECT_STORE_NAME, serverName: 'db-0123456789' },
      },
    ]);
    // Recovered again, from that recovery's folder: a new folder again.
    const again = context(withPhysicalBackups(), {
      databaseBootstrap: {
        request: 'abcdef0123',
        targetTime: '2026-11-02T10:00:00Z',
        sourceServer: 'db-0123456789',
      },
    });
    const s = spec(buildDatabaseCluster(again));
    expect(JSON.stringify(s.plugins)).toContain('"serverName":"db-abcdef0123"');
    expect(JSON.stringify(s.externalClusters)).toContain('"serverName":"db-0123456789"');
  });

  it('records how it was made in its annotation, which reads back as it was written', () => {
    const cluster = buildDatabaseCluster(recovered);
    const annotation = cluster.metadata?.annotations?.[BOOTSTRAP_ANNOTATION];
    expect(annotation).toBe(
      '{"request":"0123456789","targetTime":"2026-11-01T03:00:00+01:00","sourceServer":"db"}',
    );
    expect(parseDatabaseBootstrap(annotation)).toEqual(recovery);
  });

  it('keeps everything else as an initdb Cluster has it', () => {
    const plain = context(withPhysicalBackups());
    const {
      bootstrap: _b,
      externalClusters: _e,
      plugins: _p,
      ...rest
    } = spec(buildDatabaseCluster(recovered));
    const { bootstrap: _b2, plugins: _p2, ...plainRest } = spec(buildDatabaseCluster(plain));
    expect(rest).toEqual(plainRest);
    // Physical backups are scheduled by the plugin's name only: the plugin takes the server name from the
    // Cluster, so base backups land beside the recovered Cluster's WAL.
    expect(buildScheduledBackup(recovered)).toEqual(buildScheduledBackup(plain));
    expect(buildDesiredState(recovered).backup).toEqual(buildDesiredState(plain).backup);
  });

  it('is not one without a bootstrap: initdb, no external cluster, no annotation, no serverName', () => {
    const cluster = buildDatabaseCluster(context(withPhysicalBackups()));
    const s = spec(cluster);
    expect(Object.keys(s.bootstrap as object)).toEqual(['initdb']);
    expect(s).not.toHaveProperty('externalClusters');
    expect(cluster.metadata).not.toHaveProperty('annotations');
    expect((s.plugins as { parameters: object }[])[0]?.parameters).toEqual({
      barmanObjectName: OBJECT_STORE_NAME,
    });
  });
});

describe('parseDatabaseBootstrap', () => {
  it('refuses anything that is not an annotation the builder wrote', () => {
    for (const text of [
      undefined,
      '',
      'not json',
      'null',
      '[]',
      '"db"',
      '{}',
      '{"request":"0123456789","targetTime":"2026-11-01T03:00:00Z"}',
      '{"request":"0123456789","targetTime":"yesterday","sourceServer":"db"}',
      '{"request":"0123456789","targetTime":"2026-13-45T99:00:00Z","sourceServer":"db"}',
      '{"request":"../x","targetTime":"2026-11-01T03:00:00Z","sourceServer":"db"}',
      '{"request":"0123456789","targetTime":"2026-11-01T03:00:00Z","sourceServer":"../other"}',
      '{"request":"0123456789","targetTime":"2026-11-01T03:00:00Z","sourceServer":"db/wals"}',
      '{"request":1,"targetTime":"2026-11-01T03:00:00Z","sourceServer":"db"}',
    ]) {
      expect(parseDatabaseBootstrap(text), String(text)).toBeUndefined();
    }
  });

  it('never throws, and what it accepts is a bootstrap that writes back the same (property)', () => {
    const field = fc.oneof(
      fc.string(),
      fc.constantFrom('0123456789', 'db', 'db-0123456789', '2026-11-01T03:00:00Z'),
      fc.anything(),
    );
    const valid = fc.record({
      request: fc.stringMatching(/^[0-9a-f]{10}$/),
      targetTime: fc.constantFrom('2026-11-01T03:00:00Z', '2026-11-01T04:00:00.123456+01:00'),
      sourceServer: fc.oneof(fc.constant('db'), fc.stringMatching(/^db-[0-9a-f]{10}$/)),
    });
    const text = fc.oneof(
      fc.string(),
      fc.jsonValue().map((v) => JSON.stringify(v)),
      fc.record({ request: field, targetTime: field, sourceServer: field }).map((v) => JSON.stringify(v)),
      valid.map((v) => JSON.stringify(v)),
      valid.map((v) => JSON.stringify({ ...v, extra: true })),
    );
    fc.assert(
      fc.property(text, (t) => {
        const parsed = parseDatabaseBootstrap(t);
        if (parsed === undefined) return;
        const cluster = buildDatabaseCluster(context(withPhysicalBackups(), { databaseBootstrap: parsed }));
        expect(parseDatabaseBootstrap(cluster.metadata?.annotations?.[BOOTSTRAP_ANNOTATION])).toEqual(parsed);
      }),
    );
  });
});
