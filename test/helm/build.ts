// Helm, for the chart tests (`helm lint`, `helm template`), built from its Go module at the version pinned
// in test/helm/go.mod (a `tool` directive), like the Kubernetes test binaries: no binary download.
// Helm 4 (helm.sh/helm/v4): the current major; it reads v2 charts exactly as Helm 3 does.
//
// The binary is cached outside the repository, keyed by version:
//   ${TERRITORY_CACHE_DIR:-~/.cache/territory}/helm-<version>/helm
// Prebuild (CI): npm run helm:binary. Override with TERRITORY_HELM_BIN=/path/to/helm.
// The same script builds glua (gopher-lua, pinned in test/helm/argocd-lua/go.mod), the Lua VM Argo CD
// runs health checks in, so the chart's Argo CD health check is tested in the VM it will run in.
import { spawn, spawnSync } from 'node:child_process';
import { constants, readFileSync } from 'node:fs';
import { access, mkdir, rename, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { cacheRoot, formatDuration } from '../controlplane/binaries.ts';

export const HELM_MODULE_DIR = resolve(import.meta.dirname);
/** gopher-lua, the Lua VM Argo CD runs health checks in, for testing the chart's Argo CD health check. */
export const GLUA_MODULE_DIR = resolve(import.meta.dirname, 'argocd-lua');

export type Log = (line: string) => void;
const stderrLog: Log = (line) => process.stderr.write(`[helm] ${line}\n`);

/** A Go command built from a module pinned in a go.mod of this folder. */
interface GoTool {
  name: string;
  moduleDir: string;
  module: string;
  goPackage: string;
  envOverride: string;
  /** Extra -X flags (the version stamp), given the pinned version. */
  stamp?: (version: string) => string[];
}

const HELM: GoTool = {
  name: 'helm',
  moduleDir: HELM_MODULE_DIR,
  module: 'helm.sh/helm/v4',
  goPackage: 'helm.sh/helm/v4/cmd/helm',
  envOverride: 'TERRITORY_HELM_BIN',
  // helm reports the version stamped here (`helm version`), as its release builds do.
  stamp: (version) => [`-X helm.sh/helm/v4/internal/version.version=${version}`],
};

const GLUA: GoTool = {
  name: 'glua',
  moduleDir: GLUA_MODULE_DIR,
  module: 'github.com/yuin/gopher-lua',
  goPackage: 'github.com/yuin/gopher-lua/cmd/glua',
  envOverride: 'TERRITORY_GLUA_BIN',
};

function pinnedVersionOf(tool: GoTool, goMod = readFileSync(join(tool.moduleDir, 'go.mod'), 'utf8')): string {
  const escaped = tool.module.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const m = new RegExp(`^\\s*(?:require\\s+)?${escaped}\\s+(v\\S+)`, 'm').exec(goMod);
  if (!m?.[1]) throw new Error(`${tool.module} is not required in ${join(tool.moduleDir, 'go.mod')}`);
  return m[1];
}

export const pinnedHelmVersion = (goMod?: string) => pinnedVersionOf(HELM, goMod);

function binaryPath(tool: GoTool, env: NodeJS.ProcessEnv): string {
  const override = env[tool.envOverride];
  if (override) return resolve(override);
  return join(cacheRoot(env), `${tool.name}-${pinnedVersionOf(tool)}`, tool.name);
}

export const helmBinaryPath = (env: NodeJS.ProcessEnv = process.env) => binaryPath(HELM, env);

async function isExecutable(path: string): Promise<boolean> {
  try {
    await access(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function findGo(env: NodeJS.ProcessEnv): string | undefined {
  for (const candidate of [env.GO, 'go', '/usr/local/go/bin/go']) {
    if (candidate && spawnSync(candidate, ['version'], { env }).status === 0) return candidate;
  }
  return undefined;
}

interface EnsureOptions {
  env?: NodeJS.ProcessEnv;
  log?: Log;
  build?: boolean;
}

/** The cached helm, built first when missing (and Go is available). */
export const ensureHelmBinary = (opts: EnsureOptions = {}) => ensureTool(HELM, opts);

/** The cached glua (gopher-lua's interpreter), built first when missing. */
export const ensureGluaBinary = (opts: EnsureOptions = {}) => ensureTool(GLUA, opts);

async function ensureTool(tool: GoTool, opts: EnsureOptions): Promise<string> {
  const env = opts.env ?? process.env;
  const log = opts.log ?? stderrLog;
  const binary = binaryPath(tool, env);
  if (await isExecutable(binary)) return binary;
  if (env[tool.envOverride]) throw new Error(`${tool.envOverride}=${binary} is not an executable file`);
  const go = findGo(env);
  if (opts.build === false || go === undefined) {
    throw new Error(
      `${tool.name} ${pinnedVersionOf(tool)} is not built: ${binary} is missing` +
        (go === undefined ? ' and no Go toolchain was found to build it' : '') +
        `. Build it once with \`npm run helm:binary\` (needs Go, the version in ${join(tool.moduleDir, 'go.mod')} ` +
        `or newer, and access to the Go module proxy), or set ${tool.envOverride} to a ${tool.name} binary.`,
    );
  }
  await build(tool, go, binary, env, log);
  return binary;
}

/** go build into a private staging folder, then rename into place: never a half-written cache. */
async function build(
  tool: GoTool,
  go: string,
  binary: string,
  env: NodeJS.ProcessEnv,
  log: Log,
): Promise<void> {
  const version = pinnedVersionOf(tool);
  const finalDir = resolve(binary, '..');
  const staging = `${finalDir}.build-${process.pid}-${Date.now()}`;
  await mkdir(staging, { recursive: true });
  const started = Date.now();
  log(`building ${tool.name} ${version} from ${tool.moduleDir} into ${finalDir}`);
  try {
    const ldflags = ['-s', '-w', ...(tool.stamp?.(version) ?? [])].join(' ');
    const output = join(staging, tool.name);
    const args = ['build', '-v', '-trimpath', `-ldflags=${ldflags}`, '-o', output, tool.goPackage];
    const child = spawn(go, args, { cwd: tool.moduleDir, env, stdio: ['ignore', 'ignore', 'pipe'] });
    let compiled = 0;
    const tail: string[] = [];
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      for (const line of chunk.split('\n').filter(Boolean)) {
        // With -v, go prints each package it compiles (cached ones are silent).
        if (/^[\w.-]+(\/[\w.~-]+)*$/.test(line)) compiled += 1;
        tail.push(line);
        if (tail.length > 40) tail.shift();
      }
    });
    const ticker = setInterval(
      () =>
        log(
          `  still building ${tool.name}: ${formatDuration(Date.now() - started)}, ${compiled} packages compiled`,
        ),
      20_000,
    );
    const code = await new Promise<number | null>((ok, fail) => {
      child.once('error', fail);
      child.once('exit', ok);
    }).finally(() => clearInterval(ticker));
    if (code !== 0)
      throw new Error(`go build of ${tool.goPackage} failed (exit ${code}):\n${tail.join('\n')}`);
    try {
      await rename(staging, finalDir);
    } catch (error) {
      // Another process finished the same build first: its binary is as good as ours.
      if (!(await isExecutable(binary))) throw error;
    }
    log(
      `built ${tool.name} ${version} in ${formatDuration(Date.now() - started)} (${compiled} packages compiled)`,
    );
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

if (import.meta.main) {
  try {
    for (const binary of [await ensureHelmBinary(), await ensureGluaBinary()])
      process.stdout.write(`${binary}\n`);
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n`);
    process.exitCode = 1;
  }
}
