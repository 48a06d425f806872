// Finds the four control-plane binaries (etcd, kube-apiserver, kube-controller-manager, kubectl).
// Order: KUBEBUILDER_ASSETS (the envtest layout), then a version-keyed cache outside the repo,
// then a `go build` of the pinned toolchain module into that cache. Versions are read from the
// toolchain's go.mod so there is exactly one place that pins them.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import {
  buildIntoCache,
  cacheRoot,
  findGo,
  formatDuration,
  goBuild,
  goCandidates,
  goVersion,
  isExecutable,
  pinnedModuleVersion,
} from '../support/go-tool.ts';

// Shared with the other test tool builds (test/support/go-tool.ts); re-exported for the callers.
export { cacheRoot, formatDuration };

export const TOOLCHAIN_DIR = resolve(import.meta.dirname, 'toolchain');

export interface ToolchainVersions {
  /** e.g. v1.36.3: the version of k8s.io/kubernetes, what kube-apiserver reports as gitVersion. */
  kubernetes: string;
  /** e.g. v3.6.8: the version of go.etcd.io/etcd/server/v3. */
  etcd: string;
}

export interface ControlPlaneBinaries {
  etcd: string;
  kubeApiServer: string;
  kubeControllerManager: string;
  kubectl: string;
  /** Human-readable: where each binary came from. */
  origin: string;
}

export type Log = (line: string) => void;

export const stderrLog: Log = (line) => process.stderr.write(`[controlplane] ${line}\n`);

interface BinarySpec {
  file: string;
  goPackage: string;
  /** Kubernetes binaries read their version from ldflags; etcd's is a constant in its source. */
  kubernetesVersionStamp: boolean;
}

const BINARIES: readonly BinarySpec[] = [
  { file: 'etcd', goPackage: 'go.etcd.io/etcd/server/v3', kubernetesVersionStamp: false },
  { file: 'kube-apiserver', goPackage: 'k8s.io/kubernetes/cmd/kube-apiserver', kubernetesVersionStamp: true },
  {
    file: 'kube-controller-manager',
    goPackage: 'k8s.io/kubernetes/cmd/kube-controller-manager',
    kubernetesVersionStamp: true,
  },
  { file: 'kubectl', goPackage: 'k8s.io/kubernetes/cmd/kubectl', kubernetesVersionStamp: true },
];

export function readToolchainVersions(
  goMod = readFileSync(join(TOOLCHAIN_DIR, 'go.mod'), 'utf8'),
): ToolchainVersions {
  const versionOf = (module: string): string =>
    pinnedModuleVersion(goMod, module, join(TOOLCHAIN_DIR, 'go.mod'));
  return { kubernetes: versionOf('k8s.io/kubernetes'), etcd: versionOf('go.etcd.io/etcd/server/v3') };
}

export function cachedBinDir(versions: ToolchainVersions, env: NodeJS.ProcessEnv = process.env): string {
  return join(cacheRoot(env), cacheKey(versions), 'bin');
}

function cacheKey(versions: ToolchainVersions): string {
  return `k8s-${versions.kubernetes}-etcd-${versions.etcd}`;
}

export interface ResolveOptions {
  env?: NodeJS.ProcessEnv;
  log?: Log;
}

export async function resolveBinaries(options: ResolveOptions = {}): Promise<ControlPlaneBinaries> {
  const env = options.env ?? process.env;
  const log = options.log ?? stderrLog;
  const versions = readToolchainVersions();

  const assets = env.KUBEBUILDER_ASSETS;
  if (assets) {
    const dir = resolve(assets);
    const missing: string[] = [];
    for (const file of ['etcd', 'kube-apiserver', 'kubectl']) {
      if (!(await isExecutable(join(dir, file)))) missing.push(file);
    }
    if (missing.length > 0) {
      throw new Error(
        `KUBEBUILDER_ASSETS=${dir} lacks executable ${missing.join(', ')}. Point it at a folder holding etcd, ` +
          'kube-apiserver and kubectl (e.g. the output of `setup-envtest use -p path`), or unset it to use ' +
          'the cached/built binaries.',
      );
    }
    warnOnVersionMismatch(join(dir, 'kube-apiserver'), versions, log);
    const kcmInAssets = join(dir, 'kube-controller-manager');
    if (await isExecutable(kcmInAssets)) {
      return {
        etcd: join(dir, 'etcd'),
        kubeApiServer: join(dir, 'kube-apiserver'),
        kubeControllerManager: kcmInAssets,
        kubectl: join(dir, 'kubectl'),
        origin: `KUBEBUILDER_ASSETS (${dir})`,
      };
    }
    // envtest archives ship no kube-controller-manager, yet namespace deletion and garbage
    // collection need one: take it from the pinned cache (building it if needed).
    log(`KUBEBUILDER_ASSETS (${dir}) has no kube-controller-manager; taking it from the pinned cache`);
    const cached = await ensureCachedBinaries(versions, env, log);
    return {
      etcd: join(dir, 'etcd'),
      kubeApiServer: join(dir, 'kube-apiserver'),
      kubeControllerManager: cached.kubeControllerManager,
      kubectl: join(dir, 'kubectl'),
      origin: `KUBEBUILDER_ASSETS (${dir}) + kube-controller-manager from ${cached.origin}`,
    };
  }
  return ensureCachedBinaries(versions, env, log);
}

