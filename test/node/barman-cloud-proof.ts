// A standalone proof that CloudNativePG's Barman Cloud plugin works on the test node, independent of the
// operator (which now backs up through it: builders/object-store.ts). Kept as a tool for version bumps
// of the plugin or CloudNativePG: the e2e suite exercises the WAL archive through the operator's own
// objects, not what this adds (a `method: plugin` Backup to completion, a point-in-time recovery).
// On a cluster started with `npm run cluster:up -- --with-node`, it
//   1. builds (or takes from the cache) the plugin's binary and its two images, PostgreSQL's image
//      and CloudNativePG's, and imports them into the node's containerd;
//   2. installs CloudNativePG (its manifests) and the plugin (barman-cloud-install.ts);
//   3. starts the e2e suite's S3 server (test/e2e/object-store.ts: HTTPS with a private CA, reached
//      by Pods as s3.objectstore.svc.cluster.local);
//   4. in a plain namespace of its own: an ObjectStore and a one-instance Cluster archiving WAL
//      through the plugin (ContinuousArchiving True, WAL objects listed in the bucket), a Backup
//      with `method: plugin`, then (unless --no-recovery) a second Cluster recovered from that
//      ObjectStore to a targetTime between two inserts, holding exactly the rows before it;
//   5. prints the figures (and writes them as JSON with --json <file>), then deletes its namespace.
//
//   TERRITORY_CLUSTER_DIR=<dir> node test/node/barman-cloud-proof.ts [--no-recovery] [--keep] [--json <file>]
//
// Not part of any suite: it needs root, a node, and several minutes.
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { resolveBinaries } from '../controlplane/binaries.ts';
import { readState } from '../controlplane/controlplane.ts';
import { startObjectStore } from '../e2e/object-store.ts';
import { waitFor } from '../support/kube.ts';
import { BARMAN_CLOUD_PLUGIN_NAME, installBarmanCloudPlugin } from './barman-cloud-install.ts';
import { BARMAN_CLOUD_PLUGIN_VERSION } from './barman-cloud-plugin-binary.ts';
import { resolveNodeBinaries, NODE_COMPONENT_VERSIONS as V } from './components.ts';
import { ensurePostgresqlImage } from './images/postgresql.ts';
import { ensureBinaryImage, importImages, UPSTREAM_LAYOUTS } from './images.ts';
import { applyManifests, type Kubectl, kubectl, waitForCondition } from './kubectl.ts';
import { readNodeState } from './node.ts';
import { ensureBarmanCloudImages } from './node-images.ts';
import { installCloudNativePg } from './stack.ts';

const REPO_ROOT = resolve(import.meta.dirname, '..', '..');
const say = (line: string) => process.stderr.write(`[barman-proof] ${line}\n`);
const figures: Record<string, number | string> = {};
const figure = (name: string, value: number | string) => {
  figures[name] = value;
  say(`${name}: ${value}`);
};
const since = (t: number) => Math.round((Date.now() - t) / 100) / 10;
const sleep = (ms: number) => new Promise((ok) => setTimeout(ok, ms));

interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
}

async function getJson<T>(k: Kubectl, args: string[]): Promise<T> {
  return JSON.parse(await kubectl(k, [...args, '-o', 'json'])) as T;
}

