// Every binary a real test node runs, at pinned versions (NODE_COMPONENT_VERSIONS), built from
// source into the version-keyed test cache when missing (test/support/go-tool.ts) and found on the
// host for the two that come from Debian packages (runc, the CNI plugins). Each component has its
// own cache folder, keyed by name and version, so bumping one rebuilds that one only; each folder
// records its last build (build.json: seconds, Go version). See README.md, "Binaries".
//
//   ${TERRITORY_CACHE_DIR:-~/.cache/territory}/
//     k8s-<version>-node/bin/{kubelet,kube-proxy,kube-scheduler}
//     containerd-<version>/bin/{containerd,containerd-shim-runc-v2,ctr}
//     coredns-<version>/bin/coredns
//     kube-router-<version>/bin/kube-router
//     local-path-provisioner-<version>/bin/local-path-provisioner
//     cloudnative-pg-<version>/bin/manager
//     pause-<version>-k8s-<kubernetes version>/bin/pause
//
// CLI: `npm run node:binaries [-- --json]` builds what is missing and prints each path.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { CNPG_VERSION } from '../cnpg/crds.ts';
import {
  formatDuration,
  kubernetesVersionLdflags,
  type Log,
  readToolchainVersions,
  TOOLCHAIN_DIR,
} from '../controlplane/binaries.ts';
import {
  BUILD_RECORD,
  buildIntoCache,
  cacheRoot,
  ensureGoTool,
  type GoToolSpec,
  goModDownload,
  goToolDir,
  isExecutable,
  readBuildRecord,
  requireGo,
} from '../support/go-tool.ts';

export interface NodeBinaries {
  kubelet: string;
  kubeProxy: string;
  kubeScheduler: string;
  containerd: string;
  containerdShimRuncV2: string;
  ctr: string;
  coredns: string;
  kubeRouter: string;
  localPathProvisioner: string;
  /** CloudNativePG's operator (`manager`), the binary of its operator image. */
  cnpgManager: string;
  /** The static pause binary of the sandbox image. */
  pause: string;
  runc: string;
  /** The folder holding the CNI plugins (bridge, host-local, portmap, loopback). */
  cniBinDir: string;
  /** Human-readable: where each binary came from. */
  origin: string;
}

/** Every pinned version of the node's components, in one place. */
export const NODE_COMPONENT_VERSIONS = {
  /** kubelet, kube-proxy, kube-scheduler and the pause source: the control plane's module (its go.mod). */
  kubernetes: readToolchainVersions().kubernetes,
  containerd: 'v2.4.2',
  coredns: 'v1.15.0',
  kubeRouter: 'v2.1.0',
  localPathProvisioner: 'v0.0.30',
  /** The CRDs' version too (test/cnpg/crds.ts): operator and CRDs must match. */
  cloudNativePg: CNPG_VERSION,
  /** The pause image's tag: TAG in build/pause/Makefile of k8s.io/kubernetes (checked when built). */
  pause: '3.10.2',
} as const;

const V = NODE_COMPONENT_VERSIONS;

const stderrLog: Log = (line) => process.stderr.write(`[node] ${line}\n`);

// ---------------------------------------------------------------------------------------------
// The Go components

/** The node's Kubernetes binaries: the control plane's pinned module, in a cache folder of their own. */
const KUBERNETES_NODE: GoToolSpec = {
  name: 'kubernetes-node',
  source: { kind: 'pinned', moduleDir: TOOLCHAIN_DIR, module: 'k8s.io/kubernetes' },
  binaries: [
    { file: 'kubelet', goPackage: 'k8s.io/kubernetes/cmd/kubelet' },
    { file: 'kube-proxy', goPackage: 'k8s.io/kubernetes/cmd/kube-proxy' },
    { file: 'kube-scheduler', goPackage: 'k8s.io/kubernetes/cmd/kube-scheduler' },
  ],
  // The same stamps and settings as kube-apiserver, so the packages compiled for the control plane
  // come from Go's build cache. Go's default cgo setting: upstream builds the kubelet with cgo
  // (it is not in KUBE_STATIC_BINARIES of hack/lib/golang.sh); these run on the host, not in images.
  ldflags: kubernetesVersionLdflags,
  cacheKey: (version) => `k8s-${version}-node`,
  binDir: 'bin',
};

