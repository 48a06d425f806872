// The operator's image, built from the project's own Containerfile as users build it, with
// `buildah bud`, from the local Node base (no registry to pull node:24-trixie-slim from).
//
// It is rebuilt when what goes into it changes: the tag carries a hash of the Containerfile,
// .containerignore, package.json, package-lock.json, tsconfig*.json, every file under operator/ and
// crds/ (test files excepted: .containerignore keeps them out of the context), test/cnpg/crds.ts
// and the base image's ID. buildah's storage is kept between builds and `--layers` caches each
// step: after a change in operator/, the dependency layers (`npm ci`, apt-get) are reused and only
// the steps from `COPY operator` on run again.
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import {
  type Buildah,
  buildah,
  ensureInStorage,
  imageIdOf,
  openBuildah,
  runInImage,
  saveBuiltImage,
} from './buildah.ts';
import {
  BuildLog,
  defaultLog,
  ensureImageDirs,
  type ImageOptions,
  imagePaths,
  type LocalImage,
  loadRecord,
  REPOSITORY_PREFIX,
  readRecord,
  recordPath,
  removeTree,
  run,
  seconds,
  sha256,
  toLocalImage,
} from './common.ts';
import { ensureNodeBaseImage } from './node-base.ts';

const REPO_ROOT = resolve(import.meta.dirname, '..', '..', '..');
const IMAGE_NAME = 'territory-operator';

/** Files (relative to the repository) whose content decides the image. */
export async function operatorInputs(repoRoot = REPO_ROOT): Promise<string[]> {
  // test/cnpg/crds.ts: operator/src/territory/install.ts imports it, so the build stage compiles it.
  const files = [
    'Containerfile',
    '.containerignore',
    'package.json',
    'package-lock.json',
    'test/cnpg/crds.ts',
  ];
  for (const entry of await readdir(repoRoot)) if (/^tsconfig.*\.json$/.test(entry)) files.push(entry);
  for (const dir of ['operator', 'crds']) {
    for (const entry of await readdir(join(repoRoot, dir), { recursive: true, withFileTypes: true })) {
      if (!entry.isFile()) continue;
      const path = relative(repoRoot, join(entry.parentPath, entry.name));
      if (path.split('/').includes('node_modules')) continue;
      if (/\.test(-helpers)?\.ts$/.test(entry.name)) continue;
      files.push(path);
    }
  }
  return files.sort();
}

export async function operatorInputsHash(baseImageId: string, repoRoot = REPO_ROOT): Promise<string> {
  const parts: string[] = [`base ${baseImageId}`];
  for (const file of await operatorInputs(repoRoot)) {
    const path = join(repoRoot, file);
    const [content, info] = await Promise.all([
      readFile(path).catch(() => undefined),
      stat(path).catch(() => undefined),
    ]);
    if (!content || !info) continue; // .containerignore may be absent
    parts.push(`${file} ${info.mode & 0o111 ? 'x' : '-'} ${sha256(content)}`);
  }
  return sha256(parts.join('\n'));
}

export function operatorVersion(repoRoot = REPO_ROOT): Promise<string> {
  return readFile(join(repoRoot, 'package.json'), 'utf8').then(
    (text) => (JSON.parse(text) as { version: string }).version,
  );
}

const SMOKE_TEST = [
  'set -eu',
  'echo "node $(node --version)"',
  'node /app/operator/src/cli/territoryctl.ts --help >/dev/null && echo "territoryctl --help: ok"',
  'test -f /app/dist/operator/src/cli/manager.js && node --check /app/dist/operator/src/cli/manager.js',
  'echo "$(pg_dump --version)"',
  'test ! -e /usr/local/bin/npm && test ! -e /usr/local/lib/node_modules/npm && echo "npm: removed"',
  'echo "user $(id -u):$(id -g)"',
].join('\n');

