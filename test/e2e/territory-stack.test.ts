// A Territory's stack on a real node, read as a user would read the README: the examples, applied
// with kubectl, reach Ready=True with PostgreSQL running under CloudNativePG; applications in the
// authority's namespace use the database over TLS (verify-full, the cluster's CA) as each purpose's
// role; plain text is refused; another authority's Pods cannot reach it (NetworkPolicy enforced by a
// real enforcer) and another authority's admins cannot read its Secrets. Then continuity: a backup
// Job to a real S3 server restored elsewhere from `territoryctl export`, a failover, a node outside
// the allowed regions, and deletion with each policy. The tests run in order, on the same tenants.
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { ok, territoryctl } from '../integration/territoryctl-support.ts';
import { applyManifests, kubectl } from '../node/kubectl.ts';
import { OPERATOR_NAMESPACE } from '../node/stack.ts';
import { waitFor } from '../support/kube.ts';
import { CHECKSUM_SQL, ownerSql, restoreElsewhere, runBackupJob, runDrillJob } from './continuity.ts';
import { listStoreObjects } from './object-store.ts';
import { runPod, secretEnv } from './pods.ts';
import { attemptConnection, awaitServer, dbHost, dbNameOf, psql, purposesOf, roleOf } from './psql.ts';
import { recordFigure } from './report.ts';
import {
  type Condition,
  clusterKubectl,
  conditionOf,
  exampleTerritory,
  getTerritory,
  instancesOf,
  kubectlJson,
  namespaceOf,
  provideAuthoritySecrets,
  type TerritoryObject,
  waitForTerritoryCondition,
  withOperatorStopped,
} from './support.ts';

/** Two authorities: a commune on the standard level, an EPCI on SecNumCloud. */
const EXAMPLES = ['commune-acigne.yaml', 'epci-rennes-metropole.yaml'];
const tenants = new Map<string, TerritoryObject>();

interface LivePod {
  status?: { phase?: string };
  spec: {
    securityContext?: Record<string, unknown>;
    containers: Array<{ volumeMounts?: Array<{ name: string; readOnly?: boolean }> }>;
    [field: string]: unknown;
  };
}

async function onlyNode(): Promise<string> {
  const nodes = await kubectlJson<{ items: Array<{ metadata: { name: string } }> }>(['get', 'nodes']);
  expect(nodes.items).toHaveLength(1);
  return nodes.items[0]?.metadata.name as string;
}

/** The status CloudNativePG writes on the Territory's Cluster (the fields these tests read). */
interface CnpgClusterStatus {
  currentPrimary?: string;
  targetPrimary?: string;
  instanceNames?: string[];
  conditions?: Condition[];
}

async function cnpgCluster(ns: string): Promise<{ status: CnpgClusterStatus }> {
  return kubectlJson(['-n', ns, 'get', 'clusters.postgresql.cnpg.io', 'db']);
}

/** An instance of the Territory's database that is not the primary. */
async function replicaOf(ns: string): Promise<string> {
  const cluster = await cnpgCluster(ns);
  const replica = (cluster.status.instanceNames ?? []).find((n) => n !== cluster.status.currentPrimary);
  if (!replica) throw new Error(`no replica in ${ns}: ${JSON.stringify(cluster.status)}`);
  return replica;
}

async function writeJson(object: unknown): Promise<string> {
  const file = join(await mkdtemp(join(tmpdir(), 'territory-e2e-')), 'object.json');
  writeFileSync(file, JSON.stringify(object));
  return file;
}

function tenant(file: string): TerritoryObject {
  const t = tenants.get(file);
  if (!t) throw new Error(`${file} did not become Ready in the first test: see its failure`);
  return t;
}