const CONTAINERD_MODULE = 'github.com/containerd/containerd/v2';
/** containerd as its Makefile builds it, without cgo: no btrfs snapshotter (overlayfs is used). */
const CONTAINERD: GoToolSpec = {
  name: 'containerd',
  source: { kind: 'install', module: CONTAINERD_MODULE, version: V.containerd },
  binaries: [
    { file: 'containerd', goPackage: `${CONTAINERD_MODULE}/cmd/containerd`, tags: ['no_btrfs'] },
    // The Makefile's SHIM_GO_BUILDTAGS: the shim speaks ttrpc only.
    {
      file: 'containerd-shim-runc-v2',
      goPackage: `${CONTAINERD_MODULE}/cmd/containerd-shim-runc-v2`,
      tags: ['no_grpc'],
    },
    { file: 'ctr', goPackage: `${CONTAINERD_MODULE}/cmd/ctr` },
  ],
  tags: ['urfave_cli_no_docs'],
  ldflags: (version, origin) => [
    `-X ${CONTAINERD_MODULE}/version.Version=${version}`,
    ...(origin.commit ? [`-X ${CONTAINERD_MODULE}/version.Revision=${origin.commit}`] : []),
  ],
  binDir: 'bin',
};

const COREDNS: GoToolSpec = {
  name: 'coredns',
  source: { kind: 'install', module: 'github.com/coredns/coredns', version: V.coredns },
  binaries: [{ file: 'coredns', goPackage: 'github.com/coredns/coredns' }],
  // Its version is a constant in coremain; the Makefile stamps the commit.
  ldflags: (_version, origin) =>
    origin.commit ? [`-X github.com/coredns/coredns/coremain.GitCommit=${origin.commit.slice(0, 7)}`] : [],
  binDir: 'bin',
};

const KUBE_ROUTER_MODULE = 'github.com/cloudnativelabs/kube-router/v2';
const KUBE_ROUTER: GoToolSpec = {
  name: 'kube-router',
  source: { kind: 'install', module: KUBE_ROUTER_MODULE, version: V.kubeRouter },
  binaries: [{ file: 'kube-router', goPackage: `${KUBE_ROUTER_MODULE}/cmd/kube-router` }],
  ldflags: (version, origin) => [
    `-X ${KUBE_ROUTER_MODULE}/pkg/version.Version=${version}`,
    ...(origin.time ? [`-X ${KUBE_ROUTER_MODULE}/pkg/version.BuildDate=${origin.time}`] : []),
  ],
  binDir: 'bin',
};

const LOCAL_PATH_PROVISIONER: GoToolSpec = {
  name: 'local-path-provisioner',
  source: {
    kind: 'install',
    module: 'github.com/rancher/local-path-provisioner',
    version: V.localPathProvisioner,
  },
  binaries: [{ file: 'local-path-provisioner', goPackage: 'github.com/rancher/local-path-provisioner' }],
  ldflags: (version) => [`-X main.VERSION=${version}`],
  binDir: 'bin',
};

const CNPG_MODULE = 'github.com/cloudnative-pg/cloudnative-pg';
/**
 * Built in its own module folder, as its Makefile does (`go build -o bin/manager ./cmd/manager`):
 * its go.mod applies whole, replace directives included should a release carry some.
 */
const CLOUDNATIVE_PG: GoToolSpec = {
  name: 'cloudnative-pg',
  source: { kind: 'module-dir', module: CNPG_MODULE, version: V.cloudNativePg },
  binaries: [{ file: 'manager', goPackage: './cmd/manager' }],
  // The Makefile's LDFLAGS: the version without its v, the short commit, the commit's date.
  ldflags: (version, origin) => [
    `-X ${CNPG_MODULE}/pkg/versions.buildVersion=${version.replace(/^v/, '')}`,
    ...(origin.commit ? [`-X ${CNPG_MODULE}/pkg/versions.buildCommit=${origin.commit.slice(0, 7)}`] : []),
    ...(origin.time ? [`-X ${CNPG_MODULE}/pkg/versions.buildDate=${origin.time.slice(0, 10)}`] : []),
  ],
  binDir: 'bin',
};

/** In build order: what a node cannot start without first. */
const GO_COMPONENTS = [
  KUBERNETES_NODE,
  CONTAINERD,
  KUBE_ROUTER,
  COREDNS,
  LOCAL_PATH_PROVISIONER,
  CLOUDNATIVE_PG,
];

// ---------------------------------------------------------------------------------------------
// pause: C, from k8s.io/kubernetes

const PAUSE_SOURCE = 'build/pause/linux/pause.c';

function pauseKey(): string {
  return `pause-${V.pause}-k8s-${V.kubernetes}`;
}

function pausePath(env: NodeJS.ProcessEnv): string {
  return join(cacheRoot(env), pauseKey(), 'bin', 'pause');
}

/**
 * `gcc -Os -Wall -Werror -static -DVERSION=v<TAG>-<REV>` then strip, as build/pause/Makefile does
 * (REV: `git describe --contains`, the Kubernetes release tag).
 */
