// buildah, the one tool every image here is made with: `buildah bud` for the operator's
// Containerfile, and `from scratch` + a copy of a prepared folder + `config` + `commit` for the
// others (a Debian rootfs from mmdebstrap, or a static binary with a few files). Writing the
// docker-archive by hand was not worth it: buildah is needed for the Containerfile anyway, and a
// one-binary image takes it 2 to 3 s here (from scratch, commit, push to a docker-archive).
//
// Its storage lives in the cache and is kept between builds: the operator's dependency layers come
// from its layer cache, and the base image the Containerfile starts FROM must be in it.
// Driver overlay (root and the kernel's overlayfs: no copy of each layer), else vfs.
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type BuildLog, type BuildRecord, type ImagePaths, run, seconds, writeRecord } from './common.ts';

export interface Buildah {
  /** Global flags: storage root, run root, driver. */
  flags: string[];
  driver: string;
  env: NodeJS.ProcessEnv;
}

export async function openBuildah(
  paths: ImagePaths,
  env: NodeJS.ProcessEnv,
  buildLog: BuildLog,
): Promise<Buildah> {
  const dir = join(paths.root, 'buildah');
  const storage = join(dir, 'storage');
  const runroot = join(dir, 'run');
  await mkdir(storage, { recursive: true });
  await mkdir(runroot, { recursive: true });
  // chroot isolation: no user namespace or OCI runtime needed, which suits a root build in a VM.
  const buildahEnv: NodeJS.ProcessEnv = { ...env, BUILDAH_ISOLATION: 'chroot' };
  const flags = (driver: string) => ['--root', storage, '--runroot', runroot, '--storage-driver', driver];
  const driverFile = join(dir, 'driver');
  // A storage folder works with the driver it was created with only: the first choice is kept.
  let driver =
    env.TERRITORY_BUILDAH_DRIVER ??
    (existsSync(driverFile) ? (await readFile(driverFile, 'utf8')).trim() : '');
  if (!driver) {
    driver = 'vfs';
    if (process.getuid?.() === 0) {
      try {
        await run(buildLog, 'buildah', [...flags('overlay'), 'info'], { env: buildahEnv });
        driver = 'overlay';
      } catch {
        buildLog.log('buildah: the overlay driver does not work here; using vfs (slower, more disk)');
      }
    }
    await writeFile(driverFile, `${driver}\n`);
  }
  return { flags: flags(driver), driver, env: buildahEnv };
}

export function buildah(
  b: Buildah,
  buildLog: BuildLog,
  args: string[],
  options: { cwd?: string } = {},
): Promise<string> {
  return run(buildLog, 'buildah', [...b.flags, ...args], {
    env: b.env,
    label: `buildah ${args[0]}`,
    ...(options.cwd ? { cwd: options.cwd } : {}),
  });
}

/** The image's ID when the storage holds `ref`, else undefined. */
export async function imageIdOf(b: Buildah, buildLog: BuildLog, ref: string): Promise<string | undefined> {
  try {
    const id = await buildah(b, buildLog, [
      'inspect',
      '--type',
      'image',
      '--format',
      '{{.FromImageID}}',
      ref,
    ]);
    return id.trim() || undefined;
  } catch {
    return undefined;
  }
}

/**
 * Makes sure the storage holds exactly the image a record describes (a build on top of it needs it):
 * loaded back from its archive when the storage was wiped or holds another build under that name.
 */
export async function ensureInStorage(b: Buildah, buildLog: BuildLog, record: BuildRecord): Promise<void> {
  const id = await imageIdOf(b, buildLog, record.ref);
  if (id === record.imageId) return;
  if (id) await buildah(b, buildLog, ['rmi', '--force', record.ref]).catch(() => undefined);
  buildLog.log(`loading ${record.ref} into buildah's storage from ${record.archive}`);
  await buildah(b, buildLog, ['pull', '--quiet', `docker-archive:${record.archive}`]);
  const loaded = await imageIdOf(b, buildLog, record.ref);
  if (loaded !== record.imageId) {
    throw new Error(
      `${record.archive} holds ${record.ref} as image ${loaded ?? 'nothing'}, not ${record.imageId}`,
    );
  }
}