export async function ensureOperatorImage(options: ImageOptions = {}): Promise<LocalImage> {
  const env = options.env ?? process.env;
  const log = options.log ?? defaultLog;
  const paths = imagePaths(env);
  await ensureImageDirs(paths);
  const base = await ensureNodeBaseImage(options);
  const key = await operatorInputsHash(base.record.imageId);
  const version = await operatorVersion();
  const ref = `${REPOSITORY_PREFIX}/${IMAGE_NAME}:${version}-${key.slice(0, 12)}`;
  const archive = join(paths.archives, `${IMAGE_NAME}-${version}-${key.slice(0, 12)}.tar`);
  const cached = await readRecord(archive, key);
  if (cached) return toLocalImage(cached, true);

  const started = Date.now();
  const buildLog = new BuildLog(join(paths.logs, `${IMAGE_NAME}.log`), log);
  try {
    log(`building ${ref} from ${join(REPO_ROOT, 'Containerfile')} (buildah bud); log: ${buildLog.path}`);
    const b = await openBuildah(paths, env, buildLog);
    await ensureInStorage(b, buildLog, base.record);
    const npmEtc = await writeBuildNpmConfig(buildLog, env, join(paths.work, 'operator-build-npm-etc'));
    await buildah(b, buildLog, [
      'bud',
      '--layers',
      '--force-rm',
      '--pull=never',
      '--isolation',
      'chroot',
      // npm in the build stages reaches the registry as this machine's npm does (see writeBuildNpmConfig).
      '--volume',
      `${npmEtc}:${NPM_ETC}:ro`,
      '--build-arg',
      `NODE_IMAGE=${base.ref}`,
      '--file',
      join(REPO_ROOT, 'Containerfile'),
      '--tag',
      ref,
      REPO_ROOT,
    ]);
    const budSeconds = seconds(started);
    const imageId = await imageIdOf(b, buildLog, ref);
    if (!imageId) throw new Error(`buildah bud built no ${ref}`);
    const smoke = await runInImage(b, buildLog, ref, ['sh', '-c', SMOKE_TEST]);
    for (const line of smoke.trim().split('\n')) log(`  ${ref}: ${line}`);
    const record = await saveBuiltImage(b, buildLog, {
      ref,
      archive,
      key,
      imageId,
      startedAt: started,
      details: { baseImage: base.ref, budSeconds },
    });
    await pruneOlderBuilds(b, buildLog, paths.archives, archive);
    log(`built ${ref} in ${record.builtInSeconds} s (buildah bud ${budSeconds} s)`);
    return toLocalImage(record, false);
  } finally {
    await buildLog.close();
  }
}

/**
 * npm's configuration for the build's `npm ci`: this machine's registry, and the certificate
 * authorities this machine's npm and Node trust (npm's `cafile`, NODE_EXTRA_CA_CERTS, the system
 * bundle), for networks whose TLS goes through a proxy with its own authority. The folder written
 * here is mounted over the Node base's /usr/local/etc (which holds only an empty npmrc, npm's
 * global configuration) during RUN steps only: a mount over an existing folder leaves nothing in
 * the layers. No credentials are copied. (`cafile` rather than the certificates inline in `ca`:
 * npm hands its configuration to scripts as environment variables, and one over 128 KiB makes
 * every `npm run` fail with status 249 and no message.)
 */
async function writeBuildNpmConfig(buildLog: BuildLog, env: NodeJS.ProcessEnv, dir: string): Promise<string> {
  const get = async (key: string) => {
    const value = (await run(buildLog, 'npm', ['config', 'get', key], { env }).catch(() => '')).trim();
    return value === 'null' || value === 'undefined' ? '' : value;
  };
  await removeTree(dir);
  await mkdir(dir, { recursive: true });
  const lines = ['# Written for one operator image build; mounted read-only during its RUN steps.'];
  const registry = await get('registry');
  if (registry) lines.push(`registry=${registry}`);
  const bundles = [await get('cafile'), env.NODE_EXTRA_CA_CERTS ?? ''].filter(
    (file) => file && existsSync(file),
  );
  if (bundles.length > 0) {
    // `cafile` replaces npm's default authorities: the system's go in too.
    if (existsSync(SYSTEM_CA_BUNDLE)) bundles.push(SYSTEM_CA_BUNDLE);
    const certificates = new Set<string>();
    for (const bundle of new Set(bundles)) {
      const text = await readFile(bundle, 'utf8');
      for (const pem of text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []) {
        certificates.add(pem);
      }
    }
    await writeFile(join(dir, 'build-ca.crt'), `${[...certificates].join('\n')}\n`);
    lines.push(`cafile=${NPM_ETC}/build-ca.crt`);
  }
  await writeFile(join(dir, 'npmrc'), `${lines.join('\n')}\n`);
  return dir;
}

/** npm's $PREFIX/etc in the Node base, where its global npmrc is. */
const NPM_ETC = '/usr/local/etc';
const SYSTEM_CA_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';

/**
 * One operator archive is enough: earlier ones go, with their tags in buildah's storage. Their
 * layers stay where later builds share them, and so does buildah's layer cache.
 */
async function pruneOlderBuilds(
  b: Buildah,
  buildLog: BuildLog,
  archives: string,
  keep: string,
): Promise<void> {
  for (const entry of await readdir(archives)) {
    if (!entry.startsWith(`${IMAGE_NAME}-`) || !entry.endsWith('.tar')) continue;
    const archive = join(archives, entry);
    if (archive === keep) continue;
    const old = await loadRecord(archive);
    if (old) await buildah(b, buildLog, ['rmi', old.ref]).catch(() => undefined);
    await removeTree(archive);
    await removeTree(recordPath(archive));
  }
}
