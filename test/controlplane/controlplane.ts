// One real Kubernetes control plane for tests and local use: etcd + kube-apiserver +
// kube-controller-manager (garbage collector, namespace controller, service accounts…), on
// free loopback ports, everything under one folder: pki/, etcd/, logs/, kubeconfig, state.json.
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  type ControlPlaneBinaries,
  formatDuration,
  type Log,
  resolveBinaries,
  stderrLog,
} from './binaries.ts';
import { generateControlPlanePki } from './certs.ts';
import { httpGet, type TlsClient } from './http.ts';
import { renderKubeconfig } from './kubeconfig.ts';
import {
  freePorts,
  isAlive,
  runsBinary,
  type StartedProcess,
  sleep,
  startProcess,
  stopPid,
  tailFile,
} from './processes.ts';

export const SERVICE_CLUSTER_IP_RANGE = '10.0.0.0/24';
const LOOPBACK = '127.0.0.1';
/** The first address of the range: the `kubernetes` Service, which the serving cert must name. */
const KUBERNETES_SERVICE_IP = '10.0.0.1';
const SERVICE_ACCOUNT_ISSUER = 'https://kubernetes.default.svc.cluster.local';

export interface ControlPlanePids {
  etcd: number;
  kubeApiServer: number;
  kubeControllerManager: number;
}

/** What state.json holds: enough for another process to probe or stop this control plane. */
export interface ControlPlaneState {
  format: 1;
  dir: string;
  startedAt: string;
  kubeconfigPath: string;
  apiServerUrl: string;
  etcdEndpoint: string;
  serverVersion: string;
  pids: ControlPlanePids;
  /** The process whose exit kills this control plane; absent when detached (cluster:up). */
  ownerPid?: number;
  binaries: ControlPlaneBinaries;
}

export interface ControlPlane {
  dir: string;
  /** Admin kubeconfig (O=system:masters), certificates embedded. */
  kubeconfigPath: string;
  apiServerUrl: string;
  /** Plain-HTTP etcd client URL on loopback (its gRPC gateway serves e.g. POST /v3/kv/compaction). */
  etcdEndpoint: string;
  /** gitVersion from /version, e.g. v1.36.3. */
  serverVersion: string;
  pids: ControlPlanePids;
  logsDir: string;
  binaries: ControlPlaneBinaries;
  /** Stops kube-apiserver and starts it again on the same port and data (chaos tests). */
  restartApiServer(): Promise<void>;
  stop(): Promise<void>;
}

export interface StartOptions {
  dir: string;
  binaries?: ControlPlaneBinaries;
  /** Processes outlive the caller (cluster:up). Otherwise they are killed when the caller exits. */
  detached?: boolean;
  log?: Log;
  readyTimeoutMs?: number;
  /**
   * The address kube-apiserver listens on and advertises (default 127.0.0.1). A cluster with a
   * node gives an address its Pods can route to; etcd stays on loopback either way.
   */
  listenAddress?: string;
}

interface Layout {
  dir: string;
  pki: string;
  etcdData: string;
  logs: string;
  kubeconfig: string;
  controllerManagerKubeconfig: string;
  state: string;
}

function layoutOf(dir: string): Layout {
  const pki = join(dir, 'pki');
  return {
    dir,
    pki,
    etcdData: join(dir, 'etcd'),
    logs: join(dir, 'logs'),
    kubeconfig: join(dir, 'kubeconfig'),
    controllerManagerKubeconfig: join(pki, 'kube-controller-manager.kubeconfig'),
    state: join(dir, 'state.json'),
  };
}

const pkiFile = (layout: Layout, name: string) => join(layout.pki, name);

export function etcdArgs(layout: Layout, clientPort: number, peerPort: number): string[] {
  const client = `http://127.0.0.1:${clientPort}`;
  const peer = `http://127.0.0.1:${peerPort}`;
  return [
    '--name=territory-test',
    `--data-dir=${layout.etcdData}`,
    `--listen-client-urls=${client}`,
    `--advertise-client-urls=${client}`,
    `--listen-peer-urls=${peer}`,
    `--initial-advertise-peer-urls=${peer}`,
    `--initial-cluster=territory-test=${peer}`,
    '--initial-cluster-state=new',
    // Throw-away test data: durability is not worth the fsync latency on a shared disk.
    '--unsafe-no-fsync=true',
  ];
}

