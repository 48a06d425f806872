// CloudNativePG's CRDs and its Barman Cloud plugin's (ObjectStore), from the pinned upstream releases,
// obtained at test time through the Go module proxy (each module zip carries config/crd/bases) and never
// committed. Installed into the test control plane so the Cluster, ScheduledBackup and ObjectStore
// objects we generate are validated by the real schemas.
//
//   node test/cnpg/crds.ts        prints the folders holding the CRD YAML (CI warms the cache with it)
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';

export const CNPG_MODULE = 'github.com/cloudnative-pg/cloudnative-pg';
/** The CloudNativePG release whose schema our objects must satisfy. */
export const CNPG_VERSION = 'v1.30.0';
/** CloudNativePG's Barman Cloud plugin (CNPG-I): physical backups, the ObjectStore kind. */
export const BARMAN_CLOUD_PLUGIN_MODULE = 'github.com/cloudnative-pg/plugin-barman-cloud';
/** Built against CloudNativePG v1.30.0 (its go.mod), the release above. */
export const BARMAN_CLOUD_PLUGIN_VERSION = 'v0.14.0';

const run = promisify(execFile);

/** The folder of CloudNativePG's CRD YAML: `TERRITORY_CNPG_CRDS` if set, else the module cache. */
export async function cnpgCrdDir(env: NodeJS.ProcessEnv = process.env): Promise<string> {
  if (env.TERRITORY_CNPG_CRDS) return env.TERRITORY_CNPG_CRDS;
  return join(
    await moduleDir('CloudNativePG CRDs', CNPG_MODULE, CNPG_VERSION, env),
    'config',
    'crd',
    'bases',
  );
}

/** The folder of the Barman Cloud plugin's CRD YAML: `TERRITORY_BARMAN_CLOUD_CRDS` if set, else the module cache. */
export async function barmanCloudCrdDir(env: NodeJS.ProcessEnv = process.env): Promise<string> {
  if (env.TERRITORY_BARMAN_CLOUD_CRDS) return env.TERRITORY_BARMAN_CLOUD_CRDS;
  const dir = await moduleDir(
    'Barman Cloud plugin CRD',
    BARMAN_CLOUD_PLUGIN_MODULE,
    BARMAN_CLOUD_PLUGIN_VERSION,
    env,
  );
  return join(dir, 'config', 'crd', 'bases');
}

/** A module's folder in the Go module cache, downloading it once through the module proxy. */
async function moduleDir(what: string, module: string, version: string, env: NodeJS.ProcessEnv) {
  let stdout: string;
  try {
    ({ stdout } = await run('go', ['mod', 'download', '-json', `${module}@${version}`], {
      cwd: tmpdir(),
      env: { ...env, GOFLAGS: '-mod=mod', GO111MODULE: 'on' },
      maxBuffer: 10 * 1024 * 1024,
    }));
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stdout?: string; stderr?: string };
    if (e.code === 'ENOENT') {
      throw new Error(
        `${what}: the Go toolchain is needed to fetch them from the Go module proxy; install Go, or set ` +
          'TERRITORY_CNPG_CRDS and TERRITORY_BARMAN_CLOUD_CRDS to folders holding the config/crd/bases of ' +
          `${CNPG_MODULE}@${CNPG_VERSION} and ${BARMAN_CLOUD_PLUGIN_MODULE}@${BARMAN_CLOUD_PLUGIN_VERSION}`,
      );
    }
    throw new Error(
      `${what}: go mod download ${module}@${version} failed: ${e.stdout ?? ''}${e.stderr ?? e.message}`,
    );
  }
  const info = JSON.parse(stdout) as { Dir?: string; Error?: string };
  if (!info.Dir) throw new Error(`${what}: ${info.Error ?? 'the module has no Dir'}`);
  return info.Dir;
}

export type CrdObject = {
  apiVersion: string;
  kind: string;
  metadata: { name: string };
  [k: string]: unknown;
};

function crdsIn(what: string, dir: string): CrdObject[] {
  const files = readdirSync(dir).filter((f) => f.endsWith('.yaml'));
  if (files.length === 0) throw new Error(`${what}: no YAML in ${dir}`);
  return files.flatMap((f) =>
    parseAllDocuments(readFileSync(join(dir, f), 'utf8'))
      .map((d) => d.toJS() as CrdObject | null)
      .filter((d): d is CrdObject => d?.kind === 'CustomResourceDefinition'),
  );
}

/** The Barman Cloud plugin's CRD alone (objectstores.barmancloud.cnpg.io). */
export async function barmanCloudCrds(env: NodeJS.ProcessEnv = process.env): Promise<CrdObject[]> {
  return crdsIn('Barman Cloud plugin CRD', await barmanCloudCrdDir(env));
}

/**
 * CloudNativePG's CRDs and its Barman Cloud plugin's: what a cluster whose Territories may keep physical
 * backups serves (without the plugin's, the operator leaves physical backups out and says so).
 */
export async function cnpgCrds(env: NodeJS.ProcessEnv = process.env): Promise<CrdObject[]> {
  return [...crdsIn('CloudNativePG CRDs', await cnpgCrdDir(env)), ...(await barmanCloudCrds(env))];
}

if (import.meta.main) {
  for (const [what, dir] of [
    [`CloudNativePG ${CNPG_VERSION}`, await cnpgCrdDir()],
    [`Barman Cloud plugin ${BARMAN_CLOUD_PLUGIN_VERSION}`, await barmanCloudCrdDir()],
  ]) {
    const count = readdirSync(dir as string).filter((f) => f.endsWith('.yaml')).length;
    process.stdout.write(`${what}: ${count} CRDs in ${dir}\n`);
  }
}