async function main(argv: string[]): Promise<void> {
  const recovery = !argv.includes('--no-recovery');
  const keep = argv.includes('--keep');
  const jsonAt = argv.indexOf('--json');
  const jsonFile = jsonAt >= 0 ? argv[jsonAt + 1] : undefined;
  const dir = resolve(process.env.TERRITORY_CLUSTER_DIR ?? resolve(REPO_ROOT, '.territory', 'cluster'));
  const cp = await readState(dir);
  const node = await readNodeState(dir);
  if (!cp || !node) {
    throw new Error(`no cluster with a node in ${dir}: start one with \`npm run cluster:up -- --with-node\``);
  }
  const k: Kubectl = { binary: (await resolveBinaries({ log: say })).kubectl, kubeconfig: cp.kubeconfigPath };

  // 1. Images.
  let t = Date.now();
  const barman = await ensureBarmanCloudImages({ log: say });
  const postgresql = await ensurePostgresqlImage({ log: say });
  const nodeBinaries = await resolveNodeBinaries({ log: say });
  const cnpg = await ensureBinaryImage({
    ...UPSTREAM_LAYOUTS.cloudNativePg(nodeBinaries.cnpgManager, V.cloudNativePg.replace(/^v/, '')),
    log: say,
  });
  figure('images ready (s, builds included)', since(t));
  for (const [name, image] of Object.entries({ plugin: barman.plugin, sidecar: barman.sidecar })) {
    figure(
      `${name} image`,
      `${image.ref}, ${((image.archiveBytes ?? 0) / 1048576).toFixed(1)} MiB, built in ${image.builtInSeconds} s${image.cached ? ' (cached)' : ''}`,
    );
  }
  t = Date.now();
  await importImages(node.ctr, node.containerdSocket, [barman.plugin, barman.sidecar, postgresql, cnpg], {
    log: say,
  });
  figure('images imported (s)', since(t));

  // 2. CloudNativePG and the plugin.
  t = Date.now();
  await installCloudNativePg(k, cnpg.ref);
  figure('CloudNativePG installed (s)', since(t));
  t = Date.now();
  await installBarmanCloudPlugin(k, { plugin: barman.plugin.ref, sidecar: barman.sidecar.ref });
  figure('plugin installed and registered by CloudNativePG (s)', since(t));

  // 3. Object storage.
  const store = await startObjectStore(k);
  const ns = `barman-proof-${randomBytes(2).toString('hex')}`;
  const prefix = ns;
  try {
    await applyManifests(k, [
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } },
      {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'objectstore-credentials', namespace: ns },
        stringData: {
          ACCESS_KEY_ID: store.access.accessKeyId,
          ACCESS_SECRET_KEY: store.access.secretAccessKey,
          REGION: store.access.region,
        },
      },
      {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'objectstore-ca', namespace: ns },
        stringData: { 'ca.crt': store.access.caPem },
      },
      objectStore(ns, `s3://${store.access.bucket}/${prefix}`, store.access.endpoint),
    ]);

    // 4a. A Cluster archiving WAL through the plugin.
    t = Date.now();
    await applyManifests(k, [
      cluster(ns, 'origin', postgresql.ref, {
        plugins: [
          { name: BARMAN_CLOUD_PLUGIN_NAME, isWALArchiver: true, parameters: { barmanObjectName: 'store' } },
        ],
      }),
    ]);
    await waitForCondition(k, ['-n', ns, 'cluster/origin'], 'condition=Ready', 600).catch(async (e) => {
      throw new Error(`${(e as Error).message}\n${await diagnose(k, ns)}`);
    });
    figure('origin Cluster Ready (s)', since(t));
    const pod = 'origin-1';
    const containers = await kubectl(k, [
      '-n',
      ns,
      'get',
      'pod',
      pod,
      '-o',
      'jsonpath={range .spec.initContainers[*]}{.name}={.image} {end}| {range .spec.containers[*]}{.name}={.image} {end}',
    ]);
    figure('origin-1 containers', containers.trim());
    const archiving = await waitFor(
      async () => {
        const c = await getJson<{ status?: { conditions?: Condition[] } }>(k, [
          '-n',
          ns,
          'get',
          'cluster',
          'origin',
        ]);
        const cond = c.status?.conditions?.find((x) => x.type === 'ContinuousArchiving');
        return cond?.status === 'True' ? cond : undefined;
      },
      { what: 'ContinuousArchiving=True on origin', timeoutMs: 300_000, intervalMs: 1000 },
    );
    figure('ContinuousArchiving True after creation (s)', since(t));
    figure(
      'ContinuousArchiving',
      `${archiving.status} ${archiving.reason ?? ''} ${archiving.message ?? ''}`.trim(),
    );

    const sql = (query: string) =>
      kubectl(k, [
        '-n',
        ns,
        'exec',
        pod,
        '-c',
        'postgres',
        '--',
        'psql',
        '-U',
        'postgres',
        '-d',
        'app',
        '-v',
        'ON_ERROR_STOP=1',
        '-Atc',
        query,
      ]).then((s) => s.trim());
    await sql('create table proof(id int primary key, phase text, at timestamptz default clock_timestamp())');
    await sql("insert into proof(id, phase) select g, 'before-backup' from generate_series(1, 100) g");

    // WAL archive latency: a WAL switch until its segment is listed in the bucket.
    const wal = await sql('select pg_walfile_name(pg_current_wal_lsn())');
    await sql('select pg_switch_wal()');
    t = Date.now();
    const walKeys = await waitFor(
      async () => {
        const keys = await listKeys(store.server.client(), store.access.bucket, `${prefix}/origin/wals/`);
        return keys.some((key) => key.includes(wal)) ? keys : undefined;
      },
      { what: `WAL ${wal} in the bucket`, timeoutMs: 120_000, intervalMs: 250 },
    );
    figure('WAL switch → segment listed in the bucket (s)', since(t));
    figure('WAL objects listed', walKeys.length);
    figure('example WAL object', walKeys.find((key) => key.includes(wal)) ?? '');

    // 4b. A Backup with method: plugin.
    t = Date.now();
    await applyManifests(k, [
      {
        apiVersion: 'postgresql.cnpg.io/v1',
        kind: 'Backup',
        metadata: { name: 'origin-backup-1', namespace: ns },
        spec: {
          cluster: { name: 'origin' },
          method: 'plugin',
          pluginConfiguration: { name: BARMAN_CLOUD_PLUGIN_NAME },
        },
      },
    ]);
    type BackupStatus = {
      phase?: string;
      error?: string;
      startedAt?: string;
      stoppedAt?: string;
      backupId?: string;
      beginWal?: string;
      endWal?: string;
      method?: string;
      pluginMetadata?: Record<string, string>;
    };
    const backup = await waitFor(
      async () => {
        const b = await getJson<{ status?: BackupStatus }>(k, ['-n', ns, 'get', 'backup', 'origin-backup-1']);
        if (b.status?.phase === 'failed') throw new Error(`backup failed: ${b.status.error}`);
        return b.status?.phase === 'completed' ? b.status : undefined;
      },
      { what: 'Backup origin-backup-1 completed', timeoutMs: 600_000, intervalMs: 1000 },
    ).catch(async (e) => {
      throw new Error(`${(e as Error).message}\n${await diagnose(k, ns)}`);
    });
    figure('Backup completed, from creation (s)', since(t));
    if (backup.startedAt && backup.stoppedAt) {
      figure(
        'Backup startedAt → stoppedAt (s)',
        (Date.parse(backup.stoppedAt) - Date.parse(backup.startedAt)) / 1000,
      );
    }
    figure('Backup', `${backup.method} id=${backup.backupId} wal ${backup.beginWal}..${backup.endWal}`);
    const baseKeys = await listKeys(store.server.client(), store.access.bucket, `${prefix}/origin/base/`);
    figure('base backup objects listed', baseKeys.length);
    figure('base backup objects', baseKeys.map((key) => key.slice(prefix.length + 1)).join(', '));

    if (recovery) {
      // 4c. Point-in-time recovery into a second Cluster, to a time between two inserts.
      await sql("insert into proof(id, phase) select g, 'after-backup' from generate_series(101, 150) g");
      await sleep(2000);
      const targetTime = await sql(
        `select to_char(clock_timestamp() at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`,
      );
      await sleep(2000);
      await sql("insert into proof(id, phase) select g, 'after-target' from generate_series(151, 175) g");
      const lastWal = await sql('select pg_walfile_name(pg_current_wal_lsn())');
      await sql('select pg_switch_wal()');
      await waitFor(
        async () =>
          (await listKeys(store.server.client(), store.access.bucket, `${prefix}/origin/wals/`)).some((key) =>
            key.includes(lastWal),
          ),
        { what: `WAL ${lastWal} in the bucket`, timeoutMs: 120_000, intervalMs: 250 },
      );
      const expected = await sql(`select count(*) from proof where at <= '${targetTime}'`);
      figure('recovery targetTime', targetTime);
      t = Date.now();
      await applyManifests(k, [
        cluster(ns, 'restored', postgresql.ref, {
          bootstrap: { recovery: { source: 'origin', recoveryTarget: { targetTime } } },
          externalClusters: [
            {
              name: 'origin',
              plugin: {
                name: BARMAN_CLOUD_PLUGIN_NAME,
                parameters: { barmanObjectName: 'store', serverName: 'origin' },
              },
            },
          ],
        }),
      ]);
      await waitForCondition(k, ['-n', ns, 'cluster/restored'], 'condition=Ready', 900).catch(async (e) => {
        throw new Error(`${(e as Error).message}\n${await diagnose(k, ns)}`);
      });
      figure('restored Cluster Ready, from creation (s)', since(t));
      const restored = await kubectl(k, [
        '-n',
        ns,
        'exec',
        'restored-1',
        '-c',
        'postgres',
        '--',
        'psql',
        '-U',
        'postgres',
        '-d',
        'app',
        '-Atc',
        "select phase || '=' || count(*) from proof group by phase order by phase",
      ]);
      figure('restored rows by phase', restored.trim().split('\n').join(', '));
      const total = restored
        .trim()
        .split('\n')
        .reduce((sum, line) => sum + Number(line.split('=')[1] ?? 0), 0);
      const afterTarget = /after-target=/.test(restored);
      if (String(total) !== expected || afterTarget) {
        throw new Error(
          `recovery to ${targetTime} holds ${total} rows (${restored.trim()}), expected ${expected} and none after the target`,
        );
      }
      figure('recovery', `exactly the ${expected} rows before the target`);
    }
    // Each WAL segment's barman-cloud-wal-archive run, as the sidecar logged it.
    const sidecarLog = await kubectl(k, ['-n', ns, 'logs', pod, '-c', 'plugin-barman-cloud']);
    const walSeconds = [
      ...sidecarLog.matchAll(/"msg":"Archived WAL file".*?"elapsedWalTime":([0-9.]+)/g),
    ].map((m) => Number(m[1]).toFixed(1));
    figure('barman-cloud-wal-archive per segment (s)', walSeconds.join(', '));
    say('all steps passed');
  } finally {
    if (jsonFile)
      writeFileSync(
        jsonFile,
        `${JSON.stringify({ plugin: BARMAN_CLOUD_PLUGIN_VERSION, figures }, null, 2)}\n`,
      );
    if (!keep) {
      // The Clusters first, waiting for their Pods: a namespace deleted with PostgreSQL Pods in it is
      // re-checked by the namespace controller only after their grace period (CloudNativePG: 1800 s).
      t = Date.now();
      await kubectl(k, ['-n', ns, 'delete', 'clusters.postgresql.cnpg.io', '--all', '--wait=true'], 240_000)
        .then(() =>
          kubectl(k, ['-n', ns, 'wait', '--for=delete', 'pods', '--all', '--timeout=180s'], 240_000),
        )
        .then(() => kubectl(k, ['delete', 'namespace', ns, '--wait=true', '--timeout=180s'], 240_000))
        .then(
          () => figure('clean-up: Clusters, then namespace deleted (s)', since(t)),
          (e: Error) => say(`namespace ${ns} not deleted: ${e.message}`),
        );
    } else {
      say(`kept namespace ${ns}; the S3 server stops with this process`);
    }
    await store.server.stop();
  }
}

