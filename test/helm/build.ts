// Helm, for the chart tests (`helm lint`, `helm template`), built from its Go module at the version pinned
// in test/helm/go.mod (a `tool` directive), like the Kubernetes test binaries: no binary download.
// Helm 4 (helm.sh/helm/v4): the current major; it reads v2 charts exactly as Helm 3 does.
//
// The binary is cached outside the repository, keyed by version:
//   ${TERRITORY_CACHE_DIR:-~/.cache/territory}/helm-<version>/helm
// Prebuild (CI): npm run helm:binary. Override with TERRITORY_HELM_BIN=/path/to/helm.
// The same script builds glua (gopher-lua, pinned in test/helm/argocd-lua/go.mod), the Lua VM Argo CD
// runs health checks in, so the chart's Argo CD health check is tested in the VM it will run in.
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  ensureGoTool,
  type GoToolSpec,
  goToolPath,
  isExecutable,
  type PinnedGoSource,
  pinnedModuleVersion,
} from '../support/go-tool.ts';

export const HELM_MODULE_DIR = resolve(import.meta.dirname);
/** gopher-lua, the Lua VM Argo CD runs health checks in, for testing the chart's Argo CD health check. */
export const GLUA_MODULE_DIR = resolve(import.meta.dirname, 'argocd-lua');

export type Log = (line: string) => void;
const stderrLog: Log = (line) => process.stderr.write(`[helm] ${line}\n`);

/** A Go command built from a module pinned in a go.mod of this folder. */
interface GoTool {
  spec: GoToolSpec & { source: PinnedGoSource };
  envOverride: string;
}

const HELM: GoTool = {
  spec: {
    name: 'helm',
    source: { kind: 'pinned', moduleDir: HELM_MODULE_DIR, module: 'helm.sh/helm/v4' },
    binaries: [{ file: 'helm', goPackage: 'helm.sh/helm/v4/cmd/helm' }],
    // helm reports the version stamped here (`helm version`), as its release builds do.
    ldflags: (version) => [`-X helm.sh/helm/v4/internal/version.version=${version}`],
  },
  envOverride: 'TERRITORY_HELM_BIN',
};

const GLUA: GoTool = {
  spec: {
    name: 'glua',
    source: { kind: 'pinned', moduleDir: GLUA_MODULE_DIR, module: 'github.com/yuin/gopher-lua' },
    binaries: [{ file: 'glua', goPackage: 'github.com/yuin/gopher-lua/cmd/glua' }],
  },
  envOverride: 'TERRITORY_GLUA_BIN',
};

function pinnedVersionOf(tool: GoTool, goMod?: string): string {
  const { moduleDir, module } = tool.spec.source;
  const goModPath = join(moduleDir, 'go.mod');
  return pinnedModuleVersion(goMod ?? readFileSync(goModPath, 'utf8'), module, goModPath);
}

export const pinnedHelmVersion = (goMod?: string) => pinnedVersionOf(HELM, goMod);

function binaryPath(tool: GoTool, env: NodeJS.ProcessEnv): string {
  const override = env[tool.envOverride];
  if (override) return resolve(override);
  return goToolPath(tool.spec, tool.spec.name, env);
}

export const helmBinaryPath = (env: NodeJS.ProcessEnv = process.env) => binaryPath(HELM, env);

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
  const binary = binaryPath(tool, env);
  if (env[tool.envOverride]) {
    if (await isExecutable(binary)) return binary;
    throw new Error(`${tool.envOverride}=${binary} is not an executable file`);
  }
  await ensureGoTool(tool.spec, {
    env,
    log: opts.log ?? stderrLog,
    ...(opts.build === undefined ? {} : { build: opts.build }),
    notBuilt: ({ version, noGo }) =>
      `${tool.spec.name} ${version} is not built: ${binary} is missing` +
      (noGo ? ` and ${noGo}` : '') +
      `. Build it once with \`npm run helm:binary\` (needs Go, the version in ${join(tool.spec.source.moduleDir, 'go.mod')} ` +
      `or newer, and access to the Go module proxy), or set ${tool.envOverride} to a ${tool.spec.name} binary.`,
  });
  return binary;
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