export function apiServerArgs(
  layout: Layout,
  etcdEndpoint: string,
  securePort: number,
  listenAddress = LOOPBACK,
): string[] {
  const reachableByPods = listenAddress !== LOOPBACK;
  return [
    `--etcd-servers=${etcdEndpoint}`,
    `--bind-address=${listenAddress}`,
    `--advertise-address=${listenAddress}`,
    `--secure-port=${securePort}`,
    `--cert-dir=${layout.pki}`,
    `--tls-cert-file=${pkiFile(layout, 'apiserver.crt')}`,
    `--tls-private-key-file=${pkiFile(layout, 'apiserver.key')}`,
    `--client-ca-file=${pkiFile(layout, 'ca.crt')}`,
    `--service-cluster-ip-range=${SERVICE_CLUSTER_IP_RANGE}`,
    `--service-account-issuer=${SERVICE_ACCOUNT_ISSUER}`,
    `--api-audiences=${SERVICE_ACCOUNT_ISSUER}`,
    `--service-account-key-file=${pkiFile(layout, 'sa.pub')}`,
    `--service-account-signing-key-file=${pkiFile(layout, 'sa.key')}`,
    // RBAC for real: tests use SubjectAccessReview and impersonation.
    '--authorization-mode=Node,RBAC',
    // Added to the default plugin set (not replacing it), named because tests rely on them.
    '--enable-admission-plugins=NamespaceLifecycle,PodSecurity',
    '--allow-privileged=true',
    '--profiling=false',
    // The `kubernetes` Service's Endpoints may not hold a loopback address; without a node the
    // reconciler would fail and log an error every 10s, and no pod runs to use them anyway. With a
    // node, Pods reach the API server through that Service, as in any cluster.
    `--endpoint-reconciler-type=${reachableByPods ? 'lease' : 'none'}`,
    // kubectl logs/exec and port-forward go through the kubelet, which authenticates this client.
    `--kubelet-client-certificate=${pkiFile(layout, 'apiserver-kubelet-client.crt')}`,
    `--kubelet-client-key=${pkiFile(layout, 'apiserver-kubelet-client.key')}`,
    '--kubelet-preferred-address-types=InternalIP',
    // On SIGTERM, drain ordinary requests (answering 429 Retry-After meanwhile) and then close
    // within 2s; by default open watches hold the shutdown for the whole 60s request timeout,
    // which makes every stop and restartApiServer() slow.
    '--shutdown-send-retry-after=true',
  ];
}

export function controllerManagerArgs(layout: Layout): string[] {
  return [
    `--kubeconfig=${layout.controllerManagerKubeconfig}`,
    '--controllers=*',
    // Each controller acts as its own ServiceAccount, as in production, so RBAC gaps show.
    '--use-service-account-credentials=true',
    `--service-account-private-key-file=${pkiFile(layout, 'sa.key')}`,
    `--root-ca-file=${pkiFile(layout, 'ca.crt')}`,
    `--cluster-signing-cert-file=${pkiFile(layout, 'ca.crt')}`,
    `--cluster-signing-key-file=${pkiFile(layout, 'ca.key')}`,
    '--leader-elect=false',
    // No serving endpoint needed: readiness is judged by what the controllers do.
    '--secure-port=0',
  ];
}

