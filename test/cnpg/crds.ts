// CloudNativePG's CRDs, from the pinned upstream release, obtained at test time through the Go
// module proxy (its module zip carries config/crd/bases) and never committed. Installed into the
// test control plane so the Cluster and ScheduledBackup objects we generate are validated by
// CloudNativePG's real schema.
//
//   node test/cnpg/crds.ts        prints the folder holding the CRD YAML (CI warms the cache with it)
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';

export const CNPG_MODULE = 'github.com/cloudnative-pg/cloudnative-pg';
/** The CloudNativePG release whose schema our objects must satisfy. */
export const CNPG_VERSION = 'v1.30.0';

const run = promisify(execFile);

/** The folder of CRD YAML files: `TERRITORY_CNPG_CRDS` if set, else the module cache (downloading once). */
export async function cnpgCrdDir(env: NodeJS.ProcessEnv = process.env): Promise<string> {
  if (env.TERRITORY_CNPG_CRDS) return env.TERRITORY_CNPG_CRDS;
  let stdout: string;
  try {
    ({ stdout } = await run('go', ['mod', 'download', '-json', `${CNPG_MODULE}@${CNPG_VERSION}`], {
      cwd: tmpdir(),
      env: { ...env, GOFLAGS: '-mod=mod', GO111MODULE: 'on' },
      maxBuffer: 10 * 1024 * 1024,
    }));
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stdout?: string; stderr?: string };
    if (e.code === 'ENOENT') {
      throw new Error(
        'CloudNativePG CRDs: the Go toolchain is needed to fetch them from the Go module proxy; ' +
          'install Go, or set TERRITORY_CNPG_CRDS to a folder holding CloudNativePG config/crd/bases',
      );
    }
    throw new Error(
      `CloudNativePG CRDs: go mod download ${CNPG_MODULE}@${CNPG_VERSION} failed: ${e.stdout ?? ''}${e.stderr ?? e.message}`,
    );
  }
  const info = JSON.parse(stdout) as { Dir?: string; Error?: string };
  if (!info.Dir) throw new Error(`CloudNativePG CRDs: ${info.Error ?? 'the module has no Dir'}`);
  return join(info.Dir, 'config', 'crd', 'bases');
}

export type CrdObject = {
  apiVersion: string;
  kind: string;
  metadata: { name: string };
  [k: string]: unknown;
};

export async function cnpgCrds(env: NodeJS.ProcessEnv = process.env): Promise<CrdObject[]> {
  const dir = await cnpgCrdDir(env);
  const files = readdirSync(dir).filter((f) => f.endsWith('.yaml'));
  if (files.length === 0) throw new Error(`CloudNativePG CRDs: no YAML in ${dir}`);
  return files.flatMap((f) =>
    parseAllDocuments(readFileSync(join(dir, f), 'utf8'))
      .map((d) => d.toJS() as CrdObject | null)
      .filter((d): d is CrdObject => d?.kind === 'CustomResourceDefinition'),
  );
}

if (import.meta.main) {
  const dir = await cnpgCrdDir();
  const count = readdirSync(dir).filter((f) => f.endsWith('.yaml')).length;
  process.stdout.write(`CloudNativePG ${CNPG_VERSION}: ${count} CRDs in ${dir}\n`);
}
