// Files the small images take from Debian trixie's packages without installing them (mmdebstrap's
// `extract` variant: the packages' files, nothing configured), extracted once into the cache:
// - busybox-static's binary, the busybox image's only program;
// - ca-certificates' authorities, concatenated into the bundle the static-binary images carry.
//   Debian's own list (what update-ca-certificates makes of it, without local additions), not this
//   machine's bundle, which may hold authorities of its own network.
import { existsSync } from 'node:fs';
import { chmod, copyFile, mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Log } from '../../controlplane/binaries.ts';
import { BuildLog, type ImagePaths, removeTree, sha256 } from './common.ts';
import { assertRoot, mmdebstrap, mmdebstrapArgs, type RootfsRecipe, removeRootfs } from './rootfs.ts';

export const DEBIAN_FILES_RECIPE: RootfsRecipe = {
  variant: 'extract',
  include: ['busybox-static', 'ca-certificates'],
  dpkgOptions: [],
  customize: [],
};

export interface DebianFiles {
  busybox: string;
  caBundle: string;
}

export async function ensureDebianFiles(paths: ImagePaths, log: Log): Promise<DebianFiles> {
  const dir = join(
    paths.downloads,
    `debian-files-${sha256(JSON.stringify(mmdebstrapArgs(DEBIAN_FILES_RECIPE))).slice(0, 12)}`,
  );
  const files: DebianFiles = { busybox: join(dir, 'busybox'), caBundle: join(dir, 'ca-certificates.crt') };
  if (existsSync(join(dir, 'complete'))) return files;

  assertRoot('images from Debian packages');
  const buildLog = new BuildLog(join(paths.logs, 'debian-files.log'), log);
  const extracted = join(paths.work, 'debian-files-extract');
  try {
    log(`extracting busybox-static and ca-certificates (Debian trixie) into ${dir}`);
    await mmdebstrap(buildLog, DEBIAN_FILES_RECIPE, extracted);
    await removeTree(dir);
    await mkdir(dir, { recursive: true });
    const busybox = ['usr/bin/busybox', 'bin/busybox']
      .map((p) => join(extracted, p))
      .find((p) => existsSync(p));
    if (!busybox) throw new Error(`busybox-static holds no bin/busybox (extracted in ${extracted})`);
    await copyFile(busybox, files.busybox);
    await chmod(files.busybox, 0o755);
    const mozilla = join(extracted, 'usr', 'share', 'ca-certificates', 'mozilla');
    const certificates = (await readdir(mozilla)).filter((name) => name.endsWith('.crt')).sort();
    if (certificates.length < 50) throw new Error(`only ${certificates.length} authorities in ${mozilla}`);
    const pems = await Promise.all(certificates.map((name) => readFile(join(mozilla, name), 'utf8')));
    await writeFile(files.caBundle, pems.map((pem) => `${pem.trimEnd()}\n`).join(''));
    await writeFile(join(dir, 'complete.partial'), `${certificates.length} authorities\n`);
    await rename(join(dir, 'complete.partial'), join(dir, 'complete'));
    return files;
  } finally {
    await removeRootfs(buildLog, extracted);
    await buildLog.close();
  }
}