async function writePki(layout: Layout, server: string, listenAddress: string): Promise<TlsClient> {
  const servingIps = [KUBERNETES_SERVICE_IP, ...(listenAddress === LOOPBACK ? [] : [listenAddress])];
  const pki = await generateControlPlanePki({ now: new Date(), extraServingIps: servingIps });
  await mkdir(layout.pki, { recursive: true, mode: 0o700 });
  const files: Record<string, string> = {
    'ca.crt': pki.ca.certPem,
    'ca.key': pki.ca.keyPem,
    'apiserver.crt': pki.apiServer.certPem,
    'apiserver.key': pki.apiServer.keyPem,
    'admin.crt': pki.admin.certPem,
    'admin.key': pki.admin.keyPem,
    'apiserver-kubelet-client.crt': pki.kubeletClient.certPem,
    'apiserver-kubelet-client.key': pki.kubeletClient.keyPem,
    'sa.pub': pki.serviceAccount.publicKeyPem,
    'sa.key': pki.serviceAccount.privateKeyPem,
  };
  for (const [name, content] of Object.entries(files)) {
    await writeFile(pkiFile(layout, name), content, { mode: name.endsWith('.key') ? 0o600 : 0o644 });
  }
  await writeFile(
    layout.kubeconfig,
    renderKubeconfig({
      server,
      caPem: pki.ca.certPem,
      user: 'territory-admin',
      certPem: pki.admin.certPem,
      keyPem: pki.admin.keyPem,
    }),
    { mode: 0o600 },
  );
  await writeFile(
    layout.controllerManagerKubeconfig,
    renderKubeconfig({
      server,
      caPem: pki.ca.certPem,
      user: 'system:kube-controller-manager',
      certPem: pki.controllerManager.certPem,
      keyPem: pki.controllerManager.keyPem,
    }),
    { mode: 0o600 },
  );
  return { caPem: pki.ca.certPem, certPem: pki.admin.certPem, keyPem: pki.admin.keyPem };
}

async function readAdminTls(layout: Layout): Promise<TlsClient> {
  return {
    caPem: await readFile(pkiFile(layout, 'ca.crt'), 'utf8'),
    certPem: await readFile(pkiFile(layout, 'admin.crt'), 'utf8'),
    keyPem: await readFile(pkiFile(layout, 'admin.key'), 'utf8'),
  };
}

/**
 * Polls `probe` until it returns true. Fails fast if the process exits, and on timeout; either
 * way the error carries the tail of the process's log, which is where the reason is.
 */