/** The ObjectStore: where, with which credentials and CA, and how WAL and base backups are written. */
function objectStore(ns: string, destinationPath: string, endpointURL: string): Record<string, unknown> {
  return {
    apiVersion: 'barmancloud.cnpg.io/v1',
    kind: 'ObjectStore',
    metadata: { name: 'store', namespace: ns },
    spec: {
      retentionPolicy: '7d',
      configuration: {
        destinationPath,
        endpointURL,
        endpointCA: { name: 'objectstore-ca', key: 'ca.crt' },
        s3Credentials: {
          accessKeyId: { name: 'objectstore-credentials', key: 'ACCESS_KEY_ID' },
          secretAccessKey: { name: 'objectstore-credentials', key: 'ACCESS_SECRET_KEY' },
          region: { name: 'objectstore-credentials', key: 'REGION' },
        },
        wal: { compression: 'gzip', encryption: 'AES256' },
        data: { compression: 'gzip', encryption: 'AES256' },
      },
    },
  };
}

function cluster(
  ns: string,
  name: string,
  image: string,
  extra: Record<string, unknown>,
): Record<string, unknown> {
  return {
    apiVersion: 'postgresql.cnpg.io/v1',
    kind: 'Cluster',
    metadata: { name, namespace: ns },
    spec: {
      instances: 1,
      imageName: image,
      imagePullPolicy: 'IfNotPresent',
      storage: { size: '1Gi' },
      ...extra,
    },
  };
}

