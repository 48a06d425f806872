// Disaster recovery onto another cluster, as docs/disaster-recovery.md tells a platform team to do it:
//
// 1. on the suite's cluster, an authority's Territory (SecNumCloud: logical backups only, its keyring
//    wrapped by the authority's own key) holds rows and takes an encrypted backup;
// 2. the authority's key material leaves with `territoryctl export --keep-encrypted` (the keyring, still
//    wrapped: the authority's key itself never leaves the authority);
// 3. the cluster is lost: control plane and node stopped, their data deleted. The bucket survives;
// 4. a second cluster is started (control plane and node) and gets the stack as on day one;
// 5. the platform re-creates the namespace, the authority's Secrets and the keyring Secret from the
//    export, then the same Territory with spec.restore: the latest backup is restored into the new
//    database, and every row is there, identical.
//
// It stops the suite's cluster, so it runs last (sequencer.ts). It needs the suite's own cluster: with
// TERRITORY_E2E_KUBECONFIG (a cluster started elsewhere) it fails, saying so.

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { KEYRING_KEY, KEYRING_SECRET } from '../../operator/src/builders/keys.ts';
import { ensureHelmBinary } from '../helm/build.ts';
import { ok, territoryctl } from '../integration/territoryctl-support.ts';
import { type ClusterWithNode, DEFAULT_NODE_REGION, startClusterWithNode } from '../node/cluster.ts';
import { applyManifests, kubectl } from '../node/kubectl.ts';
import { ensureProductImages } from '../node/node-images.ts';
import { waitFor } from '../support/kube.ts';
import { CHECKSUM_SQL, ownerSql, runBackupJob } from './continuity.ts';
import { installStack } from './install-stack.ts';
import { listStoreObjects } from './object-store.ts';
import { recordFigure } from './report.ts';
import {
  clusterKubectl,
  exampleTerritory,
  getTerritory,
  namespaceOf,
  provideAuthoritySecrets,
  type TerritoryObject,
  useCluster,
  waitForTerritoryCondition,
} from './support.ts';

const REPO_ROOT = resolve(import.meta.dirname, '..', '..');
const say = (line: string) => process.stderr.write(`[e2e dr] ${line}\n`);
let second: ClusterWithNode | undefined;

afterAll(async () => {
  useCluster(undefined);
  await second?.stop();
});

