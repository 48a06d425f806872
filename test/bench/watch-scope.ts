// `npm run bench:watch-scope`: what least privilege for Secrets costs (issue 15). Today the operator
// reads Secrets through a ClusterRole and watches them cluster-wide (two informers: its labelled Secrets
// in full, everyone else's by metadata). Without a ClusterRole it could only watch each managed
// namespace on its own: one list+watch per namespace and informer. For each size and scope, on a FRESH
// control plane:
//
//   1. the operator's identity (ServiceAccount + a ClusterRole reading Secrets, bound cluster-wide, or by
//      one RoleBinding per managed namespace), N Territory namespaces with the operator's Secrets (its own
//      planners' keyring and credentials) and the unlabelled Secrets the authority and CloudNativePG put
//      there, and a few namespaces the operator does not manage;
//   2. a client process of its own (watch-scope-client.ts) runs the operator's Secret informers with the
//      operator's runtime and its token, cluster-wide or per namespace; timed to sync (lists done, watches
//      counted by the API server), its memory, sockets and file descriptors observed from /proc;
//   3. a Secret changed in a few dozen namespaces, one at a time: time until the client saw it;
//   4. an idle window: re-watches, CPU of the client, the API server and etcd.
//
//   npm run bench:watch-scope -- [--namespaces 1255,5000] [--scopes cluster,namespaced] [--watches both|owned]
//       [--tenant-secrets 6] [--other-namespaces 20] [--changes 40] [--idle-seconds 120]
//       [--pace-ms 250] [--start-concurrency 0] [--sync-timeout-seconds 900] [--node-flags="…"] [--keep]
//       [--out bench-results]
//
// --namespaces takes bench sizes (dataset.ts): a number = the first N communes, `epci` = all 1,255 EPCIs.
// Results: bench-results/watch-scope-<time>.json and .md (the Markdown is also printed).
import { type ChildProcess, fork } from 'node:child_process';
import { closeSync, openSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { Agent, request } from 'node:https';
import { cpus, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { parse as parseYaml, stringify } from 'yaml';
import { KEYRING_SECRET } from '../../operator/src/builders/keys.ts';
import { parseOperatorConfig } from '../../operator/src/config/operator-config.ts';
import { loadClusterAccess } from '../../operator/src/runtime/cluster-access.ts';
import { KubeApiError, KubeClient } from '../../operator/src/runtime/kube-client.ts';
import type { KubeObject } from '../../operator/src/runtime/types.ts';
import {
  type ControlPlane,
  removeControlPlaneData,
  startControlPlane,
} from '../controlplane/controlplane.ts';
import { sleep } from '../controlplane/processes.ts';
import { authoritiesFor, parseSizes, type SizeSpec, territoryName } from './dataset.ts';
import { type KubeconfigTls, readKubeconfigTls, runFloorWriter } from './floor-writer.ts';
import { parsePrometheus, readProcStats, type Sample } from './observe.ts';
import { benchOperatorConfig, chartNodeFlags } from './operator-process.ts';
import { latency, spread } from './reaction.ts';
import type { LatencyFigures } from './report.ts';
import type { ClientSnapshot, FromClient, Scope, ToClient, WatchSet } from './watch-scope-client.ts';
import {
  identityObjects,
  OPERATOR_ACCOUNT,
  OPERATOR_NAMESPACE,
  operatorObjects,
  otherNamespace,
  readerBinding,
  tenantSecrets,
  WRITER,
} from './watch-scope-objects.ts';
import { renderMarkdown, type ScopeResult, type WatchScopeResult } from './watch-scope-report.ts';

const REPO = resolve(import.meta.dirname, '..', '..');
const CLIENT = join(import.meta.dirname, 'watch-scope-client.ts');
const MB = 1024 * 1024;
const TOUCH = 'bench.sovereign.dev/touch';

const { values } = parseArgs({
  options: {
    namespaces: { type: 'string', default: '1255' },
    scopes: { type: 'string', default: 'cluster,namespaced' },
    watches: { type: 'string', default: 'both' },
    'tenant-secrets': { type: 'string', default: '6' },
    'other-namespaces': { type: 'string', default: '20' },
    changes: { type: 'string', default: '40' },
    'pace-ms': { type: 'string', default: '250' },
    'idle-seconds': { type: 'string', default: '120' },
    'start-concurrency': { type: 'string', default: '0' },
    'sync-timeout-seconds': { type: 'string', default: '900' },
    'node-flags': { type: 'string' },
    keep: { type: 'boolean', default: false },
    out: { type: 'string', default: join(REPO, 'bench-results') },
  },
});

const sizes = parseSizes(values.namespaces ?? '');
const scopes = (values.scopes ?? '').split(',').map((s) => {
  if (s !== 'cluster' && s !== 'namespaced')
    throw new Error(`--scopes: "${s}" is neither cluster nor namespaced`);
  return s as Scope;
});
const watches = values.watches as WatchSet;
if (watches !== 'both' && watches !== 'owned') throw new Error('--watches: both or owned');
const tenantSecretCount = Number(values['tenant-secrets']);
const otherNamespaceCount = Number(values['other-namespaces']);
const changes = Number(values.changes);
const paceMs = Number(values['pace-ms']);
const idleSeconds = Number(values['idle-seconds']);
const startConcurrency = Number(values['start-concurrency']);
const syncTimeoutMs = Number(values['sync-timeout-seconds']) * 1000;
const nodeFlags =
  values['node-flags'] === undefined ? chartNodeFlags() : values['node-flags'].split(' ').filter(Boolean);
const stamp = new Date().toISOString().replace(/[:.]/g, '-');
const outDir = values.out ?? join(REPO, 'bench-results');
const runDir = join(outDir, `watch-scope-${stamp}`);

const t0 = performance.now();
const say = (line: string) =>
  process.stderr.write(`[watch-scope +${((performance.now() - t0) / 1000).toFixed(0)}s] ${line}\n`);

// ---- observing processes from outside --------------------------------------------------------------

/** The chart's allocator settings (values.yaml `glibcTunables`), as the operator's Pod runs with them. */
function chartGlibcTunables(): string {
  const chart = parseYaml(
    readFileSync(join(REPO, 'charts', 'territory-operator', 'values.yaml'), 'utf8'),
  ) as {
    glibcTunables?: string;
  };
  return chart.glibcTunables ?? '';
}

/** The soft limit on open files of `pid` (/proc/<pid>/limits). */
function maxOpenFiles(pid: number): number {
  const m = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync(`/proc/${pid}/limits`, 'utf8'));
  return m?.[1] === undefined || m[1] === 'unlimited' ? Number.POSITIVE_INFINITY : Number(m[1]);
}

function peakRssBytes(pid: number): number {
  return readProcStats(pid).peakRssBytes;
}

/** Open file descriptors of `pid`, and the inodes of its sockets. */
function openFds(pid: number): { fds: number; socketInodes: Set<string> } {
  const socketInodes = new Set<string>();
  let fds = 0;
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    fds++;
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m?.[1]) socketInodes.add(m[1]);
    } catch {
      // closed meanwhile
    }
  }
  return { fds, socketInodes };
}