describe.sequential('a Territory on a real node', () => {
  it.each(EXAMPLES)('%s reaches Ready=True with PostgreSQL running under CloudNativePG', async (file) => {
    const territory = exampleTerritory(file, inject('nodeRegion'), inject('objectStore'));
    const started = Date.now();
    await applyManifests(clusterKubectl(), [territory as unknown as Record<string, unknown>]);
    await provideAuthoritySecrets(territory, inject('objectStore'));
    const ready = await waitForTerritoryCondition(territory.metadata.name, 'Ready', 'True', 600_000);
    recordFigure(inject('resultsDir'), {
      section: 'time from kubectl apply to Ready',
      subject: `${file} (${instancesOf(territory)} instances)`,
      value: (Date.now() - started) / 1000,
      unit: 's',
    });
    expect(ready.status?.conditions?.find((c) => c.type === 'DatabaseReady')?.status).toBe('True');
    const pods = await kubectlJson<{ items: Array<{ status: { phase: string } }> }>([
      '-n',
      namespaceOf(territory),
      'get',
      'pods',
      '-l',
      'cnpg.io/cluster=db,cnpg.io/podRole=instance',
    ]);
    expect(pods.items.length).toBe(instancesOf(territory));
    expect(pods.items.every((p) => p.status.phase === 'Running')).toBe(true);
    tenants.set(file, territory);
  });

  it('serves each purpose role over TLS (verify-full): it writes and reads its own rows', async () => {
    const t = tenant('commune-acigne.yaml');
    const ns = namespaceOf(t);
    const purposes = purposesOf(t);
    // The authority's application, as the database owner, gives each purpose a schema of its own.
    const setup = await runPod({
      namespace: ns,
      name: 'e2e-owner-setup',
      image: inject('postgresImage'),
      env: [secretEnv('PGUSER', 'db-owner', 'username'), secretEnv('PGPASSWORD', 'db-owner', 'password')],
      volumes: [{ name: 'ca', secret: 'db-ca', mountPath: '/ca' }],
      script: [
        awaitServer(t),
        ...purposes.map((p) => {
          const schema = p.replace(/-/g, '_');
          return psql(
            t,
            `CREATE SCHEMA IF NOT EXISTS ${schema}; GRANT USAGE, CREATE ON SCHEMA ${schema} TO ${roleOf(p)}`,
          );
        }),
      ].join(' && '),
    });
    expect(setup, setup.logs).toMatchObject({ phase: 'Succeeded' });

    for (const purpose of purposes) {
      const schema = purpose.replace(/-/g, '_');
      const run = await runPod({
        namespace: ns,
        name: `e2e-purpose-${purpose}`,
        image: inject('postgresImage'),
        env: [
          secretEnv('PGUSER', `db-purpose-${purpose}`, 'username'),
          secretEnv('PGPASSWORD', `db-purpose-${purpose}`, 'password'),
        ],
        volumes: [{ name: 'ca', secret: 'db-ca', mountPath: '/ca' }],
        script: [
          awaitServer(t),
          psql(t, `CREATE TABLE ${schema}.records (id int primary key, note text)`),
          psql(t, `INSERT INTO ${schema}.records VALUES (1, 'written by ${purpose}'), (2, 'second row')`),
          psql(t, `SELECT current_user || ' ' || count(*) FROM ${schema}.records`),
          psql(t, 'SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()'),
        ].join(' && '),
      });
      expect(run, run.logs).toMatchObject({ phase: 'Succeeded' });
      expect(run.logs).toContain(`${roleOf(purpose)} 2`);
      expect(run.logs).toContain('t|TLSv1.3');
    }
  });

  it('refuses a plain-text connection, even with the right password', async () => {
    const t = tenant('commune-acigne.yaml');
    const run = await runPod({
      namespace: namespaceOf(t),
      name: 'e2e-plaintext',
      image: inject('postgresImage'),
      env: [secretEnv('PGUSER', 'db-owner', 'username'), secretEnv('PGPASSWORD', 'db-owner', 'password')],
      script: `${awaitServer(t)}; psql "host=${dbHost(t)} dbname=${dbNameOf(t)} sslmode=disable connect_timeout=10" -c "select 1"; echo "exit=$?"`,
    });
    expect(run.logs).toMatch(/pg_hba.conf rejects connection .* no encryption/);
    expect(run.logs).toContain('exit=2');
  });

  it("refuses another Territory's Pods at the network (NetworkPolicy enforced), while its own Pods get in", async () => {
    const target = tenant('commune-acigne.yaml');
    const other = tenant('epci-rennes-metropole.yaml');
    // The same client, run from the other authority's namespace: the TCP connection itself must fail
    // (the enforcer rejects it: "Connection refused"), for the whole window.
    const script = attemptConnection(target);
    const refused = await runPod({
      namespace: namespaceOf(other),
      name: 'e2e-cross-tenant',
      image: inject('postgresImage'),
      script,
    });
    expect(refused.logs).toMatch(/Connection refused|timeout expired|timed out/);
    expect(refused.logs).not.toMatch(/password authentication failed|pg_hba/);
    // From the target's own namespace the same attempt reaches PostgreSQL (which then refuses the user).
    const allowed = await runPod({
      namespace: namespaceOf(target),
      name: 'e2e-same-tenant',
      image: inject('postgresImage'),
      script,
    });
    expect(allowed.logs).toMatch(/password authentication failed for user "nobody"/);
  });

  it("keeps an authority's Secrets away from another authority's admins (RBAC, real requests)", async () => {
    const target = tenant('commune-acigne.yaml');
    const other = tenant('epci-rennes-metropole.yaml');
    const otherAdmins = ((other.spec.access as { adminGroups?: string[] } | undefined)?.adminGroups ?? [])[0];
    expect(otherAdmins, 'the EPCI example names an admin group').toBeDefined();
    const as = ['--as', 'e2e-intruder', '--as-group', otherAdmins as string];
    await expect(
      kubectl(clusterKubectl(), [...as, '-n', namespaceOf(target), 'get', 'secret', 'db-owner']),
    ).rejects.toThrow(/forbidden/);
    await expect(
      kubectl(clusterKubectl(), [...as, '-n', namespaceOf(other), 'get', 'pods']),
    ).resolves.toBeDefined();
  });

  it("holds the operator's Pod to the API server, DNS and the backup destinations (its NetworkPolicy enforced), and keeps an authority's admins off the backup CronJob (admission)", async () => {
    const pods = await kubectlJson<{ items: Array<{ metadata: { name: string } }> }>([
      '-n',
      OPERATOR_NAMESPACE,
      'get',
      'pods',
      '-l',
      'app.kubernetes.io/name=territory-operator',
    ]);
    const operatorPod = pods.items[0]?.metadata.name;
    expect(operatorPod, 'an operator Pod runs').toBeDefined();
    // A TCP connection from inside the operator's container (its own Node.js), reported, never thrown.
    const connect = (host: string, port: number) =>
      kubectl(clusterKubectl(), [
        '-n',
        OPERATOR_NAMESPACE,
        'exec',
        operatorPod as string,
        '--',
        'node',
        '-e',
        `const s = require('node:net').connect({ host: ${JSON.stringify(host)}, port: ${port}, timeout: 5000 });
         s.on('connect', () => { console.log('connected'); process.exit(0); });
         s.on('timeout', () => { console.log('timeout'); process.exit(0); });
         s.on('error', (e) => { console.log(e.code); process.exit(0); });`,
      ]);
    const apiServer = await kubectl(clusterKubectl(), [
      '-n',
      OPERATOR_NAMESPACE,
      'exec',
      operatorPod as string,
      '--',
      'node',
      '-p',
      'process.env.KUBERNETES_SERVICE_HOST + " " + process.env.KUBERNETES_SERVICE_PORT',
    ]);
    const [apiHost = '', apiPort = '443'] = apiServer.trim().split(' ');
    expect((await connect(apiHost, Number(apiPort))).trim()).toBe('connected');
    // The object store, at its config.backupEgress address: open to the operator on HTTPS's port only
    // (networkPolicy.backupPorts), as it erases the physical backups of Territories deleted with Delete.
    const store = new URL(inject('objectStore').hostEndpoint);
    expect((await connect(store.hostname, 443)).trim()).toBe('connected');
    expect((await connect(store.hostname, 9000)).trim()).toMatch(/^(timeout|ECONNREFUSED|EHOSTUNREACH)$/);

    const target = tenant('epci-rennes-metropole.yaml');
    const admins = ((target.spec.access as { adminGroups?: string[] } | undefined)?.adminGroups ?? [])[0];
    const [cronJob] = (
      await kubectlJson<{ items: Array<{ metadata: { name: string } }> }>([
        '-n',
        namespaceOf(target),
        'get',
        'cronjobs',
      ])
    ).items;
    expect(cronJob, 'the backup CronJob exists').toBeDefined();
    await expect(
      kubectl(clusterKubectl(), [
        '--as',
        'e2e-admin',
        '--as-group',
        admins as string,
        '-n',
        namespaceOf(target),
        'patch',
        'cronjob',
        cronJob?.metadata.name as string,
        '--type=merge',
        '-p',
        '{"spec":{"suspend":true}}',
      ]),
    ).rejects.toThrow(/managed by the platform/);
  });

  it('territoryctl doctor passes on the install as users make it: API server published, every backup host given egress', async () => {
    const run = await territoryctl(['doctor', '-o', 'json']);
    const checks = (
      JSON.parse(run.stdout) as { checks: Array<{ name: string; verdict: string; detail: string }> }
    ).checks;
    const check = (name: string) => checks.find((c) => c.name === name);
    expect(check('API server egress'), run.stdout).toMatchObject({
      verdict: 'ok',
      detail: expect.stringContaining('discovered from the default/kubernetes EndpointSlices'),
    });
    expect(check('backup egress'), run.stdout).toMatchObject({ verdict: 'ok' });
    expect(run.code, run.stdout).toBe(0);
  });

  it('backs up through the enforced policies to a real S3 server over HTTPS (private CA), and the object restores to the same rows with territoryctl export', async () => {
    const t = tenant('commune-acigne.yaml');
    const ns = namespaceOf(t);
    const image = inject('postgresImage');
    const store = inject('objectStore');
    // Rows worth keeping, and the one line a faithful copy reproduces.
    const checksum = (
      await ownerSql(t, image, 'e2e-seed', [
        'CREATE TABLE continuity (id int primary key, note text)',
        'INSERT INTO continuity SELECT g, md5(g::text) FROM generate_series(1, 20000) g',
        CHECKSUM_SQL,
      ])
    ).at(-1);
    expect(checksum).toMatch(/^20000 [0-9a-f]{32}$/);

    // Its backups go to the cluster's object storage from the start (exampleTerritory): physical
    // ones too, whose WAL archive CloudNativePG reports on the Cluster. They go through the Barman
    // Cloud plugin (the ObjectStore the Cluster names; its sidecar in each instance Pod), never
    // through CloudNativePG's in-tree object store.
    expect(conditionOf(await getTerritory(t.metadata.name), 'BackupReady')?.status).toBe('True');
    const { spec: clusterSpec } = await kubectlJson<{ spec: { backup?: unknown; plugins?: unknown[] } }>([
      '-n',
      ns,
      'get',
      'clusters.postgresql.cnpg.io',
      'db',
    ]);
    expect(clusterSpec.backup).toBeUndefined();
    expect(clusterSpec.plugins).toEqual([
      expect.objectContaining({
        name: 'barman-cloud.cloudnative-pg.io',
        isWALArchiver: true,
        parameters: { barmanObjectName: 'physical-backups' },
      }),
    ]);
    await kubectlJson(['-n', ns, 'get', 'objectstores.barmancloud.cnpg.io', 'physical-backups']);
    await waitFor(
      async () => {
        const cluster = await cnpgCluster(ns);
        const archiving = cluster.status.conditions?.find((c) => c.type === 'ContinuousArchiving');
        return archiving?.status === 'True' ? true : undefined;
      },
      { what: 'CloudNativePG to archive WAL to the object storage', timeoutMs: 180_000, intervalMs: 2_000 },
    );

    const job = await runBackupJob(t);
    expect(job.succeeded, job.logs).toBe(true);
    // Each kind of backup reports on its own: the encrypted one just succeeded (its Job belongs to the
    // CronJob, whose status the operator reads); the physical one says who can read it.
    const reported = await waitFor(
      async () => {
        const backup = (
          (await getTerritory(t.metadata.name))?.status as { backup?: BackupStatus } | undefined
        )?.backup;
        return backup?.logical?.state === 'Succeeded' ? backup : undefined;
      },
      { what: 'status.backup.logical to report the success', timeoutMs: 60_000 },
    );
    expect(reported.logical?.encryption).toBe('Authority');
    expect(reported.physical).toMatchObject({ encryption: 'ProviderManaged' });
    expect(['Succeeded', 'Pending']).toContain(reported.physical?.state);
    recordFigure(inject('resultsDir'), {
      section: 'logical backup',
      subject: 'backup Job (kubectl create job --from=cronjob/logical-backup), start to completion',
      value: job.seconds,
      unit: 's',
      note: '20,000 rows + the purposes’ tables; pg_dump, encryption, upload over HTTPS',
    });

    // The real Job Pod was admitted by the API server's Pod Security enforcement (restricted), with
    // its keys mounted read-only; the same Pod asking for root is refused by that enforcement.
    const nsLabels = (
      await kubectlJson<{ metadata: { labels: Record<string, string> } }>(['get', 'namespace', ns])
    ).metadata.labels;
    expect(nsLabels['pod-security.kubernetes.io/enforce']).toBe('restricted');
    const jobPods = await kubectlJson<{ items: LivePod[] }>([
      '-n',
      ns,
      'get',
      'pods',
      '-l',
      `job-name=${job.name}`,
    ]);
    const jobPod = jobPods.items[0] as LivePod;
    expect(jobPod?.status?.phase).toBe('Succeeded');
    const mounts = jobPod.spec.containers[0]?.volumeMounts ?? [];
    for (const secretVolume of ['keyring', 'db-ca', 's3-ca']) {
      expect(mounts.find((m) => m.name === secretVolume)?.readOnly, secretVolume).toBe(true);
    }
    const asRoot = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: `${job.name}-as-root`, namespace: ns },
      spec: {
        ...jobPod.spec,
        nodeName: undefined,
        securityContext: { ...jobPod.spec.securityContext, runAsNonRoot: false, runAsUser: 0 },
      },
    };
    await expect(
      kubectl(clusterKubectl(), ['create', '--dry-run=server', '-f', await writeJson(asRoot)]),
    ).rejects.toThrow(/violates PodSecurity "restricted/);

    // The object is in the store, encrypted on the client side.
    const stored = await listStoreObjects(store, `${t.metadata.name}/`);
    const objects = stored.filter((o) => o.key.endsWith('.pgdump.enc'));
    expect(objects).toHaveLength(1);
    // Beside it, its encrypted manifest: every table's rows and checksum, taken in the dump's snapshot
    // by the backup Pod's own session over TLS (what a restore drill compares against).
    expect(stored.map((o) => o.key)).toContain(objects[0]?.key.replace(/\.pgdump\.enc$/, '.manifest.enc'));
    recordFigure(inject('resultsDir'), {
      section: 'logical backup',
      subject: `encrypted object ${objects[0]?.key}`,
      value: objects[0]?.size ?? 0,
      unit: 'bytes',
    });

    // The authority leaves with its data: territoryctl export, decrypted, then a restore elsewhere.
    const out = join(await mkdtemp(join(tmpdir(), 'territory-e2e-export-')), 'bundle');
    const exportStarted = Date.now();
    ok(
      await territoryctl(['export', t.metadata.name, '--out', out, '--s3-endpoint', store.hostEndpoint]),
      'territoryctl export',
    );
    recordFigure(inject('resultsDir'), {
      section: 'logical backup',
      subject: 'territoryctl export (download, verify, decrypt)',
      value: (Date.now() - exportStarted) / 1000,
      unit: 's',
    });
    const restored = await restoreElsewhere({
      namespace: 'e2e-restore',
      image,
      dumpFile: join(out, 'database', `${t.metadata.name}.pgdump`),
    });
    expect(restored.checksum).toBe(checksum);
    recordFigure(inject('resultsDir'), {
      section: 'logical backup',
      subject: 'pg_restore of the exported dump into a fresh PostgreSQL 17',
      value: restored.seconds,
      unit: 's',
    });
  });

  it('runs a restore drill from its CronJob: the latest backup restores and matches; corrupted in the bucket, the drill fails and BackupReady says so', async () => {
    const t = tenant('commune-acigne.yaml');
    const ns = namespaceOf(t);
    const store = inject('objectStore');
    const lastRestoreTest = async () =>
      ((await getTerritory(t.metadata.name))?.status as { backup?: BackupStatus } | undefined)?.backup
        ?.lastRestoreTest;
    /** The operator's own /metrics, read from inside its Pod (its health port). */
    const operatorMetrics = async () => {
      const pods = await kubectlJson<{
        items: Array<{
          metadata: { name: string };
          spec: { containers: Array<{ ports?: Array<{ name: string; containerPort: number }> }> };
        }>;
      }>(['-n', OPERATOR_NAMESPACE, 'get', 'pods', '-l', 'app.kubernetes.io/name=territory-operator']);
      const pod = pods.items[0];
      const port = pod?.spec.containers[0]?.ports?.find((p) => p.name === 'http-health')?.containerPort;
      return kubectl(clusterKubectl(), [
        '-n',
        OPERATOR_NAMESPACE,
        'exec',
        pod?.metadata.name as string,
        '--',
        'node',
        '-e',
        `fetch('http://127.0.0.1:${port}/metrics').then((r) => r.text()).then((t) => process.stdout.write(t))`,
      ]);
    };
    /** A drill that passes, reported by the operator. */
    const drillPasses = async () => {
      const drill = await runDrillJob(t);
      expect(drill.succeeded, drill.logs).toBe(true);
      expect(drill.logs).toContain('"result":"passed"');
      const reported = await waitFor(
        async () => {
          const d = await lastRestoreTest();
          return d?.result === 'Passed' && d.job === drill.name ? d : undefined;
        },
        { what: 'status.backup.lastRestoreTest to report the passed drill', timeoutMs: 60_000 },
      );
      expect(reported.state).toBe('Succeeded');
      await waitForTerritoryCondition(t.metadata.name, 'BackupReady', 'True', 60_000);
      return drill;
    };

    // The latest backup (the previous test's) restores into the drill's own server and matches its manifest.
    const passed = await drillPasses();
    expect(await operatorMetrics()).toMatch(
      /territory_backups\{kind="restore-drill",state="Succeeded"\} [1-9]/,
    );
    recordFigure(inject('resultsDir'), {
      section: 'logical backup',
      subject: 'restore drill Job (kubectl create job --from=cronjob/restore-drill), start to completion',
      value: passed.seconds,
      unit: 's',
      note: 'download and verify, initdb, pg_restore into the throwaway server, checksums of every table',
    });

    // One byte flipped in the middle of the latest encrypted object, where the store keeps it.
    const latest = (await listStoreObjects(store, `${t.metadata.name}/`))
      .map((o) => o.key)
      .filter((k) => k.endsWith('.pgdump.enc'))
      .sort()
      .at(-1);
    expect(latest, 'a backup object').toBeDefined();
    const file = join(store.dataDir, store.bucket, latest as string);
    const flip = () => {
      const bytes = readFileSync(file);
      const at = Math.floor(bytes.length / 2);
      bytes[at] = (bytes[at] as number) ^ 0xff;
      writeFileSync(file, bytes);
    };
    flip();
    try {
      const failed = await runDrillJob(t);
      expect(failed.succeeded, failed.logs).toBe(false);
      expect(failed.exitCode, failed.logs).toBe(5);
      const ready = await waitForTerritoryCondition(t.metadata.name, 'BackupReady', 'False', 60_000);
      expect(conditionOf(ready, 'BackupReady')).toMatchObject({ reason: 'RestoreDrillFailing' });
      expect(conditionOf(ready, 'BackupReady')?.message).toContain(
        `kubectl -n ${ns} logs job/${failed.name}`,
      );
      expect(await lastRestoreTest()).toMatchObject({
        state: 'Failing',
        result: 'Failed',
        failure: 'DoesNotRestore',
        job: failed.name,
      });
      expect(await operatorMetrics()).toMatch(
        /territory_backups\{kind="restore-drill",state="Failing"\} [1-9]/,
      );
    } finally {
      // The object back as it was, and a drill that passes again: the next tests expect Ready.
      flip();
    }
    await drillPasses();
  });

  it('restores declaratively from the latest encrypted backup: refused over live data without the confirmation, then the same rows with it', async () => {
    const t = tenant('commune-acigne.yaml');
    const name = t.metadata.name;
    const image = inject('postgresImage');
    type RestoreStatus = {
      request?: string;
      phase?: string;
      message?: string;
      durationSeconds?: number;
      tables?: number;
    };
    const restoreStatus = async () =>
      ((await getTerritory(name))?.status as { restore?: RestoreStatus } | undefined)?.restore;
    // What the latest backup holds (the backup test's rows: the drill test left the object as it was).
    const [backedUp] = await ownerSql(t, image, 'e2e-restore-before', [CHECKSUM_SQL]);
    // The authority's application carries on after the backup: rows it would lose by a restore.
    const changed = (
      await ownerSql(t, image, 'e2e-restore-change', [
        "UPDATE continuity SET note = 'changed after the backup' WHERE id <= 100",
        "INSERT INTO continuity VALUES (30000, 'written after the backup')",
        CHECKSUM_SQL,
      ])
    ).at(-1);
    expect(changed).not.toBe(backedUp);

    const unrequest = () =>
      kubectl(clusterKubectl(), [
        'patch',
        'territories.sovereign.dev',
        name,
        '--type=merge',
        '-p',
        JSON.stringify({ spec: { restore: null } }),
      ]);
    try {
      // 1. Asked without the confirmation: the Job looks at the database, finds tables, changes nothing.
      await kubectl(clusterKubectl(), [
        'patch',
        'territories.sovereign.dev',
        name,
        '--type=merge',
        '-p',
        JSON.stringify({ spec: { restore: { from: 'LogicalBackup' } } }),
      ]);
      const refused = await waitFor(
        async () => {
          const r = await restoreStatus();
          return r?.phase === 'Refused' ? r : undefined;
        },
        { what: 'status.restore to say Refused', timeoutMs: 180_000 },
      );
      expect(refused.request).toMatch(/^[0-9a-f]{10}$/);
      const territory = await getTerritory(name);
      expect(conditionOf(territory, 'Restored')).toMatchObject({
        status: 'False',
        reason: 'DatabaseNotEmpty',
      });
      expect(conditionOf(territory, 'Restored')?.message).toContain(`replaceExistingData`);
      expect((await ownerSql(t, image, 'e2e-restore-refused', [CHECKSUM_SQL]))[0]).toBe(changed);

      // 2. Confirmed, as a person does it: territoryctl restore follows it to the end.
      const started = Date.now();
      const attempt = await territoryctl([
        'restore',
        name,
        '--replace-existing-data',
        '--timeout',
        '10m',
        '-o',
        'json',
      ]);
      if (attempt.code !== 0) {
        // The Job's log says why (the status holds counts only): shown with the failure.
        const request = (JSON.parse(attempt.stdout || '{}') as RestoreStatus).request;
        const logs = await kubectl(clusterKubectl(), [
          '-n',
          namespaceOf(t),
          'logs',
          `job/restore-${request}`,
        ]).catch((e: Error) => e.message);
        throw new Error(
          `territoryctl restore exited ${attempt.code}:\n${attempt.stderr}\nthe restore Job's log:\n${logs}`,
        );
      }
      const run = attempt;
      const seconds = (Date.now() - started) / 1000;
      const done = JSON.parse(run.stdout) as RestoreStatus;
      expect(done.phase).toBe('Succeeded');
      expect(done.request).not.toBe(refused.request);
      expect(conditionOf(await getTerritory(name), 'Restored')).toMatchObject({
        status: 'True',
        reason: 'RestoreSucceeded',
      });
      // The rows written after the backup are gone; what the backup held is back, exactly. The database
      // itself records the request it served.
      const [restored, marker] = await ownerSql(t, image, 'e2e-restore-after', [
        CHECKSUM_SQL,
        "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = current_database()",
      ]);
      expect(restored).toBe(backedUp);
      expect(marker).toMatch(
        new RegExp(`^territory-restore request=${done.request} backup=\\S+ source=${name} at=`),
      );
      recordFigure(inject('resultsDir'), {
        section: 'logical backup',
        subject:
          'declarative restore over live data (territoryctl restore --replace-existing-data), request to Succeeded',
        value: seconds,
        unit: 's',
        note: `20,000 rows + the purposes’ tables; the Job alone: ${done.durationSeconds ?? '?'} s (verify, pg_restore --clean in one transaction, checksums)`,
      });

      // 3. The confirmed request replayed after its Job and its status were both lost (a Territory
      // re-created from Git, a cluster's objects restored without status): the database says it was
      // served, and the rows written since stay.
      const [afterwards] = (
        await ownerSql(t, image, 'e2e-restore-later', [
          "INSERT INTO continuity VALUES (30001, 'written after the restore')",
          CHECKSUM_SQL,
        ])
      ).slice(-1);
      // With the operator stopped, so that what it finds when it starts is exactly this.
      await withOperatorStopped(OPERATOR_NAMESPACE, async () => {
        await kubectl(clusterKubectl(), ['-n', namespaceOf(t), 'delete', 'job', `restore-${done.request}`]);
        await kubectl(clusterKubectl(), [
          'patch',
          'territories.sovereign.dev',
          name,
          '--subresource=status',
          '--type=json',
          '-p',
          JSON.stringify([{ op: 'remove', path: '/status/restore' }]),
        ]);
      });
      const replayed = await waitFor(
        async () => {
          const r = await restoreStatus();
          return r?.phase === 'Succeeded' &&
            r.request === done.request &&
            r.message?.includes('served already')
            ? r
            : undefined;
        },
        { what: 'the replayed request to find itself served already', timeoutMs: 180_000 },
      );
      expect(replayed.message).toContain('nothing was changed');
      expect((await ownerSql(t, image, 'e2e-restore-replayed', [CHECKSUM_SQL]))[0]).toBe(afterwards);
    } finally {
      // The request stays recorded in status; the field goes, so the tests after find the Territory Ready.
      await unrequest();
    }
    await waitForTerritoryCondition(name, 'Ready', 'True', 120_000);
  });

  it('fails over when the primary Pod is killed: the Territory reports it, comes back Ready, and no replicated row is lost', async () => {
    const t = tenant('commune-acigne.yaml');
    // A failover needs a replica: the node's sizing gives the commune two instances (its small profile
    // alone would give it one).
    expect(instancesOf(t)).toBe(2);
    const ns = namespaceOf(t);
    const image = inject('postgresImage');
    const cluster = () => cnpgCluster(ns);
    // The rows up to 20000 (the tests before may have written others): compared after the failover.
    const upTo20000 = CHECKSUM_SQL.replace('FROM continuity', 'FROM continuity WHERE id <= 20000');
    const [checksumBefore] = await ownerSql(t, image, 'e2e-checksum', [upTo20000]);
    const primary = (await cluster()).status.currentPrimary as string;
    expect(primary).toBeTruthy();
    // A row committed just before the kill, and seen on the replica: CloudNativePG replicates
    // asynchronously by default, so only what a replica has received can survive losing the primary.
    await ownerSql(t, image, 'e2e-before-kill', [
      "INSERT INTO continuity VALUES (20001, 'committed before the primary was killed')",
      `for i in $(seq 1 60); do n=$(${psql(t, 'SELECT count(*) FROM continuity WHERE id = 20001', { service: 'ro' })}); [ "$n" = 1 ] && break; sleep 1; done; [ "$n" = 1 ]`,
    ]);

    const killed = Date.now();
    await kubectl(clusterKubectl(), ['-n', ns, 'delete', 'pod', primary, '--grace-period=0', '--force']);
    let degraded: Condition | undefined;
    let promoted: number | undefined;
    let last: TerritoryObject | undefined;
    await waitFor(
      async () => {
        last = await getTerritory(t.metadata.name);
        const db = conditionOf(last, 'DatabaseReady');
        if (db?.status === 'False') degraded ??= db;
        const status = (await cluster()).status;
        if (
          !promoted &&
          status.currentPrimary !== primary &&
          status.currentPrimary === status.targetPrimary
        ) {
          promoted = Date.now();
        }
        return degraded && promoted && conditionOf(last, 'Ready')?.status === 'True' ? true : undefined;
      },
      {
        what: () => `failover and Ready again; conditions now: ${JSON.stringify(last?.status?.conditions)}`,
        timeoutMs: 420_000,
        intervalMs: 500,
      },
    );
    const readyAgain = Date.now();
    expect(degraded?.reason).toMatch(/DatabaseProvisioning|DatabaseUnhealthy/);
    recordFigure(inject('resultsDir'), {
      section: 'failover (primary Pod killed, 2 instances)',
      subject: 'a replica promoted (Cluster currentPrimary changed)',
      value: ((promoted as number) - killed) / 1000,
      unit: 's',
    });
    recordFigure(inject('resultsDir'), {
      section: 'failover (primary Pod killed, 2 instances)',
      subject: 'Territory Ready=True again (both instances ready)',
      value: (readyAgain - killed) / 1000,
      unit: 's',
      note: `degradation seen: DatabaseReady=False ${degraded?.reason}`,
    });
    const after = await ownerSql(t, image, 'e2e-after-failover', [
      upTo20000,
      'SELECT note FROM continuity WHERE id = 20001',
    ]);
    expect(after).toEqual([checksumBefore, 'committed before the primary was killed']);
  });

  it('keeps database Pods off a node outside the allowed regions: a new instance stays Pending and the Territory says why', async () => {
    const t = tenant('commune-acigne.yaml');
    const ns = namespaceOf(t);
    const node = await onlyNode();
    const home = inject('nodeRegion');
    // The platform moves the node to another French region (as a relabelled or replaced node would
    // be): the Territory allows only its own region.
    const elsewhere = 'eu-west-2';
    const label = (region: string) =>
      kubectl(clusterKubectl(), [
        'label',
        'node',
        node,
        `topology.kubernetes.io/region=${region}`,
        '--overwrite',
      ]);
    await label(elsewhere);
    try {
      const refused = await waitForTerritoryCondition(
        t.metadata.name,
        'SovereigntyCompliant',
        'False',
        120_000,
      );
      const gate = conditionOf(refused, 'SovereigntyCompliant');
      expect(gate?.reason).toBe('RegionNotAvailable');
      expect(gate?.message).toContain(home);
      expect(conditionOf(refused, 'Ready')?.status).toBe('False');
      // An instance recreated now (its Pod deleted) has nowhere to go: the scheduler keeps it Pending.
      const replica = await replicaOf(ns);
      await kubectl(clusterKubectl(), ['-n', ns, 'delete', 'pod', replica, '--wait=true']);
      const pending = await waitFor(
        async () => {
          const pod = await kubectlJson<{
            metadata: { uid: string };
            status: { phase?: string; conditions?: Condition[] };
          }>(['-n', ns, 'get', 'pod', replica]).catch(() => undefined);
          const scheduled = pod?.status.conditions?.find((c) => c.type === 'PodScheduled');
          return scheduled?.status === 'False' ? { phase: pod?.status.phase, scheduled } : undefined;
        },
        {
          what: `instance ${replica} recreated and refused by the scheduler`,
          timeoutMs: 180_000,
          intervalMs: 1_000,
        },
      );
      expect(pending.phase).toBe('Pending');
      expect(pending.scheduled.reason).toBe('Unschedulable');
      expect(pending.scheduled.message).toMatch(/node affinity/);
    } finally {
      await label(home);
    }
    const back = Date.now();
    await waitForTerritoryCondition(t.metadata.name, 'Ready', 'True', 420_000);
    recordFigure(inject('resultsDir'), {
      section: 'scheduling',
      subject: 'node back in its region: pending instance scheduled and Territory Ready=True',
      value: (Date.now() - back) / 1000,
      unit: 's',
    });
  });

  it('says why a database instance cannot be scheduled (DatabaseUnschedulable), and recovers once it can', async () => {
    const t = tenant('commune-acigne.yaml');
    const ns = namespaceOf(t);
    const node = await onlyNode();
    // The node is cordoned (maintenance, or full): the regions still match, the gate stays open, but
    // an instance recreated now cannot be placed.
    await kubectl(clusterKubectl(), ['cordon', node]);
    try {
      const replica = await replicaOf(ns);
      await kubectl(clusterKubectl(), ['-n', ns, 'delete', 'pod', replica, '--wait=true']);
      let live: TerritoryObject | undefined;
      const stuck = await waitFor(
        async () => {
          live = await getTerritory(t.metadata.name);
          return conditionOf(live, 'DatabaseReady')?.reason === 'DatabaseUnschedulable' ? live : undefined;
        },
        {
          what: () => `DatabaseUnschedulable; conditions now: ${JSON.stringify(live?.status?.conditions)}`,
          timeoutMs: 180_000,
          intervalMs: 1_000,
        },
      );
      const db = conditionOf(stuck, 'DatabaseReady');
      expect(db?.message).toContain(`Pod ${ns}/${replica}`);
      expect(db?.message).toMatch(/unschedulable/);
      expect(conditionOf(stuck, 'Ready')?.status).toBe('False');
      expect(conditionOf(stuck, 'SovereigntyCompliant')?.status).toBe('True');
    } finally {
      await kubectl(clusterKubectl(), ['uncordon', node]);
    }
    await waitForTerritoryCondition(t.metadata.name, 'Ready', 'True', 420_000);
  });

  it('deletionPolicy Retain: deleting the Territory leaves the database running and serving', async () => {
    const t = tenant('epci-rennes-metropole.yaml');
    const ns = namespaceOf(t);
    expect(t.spec.deletionPolicy).toBe('Retain');
    await kubectl(clusterKubectl(), [
      'delete',
      'territory',
      t.metadata.name,
      '--wait=true',
      '--timeout=180s',
    ]);
    expect(await getTerritory(t.metadata.name)).toBeUndefined();
    // The namespace, its keys and its database stay: the authority's data is never deleted by accident.
    await kubectl(clusterKubectl(), [
      '-n',
      ns,
      'get',
      'secret/territory-keyring',
      'clusters.postgresql.cnpg.io/db',
    ]);
    const [answer] = await ownerSql(t, inject('postgresImage'), 'e2e-after-retain', [
      "SELECT 'still serving ' || current_database()",
    ]);
    expect(answer).toBe(`still serving ${dbNameOf(t)}`);
  });

  it('deletionPolicy Delete: deleting the Territory removes its Pods, volumes and namespace', async () => {
    const t = tenant('commune-acigne.yaml');
    const ns = namespaceOf(t);
    // Its physical backups (WAL archive, base backups: readable by the provider) are erased from the bucket.
    const store = inject('objectStore');
    const physicalPrefix = `${t.metadata.name}/physical/`;
    const physicalObjects = () => listStoreObjects(store, physicalPrefix);
    expect((await physicalObjects()).length, 'WAL archived before the deletion').toBeGreaterThan(0);
    const claims = await kubectlJson<{ items: Array<{ spec: { volumeName?: string } }> }>([
      '-n',
      ns,
      'get',
      'pvc',
    ]);
    const volumes = claims.items.map((c) => c.spec.volumeName).filter((v): v is string => !!v);
    expect(volumes.length).toBeGreaterThan(0);
    await kubectl(clusterKubectl(), [
      'patch',
      'territory',
      t.metadata.name,
      '--type=merge',
      '-p',
      JSON.stringify({ spec: { deletionPolicy: 'Delete' } }),
    ]);
    await waitForTerritoryCondition(t.metadata.name, 'Ready', 'True', 120_000);
    const started = Date.now();
    await kubectl(clusterKubectl(), ['delete', 'territory', t.metadata.name, '--wait=false']);
    await waitFor(
      async () => {
        const gone = await kubectl(clusterKubectl(), [
          'get',
          'namespace',
          ns,
          '--ignore-not-found',
          '-o',
          'name',
        ]);
        return gone.trim() === '' ? true : undefined;
      },
      { what: `namespace ${ns} to be deleted`, timeoutMs: 300_000, intervalMs: 1_000 },
    );
    recordFigure(inject('resultsDir'), {
      section: 'deletion',
      subject: 'deletionPolicy Delete: kubectl delete territory to namespace gone',
      value: (Date.now() - started) / 1000,
      unit: 's',
    });
    expect(await getTerritory(t.metadata.name)).toBeUndefined();
    expect((await physicalObjects()).map((o) => o.key)).toEqual([]);
    const pods = await kubectlJson<{ items: unknown[] }>(['get', 'pods', '-A', '-l', 'cnpg.io/cluster=db']);
    expect(JSON.stringify(pods.items)).not.toContain(`"namespace":"${ns}"`);
    // local-path volumes are released with their claims (reclaim policy Delete): none is left.
    await waitFor(
      async () => {
        const left = await kubectl(clusterKubectl(), [
          'get',
          'pv',
          ...volumes,
          '--ignore-not-found',
          '-o',
          'name',
        ]);
        return left.trim() === '' ? true : undefined;
      },
      { what: `volumes ${volumes.join(', ')} to be deleted`, timeoutMs: 120_000, intervalMs: 1_000 },
    );
  });
});

type BackupStatus = {
  logical?: { state?: string; lastSuccessful?: string; encryption?: string };
  physical?: { state?: string; encryption?: string };
  lastRestoreTest?: { state?: string; result?: string; failure?: string; job?: string };
};
