// The PostgreSQL image CloudNativePG runs for each Territory's database: Debian trixie's
// postgresql-17 with barman-cloud (physical backups to S3), in the layout CloudNativePG's own
// images have. CloudNativePG brings its instance manager itself (an init container copies it into
// the Pod) and runs initdb, pg_ctl, postgres, pg_controldata and pg_basebackup from the PATH.
//
// - PATH starts with /usr/lib/postgresql/17/bin: the real binaries, not Debian's pg_wrapper.
// - `postgres` has uid 26, CloudNativePG's default postgresUID: initdb needs a passwd entry for
//   the uid it runs as. Its group stays as Debian made it (CloudNativePG sets gid 26 in the Pod).
// - The tag is the exact PostgreSQL version (17.12): CloudNativePG reads the major from the tag.
// - No cluster: the one Debian's package creates is dropped, so CloudNativePG initdb's its own.
// - No locales package: CloudNativePG's initdb defaults are UTF8 with the C collation and ctype,
//   which glibc has built in (C.UTF-8 too).
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

export const PG_MAJOR = 17;
/** CloudNativePG's default uid for postgres (Cluster.spec.postgresUID). */
export const POSTGRES_UID = 26;

const BIN_DIR = `/usr/lib/postgresql/${PG_MAJOR}/bin`;

export const POSTGRESQL_RECIPE: RootfsRecipe = {
  variant: 'essential',
  include: [`postgresql-${PG_MAJOR}`, 'barman-cli-cloud', 'python3-boto3', 'ca-certificates'],
  // PostgreSQL's manual pages (/usr/share/postgresql/17/man) stay: its postinst links them as alternatives.
  dpkgOptions: SLIM_DPKG_OPTIONS,
  customize: [
    [
      'set -eu',
      'root="$1"',
      // The cluster Debian's postinst created, and none again if another version is added later.
      `chroot "$root" pg_dropcluster ${PG_MAJOR} main`,
      `rm -rf "$root/etc/postgresql/${PG_MAJOR}" "$root/var/lib/postgresql/${PG_MAJOR}"`,
      `sed -ri 's/^#? *create_main_cluster *=.*/create_main_cluster = false/' "$root/etc/postgresql-common/createcluster.conf"`,
      // uid 26; usermod moves the home folder's files only, so every other file follows by hand.
      'old=$(chroot "$root" id -u postgres)',
      `chroot "$root" usermod -u ${POSTGRES_UID} postgres`,
      `find "$root" -xdev -uid "$old" -exec chown -h ${POSTGRES_UID} {} +`,
      // A private key baked into an image is everybody's key: CloudNativePG brings its own certificates.
      'rm -f "$root/etc/ssl/private/ssl-cert-snakeoil.key" "$root/etc/ssl/certs/ssl-cert-snakeoil.pem"',
      'find "$root/var/log" "$root/var/cache/debconf" -type f \\( -name "*.log" -o -name "*-old" \\) -delete',
      'rm -rf "$root/tmp/"* "$root/var/tmp/"*',
    ].join('\n'),
  ],
};

const IMAGE_CONFIG = {
  env: { PATH: `${BIN_DIR}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin` },
  user: String(POSTGRES_UID),
  // CloudNativePG replaces it with its instance manager.
  cmd: ['postgres'],
};

/** What the image must do before it is exported: what CloudNativePG does first, and a query. */
const SMOKE_TEST = [
  'set -eu',
  'test "$(id -u)" = 26',
  'd=$(mktemp -d)',
  'initdb --encoding=UTF8 --lc-collate=C --lc-ctype=C --username=postgres --pgdata="$d/data" >/dev/null',
  `pg_ctl --pgdata="$d/data" --options="-k $d -c listen_addresses=" --log="$d/log" --wait start >/dev/null`,
  'psql -h "$d" -U postgres -Atc "select version()"',
  'pg_controldata "$d/data" | grep -q "in production"',
  'pg_basebackup --version',
  'barman-cloud-backup --version',
  'barman-cloud-wal-archive --version',
  'python3 -c "import boto3; print(\'boto3\', boto3.__version__)"',
  'pg_ctl --pgdata="$d/data" --mode=fast --wait stop >/dev/null',
  'rm -rf "$d"',
].join('\n');

export async function ensurePostgresqlImage(options: ImageOptions = {}): Promise<LocalImage> {
  const env = options.env ?? process.env;
  const log = options.log ?? defaultLog;
  const paths = imagePaths(env);
  await ensureImageDirs(paths);
  const key = sha256(JSON.stringify(mmdebstrapArgs(POSTGRESQL_RECIPE)), JSON.stringify(IMAGE_CONFIG));
  const archive = join(paths.archives, `postgresql-${PG_MAJOR}-${key.slice(0, 12)}.tar`);
  const cached = await readRecord(archive, key);
  if (cached) return toLocalImage(cached, true);

  assertRoot('the PostgreSQL image');
  const started = Date.now();
  const buildLog = new BuildLog(join(paths.logs, 'postgresql.log'), log);
  const rootfs = join(paths.work, 'postgresql-rootfs');
  try {
    log(`building the PostgreSQL ${PG_MAJOR} image (Debian trixie, mmdebstrap); log: ${buildLog.path}`);
    const b = await openBuildah(paths, env, buildLog);
    await mmdebstrap(buildLog, POSTGRESQL_RECIPE, rootfs);
    const rootfsSeconds = seconds(started);
    const packageVersion = await installedVersion(buildLog, rootfs, `postgresql-${PG_MAJOR}`);
    const version = /^(\d+\.\d+)/.exec(packageVersion)?.[1];
    if (!version?.startsWith(`${PG_MAJOR}.`))
      throw new Error(`unexpected postgresql-${PG_MAJOR} version ${packageVersion}`);
    const ref = `${REPOSITORY_PREFIX}/postgresql:${version}`;
    const imageId = await commitFolder(b, buildLog, rootfs, ref, {
      ...IMAGE_CONFIG,
      labels: {
        'org.opencontainers.image.title': `PostgreSQL ${version} for CloudNativePG (Debian trixie)`,
        'org.opencontainers.image.version': packageVersion,
      },
    });
    await removeRootfs(buildLog, rootfs);
    const smoke = await runInImage(b, buildLog, ref, ['sh', '-c', SMOKE_TEST]);
    for (const line of smoke.trim().split('\n')) log(`  ${ref}: ${line}`);
    const record = await saveBuiltImage(b, buildLog, {
      ref,
      archive,
      key,
      imageId,
      startedAt: started,
      details: {
        postgresql: packageVersion,
        barmanCliCloud: versionInOutput(smoke, 'barman-cloud-backup'),
        rootfsSeconds,
      },
    });
    // Earlier builds: their archives, and their images unless a later build still uses their layers.
    for (const old of await pruneArchives(paths.archives, /^postgresql-\d+-[0-9a-f]{12}\.tar$/, archive)) {
      if (old.imageId !== imageId) await buildah(b, buildLog, ['rmi', old.imageId]).catch(() => undefined);
    }
    log(`built ${ref} in ${record.builtInSeconds} s`);
    return toLocalImage(record, false);
  } finally {
    await removeRootfs(buildLog, rootfs);
    await buildLog.close();
  }
}

function versionInOutput(output: string, program: string): string | undefined {
  return new RegExp(`^${program} (\\S+)`, 'm').exec(output)?.[1];
}