async function ensureCachedBinaries(
  versions: ToolchainVersions,
  env: NodeJS.ProcessEnv,
  log: Log,
): Promise<ControlPlaneBinaries> {
  const binDir = cachedBinDir(versions, env);
  if (await isCompleteBinDir(binDir)) return binariesIn(binDir, `cache ${binDir}`);

  log(`no cached binaries in ${binDir}; building them from ${TOOLCHAIN_DIR}`);
  await buildControlPlaneIntoCache(versions, env, log);
  return binariesIn(binDir, `cache ${binDir} (just built)`);
}

function binariesIn(binDir: string, origin: string): ControlPlaneBinaries {
  return {
    etcd: join(binDir, 'etcd'),
    kubeApiServer: join(binDir, 'kube-apiserver'),
    kubeControllerManager: join(binDir, 'kube-controller-manager'),
    kubectl: join(binDir, 'kubectl'),
    origin,
  };
}

async function isCompleteBinDir(binDir: string): Promise<boolean> {
  for (const spec of BINARIES) if (!(await isExecutable(join(binDir, spec.file)))) return false;
  return true;
}

function requireGoForControlPlane(env: NodeJS.ProcessEnv): string {
  const go = findGo(env);
  if (go !== undefined) return go;
  throw new Error(
    'Cannot get the test control plane binaries: none is cached and no Go toolchain was found to build them ' +
      `(tried ${goCandidates(env).join(', ')}). Either install Go (the version in ${join(TOOLCHAIN_DIR, 'go.mod')} ` +
      'or newer) and retry, or set KUBEBUILDER_ASSETS to a folder holding etcd, kube-apiserver and kubectl ' +
      '(kube-controller-manager too, or Go is still needed to build that one).',
  );
}

/**
 * Builds every binary into a private staging folder next to the cache entry, then renames the
 * whole folder into place (buildIntoCache): an interrupted or failed build never leaves a
 * half-filled cache.
 */
async function buildControlPlaneIntoCache(
  versions: ToolchainVersions,
  env: NodeJS.ProcessEnv,
  log: Log,
): Promise<void> {
  const go = requireGoForControlPlane(env);
  const started = Date.now();
  const { dir: final, built } = await buildIntoCache({
    root: cacheRoot(env),
    key: cacheKey(versions),
    isComplete: (dir) => isCompleteBinDir(join(dir, 'bin')),
    log,
    build: async (staging) => {
      const stagingBin = join(staging, 'bin');
      await mkdir(stagingBin, { recursive: true });
      for (const [index, spec] of BINARIES.entries()) {
        const label = `${spec.file} (${index + 1}/${BINARIES.length})`;
        log(`building ${label} from ${spec.goPackage}`);
        const { compiled, ms } = await goBuild({
          go,
          cwd: TOOLCHAIN_DIR,
          goPackage: spec.goPackage,
          output: join(stagingBin, spec.file),
          ldflags: spec.kubernetesVersionStamp ? kubernetesVersionLdflags(versions.kubernetes) : [],
          env,
          log,
          label: spec.file,
        });
        log(`built ${spec.file} in ${formatDuration(ms)} (${compiled} packages compiled, rest cached)`);
      }
      const manifest = {
        versions,
        goVersion: goVersion(go, env),
        builtAt: new Date().toISOString(),
        from: TOOLCHAIN_DIR,
      };
      await writeFile(join(staging, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
    },
  });
  if (built) log(`built all binaries in ${formatDuration(Date.now() - started)} into ${join(final, 'bin')}`);
  else log(`another process built the binaries meanwhile; using ${join(final, 'bin')}`);
}

/**
 * `go build` of k8s.io/kubernetes leaves the version at v0.0.0-master; the release build stamps
 * it through these variables (hack/lib/version.sh). The binary version also drives API emulation
 * and what clients see in /version.
 */
export function kubernetesVersionLdflags(version: string): string[] {
  const match = /^v(\d+)\.(\d+)\./.exec(version);
  if (!match) throw new Error(`Unexpected k8s.io/kubernetes version ${version} in go.mod`);
  const values: Record<string, string> = {
    gitVersion: version,
    gitMajor: match[1] ?? '',
    gitMinor: match[2] ?? '',
    gitTreeState: 'clean',
  };
  return Object.entries(values).flatMap(([name, value]) => [
    `-X=k8s.io/component-base/version.${name}=${value}`,
    `-X=k8s.io/client-go/pkg/version.${name}=${value}`,
  ]);
}

function warnOnVersionMismatch(kubeApiServer: string, versions: ToolchainVersions, log: Log): void {
  const probe = spawnSync(kubeApiServer, ['--version'], { encoding: 'utf8' });
  const reported = /v\d+\.\d+\.\d+\S*/.exec(probe.stdout ?? '')?.[0];
  if (reported !== versions.kubernetes) {
    log(
      `warning: ${kubeApiServer} reports ${reported ?? 'no version'} but the toolchain pins ` +
        `${versions.kubernetes}; tests that check the version will fail`,
    );
  }
}
