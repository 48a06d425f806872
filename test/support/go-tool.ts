// Builds Go commands into the test cache, ONE place for what the test tool builds share: finding
// Go, running it with progress lines (packages compiled, every 20 s) and the tail of its output on
// failure, and filling a version-keyed cache folder atomically (a private staging folder renamed
// into place; staging folders of killed builds are removed).
//
// A tool comes from one of three sources, because upstream modules differ:
//   pinned      a module required in a go.mod folder of this repository (a `tool` directive):
//               `go build` runs in that folder, so the versions are the ones its go.sum pins;
//   install     `go install <package>@<version>`, the version pinned in TypeScript: for modules
//               whose go.mod has no replace directives (`go install` refuses those);
//   module-dir  `go build` inside the module's own directory (`go mod download` puts it in the
//               module cache): the module's go.mod applies whole, replace directives included,
//               as its own Makefile builds it.
//
// The cache: ${TERRITORY_CACHE_DIR:-${XDG_CACHE_HOME:-~/.cache}/territory}/<name>-<version>/...
import { spawn, spawnSync } from 'node:child_process';
import { constants, readFileSync } from 'node:fs';
import {
  access,
  chmod,
  cp,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rename,
  rm,
  stat,
  writeFile,
} from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export type Log = (line: string) => void;

export function cacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  if (env.TERRITORY_CACHE_DIR) return resolve(env.TERRITORY_CACHE_DIR);
  return join(env.XDG_CACHE_HOME ? resolve(env.XDG_CACHE_HOME) : join(homedir(), '.cache'), 'territory');
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  const seconds = ms / 1000;
  if (seconds < 60) return `${seconds.toFixed(1)}s`;
  return `${Math.floor(seconds / 60)}m${String(Math.round(seconds % 60)).padStart(2, '0')}s`;
}