/** Established TCP connections of `pid` to `port` (its socket inodes matched in /proc/<pid>/net/tcp{,6}). */
function connectionsTo(pid: number, port: number): { connections: number; fds: number } {
  const { fds, socketInodes } = openFds(pid);
  let connections = 0;
  for (const file of ['tcp', 'tcp6']) {
    let text: string;
    try {
      text = readFileSync(`/proc/${pid}/net/${file}`, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
      const remote = cols[2];
      if (!remote || cols[3] !== '01') continue;
      if (Number.parseInt(remote.split(':')[1] ?? '', 16) !== port) continue;
      if (socketInodes.has(cols[9] ?? '')) connections++;
    }
  }
  return { connections, fds };
}

/** kube-apiserver's /metrics, with the admin's client certificate. */
function apiServerMetrics(tls: KubeconfigTls, agent: Agent): Promise<Sample[]> {
  return new Promise((resolvePromise, reject) => {
    const req = request(`${tls.server}/metrics`, { agent, timeout: 30_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () =>
        res.statusCode === 200
          ? resolvePromise(parsePrometheus(body))
          : reject(new Error(`GET /metrics: HTTP ${res.statusCode}`)),
      );
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('GET /metrics timed out')));
    req.on('error', reject);
    req.end();
  });
}

const sum = (samples: Sample[], name: string, match: Record<string, string> = {}) =>
  samples
    .filter((s) => s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v))
    .reduce((a, s) => a + s.value, 0);

