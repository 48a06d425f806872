// Point-in-time recovery through the operator (spec.restore from PointInTime), on the node: a Territory
// with physical backups (the Barman Cloud plugin's WAL archive and a base backup in the e2e bucket) is
// recovered to an instant between two inserts. Without the confirmation the request is refused and the
// database left as it is; with it, the operator deletes the database Cluster and creates it recovered,
// and the database holds exactly the rows committed before the instant. The recovered Cluster archives
// its WAL into a folder of its own, never into the one it recovered from.
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { applyManifests, kubectl } from '../node/kubectl.ts';
import { waitFor } from '../support/kube.ts';
import { ownerSql } from './continuity.ts';
import { listStoreObjects } from './object-store.ts';
import { recordFigure } from './report.ts';
import {
  clusterKubectl,
  conditionOf,
  exampleTerritory,
  getTerritory,
  kubectlJson,
  namespaceOf,
  provideAuthoritySecrets,
  waitForTerritoryCondition,
} from './support.ts';

const store = inject('objectStore');
const t = exampleTerritory('commune-acigne.yaml', inject('nodeRegion'), store);
t.spec.database = { ...t.spec.database, instances: 1 };
const name = t.metadata.name;
const ns = namespaceOf(t);

afterAll(async () => {
  // Its node resources go back to the files after this one.
  await kubectl(clusterKubectl(), ['delete', 'territory', name, '--ignore-not-found', '--wait=false']);
});

type Restore = { request?: string; phase?: string; message?: string; durationSeconds?: number };
const restoreOf = async () =>
  ((await getTerritory(name))?.status as { restore?: Restore } | undefined)?.restore;

/** psql as the superuser inside the primary's own container (local socket): what the test needs only. */
async function superuserSql(sql: string): Promise<string> {
  const cluster = await kubectlJson<{ status: { currentPrimary?: string } }>([
    '-n',
    ns,
    'get',
    'clusters.postgresql.cnpg.io',
    'db',
  ]);
  const primary = cluster.status.currentPrimary;
  if (!primary) throw new Error(`no primary in ${ns}`);
  const out = await kubectl(clusterKubectl(), [
    '-n',
    ns,
    'exec',
    primary,
    '-c',
    'postgres',
    '--',
    'psql',
    '-Atc',
    sql,
  ]);
  return out.trim();
}

const patchRestore = (restore: Record<string, unknown>) =>
  kubectl(clusterKubectl(), [
    'patch',
    'territories.sovereign.dev',
    name,
    '--type=merge',
    '-p',
    JSON.stringify({ spec: { restore } }),
  ]);

