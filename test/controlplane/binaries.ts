// Finds the four control-plane binaries (etcd, kube-apiserver, kube-controller-manager, kubectl).
// Order: KUBEBUILDER_ASSETS (the envtest layout), then a version-keyed cache outside the repo,
// then a `go build` of the pinned toolchain module into that cache. Versions are read from the
// toolchain's go.mod so there is exactly one place that pins them.
import { spawn, spawnSync } from 'node:child_process';
import { constants, readFileSync } from 'node:fs';
import { access, mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

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
  const versionOf = (module: string): string => {
    const escaped = module.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    const match = new RegExp(`^\\s*(?:require\\s+)?${escaped}\\s+(v\\S+)`, 'm').exec(goMod);
    if (!match?.[1]) throw new Error(`${module} is not required in ${join(TOOLCHAIN_DIR, 'go.mod')}`);
    return match[1];
  };
  return { kubernetes: versionOf('k8s.io/kubernetes'), etcd: versionOf('go.etcd.io/etcd/server/v3') };
}

export function cacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  if (env.TERRITORY_CACHE_DIR) return resolve(env.TERRITORY_CACHE_DIR);
  return join(env.XDG_CACHE_HOME ? resolve(env.XDG_CACHE_HOME) : join(homedir(), '.cache'), 'territory');
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
  await buildIntoCache(versions, env, log);
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

async function isExecutable(path: string): Promise<boolean> {
  try {
    await access(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function findGo(env: NodeJS.ProcessEnv): string {
  // $GO names the toolchain explicitly; otherwise PATH, then where the official archive installs.
  const candidates = env.GO ? [env.GO] : ['go', '/usr/local/go/bin/go'];
  for (const candidate of candidates) {
    const probe = spawnSync(candidate, ['version'], { encoding: 'utf8', env });
    if (probe.status === 0) return candidate;
  }
  throw new Error(
    'Cannot get the test control plane binaries: none is cached and no Go toolchain was found to build them ' +
      `(tried ${candidates.join(', ')}). Either install Go (the version in ${join(TOOLCHAIN_DIR, 'go.mod')} ` +
      'or newer) and retry, or set KUBEBUILDER_ASSETS to a folder holding etcd, kube-apiserver and kubectl ' +
      '(kube-controller-manager too, or Go is still needed to build that one).',
  );
}

/**
 * Builds every binary into a private temporary folder next to the cache entry, then renames the
 * whole folder into place: an interrupted or failed build never leaves a half-filled cache.
 */
async function buildIntoCache(versions: ToolchainVersions, env: NodeJS.ProcessEnv, log: Log): Promise<void> {
  const go = findGo(env);
  const root = cacheRoot(env);
  const key = cacheKey(versions);
  await mkdir(root, { recursive: true });
  await removeAbandonedBuilds(root, key);

  const staging = join(root, `.build-${key}-${process.pid}-${Date.now()}`);
  const stagingBin = join(staging, 'bin');
  await mkdir(stagingBin, { recursive: true });
  const started = Date.now();
  try {
    for (const [index, spec] of BINARIES.entries()) {
      await goBuild(
        go,
        spec,
        join(stagingBin, spec.file),
        versions,
        env,
        log,
        `${index + 1}/${BINARIES.length}`,
      );
    }
    const goVersion = spawnSync(go, ['env', 'GOVERSION'], { encoding: 'utf8', env }).stdout.trim();
    await writeFile(
      join(staging, 'manifest.json'),
      `${JSON.stringify({ versions, goVersion, builtAt: new Date().toISOString(), from: TOOLCHAIN_DIR }, null, 2)}\n`,
    );
    try {
      await rename(staging, join(root, key));
    } catch (error) {
      // Another process finished the same build first: its result is as good as ours.
      if (!(await isCompleteBinDir(join(root, key, 'bin')))) throw error;
      log('another process filled the cache first; using its binaries');
    }
    log(`built all binaries in ${formatDuration(Date.now() - started)} into ${join(root, key, 'bin')}`);
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

async function goBuild(
  go: string,
  spec: BinarySpec,
  output: string,
  versions: ToolchainVersions,
  env: NodeJS.ProcessEnv,
  log: Log,
  position: string,
): Promise<void> {
  const ldflags = [
    '-s',
    '-w',
    ...(spec.kubernetesVersionStamp ? kubernetesVersionLdflags(versions.kubernetes) : []),
  ];
  const args = ['build', '-v', '-trimpath', `-ldflags=${ldflags.join(' ')}`, '-o', output, spec.goPackage];
  const started = Date.now();
  log(`building ${spec.file} (${position}) from ${spec.goPackage}`);

  const child = spawn(go, args, { cwd: TOOLCHAIN_DIR, env, stdio: ['ignore', 'ignore', 'pipe'] });
  let compiled = 0;
  let lastPackage = '';
  const tail: string[] = [];
  let partial = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      // With -v, go prints each package it compiles (cached ones are silent).
      if (/^[\w.-]+(\/[\w.~-]+)*$/.test(line)) {
        compiled += 1;
        lastPackage = line;
      }
      tail.push(line);
      if (tail.length > 40) tail.shift();
    }
  });
  const ticker = setInterval(() => {
    const work =
      compiled === 0 ? 'linking (compile cache warm)' : `${compiled} packages compiled, last ${lastPackage}`;
    log(`  still building ${spec.file}: ${formatDuration(Date.now() - started)} elapsed, ${work}`);
  }, 20_000);
  try {
    const code = await new Promise<number | null>((resolveExit, reject) => {
      child.once('error', reject);
      child.once('exit', (exitCode) => resolveExit(exitCode));
    });
    if (code !== 0) {
      throw new Error(
        `go build of ${spec.goPackage} failed (exit ${code}) in ${TOOLCHAIN_DIR}:\n${[...tail, partial].join('\n')}`,
      );
    }
  } finally {
    clearInterval(ticker);
  }
  log(
    `built ${spec.file} in ${formatDuration(Date.now() - started)} (${compiled} packages compiled, rest cached)`,
  );
}

/**
 * `go build` of k8s.io/kubernetes leaves the version at v0.0.0-master; the release build stamps
 * it through these variables (hack/lib/version.sh). The binary version also drives API emulation
 * and what clients see in /version.
 */
function kubernetesVersionLdflags(version: string): string[] {
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

/** Staging folders left by a build whose process is gone (killed mid-build). */
async function removeAbandonedBuilds(root: string, key: string): Promise<void> {
  for (const entry of await readdir(root)) {
    const match = new RegExp(`^\\.build-${key.replace(/\./g, '\\.')}-(\\d+)-\\d+$`).exec(entry);
    if (!match) continue;
    const pid = Number(match[1]);
    if (pid !== process.pid && !processExists(pid)) {
      await rm(join(root, entry), { recursive: true, force: true });
    }
  }
}

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
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

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  const seconds = ms / 1000;
  if (seconds < 60) return `${seconds.toFixed(1)}s`;
  return `${Math.floor(seconds / 60)}m${String(Math.round(seconds % 60)).padStart(2, '0')}s`;
}
