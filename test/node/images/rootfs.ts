// Debian root filesystems made by mmdebstrap, the base of every image here that is not a lone
// static binary. No registry is reachable, so there is no debian:trixie-slim to start FROM: the
// rootfs is assembled from Debian's packages, from the default mirror mmdebstrap picks.
import { readdir, readFile } from 'node:fs/promises';
import { type BuildLog, DEBIAN_SUITE, removeTree, run } from './common.ts';

export interface RootfsRecipe {
  /**
   * mmdebstrap's variant: `essential` (Essential:yes packages and what `include` needs, no apt),
   * `apt` (that plus apt, for images that install more packages later), `extract` (the packages'
   * files only, nothing configured).
   */
  variant: 'essential' | 'apt' | 'extract';
  include: string[];
  /** dpkg filters, kept in the rootfs (/etc/dpkg/dpkg.cfg.d) so later installs follow them too. */
  dpkgOptions: string[];
  /** Shell scripts run once everything is installed, with the rootfs folder as "$1". */
  customize: string[];
}

/** What Debian's slim images leave out: manual pages, documentation (but its copyright files), translations. */
export const SLIM_DPKG_OPTIONS = [
  'path-exclude=/usr/share/man/*',
  'path-exclude=/usr/share/info/*',
  'path-exclude=/usr/share/doc/*',
  'path-include=/usr/share/doc/*/copyright',
  'path-exclude=/usr/share/locale/*',
  'path-exclude=/usr/share/lintian/*',
];

export function assertRoot(what: string): void {
  if (process.getuid?.() !== 0) {
    throw new Error(
      `building ${what} needs root (mmdebstrap's root mode, chroot, and a copy that keeps files' owners)`,
    );
  }
}

/**
 * Package lists and downloaded packages: mmdebstrap says it cleans them, yet they were found in
 * the rootfs (about 240 MB of lists, caches and .deb files); apt recreates the folders it needs.
 */
const APT_CLEANUP = [
  'set -eu',
  'rm -rf "$1"/var/cache/apt/* "$1"/var/lib/apt/lists/*',
  'mkdir -p "$1/var/cache/apt/archives/partial" "$1/var/lib/apt/lists/partial"',
].join('\n');

/** mmdebstrap's arguments for a recipe, target aside: what a rootfs is made of, for cache keys. */
export function mmdebstrapArgs(recipe: RootfsRecipe): string[] {
  const customize = recipe.variant === 'extract' ? recipe.customize : [...recipe.customize, APT_CLEANUP];
  return [
    '--mode=root',
    '--format=directory',
    `--variant=${recipe.variant}`,
    '--aptopt=Acquire::Retries "3"',
    // The cache is usually under /root, which apt's unprivileged _apt user cannot enter.
    '--aptopt=APT::Sandbox::User "root"',
    // Recommends stay out, as with apt-get --no-install-recommends (mmdebstrap's default too).
    '--aptopt=APT::Install-Recommends "false"',
    ...recipe.dpkgOptions.map((option) => `--dpkgopt=${option}`),
    ...(recipe.include.length > 0 ? [`--include=${recipe.include.join(',')}`] : []),
    ...customize.map((script) => `--customize-hook=${script}`),
    DEBIAN_SUITE,
  ];
}

/**
 * Removes a rootfs folder, unmounting first what an interrupted mmdebstrap may have left mounted in
 * it (proc, sys, dev/pts, dev/shm): a recursive delete must never walk into a mounted filesystem.
 */
export async function removeRootfs(buildLog: BuildLog, target: string): Promise<void> {
  const mounts = (await readFile('/proc/self/mounts', 'utf8'))
    .split('\n')
    .map((line) =>
      line
        .split(' ')[1]
        ?.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(Number.parseInt(octal, 8))),
    )
    .filter((point): point is string => point?.startsWith(`${target}/`) === true)
    .sort((a, b) => b.length - a.length);
  for (const point of mounts) await run(buildLog, 'umount', ['--lazy', point]);
  await removeTree(target);
}

/** Makes `target` (emptied first) a Debian rootfs of DEBIAN_SUITE following the recipe. */
export async function mmdebstrap(buildLog: BuildLog, recipe: RootfsRecipe, target: string): Promise<void> {
  await removeRootfs(buildLog, target);
  await run(buildLog, 'mmdebstrap', [...mmdebstrapArgs(recipe), target]);
  // mmdebstrap unmounts what it mounted; a leftover would end up in the image.
  for (const dir of ['proc', 'sys']) {
    const entries = await readdir(`${target}/${dir}`).catch(() => []);
    if (entries.length > 0) throw new Error(`${target}/${dir} is not empty after mmdebstrap: still mounted?`);
  }
}

/** The version of a package installed in a rootfs (from its dpkg database), e.g. 17.12-0+deb13u1. */
export async function installedVersion(buildLog: BuildLog, rootfs: string, pkg: string): Promise<string> {
  // `dpkg-query -W` prints "<package>\t<version>".
  const out = await run(buildLog, 'dpkg-query', [`--admindir=${rootfs}/var/lib/dpkg`, '-W', pkg]);
  const version = out.trim().split('\t')[1] ?? '';
  if (!version) throw new Error(`${pkg} is not installed in ${rootfs}`);
  return version;
}