async function ensurePause(env: NodeJS.ProcessEnv, log: Log): Promise<{ binary: string; seconds?: number }> {
  const binary = pausePath(env);
  if (await isExecutable(binary)) return { binary };
  const cc = env.CC || 'gcc';
  const probe = spawnSync(cc, ['--version'], { encoding: 'utf8', env });
  if (probe.status !== 0) {
    throw new Error(
      `Cannot build the pause binary: no C compiler (${cc}) was found. Install gcc and the C library's ` +
        'static archive (Debian packages gcc and libc6-dev), or set CC.',
    );
  }
  const go = requireGo(env, `pause (its source comes with the k8s.io/kubernetes ${V.kubernetes} module)`);
  const started = Date.now();
  log(`building pause ${V.pause} from ${PAUSE_SOURCE} of k8s.io/kubernetes ${V.kubernetes}`);
  const { built } = await buildIntoCache({
    root: cacheRoot(env),
    key: pauseKey(),
    isComplete: (dir) => isExecutable(join(dir, 'bin', 'pause')),
    log,
    build: async (staging) => {
      const kubernetes = await goModDownload(go, 'k8s.io/kubernetes', V.kubernetes, env);
      const makefile = readFileSync(join(kubernetes.dir, 'build/pause/Makefile'), 'utf8');
      const tag = /^TAG \?= (\S+)/m.exec(makefile)?.[1];
      if (tag !== V.pause) {
        throw new Error(
          `k8s.io/kubernetes ${V.kubernetes} builds pause ${tag ?? '(no TAG in build/pause/Makefile)'}, ` +
            `not ${V.pause}: update NODE_COMPONENT_VERSIONS.pause in test/node/components.ts`,
        );
      }
      await mkdir(join(staging, 'bin'), { recursive: true });
      const output = join(staging, 'bin', 'pause');
      const flags = ['-Os', '-Wall', '-Werror', '-static', `-DVERSION=v${V.pause}-${V.kubernetes}`];
      await run(cc, [...flags, '-o', output, join(kubernetes.dir, PAUSE_SOURCE)], env);
      await run('strip', [output], env);
      const record = {
        name: 'pause',
        module: 'k8s.io/kubernetes',
        version: V.pause,
        kubernetes: V.kubernetes,
        source: PAUSE_SOURCE,
        compiler: probe.stdout.split('\n')[0],
        builtAt: new Date().toISOString(),
        seconds: (Date.now() - started) / 1000,
      };
      await writeFile(join(staging, BUILD_RECORD), `${JSON.stringify(record, null, 2)}\n`);
    },
  });
  if (!built) return { binary };
  log(`built pause ${V.pause} in ${formatDuration(Date.now() - started)}`);
  return { binary, seconds: (Date.now() - started) / 1000 };
}

async function run(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<void> {
  const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    output += chunk;
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    output += chunk;
  });
  const code = await new Promise<number | null>((ok, fail) => {
    child.once('error', fail);
    child.once('close', ok);
  });
  if (code !== 0)
    throw new Error(`${command} ${args.join(' ')} failed (exit ${code}):\n${output.slice(-4000)}`);
}

// ---------------------------------------------------------------------------------------------
// From Debian packages: runc and the CNI plugins

const RUNC_DIRS = ['/usr/sbin', '/usr/bin', '/usr/local/sbin', '/usr/local/bin'];
const CNI_DIRS = ['/usr/lib/cni', '/opt/cni/bin', '/usr/libexec/cni'];
/** What the node's CNI configuration (containerd.ts) and containerd's CRI plugin use. */
const CNI_PLUGINS = ['bridge', 'host-local', 'portmap', 'loopback'];

export async function findRunc(env: NodeJS.ProcessEnv): Promise<string> {
  const dirs = [...(env.PATH ?? '').split(delimiter).filter(Boolean), ...RUNC_DIRS];
  for (const dir of new Set(dirs)) {
    const candidate = join(dir, 'runc');
    if (await isExecutable(candidate)) return candidate;
  }
  throw new Error(
    `runc was not found (looked in PATH and ${RUNC_DIRS.join(', ')}). A test node runs its containers with ` +
      'the host runc: install the Debian package runc (apt-get install runc).',
  );
}

export async function findCniBinDir(): Promise<string> {
  for (const dir of CNI_DIRS) {
    let complete = true;
    for (const plugin of CNI_PLUGINS) if (!(await isExecutable(join(dir, plugin)))) complete = false;
    if (complete) return dir;
  }
  throw new Error(
    `The CNI plugins (${CNI_PLUGINS.join(', ')}) were not found in ${CNI_DIRS.join(', ')}. A test node ` +
      'wires its Pods with the host plugins: install the Debian package containernetworking-plugins ' +
      '(apt-get install containernetworking-plugins).',
  );
}

