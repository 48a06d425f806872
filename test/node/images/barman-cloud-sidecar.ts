// The Barman Cloud plugin's sidecar image: what the plugin injects into every PostgreSQL Pod (as a
// native sidecar, `manager instance`) and into recovery Jobs (`manager restore`). Upstream's
// containers/Dockerfile.sidecar puts the plugin's `manager` and a Python virtualenv with barman
// (3.19.1 from PyPI, containers/sidecar-requirements.txt) on distroless python3-debian13, user 26.
// PyPI is not reachable from the test machines, so here: Debian trixie's barman-cli-cloud (barman
// 3.13.3) and python3-boto3 from Debian's packages (mmdebstrap), plus the same `manager` binary.
//
// - /manager, entrypoint as upstream: the plugin sets the container's args (instance, restore)
//   and its startup probe runs `/manager healthcheck unix`.
// - The barman-cloud-* commands on the PATH (Debian's /usr/bin), which the plugin runs by name:
//   barman-cloud-{backup,backup-show,backup-list,backup-delete,restore,wal-archive,wal-restore,
//   check-wal-archive}. Python modules are byte-compiled by Debian's maintainer scripts, since
//   the plugin runs the sidecar with a read-only root filesystem.
// - User 26 (as upstream), with a passwd entry `postgres`, as CloudNativePG's PostgreSQL images
//   have: libpq and Python look the running user up.
import { chmod, copyFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildah, commitFolder, openBuildah, runInImage, saveBuiltImage } from './buildah.ts';
import {
  BuildLog,
  defaultLog,
  ensureImageDirs,
  type ImageOptions,
  imagePaths,
  type LocalImage,
  pruneArchives,
  REPOSITORY_PREFIX,
  readRecord,
  seconds,
  sha256,
  sha256File,
  toLocalImage,
} from './common.ts';
import {
  assertRoot,
  installedVersion,
  mmdebstrap,
  mmdebstrapArgs,
  type RootfsRecipe,
  removeRootfs,
  SLIM_DPKG_OPTIONS,
} from './rootfs.ts';
import { assertStatic } from './static-binary.ts';

/** CloudNativePG's postgres uid, the sidecar's user upstream (USER 26:26). */
const SIDECAR_UID = 26;

/** Every barman-cloud command the plugin v0.14.0 runs (barman-cloud Go library, pkg/utils/constants.go). */
export const BARMAN_CLOUD_COMMANDS = [
  'barman-cloud-backup',
  'barman-cloud-backup-show',
  'barman-cloud-backup-list',
  'barman-cloud-backup-delete',
  'barman-cloud-restore',
  'barman-cloud-wal-archive',
  'barman-cloud-wal-restore',
  'barman-cloud-check-wal-archive',
];

export const SIDECAR_RECIPE: RootfsRecipe = {
  variant: 'essential',
  include: ['barman-cli-cloud', 'python3-boto3', 'ca-certificates'],
  dpkgOptions: SLIM_DPKG_OPTIONS,
  customize: [
    [
      'set -eu',
      'root="$1"',
      `grep -q '^postgres:' "$root/etc/group" || echo 'postgres:x:${SIDECAR_UID}:' >> "$root/etc/group"`,
      `grep -q '^postgres:' "$root/etc/passwd" || echo 'postgres:x:${SIDECAR_UID}:${SIDECAR_UID}:PostgreSQL administrator:/var/lib/postgresql:/bin/sh' >> "$root/etc/passwd"`,
      'find "$root/var/log" "$root/var/cache/debconf" -type f \\( -name "*.log" -o -name "*-old" \\) -delete',
      'rm -rf "$root/tmp/"* "$root/var/tmp/"*',
    ].join('\n'),
  ],
};