async function listKeys(
  client: {
    send: (
      c: ListObjectsV2Command,
    ) => Promise<{ Contents?: { Key?: string }[]; NextContinuationToken?: string }>;
  },
  bucket: string,
  prefix: string,
): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await client.send(
      new ListObjectsV2Command({
        Bucket: bucket,
        Prefix: prefix,
        ...(token ? { ContinuationToken: token } : {}),
      }),
    );
    for (const o of page.Contents ?? []) if (o.Key) keys.push(o.Key);
    token = page.NextContinuationToken;
  } while (token);
  return keys;
}

/** What to look at when a step times out: Pods, events, the plugin's and the sidecar's logs. */
async function diagnose(k: Kubectl, ns: string): Promise<string> {
  const parts: string[] = [];
  const grab = async (label: string, args: string[]) => {
    parts.push(
      `--- ${label}\n${(await kubectl(k, args).catch((e: Error) => e.message)).trim().slice(-4000)}`,
    );
  };
  await grab('pods', ['-n', ns, 'get', 'pods,jobs', '-o', 'wide']);
  await grab('events', ['-n', ns, 'get', 'events', '--sort-by=.lastTimestamp']);
  await grab('clusters', ['-n', ns, 'get', 'clusters.postgresql.cnpg.io', '-o', 'yaml']);
  await grab('plugin log', ['-n', 'cnpg-system', 'logs', 'deployment/barman-cloud', '--tail=40']);
  for (const pod of ['origin-1', 'restored-1']) {
    await grab(`${pod} sidecar log`, ['-n', ns, 'logs', pod, '-c', 'plugin-barman-cloud', '--tail=40']);
    await grab(`${pod} postgres log`, ['-n', ns, 'logs', pod, '-c', 'postgres', '--tail=30']);
  }
  return parts.join('\n');
}

if (import.meta.main) {
  main(process.argv.slice(2)).then(
    () => process.exit(0),
    (error: Error) => {
      process.stderr.write(`[barman-proof] FAILED: ${error.message}\n`);
      process.exit(1);
    },
  );
}