export async function isExecutable(path: string): Promise<boolean> {
  try {
    await access(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------
// The Go toolchain

/** $GO names the toolchain explicitly; otherwise PATH, then where the official archive installs. */
export function goCandidates(env: NodeJS.ProcessEnv = process.env): string[] {
  return env.GO ? [env.GO] : ['go', '/usr/local/go/bin/go'];
}

export function findGo(env: NodeJS.ProcessEnv = process.env): string | undefined {
  return goCandidates(env).find(
    (candidate) => spawnSync(candidate, ['version'], { encoding: 'utf8', env }).status === 0,
  );
}

/** "no Go toolchain was found (tried …)", for error messages. */
export function noGoFound(env: NodeJS.ProcessEnv = process.env): string {
  return `no Go toolchain was found (tried ${goCandidates(env).join(', ')})`;
}

/** The Go toolchain, or an error saying what needs it and how to get one. */
export function requireGo(env: NodeJS.ProcessEnv, needs: string): string {
  const go = findGo(env);
  if (go === undefined) {
    throw new Error(
      `Cannot build ${needs}: ${noGoFound(env)}. Install Go (https://go.dev/dl/), or set GO to a go binary, and retry.`,
    );
  }
  return go;
}

/** e.g. go1.26.8 */
export function goVersion(go: string, env: NodeJS.ProcessEnv = process.env): string {
  return spawnSync(go, ['env', 'GOVERSION'], { encoding: 'utf8', env }).stdout?.trim() ?? 'unknown';
}

/** The version a go.mod requires of a module, e.g. v1.36.3. */
export function pinnedModuleVersion(goMod: string, module: string, goModPath: string): string {
  const escaped = module.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const match = new RegExp(`^\\s*(?:require\\s+)?${escaped}\\s+(v\\S+)`, 'm').exec(goMod);
  if (!match?.[1]) throw new Error(`${module} is not required in ${goModPath}`);
  return match[1];
}

// ---------------------------------------------------------------------------------------------
// Running go

export interface GoRunOptions {
  go: string;
  args: string[];
  cwd: string;
  env: NodeJS.ProcessEnv;
  log: Log;
  /** What is being built, for the progress lines and the error. */
  label: string;
}

export interface GoRunResult {
  /** Packages compiled (with -v go names each one; cached ones are silent). */
  compiled: number;
  ms: number;
}

/** Runs go, logging progress every 20 s; fails with the tail of its output. */
export async function runGo(options: GoRunOptions): Promise<GoRunResult> {
  const { go, args, cwd, env, log, label } = options;
  const started = Date.now();
  const child = spawn(go, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let compiled = 0;
  let lastPackage = '';
  const tail: string[] = [];
  const partial = { stdout: '', stderr: '' };
  const collect = (stream: 'stdout' | 'stderr') => (chunk: string) => {
    const lines = (partial[stream] + chunk).split('\n');
    partial[stream] = lines.pop() ?? '';
    for (const line of lines) {
      if (stream === 'stderr' && /^[\w.-]+(\/[\w.~-]+)*$/.test(line)) {
        compiled += 1;
        lastPackage = line;
      }
      tail.push(line);
      if (tail.length > 40) tail.shift();
    }
  };
  child.stdout.setEncoding('utf8').on('data', collect('stdout'));
  child.stderr.setEncoding('utf8').on('data', collect('stderr'));
  const ticker = setInterval(() => {
    const work =
      compiled === 0 ? 'linking (compile cache warm)' : `${compiled} packages compiled, last ${lastPackage}`;
    log(`  still building ${label}: ${formatDuration(Date.now() - started)} elapsed, ${work}`);
  }, 20_000);
  try {
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((ok, fail) => {
      child.once('error', fail);
      child.once('close', (exitCode, exitSignal) => ok([exitCode, exitSignal]));
    });
    if (code !== 0) {
      const output = [...tail, partial.stdout, partial.stderr].filter(Boolean).join('\n');
      throw new Error(
        `go ${args[0]} of ${label} (${args.at(-1)}) failed (${signal ? `signal ${signal}` : `exit ${code}`}) in ${cwd}:\n${output}`,
      );
    }
  } finally {
    clearInterval(ticker);
  }
  return { compiled, ms: Date.now() - started };
}

export interface GoBuildFlags {
  /** -X stamps and the like; `-s -w` (no symbol table, no DWARF) always come first. */
  ldflags?: readonly string[];
  tags?: readonly string[];
  /** More flags for go build/install, e.g. -mod=readonly. */
  flags?: readonly string[];
}

function buildFlags(flags: GoBuildFlags): string[] {
  return [
    '-v',
    '-trimpath',
    ...(flags.flags ?? []),
    ...(flags.tags?.length ? [`-tags=${flags.tags.join(',')}`] : []),
    `-ldflags=${['-s', '-w', ...(flags.ldflags ?? [])].join(' ')}`,
  ];
}

export interface GoBuildOptions extends GoBuildFlags {
  go: string;
  /** Where go runs: a module folder (its go.mod decides the versions). */
  cwd: string;
  goPackage: string;
  /** The binary to write. */
  output: string;
  env: NodeJS.ProcessEnv;
  log: Log;
  label: string;
}

/** `go build -v -trimpath -ldflags=... -o output package` in cwd. */
export async function goBuild(options: GoBuildOptions): Promise<GoRunResult> {
  const args = ['build', ...buildFlags(options), '-o', options.output, options.goPackage];
  return runGo({ ...options, args });
}

export interface GoInstallOptions extends GoBuildFlags {
  go: string;
  goPackage: string;
  version: string;
  /** The folder the binary lands in (GOBIN). */
  gobin: string;
  env: NodeJS.ProcessEnv;
  log: Log;
  label: string;
}

/**
 * `go install package@version` with GOBIN set: the module's own go.mod decides the dependency
 * versions, -mod=mod so that a GOFLAGS=-mod=vendor of the caller does not get in the way.
 */
export async function goInstall(options: GoInstallOptions): Promise<GoRunResult> {
  const args = [
    'install',
    ...buildFlags({ ...options, flags: ['-mod=mod', ...(options.flags ?? [])] }),
    `${options.goPackage}@${options.version}`,
  ];
  await mkdir(options.gobin, { recursive: true });
  const env = { ...options.env, GOBIN: options.gobin, GOWORK: 'off' };
  return runGo({ ...options, args, env, cwd: options.gobin });
}

/** The name `go install` gives a package's binary: its last path element, bar a /vN suffix. */
export function installedName(goPackage: string): string {
  const parts = goPackage.split('/');
  const last = parts.at(-1) ?? goPackage;
  return /^v\d+$/.test(last) && parts.length > 1 ? (parts.at(-2) ?? last) : last;
}

/** Where a module version comes from, for version stamps. */
export interface ModuleOrigin {
  version: string;
  /** The VCS commit of the version, when the module proxy records it. */
  commit?: string;
  /** The commit's time (RFC 3339), when known. */
  time?: string;
}

export interface DownloadedModule extends ModuleOrigin {
  /** The module's read-only source folder in the module cache. */
  dir: string;
}

/** `go mod download -json module@version`: the module's source, in the module cache. */
export async function goModDownload(
  go: string,
  module: string,
  version: string,
  env: NodeJS.ProcessEnv,
): Promise<DownloadedModule> {
  const child = spawn(go, ['mod', 'download', '-json', `${module}@${version}`], {
    // Outside any module, so no go.mod or go.work around the caller is read or changed.
    cwd: '/',
    env: { ...env, GOWORK: 'off' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const code = await new Promise<number | null>((ok, fail) => {
    child.once('error', fail);
    child.once('close', ok);
  });
  let info: { Dir?: string; Version?: string; Info?: string; Error?: string; Origin?: { Hash?: string } } =
    {};
  try {
    info = JSON.parse(stdout);
  } catch {
    // reported below
  }
  if (code !== 0 || !info.Dir || info.Error) {
    throw new Error(
      `go mod download ${module}@${version} failed (exit ${code}): ${info.Error ?? ''}${stderr}`,
    );
  }
  let time: string | undefined;
  try {
    if (info.Info) time = (JSON.parse(readFileSync(info.Info, 'utf8')) as { Time?: string }).Time;
  } catch {
    // the time is only for a version stamp
  }
  return {
    dir: info.Dir,
    version: info.Version ?? version,
    ...(info.Origin?.Hash ? { commit: info.Origin.Hash } : {}),
    ...(time ? { time } : {}),
  };
}

/**
 * A writable copy of a module's source (the module cache is read-only), for builds that write
 * into the module folder. The caller removes it.
 */
export async function writableModuleCopy(module: DownloadedModule, parent: string): Promise<string> {
  const copy = join(parent, 'src');
  await cp(module.dir, copy, { recursive: true });
  await chmodTree(copy);
  return copy;
}

async function chmodTree(dir: string): Promise<void> {
  await chmod(dir, 0o755);
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) await chmodTree(path);
    else if (entry.isFile()) await chmod(path, (await stat(path)).mode | 0o200);
  }
}

// ---------------------------------------------------------------------------------------------
// The cache

export interface CacheBuildOptions {
  root: string;
  /** The cache entry's folder name under root, e.g. containerd-v2.4.2. */
  key: string;
  /** Whether a folder holds a complete entry (the cached one, or a competing build's). */
  isComplete: (dir: string) => Promise<boolean>;
  /** Fills the staging folder; it becomes join(root, key) once this resolves. */
  build: (staging: string) => Promise<void>;
  log: Log;
}

/**
 * Builds into a private staging folder next to the cache entry, then renames it into place: an
 * interrupted or failed build never leaves a half-filled cache. A second process wanting the same
 * entry meanwhile waits for the first (a lock file next to the entry) instead of compiling the
 * same packages again. Returns the entry's folder, and whether this call built it.
 */
export async function buildIntoCache(options: CacheBuildOptions): Promise<{ dir: string; built: boolean }> {
  const { root, key, log } = options;
  const final = join(root, key);
  await mkdir(root, { recursive: true });
  const unlock = await lockCacheEntry(root, key, log);
  try {
    if (await options.isComplete(final)) return { dir: final, built: false };
    await removeAbandonedBuilds(root, key);
    const staging = join(root, `.build-${key}-${process.pid}-${Date.now()}`);
    await mkdir(staging, { recursive: true });
    try {
      await options.build(staging);
      try {
        await rename(staging, final);
      } catch (error) {
        // Another process finished the same build first: its result is as good as ours.
        if (await options.isComplete(final)) {
          log(`another process filled ${final} first; using it`);
          return { dir: final, built: false };
        }
        // A leftover that is not a complete entry (e.g. emptied by hand): replace it.
        await rm(final, { recursive: true, force: true });
        await rename(staging, final).catch(() => {
          throw error;
        });
      }
    } finally {
      await rm(staging, { recursive: true, force: true });
    }
    return { dir: final, built: true };
  } finally {
    await unlock();
  }
}

/**
 * `.lock-<key>` next to the entry, holding the builder's pid; a lock whose process is gone is
 * taken over. Only saves duplicate work: the staging rename keeps the cache consistent anyway.
 */
async function lockCacheEntry(root: string, key: string, log: Log): Promise<() => Promise<void>> {
  const lock = join(root, `.lock-${key}`);
  const started = Date.now();
  let lastLog = 0;
  for (;;) {
    try {
      await writeFile(lock, `${process.pid}\n`, { flag: 'wx' });
      return () => rm(lock, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const holder = Number.parseInt(await readFile(lock, 'utf8').catch(() => ''), 10);
    if (!holder || !processExists(holder)) {
      // Stale (its process was killed), or being written this very moment: look again shortly.
      if (holder) await rm(lock, { force: true });
      await new Promise((ok) => setTimeout(ok, 100 + Math.random() * 400));
      continue;
    }
    if (Date.now() - lastLog >= 20_000) {
      lastLog = Date.now();
      log(`  waiting for process ${holder}, building ${key}: ${formatDuration(Date.now() - started)}`);
    }
    await new Promise((ok) => setTimeout(ok, 1000));
  }
}

/** Staging folders left by a build whose process is gone (killed mid-build). */
export async function removeAbandonedBuilds(root: string, key: string): Promise<void> {
  const pattern = new RegExp(`^\\.build-${key.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}-(\\d+)-\\d+$`);
  for (const entry of await readdir(root)) {
    const pid = Number(pattern.exec(entry)?.[1]);
    if (pid && pid !== process.pid && !processExists(pid)) {
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

// ---------------------------------------------------------------------------------------------
// A Go tool: a few binaries from one module at one version, in one cache entry

/** A module required in `moduleDir`/go.mod of this repository; go build runs in that folder. */
export interface PinnedGoSource {
  kind: 'pinned';
  moduleDir: string;
  module: string;
}

export type GoToolSource =
  | PinnedGoSource
  /** `go install <package>@<version>`. */
  | { kind: 'install'; module: string; version: string }
  /**
   * go build inside the module's own directory, its go.mod whole (replace directives included):
   * in place in the (read-only) module cache, or in a temporary writable copy with `writable`.
   */
  | { kind: 'module-dir'; module: string; version: string; writable?: boolean };

export interface GoBinary extends GoBuildFlags {
  /** The file name in the cache. */
  file: string;
  /** An import path; for a module-dir tool also a path relative to the module root (./cmd/manager). */
  goPackage: string;
  /** Environment for this binary's build, over the tool's (e.g. CGO_ENABLED). */
  env?: Record<string, string>;
}

export interface GoToolSpec {
  /** For logs and the default cache key, <name>-<version>. */
  name: string;
  source: GoToolSource;
  binaries: readonly GoBinary[];
  /** -X stamps for every binary, given the version (and, but for a pinned source, its commit). */
  ldflags?: (version: string, origin: ModuleOrigin) => string[];
  tags?: readonly string[];
  /**
   * Environment for every build. The install and module-dir sources default to CGO_ENABLED=0
   * (static binaries, as those projects release them); a pinned one builds with Go's defaults.
   */
  env?: Record<string, string>;
  /** The cache entry's folder name; default <name>-<version>. */
  cacheKey?: (version: string) => string;
  /** The entry's subfolder holding the binaries: '' (the default) or e.g. 'bin'. */
  binDir?: string;
}

/** What the last build of an entry took, written next to its binaries as build.json. */
export interface BuildRecord {
  name: string;
  module: string;
  version: string;
  commit?: string;
  source: GoToolSource['kind'];
  goVersion: string;
  builtAt: string;
  /** The whole build, staging to rename. */
  seconds: number;
  /** Per binary: seconds and packages compiled. */
  binaries: Record<string, { seconds: number; packagesCompiled: number }>;
}

export const BUILD_RECORD = 'build.json';

export interface GoToolResult {
  version: string;
  /** The cache entry. */
  dir: string;
  /** File name → absolute path. */
  binaries: Record<string, string>;
  /** Set when this call built the entry. */
  built?: BuildRecord;
}

export interface EnsureGoToolOptions {
  env?: NodeJS.ProcessEnv;
  log?: Log;
  /** false: fail instead of building a missing entry. */
  build?: boolean;
  /**
   * The error when the entry is missing and cannot be built; `noGo` is set when Go is missing
   * (undefined when build is false).
   */
  notBuilt?: (context: { version: string; dir: string; noGo: string | undefined }) => string;
}

export function goToolVersion(spec: GoToolSpec): string {
  const source = spec.source;
  if (source.kind !== 'pinned') return source.version;
  const goModPath = join(source.moduleDir, 'go.mod');
  return pinnedModuleVersion(readFileSync(goModPath, 'utf8'), source.module, goModPath);
}

/** The cache entry's folder name, e.g. containerd-v2.4.2. */
export function goToolKey(spec: GoToolSpec): string {
  const version = goToolVersion(spec);
  return spec.cacheKey?.(version) ?? `${spec.name}-${version}`;
}

export function goToolDir(spec: GoToolSpec, env: NodeJS.ProcessEnv = process.env): string {
  return join(cacheRoot(env), goToolKey(spec));
}

export function goToolPaths(spec: GoToolSpec, env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const dir = join(goToolDir(spec, env), spec.binDir ?? '');
  return Object.fromEntries(spec.binaries.map((binary) => [binary.file, join(dir, binary.file)]));
}

/** One binary's path in the cache. */
export function goToolPath(spec: GoToolSpec, file: string, env: NodeJS.ProcessEnv = process.env): string {
  if (!spec.binaries.some((binary) => binary.file === file))
    throw new Error(`${spec.name} builds no ${file}`);
  return join(goToolDir(spec, env), spec.binDir ?? '', file);
}

async function allExecutable(paths: Iterable<string>): Promise<boolean> {
  for (const path of paths) if (!(await isExecutable(path))) return false;
  return true;
}

/** The tool's binaries from the cache, built first when missing (sequentially, one go run each). */
export async function ensureGoTool(
  spec: GoToolSpec,
  options: EnsureGoToolOptions = {},
): Promise<GoToolResult> {
  const env = options.env ?? process.env;
  const log = options.log ?? ((line: string) => process.stderr.write(`[${spec.name}] ${line}\n`));
  const version = goToolVersion(spec);
  const dir = goToolDir(spec, env);
  const paths = goToolPaths(spec, env);
  if (await allExecutable(Object.values(paths))) return { version, dir, binaries: paths };

  const go = options.build === false ? undefined : findGo(env);
  if (go === undefined) {
    const noGo = options.build === false ? undefined : noGoFound(env);
    throw new Error(
      options.notBuilt?.({ version, dir, noGo }) ??
        `${spec.name} ${version} is not built: ${dir} is incomplete` +
          (noGo ? ` and ${noGo} to build it` : '') +
          '. Install Go (https://go.dev/dl/), or set GO to a go binary, and retry.',
    );
  }

  const source = spec.source;
  const where =
    source.kind === 'pinned'
      ? `from ${source.moduleDir}`
      : `(${source.kind === 'install' ? 'go install' : 'in its module folder'})`;
  log(`building ${spec.name} ${version} ${where} into ${dir}`);
  const started = Date.now();
  let record: BuildRecord | undefined;
  const { built } = await buildIntoCache({
    root: cacheRoot(env),
    key: goToolKey(spec),
    isComplete: (candidate) =>
      allExecutable(spec.binaries.map((b) => join(candidate, spec.binDir ?? '', b.file))),
    log,
    build: async (staging) => {
      record = await buildGoTool(spec, { go, version, staging, env, log });
      record.seconds = (Date.now() - started) / 1000;
      await writeFile(join(staging, BUILD_RECORD), `${JSON.stringify(record, null, 2)}\n`);
    },
  });
  if (!built || !record) {
    log(`another process built ${spec.name} ${version} meanwhile; using its binaries`);
    return { version, dir, binaries: paths };
  }
  log(`built ${spec.name} ${version} in ${formatDuration(Date.now() - started)} into ${dir}`);
  return { version, dir, binaries: paths, built: record };
}

/** Builds each binary of the tool into the staging folder, one go run each, in order. */
async function buildGoTool(
  spec: GoToolSpec,
  context: { go: string; version: string; staging: string; env: NodeJS.ProcessEnv; log: Log },
): Promise<BuildRecord> {
  const { go, version, staging, env, log } = context;
  const source = spec.source;
  const started = Date.now();
  const binDir = join(staging, spec.binDir ?? '');
  await mkdir(binDir, { recursive: true });
  let origin: ModuleOrigin = { version };
  let cwd = source.kind === 'pinned' ? source.moduleDir : binDir;
  let scratch: string | undefined;
  try {
    if (source.kind !== 'pinned') {
      const downloaded = await goModDownload(go, source.module, version, env);
      origin = downloaded;
      if (source.kind === 'module-dir') cwd = downloaded.dir;
      if (source.kind === 'module-dir' && source.writable) {
        scratch = await mkdtemp(join(tmpdir(), `territory-${spec.name}-`));
        cwd = await writableModuleCopy(downloaded, scratch);
      }
    }
    // Static binaries by default, as those projects release them; a pinned module builds with
    // Go's defaults, like the control plane.
    const toolEnv = source.kind === 'pinned' ? { ...spec.env } : { CGO_ENABLED: '0', ...spec.env };
    const perBinary: BuildRecord['binaries'] = {};
    for (const [index, binary] of spec.binaries.entries()) {
      const label = `${binary.file} (${index + 1}/${spec.binaries.length})`;
      const common = {
        go,
        goPackage: binary.goPackage,
        env: { ...env, ...toolEnv, ...binary.env },
        log,
        label,
        ldflags: [...(spec.ldflags?.(version, origin) ?? []), ...(binary.ldflags ?? [])],
        tags: [...(spec.tags ?? []), ...(binary.tags ?? [])],
        // The module's own go.mod and go.sum, as they are (in the module cache they are read-only).
        flags: [...(source.kind === 'module-dir' ? ['-mod=readonly'] : []), ...(binary.flags ?? [])],
      };
      log(`building ${label} from ${binary.goPackage}`);
      const output = join(binDir, binary.file);
      let result: GoRunResult;
      if (source.kind === 'install') {
        result = await goInstall({ ...common, version, gobin: binDir });
        const installed = join(binDir, installedName(binary.goPackage));
        if (installed !== output) await rename(installed, output);
      } else {
        result = await goBuild({ ...common, cwd, output });
      }
      perBinary[binary.file] = { seconds: result.ms / 1000, packagesCompiled: result.compiled };
      log(
        `built ${binary.file} in ${formatDuration(result.ms)} (${result.compiled} packages compiled, rest cached)`,
      );
    }
    return {
      name: spec.name,
      module: source.module,
      version,
      ...(origin.commit ? { commit: origin.commit } : {}),
      source: source.kind,
      goVersion: goVersion(go, env),
      builtAt: new Date().toISOString(),
      seconds: (Date.now() - started) / 1000,
      binaries: perBinary,
    };
  } finally {
    if (scratch) await rm(scratch, { recursive: true, force: true });
  }
}

/** The build.json of a cache entry, when it has one. */
export function readBuildRecord(dir: string): BuildRecord | undefined {
  try {
    return JSON.parse(readFileSync(join(dir, BUILD_RECORD), 'utf8')) as BuildRecord;
  } catch {
    return undefined;
  }
}