const IMAGE_CONFIG = {
  env: { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' },
  user: `${SIDECAR_UID}:${SIDECAR_UID}`,
  entrypoint: ['/manager'],
};

/** What the image must do before it is exported: the plugin's binary, every barman-cloud command, boto3. */
const SMOKE_TEST = [
  'set -eu',
  `test "$(id -u)" = ${SIDECAR_UID}`,
  '/manager --help >/dev/null',
  `for c in ${BARMAN_CLOUD_COMMANDS.join(' ')}; do command -v "$c" >/dev/null || { echo "missing $c"; exit 1; }; done`,
  'barman-cloud-backup --version',
  'barman-cloud-wal-archive --version',
  "python3 -c \"import boto3, botocore, psycopg2; print('boto3', boto3.__version__, 'botocore', botocore.__version__)\"",
].join('\n');

export interface SidecarImageOptions extends ImageOptions {
  /** The plugin's `manager` (barman-cloud-plugin-binary.ts). */
  manager: string;
  /** The plugin's version, e.g. v0.14.0: the tag's first part. */
  pluginVersion: string;
}

export async function ensureBarmanCloudSidecarImage(options: SidecarImageOptions): Promise<LocalImage> {
  const env = options.env ?? process.env;
  const log = options.log ?? defaultLog;
  const paths = imagePaths(env);
  await ensureImageDirs(paths);
  const plugin = options.pluginVersion.replace(/^v/, '');
  const key = sha256(
    JSON.stringify(mmdebstrapArgs(SIDECAR_RECIPE)),
    JSON.stringify(IMAGE_CONFIG),
    await sha256File(options.manager),
  );
  const archive = join(paths.archives, `plugin-barman-cloud-sidecar-${plugin}-${key.slice(0, 12)}.tar`);
  const cached = await readRecord(archive, key);
  if (cached) return toLocalImage(cached, true);

  await assertStatic(options.manager);
  assertRoot('the Barman Cloud sidecar image');
  const started = Date.now();
  const buildLog = new BuildLog(join(paths.logs, 'plugin-barman-cloud-sidecar.log'), log);
  const rootfs = join(paths.work, 'plugin-barman-cloud-sidecar-rootfs');
  try {
    log(`building the Barman Cloud sidecar image (Debian trixie barman-cli-cloud); log: ${buildLog.path}`);
    const b = await openBuildah(paths, env, buildLog);
    await mmdebstrap(buildLog, SIDECAR_RECIPE, rootfs);
    const rootfsSeconds = seconds(started);
    const barman = await installedVersion(buildLog, rootfs, 'barman-cli-cloud');
    const boto3 = await installedVersion(buildLog, rootfs, 'python3-boto3');
    const barmanUpstream = /^(?:\d+:)?(\d+(?:\.\d+)+)/.exec(barman)?.[1];
    if (!barmanUpstream) throw new Error(`unexpected barman-cli-cloud version ${barman}`);
    await copyFile(options.manager, join(rootfs, 'manager'));
    await chmod(join(rootfs, 'manager'), 0o755);
    const ref = `${REPOSITORY_PREFIX}/plugin-barman-cloud-sidecar:${plugin}-barman-${barmanUpstream}`;
    const imageId = await commitFolder(b, buildLog, rootfs, ref, {
      ...IMAGE_CONFIG,
      labels: {
        'org.opencontainers.image.title': `Barman Cloud plugin ${plugin} sidecar (Debian trixie barman ${barman})`,
        'org.opencontainers.image.version': plugin,
      },
    });
    await removeRootfs(buildLog, rootfs);
    const smoke = await runInImage(b, buildLog, ref, ['sh', '-c', SMOKE_TEST], {
      user: IMAGE_CONFIG.user,
    });
    for (const line of smoke.trim().split('\n')) log(`  ${ref}: ${line}`);
    const record = await saveBuiltImage(b, buildLog, {
      ref,
      archive,
      key,
      imageId,
      startedAt: started,
      details: { barmanCliCloud: barman, python3Boto3: boto3, manager: options.manager, rootfsSeconds },
    });
    for (const old of await pruneArchives(
      paths.archives,
      /^plugin-barman-cloud-sidecar-.+-[0-9a-f]{12}\.tar$/,
      archive,
    )) {
      if (old.imageId !== imageId) await buildah(b, buildLog, ['rmi', old.imageId]).catch(() => undefined);
    }
    log(`built ${ref} in ${record.builtInSeconds} s`);
    return toLocalImage(record, false);
  } finally {
    await removeRootfs(buildLog, rootfs);
    await buildLog.close();
  }
}