/** Watches on Secrets the API server is serving right now (all scopes). */
const secretWatches = (samples: Sample[]) =>
  sum(samples, 'apiserver_longrunning_requests', { resource: 'secrets', verb: 'WATCH' });
/** Requests answered 429 (API Priority and Fairness refused or timed them out in its queues). */
const throttled = (samples: Sample[]) => sum(samples, 'apiserver_request_total', { code: '429' });

// ---- the client process ------------------------------------------------------------------------------

class ClientProcess {
  readonly child: ChildProcess;
  readonly #waiters: { match: (m: FromClient) => boolean; resolve: (m: FromClient) => void }[] = [];
  /** Last event seen per Secret key: resourceVersion and when the parent heard of it. */
  readonly seen = new Map<string, { resourceVersion: string; at: number }>();
  progress = { synced: 0, informers: 0 };
  syncedAt: number | undefined;
  failure: string | undefined;
  exit: string | undefined;

  constructor(logPath: string) {
    const fd = openSync(logPath, 'a');
    try {
      this.child = fork(CLIENT, [], {
        execArgv: [...nodeFlags, '--expose-gc'],
        env: { ...process.env, GLIBC_TUNABLES: process.env.GLIBC_TUNABLES ?? chartGlibcTunables() },
        stdio: ['ignore', fd, fd, 'ipc'],
      });
    } finally {
      closeSync(fd);
    }
    this.child.on('exit', (code, signal) => {
      this.exit = `exited (${code ?? signal})`;
      for (const w of this.#waiters.splice(0)) w.resolve({ type: 'failed', error: this.exit });
    });
    this.child.on('message', (m: FromClient) => {
      if (m.type === 'seen')
        this.seen.set(m.key, { resourceVersion: m.resourceVersion, at: performance.now() });
      if (m.type === 'progress') this.progress = { synced: m.synced, informers: m.informers };
      if (m.type === 'synced') this.syncedAt = performance.now();
      if (m.type === 'failed') this.failure = m.error;
      for (const w of [...this.#waiters]) {
        if (w.match(m)) {
          this.#waiters.splice(this.#waiters.indexOf(w), 1);
          w.resolve(m);
        }
      }
    });
  }

  get pid(): number {
    return this.child.pid as number;
  }

  send(message: ToClient): void {
    this.child.send(message);
  }

  next<T extends FromClient['type']>(type: T, timeoutMs = 60_000): Promise<Extract<FromClient, { type: T }>> {
    if (this.exit) return Promise.reject(new Error(`the client ${this.exit}`));
    return new Promise((resolvePromise, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no ${type} from the client in ${timeoutMs} ms`)),
        timeoutMs,
      );
      this.#waiters.push({
        match: (m) => m.type === type || m.type === 'failed',
        resolve: (m) => {
          clearTimeout(timer);
          if (m.type === 'failed' && type !== 'failed') reject(new Error(`the client failed: ${m.error}`));
          else resolvePromise(m as Extract<FromClient, { type: T }>);
        },
      });
    });
  }

  async snapshot(): Promise<ClientSnapshot> {
    const reply = this.next('snapshot', 120_000);
    this.send({ type: 'snapshot' });
    return reply;
  }

  async stop(): Promise<void> {
    if (this.exit) return;
    const exited = new Promise<void>((r) => this.child.once('exit', () => r()));
    this.send({ type: 'stop' });
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 30_000);
    await exited;
    clearTimeout(timer);
  }
}

// ---- one size, one scope -----------------------------------------------------------------------------

/** A kubeconfig for the operator's ServiceAccount (a TokenRequest), as its Pod would hold it. */
async function operatorKubeconfig(admin: KubeClient, cp: ControlPlane, path: string): Promise<void> {
  const review = (await admin.request(
    'POST',
    `/api/v1/namespaces/${OPERATOR_NAMESPACE}/serviceaccounts/${OPERATOR_ACCOUNT}/token`,
    {
      verb: 'create',
      resource: 'serviceaccounts',
      body: {
        apiVersion: 'authentication.k8s.io/v1',
        kind: 'TokenRequest',
        spec: { expirationSeconds: 86_400 },
      },
    },
  )) as { status: { token: string } };
  const adminConfig = parseYaml(readFileSync(cp.kubeconfigPath, 'utf8')) as {
    clusters: { cluster: Record<string, unknown> }[];
  };
  const cluster = adminConfig.clusters[0]?.cluster ?? {};
  await writeFile(
    path,
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      'current-context': 'operator',
      clusters: [{ name: 'bench', cluster }],
      users: [{ name: 'operator', user: { token: review.status.token } }],
      contexts: [{ name: 'operator', context: { cluster: 'bench', user: 'operator' } }],
    }),
    { mode: 0o600 },
  );
}

async function runScope(
  size: SizeSpec,
  scope: Scope,
  serverVersion: { value: string },
): Promise<ScopeResult> {
  const label = `${size.label}-${scope}`;
  say(`=== ${size.label} namespaces, ${scope} ===`);
  const cpDir = join(runDir, `controlplane-${label}`);
  const cp = await startControlPlane({ dir: cpDir, log: (l) => say(`controlplane: ${l}`) });
  serverVersion.value = cp.serverVersion;
  const tls = readKubeconfigTls(cp.kubeconfigPath);
  const agent = new Agent({ keepAlive: true, maxSockets: 1, ca: tls.ca, cert: tls.cert, key: tls.key });
  const apiPort = Number(new URL(cp.apiServerUrl).port);
  let client: ClientProcess | undefined;
  try {
    const admin = new KubeClient(await loadClusterAccess(cp.kubeconfigPath), { userAgent: WRITER });
    for (const o of identityObjects(scope === 'cluster')) await admin.create(o as KubeObject);
    const operatorConfigPath = join(runDir, `operator-${label}.kubeconfig`);
    await operatorKubeconfig(admin, cp, operatorConfigPath);

    // 1. The data: Territory namespaces (+ a RoleBinding each when per namespace), other namespaces.
    const config = parseOperatorConfig(benchOperatorConfig({ resyncSeconds: 60, concurrency: 8 }));
    const now = new Date();
    const authorities = authoritiesFor(size);
    const namespaces = authorities.map(territoryName);
    let labelled = 0;
    let unlabelled = 0;
    const groups = authorities.map((a) => {
      const ns = territoryName(a);
      const own = operatorObjects(a, config, now);
      const theirs = tenantSecrets(ns, tenantSecretCount);
      labelled += own.filter((o) => o.kind === 'Secret').length;
      unlabelled += theirs.length;
      return [...own, ...theirs, ...(scope === 'namespaced' ? [readerBinding(ns)] : [])];
    });
    for (let i = 0; i < otherNamespaceCount; i++) {
      groups.push(otherNamespace(`team-${i}`, tenantSecretCount));
      unlabelled += tenantSecretCount;
    }
    let started = performance.now();
    let lastSaid = 0;
    const written = await runFloorWriter({
      tls,
      groups,
      concurrency: 16,
      fieldManager: WRITER,
      onProgress: (done) => {
        if (performance.now() - lastSaid > 15_000) {
          lastSaid = performance.now();
          say(`populated ${done}/${groups.length} namespaces`);
        }
      },
    });
    const populateSeconds = (performance.now() - started) / 1000;
    say(
      `populated ${groups.length} namespaces (${labelled} labelled, ${unlabelled} unlabelled Secrets) ` +
        `in ${populateSeconds.toFixed(0)} s, ${written.requests} requests`,
    );

    // The RBAC the scope needs, checked with the operator's own token.
    const asOperator = new KubeClient(await loadClusterAccess(operatorConfigPath), { userAgent: 'probe' });
    const clusterWideListAllowed = await asOperator
      .list({ apiVersion: 'v1', kind: 'Secret', labelSelector: 'nothing=here' })
      .then(() => true)
      .catch((error: unknown) => {
        if (error instanceof KubeApiError && error.statusCode === 403) return false;
        throw error;
      });
    const first = namespaces[0] as string;
    await asOperator.list({
      apiVersion: 'v1',
      kind: 'Secret',
      namespace: first,
      labelSelector: 'nothing=here',
    });
    await asOperator.close();
    say(`the operator's token ${clusterWideListAllowed ? 'may' : 'may not'} list Secrets cluster-wide`);

    // 2. Baseline, then the client.
    await sleep(5_000);
    const baseline = await apiServerMetrics(tls, agent);
    const baseWatches = secretWatches(baseline);
    const baseThrottled = throttled(baseline);
    const apiRssBefore = readProcStats(cp.pids.kubeApiServer).rssBytes;
    client = new ClientProcess(join(runDir, `client-${label}.log`));
    const ready = await client.next('ready');
    const idleRss = readProcStats(client.pid).rssBytes;
    say(
      `client pid ${client.pid}: RSS ${(idleRss / MB).toFixed(0)} MiB idle, heap ${(ready.memory.heapUsedBytes / MB).toFixed(1)} MiB`,
    );

    const expected = (scope === 'cluster' ? 1 : namespaces.length) * (watches === 'both' ? 2 : 1);
    const cpuOf = (pid: number) => readProcStats(pid).cpuSeconds;
    const cpuAtStart = {
      client: cpuOf(client.pid),
      api: cpuOf(cp.pids.kubeApiServer),
      etcd: cpuOf(cp.pids.etcd),
    };
    const syncStart = performance.now();
    client.send({
      type: 'start',
      scope,
      namespaces,
      watches,
      kubeconfig: operatorConfigPath,
      startConcurrency,
    });
    let listsDoneAt: number | undefined;
    let watchesAt: number | undefined;
    let held = 0;
    let peakConnections = 0;
    let peakFds = 0;
    let outcome = 'ok';
    lastSaid = performance.now();
    while (listsDoneAt === undefined || watchesAt === undefined) {
      if (client.exit || client.failure) {
        outcome = `client ${client.failure ?? client.exit}`;
        break;
      }
      if (performance.now() - syncStart > syncTimeoutMs) {
        outcome =
          `not synced after ${syncTimeoutMs / 1000} s: ${client.progress.synced}/${client.progress.informers} ` +
          `informers listed, ${held}/${expected} watches held`;
        break;
      }
      const { connections, fds } = connectionsTo(client.pid, apiPort);
      peakConnections = Math.max(peakConnections, connections);
      peakFds = Math.max(peakFds, fds);
      if (client.syncedAt !== undefined) listsDoneAt ??= client.syncedAt;
      const metrics = await apiServerMetrics(tls, agent).catch(() => undefined);
      if (metrics) held = secretWatches(metrics) - baseWatches;
      if (held >= expected) watchesAt ??= performance.now();
      if (performance.now() - lastSaid > 10_000) {
        lastSaid = performance.now();
        say(
          `sync: ${client.progress.synced}/${client.progress.informers} listed, ${held}/${expected} watches held, ` +
            `${connections} connections, client RSS ${(readProcStats(client.pid).rssBytes / MB).toFixed(0)} MiB`,
        );
      }
      await sleep(listsDoneAt === undefined ? 1_000 : 250);
    }
    const seconds = (at: number | undefined) => (at === undefined ? null : (at - syncStart) / 1000);
    say(
      `sync: lists ${seconds(listsDoneAt)?.toFixed(1) ?? '–'} s, watches ${seconds(watchesAt)?.toFixed(1) ?? '–'} s (${outcome})`,
    );
    const alive = () => !client?.exit;
    const syncCpu = {
      clientCpuSeconds: alive() ? cpuOf(client.pid) - cpuAtStart.client : 0,
      apiServerCpuSeconds: cpuOf(cp.pids.kubeApiServer) - cpuAtStart.api,
      etcdCpuSeconds: cpuOf(cp.pids.etcd) - cpuAtStart.etcd,
    };
    const clientMaxOpenFiles = alive() ? maxOpenFiles(client.pid) : 0;
    const syncedSnapshot = alive() ? await client.snapshot() : undefined;
    const afterSync = await apiServerMetrics(tls, agent);
    await sleep(5_000);
    const apiRssWithWatches = readProcStats(cp.pids.kubeApiServer).rssBytes;
    const rssAfterSync = alive() ? readProcStats(client.pid).rssBytes : 0;
    const held1 = alive() ? connectionsTo(client.pid, apiPort) : { connections: 0, fds: 0 };
    const metricsWithWatches = await apiServerMetrics(tls, agent);

    // 3. A Secret changed in `changes` namespaces, alternately ours (labelled) and the authority's.
    const kinds = watches === 'both' ? [KEYRING_SECRET, 'backup-credentials'] : [KEYRING_SECRET];
    const times: number[] = [];
    const byKind: Record<string, number[]> = {};
    let missed = 0;
    if (outcome === 'ok') {
      say(`change: ${changes} Secrets, one every ${paceMs} ms`);
      for (const [i, ns] of spread(namespaces, changes, 0).entries()) {
        const name = kinds[i % kinds.length] as string;
        const key = `${ns}/${name}`;
        const sent = performance.now();
        const patched = await admin.mergePatch(
          { apiVersion: 'v1', kind: 'Secret', namespace: ns, name },
          { metadata: { annotations: { [TOUCH]: `${stamp}-${i}` } } },
        );
        const rv = patched.metadata.resourceVersion ?? '';
        const deadline = performance.now() + 30_000;
        let seenAt: number | undefined;
        while (performance.now() < deadline) {
          const s = client.seen.get(key);
          if (s?.resourceVersion === rv) {
            seenAt = s.at;
            break;
          }
          await sleep(1);
        }
        if (seenAt === undefined) missed++;
        else {
          times.push(seenAt - sent);
          byKind[name] = [...(byKind[name] ?? []), seenAt - sent];
        }
        await sleep(paceMs);
      }
    }
    const change: LatencyFigures & { missed: number; byKind: Record<string, LatencyFigures> } = {
      ...latency(times),
      missed,
      byKind: Object.fromEntries(Object.entries(byKind).map(([k, v]) => [k, latency(v)])),
    };
    say(
      `change seen: p50 ${change.p50Ms.toFixed(0)} ms, p99 ${change.p99Ms.toFixed(0)} ms, ${missed} missed`,
    );

    // 4. Idle: nothing changes; the watches time out and are re-opened (the informer's 60–90 s).
    const before = {
      client: alive() ? cpuOf(client.pid) : 0,
      api: cpuOf(cp.pids.kubeApiServer),
      etcd: cpuOf(cp.pids.etcd),
      stats: (alive() ? await client.snapshot() : syncedSnapshot)?.stats,
    };
    started = performance.now();
    if (alive()) {
      say(`idle: ${idleSeconds} s`);
      await sleep(idleSeconds * 1000);
    }
    const window = (performance.now() - started) / 1000;
    const endSnapshot = alive() ? await client.snapshot() : undefined;
    const perMinute = (x: number) => (window > 0 ? (x * 60) / window : 0);
    const idle = {
      seconds: window,
      rewatchesPerMinute: perMinute((endSnapshot?.stats.watches ?? 0) - (before.stats?.watches ?? 0)),
      relistsPerMinute: perMinute((endSnapshot?.stats.lists ?? 0) - (before.stats?.lists ?? 0)),
      clientCpuSecondsPerMinute: perMinute((alive() ? cpuOf(client.pid) : 0) - before.client),
      apiServerCpuSecondsPerMinute: perMinute(cpuOf(cp.pids.kubeApiServer) - before.api),
      etcdCpuSecondsPerMinute: perMinute(cpuOf(cp.pids.etcd) - before.etcd),
    };
    const clientPeakRss = alive() ? peakRssBytes(client.pid) : 0;
    const result: ScopeResult = {
      size: size.label,
      namespaces: namespaces.length,
      scope,
      watches,
      informers: expected,
      objects: {
        labelledSecrets: labelled,
        unlabelledSecrets: unlabelled,
        otherNamespaces: otherNamespaceCount,
        roleBindings: scope === 'namespaced' ? namespaces.length : 0,
        populateSeconds,
      },
      clusterWideListAllowed,
      outcome,
      sync: {
        listsDoneSeconds: seconds(listsDoneAt),
        watchesEstablishedSeconds: seconds(watchesAt),
        requests: syncedSnapshot?.requests ?? {},
        warnings: syncedSnapshot?.warnings ?? {},
        restarts: syncedSnapshot?.stats.restarts ?? 0,
        ...syncCpu,
      },
      client: {
        idleRssMB: idleRss / MB,
        rssAfterSyncMB: rssAfterSync / MB,
        peakRssMB: clientPeakRss / MB,
        heapAfterGcMB: (syncedSnapshot?.memory.heapUsedBytes ?? 0) / MB,
        peakHeapUsedMB: (endSnapshot?.peakHeapUsedBytes ?? syncedSnapshot?.peakHeapUsedBytes ?? 0) / MB,
        cachedObjects: syncedSnapshot?.cachedObjects ?? 0,
        apiConnections: held1.connections,
        peakApiConnections: Math.max(peakConnections, held1.connections),
        peakOpenFds: Math.max(peakFds, held1.fds),
        maxOpenFiles: clientMaxOpenFiles,
        nodeFlags: nodeFlags.join(' '),
      },
      apiServer: {
        secretWatches: secretWatches(metricsWithWatches) - baseWatches,
        rssBeforeMB: apiRssBefore / MB,
        rssWithWatchesMB: apiRssWithWatches / MB,
        rssAfterIdleMB: readProcStats(cp.pids.kubeApiServer).rssBytes / MB,
        peakRssMB: peakRssBytes(cp.pids.kubeApiServer) / MB,
        throttled: throttled(afterSync) - baseThrottled,
        maxOpenFiles: maxOpenFiles(cp.pids.kubeApiServer),
      },
      change,
      idle,
      snapshots: {
        ...(syncedSnapshot ? { synced: syncedSnapshot } : {}),
        ...(endSnapshot ? { end: endSnapshot } : {}),
      },
    };
    say(
      `${label}: ${result.apiServer.secretWatches} watches, client peak RSS ${result.client.peakRssMB.toFixed(0)} MiB, ` +
        `API server ${result.apiServer.rssBeforeMB.toFixed(0)} → ${result.apiServer.rssWithWatchesMB.toFixed(0)} MiB`,
    );
    return result;
  } finally {
    await client?.stop();
    agent.destroy();
    await cp.stop();
    if (!values.keep) await removeControlPlaneData(cpDir);
  }
}

const DEFINITIONS: Record<string, string> = {
  'cluster-wide':
    'the operator as it runs today: a ClusterRole reading Secrets bound by a ClusterRoleBinding; one informer ' +
    'for its labelled Secrets (app.kubernetes.io/managed-by=territory-operator, in full) and, with --watches both, ' +
    'one for every other Secret (metadata only), each listing and watching all namespaces',
  'per namespace':
    'least privilege: the same ClusterRole bound by one RoleBinding in each Territory namespace, so the token cannot ' +
    'list Secrets cluster-wide (checked: 403); the same informers, one per namespace each',
  informer:
    "the operator's own runtime (operator/src/runtime/informer.ts, KubeClient over node:https, HTTP/1.1): one " +
    'dedicated TLS connection per watch, watches re-opened every 60–90 s from the last resourceVersion',
  'time to sync':
    'from the start message to every informer having listed / to the API server counting every watch ' +
    '(apiserver_longrunning_requests{resource="secrets",verb="WATCH"} above the control plane’s own)',
  'client RSS':
    'of the watching process alone (modules loaded before the informers start: idle), with the chart’s node flags ' +
    'and glibc tunables; heap after a full GC = what the informers retain',
  'change seen':
    'merge PATCH of an annotation on one Secret (alternately the keyring and the authority’s backup-credentials) in ' +
    'namespaces spread over the data, one at a time: from sending the PATCH to the client’s informer handing the ' +
    'new resourceVersion to its handlers (reported over IPC)',
  idle: 'nothing changes; watches that time out are re-opened (a new TLS connection each); CPU seconds per minute',
  throttled:
    'apiserver_request_total{code="429"} during the start: API Priority and Fairness refusing requests',
};

async function main(): Promise<void> {
  await mkdir(runDir, { recursive: true });
  const startedAt = new Date().toISOString();
  const loadAverageStart = loadavg();
  const results: ScopeResult[] = [];
  const failures: WatchScopeResult['failures'] = [];
  const serverVersion = { value: '' };
  for (const size of sizes) {
    for (const scope of scopes) {
      try {
        results.push(await runScope(size, scope, serverVersion));
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        say(`${size.label} ${scope} FAILED: ${message}`);
        failures.push({ size: size.label, scope, error: message });
      }
    }
  }
  const result: WatchScopeResult = {
    startedAt,
    machine: { cpus: cpus().length, loadAverageStart, loadAverageEnd: loadavg(), node: process.version },
    serverVersion: serverVersion.value,
    definitions: DEFINITIONS,
    results,
    failures,
  };
  const base = join(outDir, `watch-scope-${stamp}`);
  const markdown = renderMarkdown(result);
  await writeFile(`${base}.json`, `${JSON.stringify(result, null, 2)}\n`);
  await writeFile(`${base}.md`, markdown);
  process.stdout.write(markdown);
  say(`results: ${base}.json, ${base}.md`);
  if (failures.length > 0) process.exitCode = 1;
}

main().catch((error: unknown) => {
  process.stderr.write(
    `watch-scope failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
});
