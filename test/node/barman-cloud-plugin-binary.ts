// The Barman Cloud plugin's one binary (`manager`), built from its Go module at a pinned version
// through test/support/go-tool.ts, like the node's other Go components. The same binary runs in
// both of its images: `manager operator` in the plugin's Deployment (the CNPG-I server that
// CloudNativePG calls, and the ObjectStore controller), `manager instance` / `manager restore` as
// the sidecar it injects into each PostgreSQL Pod and recovery Job.
//
// v0.14.0 is built against CloudNativePG v1.30.0, the version the node runs (its go.mod requires
// github.com/cloudnative-pg/cloudnative-pg v1.30.0), and every dependency it requires is served by
// the module proxy. Built inside its module folder as its Containerfiles do
// (`CGO_ENABLED=0 go build -o manager cmd/manager/main.go`): its go.mod and go.sum apply whole.
//
//   ${TERRITORY_CACHE_DIR:-~/.cache/territory}/plugin-barman-cloud-<version>/bin/manager
//
// CLI: `node test/node/barman-cloud-plugin-binary.ts` builds it when missing and prints its path.
import { BARMAN_CLOUD_PLUGIN_MODULE, BARMAN_CLOUD_PLUGIN_VERSION } from '../cnpg/crds.ts';
import type { Log } from '../controlplane/binaries.ts';
import {
  ensureGoTool,
  type GoToolResult,
  type GoToolSpec,
  goModDownload,
  requireGo,
} from '../support/go-tool.ts';

// The module and version live beside CloudNativePG's (test/cnpg/crds.ts installs the plugin's CRD).
export { BARMAN_CLOUD_PLUGIN_MODULE, BARMAN_CLOUD_PLUGIN_VERSION };

const PLUGIN: GoToolSpec = {
  name: 'plugin-barman-cloud',
  source: { kind: 'module-dir', module: BARMAN_CLOUD_PLUGIN_MODULE, version: BARMAN_CLOUD_PLUGIN_VERSION },
  // Its version is a constant in internal/cnpgi/metadata; upstream's builds stamp nothing.
  binaries: [{ file: 'manager', goPackage: './cmd/manager' }],
  binDir: 'bin',
};

const stderrLog: Log = (line) => process.stderr.write(`[barman-cloud] ${line}\n`);

/** The plugin's `manager`, from the cache or built now (a few minutes from a cold Go cache). */
export async function ensureBarmanCloudPluginBinary(
  options: { env?: NodeJS.ProcessEnv; log?: Log } = {},
): Promise<GoToolResult & { binary: string }> {
  const result = await ensureGoTool(PLUGIN, {
    env: options.env ?? process.env,
    log: options.log ?? stderrLog,
    notBuilt: ({ version, dir, noGo }) =>
      `The Barman Cloud plugin ${version} is not built (${dir} is incomplete)` +
      (noGo ? ` and ${noGo} to build it` : '') +
      '. Install Go and run `node test/node/barman-cloud-plugin-binary.ts`.',
  });
  const binary = result.binaries.manager;
  if (!binary) throw new Error('internal: the plugin builds no manager');
  return { ...result, binary };
}

/** The plugin's module source (CRD, kustomize files, Containerfiles), read-only in the module cache. */
export async function barmanCloudPluginModuleDir(env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const go = requireGo(env, "the Barman Cloud plugin's manifests");
  return (await goModDownload(go, BARMAN_CLOUD_PLUGIN_MODULE, BARMAN_CLOUD_PLUGIN_VERSION, env)).dir;
}

if (import.meta.main) {
  try {
    const started = Date.now();
    const { binary, built } = await ensureBarmanCloudPluginBinary();
    process.stdout.write(`${binary}\n`);
    stderrLog(
      built
        ? `built in ${built.seconds.toFixed(1)} s (${Object.values(built.binaries)[0]?.packagesCompiled ?? 0} packages compiled)`
        : `cached (${((Date.now() - started) / 1000).toFixed(1)} s)`,
    );
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n`);
    process.exitCode = 1;
  }
}