// ---------------------------------------------------------------------------------------------

export interface ResolveNodeBinariesOptions {
  env?: NodeJS.ProcessEnv;
  log?: (line: string) => void;
}

/** Every binary a test node needs, building the missing ones one after the other. */
export async function resolveNodeBinaries(opts: ResolveNodeBinariesOptions = {}): Promise<NodeBinaries> {
  const env = opts.env ?? process.env;
  const log = opts.log ?? stderrLog;
  // The host's first: no point building for twenty minutes to then fail on a missing package.
  const runc = await findRunc(env);
  const cniBinDir = await findCniBinDir();

  const paths: Record<string, string> = {};
  const built: string[] = [];
  for (const spec of GO_COMPONENTS) {
    const result = await ensureGoTool(spec, {
      env,
      log,
      notBuilt: ({ version, dir, noGo }) =>
        `The test node's ${spec.name} ${version} is not built (${dir} is incomplete)` +
        (noGo ? ` and ${noGo} to build it` : '') +
        '. Install Go (the version in test/controlplane/toolchain/go.mod or newer) and run `npm run node:binaries`.',
    });
    Object.assign(paths, result.binaries);
    if (result.built) built.push(`${spec.name} ${formatDuration(Math.round(result.built.seconds * 1000))}`);
  }
  const { binary: pause, seconds: pauseSeconds } = await ensurePause(env, log);
  if (pauseSeconds !== undefined) built.push(`pause ${formatDuration(Math.round(pauseSeconds * 1000))}`);

  const path = (file: string): string => {
    const found = paths[file];
    if (!found) throw new Error(`internal: no ${file} among the node's Go components`);
    return found;
  };
  return {
    kubelet: path('kubelet'),
    kubeProxy: path('kube-proxy'),
    kubeScheduler: path('kube-scheduler'),
    containerd: path('containerd'),
    containerdShimRuncV2: path('containerd-shim-runc-v2'),
    ctr: path('ctr'),
    coredns: path('coredns'),
    kubeRouter: path('kube-router'),
    localPathProvisioner: path('local-path-provisioner'),
    cnpgManager: path('manager'),
    pause,
    runc,
    cniBinDir,
    origin:
      `cache ${cacheRoot(env)}` +
      (built.length ? ` (just built: ${built.join(', ')})` : '') +
      `; runc ${runc} and CNI plugins ${cniBinDir} (Debian packages)`,
  };
}

/** Per component: its cache folder and its last build's record (seconds, Go version), if built. */
export function nodeBuildRecords(
  env: NodeJS.ProcessEnv = process.env,
): Record<string, { dir: string; seconds?: number; goVersion?: string; builtAt?: string }> {
  const records: Record<string, { dir: string; seconds?: number; goVersion?: string; builtAt?: string }> = {};
  const dirs: [string, string][] = [
    ...GO_COMPONENTS.map((spec): [string, string] => [spec.name, goToolDir(spec, env)]),
    ['pause', join(cacheRoot(env), pauseKey())],
  ];
  for (const [name, dir] of dirs) {
    const record = existsSync(dir) ? readBuildRecord(dir) : undefined;
    records[name] = {
      dir,
      ...(record?.seconds === undefined ? {} : { seconds: record.seconds }),
      ...(record?.goVersion ? { goVersion: record.goVersion } : {}),
      ...(record?.builtAt ? { builtAt: record.builtAt } : {}),
    };
  }
  return records;
}

if (import.meta.main) {
  try {
    const json = process.argv.includes('--json');
    const binaries = await resolveNodeBinaries();
    const builds = nodeBuildRecords();
    if (json) {
      process.stdout.write(
        `${JSON.stringify({ binaries, versions: NODE_COMPONENT_VERSIONS, builds }, null, 2)}\n`,
      );
    } else {
      for (const [name, value] of Object.entries(binaries))
        process.stdout.write(`${name.padEnd(21)} ${value}\n`);
      process.stdout.write('\nlast builds:\n');
      for (const [name, build] of Object.entries(builds)) {
        const took =
          build.seconds === undefined ? 'no build.json' : formatDuration(Math.round(build.seconds * 1000));
        process.stdout.write(
          `  ${name.padEnd(23)} ${took}${build.goVersion ? ` (${build.goVersion})` : ''}\n`,
        );
      }
    }
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n`);
    process.exitCode = 1;
  }
}