export interface ImageConfig {
  env?: Record<string, string>;
  user?: string;
  entrypoint?: string[];
  cmd?: string[];
  workingDir?: string;
  labels?: Record<string, string>;
}

/**
 * A one-layer image holding exactly the contents of `folder` (owners, modes, links and all: it is
 * copied with `cp -a` into the mounted container), with the given configuration. Returns its ID.
 */
export async function commitFolder(
  b: Buildah,
  buildLog: BuildLog,
  folder: string,
  ref: string,
  config: ImageConfig,
): Promise<string> {
  const container = (await buildah(b, buildLog, ['from', '--quiet', 'scratch'])).trim();
  try {
    const mountpoint = (await buildah(b, buildLog, ['mount', container])).trim();
    await run(buildLog, 'cp', ['-a', `${folder}/.`, `${mountpoint}/`]);
    await buildah(b, buildLog, ['umount', container]);
    const args: string[] = [];
    for (const [name, value] of Object.entries(config.env ?? {})) args.push('--env', `${name}=${value}`);
    for (const [name, value] of Object.entries(config.labels ?? {})) args.push('--label', `${name}=${value}`);
    if (config.user) args.push('--user', config.user);
    if (config.entrypoint) args.push('--entrypoint', JSON.stringify(config.entrypoint));
    if (config.cmd) args.push('--cmd', JSON.stringify(config.cmd));
    args.push('--workingdir', config.workingDir ?? '/');
    await buildah(b, buildLog, ['config', ...args, container]);
    await buildah(b, buildLog, ['commit', '--quiet', container, ref]);
  } finally {
    await buildah(b, buildLog, ['rm', container]).catch(() => undefined);
  }
  const id = await imageIdOf(b, buildLog, ref);
  if (!id) throw new Error(`buildah committed ${ref} but its storage does not hold it`);
  return id;
}

/**
 * Runs a shell script in a throwaway container of `ref` (chroot isolation, the host's network),
 * returning its output: how each image proves it works before it is exported.
 */
export async function runInImage(
  b: Buildah,
  buildLog: BuildLog,
  ref: string,
  command: string[],
  options: { user?: string } = {},
): Promise<string> {
  const container = (await buildah(b, buildLog, ['from', '--quiet', '--pull=never', ref])).trim();
  try {
    return await buildah(b, buildLog, [
      'run',
      ...(options.user ? ['--user', options.user] : []),
      container,
      '--',
      ...command,
    ]);
  } finally {
    await buildah(b, buildLog, ['rm', container]).catch(() => undefined);
  }
}

/** Writes `ref` as a docker-archive (written aside, then renamed: never a half archive). Returns its size. */
/**
 * The end of every build: the image written to its docker-archive, then its record beside it
 * (written last, so a record always describes a complete archive).
 */
export async function saveBuiltImage(
  b: Buildah,
  buildLog: BuildLog,
  build: Pick<BuildRecord, 'ref' | 'archive' | 'key' | 'imageId' | 'details'> & { startedAt: number },
): Promise<BuildRecord> {
  const { startedAt, ...identity } = build;
  const archiveBytes = await pushArchive(b, buildLog, build.ref, build.archive);
  const record: BuildRecord = {
    ...identity,
    builtInSeconds: seconds(startedAt),
    builtAt: new Date().toISOString(),
    archiveBytes,
  };
  await writeRecord(record);
  return record;
}

export async function pushArchive(
  b: Buildah,
  buildLog: BuildLog,
  ref: string,
  archive: string,
): Promise<number> {
  const partial = `${archive}.partial`;
  await rm(partial, { force: true });
  await buildah(b, buildLog, ['push', '--quiet', ref, `docker-archive:${partial}:${ref}`]);
  await rename(partial, archive);
  return (await stat(archive)).size;
}