async function waitReady(
  proc: StartedProcess,
  what: string,
  probe: () => Promise<boolean>,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError = 'not yet probed';
  while (true) {
    const exit = proc.exitCode();
    if (exit !== undefined) {
      throw new Error(
        `${proc.name} exited (${exit}) before ${what}. Last lines of ${proc.logPath}:\n` +
          (await tailFile(proc.logPath)),
      );
    }
    try {
      if (await probe()) return;
      lastError = 'probe answered not ready';
    } catch (error) {
      lastError = (error as Error).message;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${formatDuration(timeoutMs)} waiting for ${what} (last probe: ${lastError}). ` +
          `Last lines of ${proc.logPath}:\n${await tailFile(proc.logPath)}`,
      );
    }
    await sleep(100);
  }
}

async function apiServerReadyz(apiServerUrl: string, tls: TlsClient): Promise<boolean> {
  const answer = await httpGet(`${apiServerUrl}/readyz`, tls);
  return answer.status === 200 && answer.body.trim() === 'ok';
}

export async function startControlPlane(options: StartOptions): Promise<ControlPlane> {
  const log = options.log ?? stderrLog;
  const readyTimeoutMs = options.readyTimeoutMs ?? 90_000;
  const detached = options.detached ?? false;
  const started = Date.now();
  const layout = layoutOf(options.dir);
  await mkdir(layout.logs, { recursive: true });
  await mkdir(layout.etcdData, { recursive: true, mode: 0o700 });

  const binaries = options.binaries ?? (await resolveBinaries({ log }));
  const [etcdClientPort, etcdPeerPort, apiServerPort] = (await freePorts(3)) as [number, number, number];
  const etcdEndpoint = `http://127.0.0.1:${etcdClientPort}`;
  const listenAddress = options.listenAddress ?? LOOPBACK;
  const apiServerUrl = `https://${listenAddress}:${apiServerPort}`;
  const adminTls = await writePki(layout, apiServerUrl, listenAddress);

  // The processes started so far, by role; stop() and the exit guard read the current ones.
  const procs: { etcd?: StartedProcess; apiServer?: StartedProcess; controllerManager?: StartedProcess } = {};
  const current = () => [procs.etcd, procs.apiServer, procs.controllerManager].filter((p) => p !== undefined);
  const killOnExit = () => {
    for (const proc of current()) if (isAlive(proc.pid)) process.kill(proc.pid, 'SIGKILL');
  };
  // Children of a test run must not outlive it, even when teardown never runs.
  if (!detached) process.once('exit', killOnExit);
  const launch = (name: string, command: string, args: string[]): StartedProcess =>
    startProcess({ name, command, args, logPath: join(layout.logs, `${name}.log`), detached });
  const launchApiServer = () =>
    launch(
      'kube-apiserver',
      binaries.kubeApiServer,
      apiServerArgs(layout, etcdEndpoint, apiServerPort, listenAddress),
    );
  const stopAll = async () => {
    // Controllers and API server first (they would only log errors once etcd is gone), etcd last.
    await Promise.all([procs.controllerManager, procs.apiServer].map((proc) => proc && stopPid(proc.pid)));
    if (procs.etcd) await stopPid(procs.etcd.pid);
    if (!detached) process.removeListener('exit', killOnExit);
  };

  let serverVersion: string;
  try {
    let phase = Date.now();
    const etcd = launch('etcd', binaries.etcd, etcdArgs(layout, etcdClientPort, etcdPeerPort));
    procs.etcd = etcd;
    await waitReady(
      etcd,
      `etcd to be healthy on ${etcdEndpoint}`,
      async () => {
        const answer = await httpGet(`${etcdEndpoint}/health`);
        return answer.status === 200 && (JSON.parse(answer.body) as { health?: string }).health === 'true';
      },
      readyTimeoutMs,
    );
    log(`etcd ready in ${formatDuration(Date.now() - phase)} (pid ${etcd.pid}, ${etcdEndpoint})`);

    phase = Date.now();
    const apiServer = launchApiServer();
    procs.apiServer = apiServer;
    await waitReady(
      apiServer,
      `kube-apiserver /readyz on ${apiServerUrl}`,
      () => apiServerReadyz(apiServerUrl, adminTls),
      readyTimeoutMs,
    );
    log(
      `kube-apiserver ready in ${formatDuration(Date.now() - phase)} (pid ${apiServer.pid}, ${apiServerUrl})`,
    );

    phase = Date.now();
    const controllerManager = launch(
      'kube-controller-manager',
      binaries.kubeControllerManager,
      controllerManagerArgs(layout),
    );
    procs.controllerManager = controllerManager;
    // The ServiceAccount controller creating `default` proves the controllers run, with their
    // own credentials, against this API server.
    await waitReady(
      controllerManager,
      'kube-controller-manager to create the default ServiceAccount in namespace default',
      async () =>
        (await httpGet(`${apiServerUrl}/api/v1/namespaces/default/serviceaccounts/default`, adminTls))
          .status === 200,
      readyTimeoutMs,
    );
    log(
      `kube-controller-manager ready in ${formatDuration(Date.now() - phase)} (pid ${controllerManager.pid})`,
    );

    const version = await httpGet(`${apiServerUrl}/version`, adminTls);
    serverVersion = (JSON.parse(version.body) as { gitVersion: string }).gitVersion;
  } catch (error) {
    await stopAll();
    throw error;
  }

  const { etcd, apiServer, controllerManager } = procs as Required<typeof procs>;
  const state: ControlPlaneState = {
    format: 1,
    dir: layout.dir,
    startedAt: new Date(started).toISOString(),
    kubeconfigPath: layout.kubeconfig,
    apiServerUrl,
    etcdEndpoint,
    serverVersion,
    pids: { etcd: etcd.pid, kubeApiServer: apiServer.pid, kubeControllerManager: controllerManager.pid },
    ...(detached ? {} : { ownerPid: process.pid }),
    binaries,
  };
  await writeState(layout, state);
  log(`control plane ${serverVersion} up in ${formatDuration(Date.now() - started)}; logs in ${layout.logs}`);

  let stopped = false;
  const handle: ControlPlane = {
    dir: layout.dir,
    kubeconfigPath: layout.kubeconfig,
    apiServerUrl,
    etcdEndpoint,
    serverVersion,
    pids: state.pids,
    logsDir: layout.logs,
    binaries,
    async restartApiServer() {
      const phase = Date.now();
      if (procs.apiServer) await stopPid(procs.apiServer.pid);
      const restarted = launchApiServer();
      procs.apiServer = restarted;
      await waitReady(
        restarted,
        `restarted kube-apiserver /readyz on ${apiServerUrl}`,
        () => apiServerReadyz(apiServerUrl, adminTls),
        readyTimeoutMs,
      );
      state.pids.kubeApiServer = restarted.pid;
      await writeState(layout, state);
      log(`kube-apiserver restarted in ${formatDuration(Date.now() - phase)} (pid ${restarted.pid})`);
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      const phase = Date.now();
      await stopAll();
      await rm(layout.state, { force: true });
      log(`control plane stopped in ${formatDuration(Date.now() - phase)}`);
    },
  };
  return handle;
}

async function writeState(layout: Layout, state: ControlPlaneState): Promise<void> {
  await writeFile(layout.state, `${JSON.stringify(state, null, 2)}\n`);
}

export async function readState(dir: string): Promise<ControlPlaneState | undefined> {
  try {
    return JSON.parse(await readFile(layoutOf(dir).state, 'utf8')) as ControlPlaneState;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

interface TrackedPid {
  name: keyof ControlPlanePids;
  pid: number;
  binary: string;
}

function trackedPids(state: ControlPlaneState): TrackedPid[] {
  return [
    {
      name: 'kubeControllerManager',
      pid: state.pids.kubeControllerManager,
      binary: state.binaries.kubeControllerManager,
    },
    { name: 'kubeApiServer', pid: state.pids.kubeApiServer, binary: state.binaries.kubeApiServer },
    { name: 'etcd', pid: state.pids.etcd, binary: state.binaries.etcd },
  ];
}

/** Which of the recorded processes still run, checked against PID reuse. */
export function livePids(state: ControlPlaneState): TrackedPid[] {
  return trackedPids(state).filter(({ pid, binary }) => isAlive(pid) && runsBinary(pid, binary));
}

/** True when every process of the recorded control plane runs and kube-apiserver is ready. */
export async function isHealthy(state: ControlPlaneState): Promise<boolean> {
  if (livePids(state).length !== 3) return false;
  try {
    return await apiServerReadyz(state.apiServerUrl, await readAdminTls(layoutOf(state.dir)));
  } catch {
    return false;
  }
}

/**
 * Stops the control plane recorded in `dir/state.json` from any process (cluster:down): only
 * PIDs still running the recorded binaries are signalled, controllers first, etcd last.
 */
export async function stopRecordedControlPlane(dir: string, log: Log = stderrLog): Promise<number> {
  const state = await readState(dir);
  if (!state) return 0;
  const live = livePids(state);
  const [etcd, others] = [live.filter((p) => p.name === 'etcd'), live.filter((p) => p.name !== 'etcd')];
  for (const group of [others, etcd]) {
    await Promise.all(group.map(async ({ name, pid }) => log(`${name} (pid ${pid}): ${await stopPid(pid)}`)));
  }
  await rm(layoutOf(dir).state, { force: true });
  return live.length;
}

/** Everything but the logs, which are worth keeping to find out what happened. */
export async function removeControlPlaneData(dir: string): Promise<void> {
  const layout = layoutOf(dir);
  for (const path of [layout.etcdData, layout.pki, layout.kubeconfig, layout.state]) {
    await rm(path, { recursive: true, force: true });
  }
}

/**
 * Control planes under `parent` whose owner died without stopping them (a SIGKILLed test run:
 * no exit handler runs then). Reported, not stopped: the caller decides.
 */
export async function findOrphanedControlPlanes(
  parent: string,
  namePrefix: string,
): Promise<Array<{ dir: string; pids: number[] }>> {
  const orphans: Array<{ dir: string; pids: number[] }> = [];
  let entries: string[];
  try {
    entries = await readdir(parent);
  } catch {
    return orphans;
  }
  for (const entry of entries.filter((name) => name.startsWith(namePrefix))) {
    const dir = join(parent, entry);
    const state = await readState(dir).catch(() => undefined);
    if (!state?.ownerPid || isAlive(state.ownerPid)) continue;
    const live = livePids(state);
    if (live.length > 0) orphans.push({ dir, pids: live.map(({ pid }) => pid) });
  }
  return orphans;
}