describe('point-in-time recovery (spec.restore from PointInTime)', () => {
  it('recovers the database to an instant between two inserts: the rows before it, none after, refused without the confirmation', async () => {
    const image = inject('postgresImage');
    await applyManifests(clusterKubectl(), [t as unknown as Record<string, unknown>]);
    await provideAuthoritySecrets(t, store);
    await waitForTerritoryCondition(name, 'Ready', 'True', 600_000);

    // Rows, then a base backup through the plugin, then more rows on each side of the target instant.
    await ownerSql(t, image, 'e2e-pitr-rows', [
      'CREATE TABLE events (id int primary key, phase text)',
      "INSERT INTO events SELECT g, 'before' FROM generate_series(1, 100) g",
    ]);
    await applyManifests(clusterKubectl(), [
      {
        apiVersion: 'postgresql.cnpg.io/v1',
        kind: 'Backup',
        metadata: { name: 'e2e-base', namespace: ns },
        spec: {
          cluster: { name: 'db' },
          method: 'plugin',
          pluginConfiguration: { name: 'barman-cloud.cloudnative-pg.io' },
        },
      },
    ]);
    const backupStarted = Date.now();
    await waitFor(
      async () => {
        const b = await kubectlJson<{ status?: { phase?: string; error?: string } }>([
          '-n',
          ns,
          'get',
          'backups.postgresql.cnpg.io',
          'e2e-base',
        ]);
        if (b.status?.phase === 'failed') throw new Error(`the base backup failed: ${b.status.error}`);
        return b.status?.phase === 'completed' ? true : undefined;
      },
      { what: 'the base backup e2e-base to complete', timeoutMs: 600_000, intervalMs: 1_000 },
    );
    const backupSeconds = (Date.now() - backupStarted) / 1000;
    await ownerSql(t, image, 'e2e-pitr-more', [
      "INSERT INTO events SELECT g, 'before' FROM generate_series(101, 150) g",
    ]);
    await sleep(2_000);
    const targetTime = await superuserSql(
      `select to_char(clock_timestamp() at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`,
    );
    await sleep(2_000);
    await ownerSql(t, image, 'e2e-pitr-after', [
      "INSERT INTO events SELECT g, 'after' FROM generate_series(151, 175) g",
    ]);
    // The WAL holding the target, archived (a segment is archived when it is switched).
    const lastWal = await superuserSql('select pg_walfile_name(pg_current_wal_lsn())');
    await superuserSql('select pg_switch_wal()');
    await waitFor(
      async () =>
        (await listStoreObjects(store, `${name}/physical/db/wals/`)).some((o) => o.key.includes(lastWal))
          ? true
          : undefined,
      { what: `WAL ${lastWal} archived in the bucket`, timeoutMs: 180_000, intervalMs: 1_000 },
    );

    try {
      // 1. Without the confirmation: refused, the database as it was.
      await patchRestore({ from: 'PointInTime', targetTime });
      const refused = await waitFor(
        async () => {
          const r = await restoreOf();
          return r?.phase === 'Refused' ? r : undefined;
        },
        { what: 'status.restore to say Refused', timeoutMs: 120_000 },
      );
      expect(conditionOf(await getTerritory(name), 'Restored')).toMatchObject({
        status: 'False',
        reason: 'DatabaseNotEmpty',
      });
      expect(refused.message).toContain('replaceExistingData');
      expect((await ownerSql(t, image, 'e2e-pitr-refused', ['SELECT count(*) FROM events']))[0]).toBe('175');

      // 2. Confirmed: the Cluster is re-created, recovered to the instant.
      const started = Date.now();
      await patchRestore({ from: 'PointInTime', targetTime, replaceExistingData: name });
      let last: Restore | undefined;
      const done = await waitFor(
        async () => {
          last = await restoreOf();
          if (last?.phase === 'Failed' || last?.phase === 'Refused') {
            throw new Error(`the recovery ended ${last.phase}: ${last.message}`);
          }
          return last?.phase === 'Succeeded' ? last : undefined;
        },
        {
          what: () => `the recovery to succeed; status.restore: ${JSON.stringify(last)}`,
          timeoutMs: 900_000,
        },
      );
      const seconds = (Date.now() - started) / 1000;
      await waitForTerritoryCondition(name, 'Ready', 'True', 300_000);
      const rows = await ownerSql(t, image, 'e2e-pitr-recovered', [
        "SELECT string_agg(phase || '=' || n, ',' ORDER BY phase) FROM (SELECT phase, count(*) AS n FROM events GROUP BY phase) s",
      ]);
      expect(rows[0]).toBe('before=150');

      // Its WAL goes to a folder of its own: the one recovered from is left as it was.
      await waitFor(
        async () =>
          (await listStoreObjects(store, `${name}/physical/db-${done.request}/wals/`)).length > 0
            ? true
            : undefined,
        { what: `WAL archived under db-${done.request}`, timeoutMs: 300_000, intervalMs: 2_000 },
      );
      recordFigure(inject('resultsDir'), {
        section: 'physical backup',
        subject: 'base backup through the plugin (Backup method plugin), created to completed',
        value: backupSeconds,
        unit: 's',
      });
      recordFigure(inject('resultsDir'), {
        section: 'physical backup',
        subject: 'point-in-time recovery over a live database (confirmed request to Succeeded)',
        value: seconds,
        unit: 's',
        note: `Cluster deleted, re-created from the base backup and the WAL to the target; status says ${done.durationSeconds ?? '?'} s`,
      });
    } finally {
      await patchRestore(null as unknown as Record<string, unknown>);
    }
  });
});