/** `npm run cluster:down` on a cluster's folder: what losing it looks like, all its data gone. */
async function destroyCluster(dir: string): Promise<void> {
  const child = spawn(process.execPath, [join(REPO_ROOT, 'test', 'controlplane', 'cli.ts'), 'down'], {
    cwd: REPO_ROOT,
    env: { ...process.env, TERRITORY_CLUSTER_DIR: dir },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  const code = await new Promise<number | null>((done) => child.on('close', done));
  if (code !== 0) throw new Error(`stopping the first cluster failed (${code}):\n${output}`);
}

describe('disaster recovery onto another cluster', () => {
  it('re-creates a Territory on a new cluster from its bucket and the exported keyring: the same rows', async () => {
    const firstDir = inject('clusterDir');
    if (!firstDir) {
      throw new Error(
        'the disaster-recovery test stops the suite’s cluster and starts another: it needs the cluster the ' +
          'suite starts itself, not one given with TERRITORY_E2E_KUBECONFIG',
      );
    }
    const store = inject('objectStore');
    const image = inject('postgresImage');
    const t: TerritoryObject = exampleTerritory('epci-rennes-metropole.yaml', inject('nodeRegion'), store);
    t.spec.database = { ...t.spec.database, instances: 1 };
    const name = t.metadata.name;
    // The authority's own key: it keeps it, the platform never exports it.
    const authorityKey = randomBytes(32);

    // 1. Day to day on the first cluster.
    await applyManifests(clusterKubectl(), [t as unknown as Record<string, unknown>]);
    await provideAuthoritySecrets(t, store, { customerKey: authorityKey });
    await waitForTerritoryCondition(name, 'Ready', 'True', 600_000);
    const [before] = (
      await ownerSql(t, image, 'e2e-dr-rows', [
        'CREATE TABLE continuity (id int primary key, note text)',
        "INSERT INTO continuity SELECT g, 'dossier ' || g FROM generate_series(1, 5000) g",
        CHECKSUM_SQL,
      ])
    ).slice(-1);
    const backup = await runBackupJob(t);
    expect(backup.succeeded, backup.logs).toBe(true);

    // 2. The key material, exported as the runbook says (the backup stays encrypted too).
    const bundle = join(await mkdtemp(join(tmpdir(), 'territory-e2e-dr-')), 'bundle');
    ok(
      await territoryctl([
        'export',
        name,
        '--keep-encrypted',
        '--out',
        bundle,
        '--s3-endpoint',
        store.hostEndpoint,
      ]),
      'territoryctl export --keep-encrypted',
    );
    const keyring = await readFile(join(bundle, 'keys', 'keyring.json'), 'utf8');
    expect(
      JSON.parse(keyring).wrapping.algorithm,
      'the keyring leaves wrapped by the authority’s key',
    ).not.toBe('none');

    // 3. The first cluster is lost.
    const lost = Date.now();
    await destroyCluster(firstDir);

    // 4. A second cluster, installed as on day one.
    const secondDir = await mkdtemp(join(tmpdir(), 'territory-e2e-dr-cluster-'));
    const helm = await ensureHelmBinary();
    const images = await ensureProductImages({ log: say });
    second = await startClusterWithNode({ dir: secondDir, region: DEFAULT_NODE_REGION, log: say });
    await installStack(second, {
      images,
      helm,
      region: DEFAULT_NODE_REGION,
      dir: secondDir,
      timed: (_what, step) => step(),
      log: say,
    });
    const k = second.node.kubectl;
    useCluster(k);
    const stackUp = Date.now();

    // 5. The runbook: the namespace the operator will manage, the authority's Secrets (its own key
    //    again), the keyring from the export, then the same Territory asking for its latest backup.
    const ns = namespaceOf(t);
    await applyManifests(k, [
      {
        apiVersion: 'v1',
        kind: 'Namespace',
        metadata: {
          name: ns,
          labels: { 'app.kubernetes.io/managed-by': 'territory-operator', 'sovereign.dev/territory': name },
        },
      },
      {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: KEYRING_SECRET, namespace: ns },
        type: 'Opaque',
        stringData: { [KEYRING_KEY]: keyring },
      },
    ]);
    await provideAuthoritySecrets(t, store, { customerKey: authorityKey });
    await applyManifests(k, [
      { ...t, spec: { ...t.spec, restore: { from: 'LogicalBackup' } } } as unknown as Record<string, unknown>,
    ]);
    type Restore = { phase?: string; message?: string; backup?: string; durationSeconds?: number };
    let last: Restore | undefined;
    const restored = await waitFor(
      async () => {
        last = ((await getTerritory(name))?.status as { restore?: Restore } | undefined)?.restore;
        return last && ['Succeeded', 'Failed', 'Refused'].includes(last.phase ?? '') ? last : undefined;
      },
      { what: () => `the restore to end; status.restore: ${JSON.stringify(last)}`, timeoutMs: 600_000 },
    );
    expect(restored.phase, restored.message).toBe('Succeeded');
    // The backup taken on the first cluster, the only one in the Territory's folder.
    const backups = (await listStoreObjects(store, `${name}/`)).filter((o) => o.key.endsWith('.pgdump.enc'));
    expect(backups.map((o) => o.key.split('/').at(-1))).toEqual([restored.backup]);
    const recovered = Date.now();
    await waitForTerritoryCondition(name, 'Ready', 'True', 300_000);
    const [after] = await ownerSql(t, image, 'e2e-dr-after', [CHECKSUM_SQL]);
    expect(after).toBe(before);
    // The keyring is the one exported: no new key was generated on the second cluster.
    const live = await kubectl(k, ['-n', ns, 'get', 'secret', KEYRING_SECRET, '-o', 'json']);
    const liveKeyring = JSON.parse(
      Buffer.from(JSON.parse(live).data[KEYRING_KEY], 'base64').toString('utf8'),
    ) as { keys: { id: string }[] };
    const exported = JSON.parse(keyring) as { keys: { id: string }[] };
    expect(liveKeyring.keys.map((key) => key.id)).toEqual(
      expect.arrayContaining(exported.keys.map((key) => key.id)),
    );

    const results = inject('resultsDir');
    recordFigure(results, {
      section: 'disaster recovery',
      subject: 'second cluster started and installed (control plane, node, CloudNativePG, plugin, operator)',
      value: (stackUp - lost) / 1000,
      unit: 's',
    });
    recordFigure(results, {
      section: 'disaster recovery',
      subject:
        'Territory applied on the second cluster to its backup restored (database created, restore Job)',
      value: (recovered - stackUp) / 1000,
      unit: 's',
      note: `5,000 rows; the restore Job alone: ${restored.durationSeconds ?? '?'} s`,
    });
  });
});
