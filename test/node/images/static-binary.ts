// Images of one static Go binary (pause, CoreDNS, local-path-provisioner, CloudNativePG's manager):
// a single layer with the binary, plus what such programs expect of a distroless base: /etc/passwd
// and /etc/group with a `nonroot` user (65532), /etc/nsswitch.conf, the CA bundle, a writable /tmp.
import { chmod, chown, copyFile, mkdir, open, symlink, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { commitFolder, openBuildah, saveBuiltImage } from './buildah.ts';
import {
  BuildLog,
  defaultLog,
  ensureImageDirs,
  type ImageOptions,
  imagePaths,
  type LocalImage,
  REPOSITORY_PREFIX,
  readRecord,
  removeTree,
  run,
  sha256,
  sha256File,
  toLocalImage,
} from './common.ts';
import { ensureDebianFiles } from './debian-files.ts';
import { assertRoot } from './rootfs.ts';

export interface ExtraFile {
  /** Absolute path in the image. */
  path: string;
  /** A file on this machine to copy… */
  source?: string;
  /** …or the file's content. */
  content?: string;
  /** Default 0o644. */
  mode?: number;
}

export interface BinaryImageSpec extends ImageOptions {
  /** Repository name under localhost/territory/, e.g. `coredns`. */
  name: string;
  /** The tag, e.g. `1.12.4` (a leading v is dropped). */
  version: string;
  /** The static binary on this machine. */
  binary: string;
  /** Where the binary goes in the image; default /<its file name>. */
  path?: string;
  /** Symbolic links to add: path in the image → target. */
  symlinks?: Record<string, string>;
  /** Default: [path]. */
  entrypoint?: string[];
  cmd?: string[];
  /** Default 65532:65532 (nonroot). */
  user?: string;
  /** The image's environment; PATH defaults to the usual one. */
  imageEnv?: Record<string, string>;
  extraFiles?: ExtraFile[];
  /** The distroless-like files (passwd, group, nsswitch.conf, CA bundle, /tmp); default true. */
  skeleton?: boolean;
  /** File capabilities for the binary, as setcap takes them, e.g. `cap_net_bind_service=+ep`. */
  fileCapabilities?: string;
}

/**
 * Where each upstream image puts its binary, and as which user it runs, so that manifests written
 * for the upstream images work unchanged with these.
 */
export const UPSTREAM_LAYOUTS = {
  /** registry.k8s.io/pause: FROM scratch, /pause, user 65535. */
  pause: (binary: string, version: string): BinaryImageSpec => ({
    name: 'pause',
    version,
    binary,
    path: '/pause',
    user: '65535:65535',
    skeleton: false,
  }),
  /**
   * coredns/coredns: distroless nonroot, /coredns with cap_net_bind_service as a file capability,
   * so that a non-root process granted NET_BIND_SERVICE by its Pod can bind port 53.
   */
  coredns: (binary: string, version: string): BinaryImageSpec => ({
    name: 'coredns',
    version,
    binary,
    path: '/coredns',
    fileCapabilities: 'cap_net_bind_service=+ep',
  }),
  /** rancher/local-path-provisioner: the binary on the PATH, in /usr/bin (its Deployment runs it by name). */
  localPathProvisioner: (binary: string, version: string): BinaryImageSpec => ({
    name: 'local-path-provisioner',
    version,
    binary,
    path: '/usr/bin/local-path-provisioner',
  }),
  /**
   * CloudNativePG's operator image, as its Dockerfile lays it out: /operator/manager_<arch> and
   * /manager linked to it, distroless nonroot (65532). Each PostgreSQL Pod's bootstrap-controller
   * init container runs `/manager bootstrap /controller/manager` from this very image.
   */
  cloudNativePg: (binary: string, version: string): BinaryImageSpec => ({
    name: 'cloudnative-pg',
    version,
    binary,
    path: '/operator/manager_amd64',
    symlinks: { '/manager': 'operator/manager_amd64' },
    entrypoint: ['/manager'],
    user: '65532:65532',
  }),
} as const;

const DEFAULT_PATH_ENV = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** The files every such image gets unless `skeleton: false`; the CA bundle is Debian's (debian-files.ts). */
function skeletonFiles(caBundle: string): ExtraFile[] {
  return [
    {
      path: '/etc/passwd',
      content:
        'root:x:0:0:root:/root:/sbin/nologin\n' +
        'nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n' +
        'nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n',
    },
    { path: '/etc/group', content: 'root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n' },
    { path: '/etc/nsswitch.conf', content: 'hosts: files dns\n' },
    { path: '/etc/ssl/certs/ca-certificates.crt', source: caBundle },
  ];
}

export async function ensureBinaryImage(spec: BinaryImageSpec): Promise<LocalImage> {
  const env = spec.env ?? process.env;
  const log = spec.log ?? defaultLog;
  const paths = imagePaths(env);
  await ensureImageDirs(paths);
  if (!/^[a-z0-9][a-z0-9._-]*$/.test(spec.name)) throw new Error(`not an image name: ${spec.name}`);
  const tag = spec.version.replace(/^v(?=\d)/, '');
  const ref = `${REPOSITORY_PREFIX}/${spec.name}:${tag}`;
  const inImage = spec.path ?? `/${basename(spec.binary)}`;
  const skeleton =
    spec.skeleton === false ? [] : skeletonFiles((await ensureDebianFiles(paths, log)).caBundle);
  const extraFiles = [...skeleton, ...(spec.extraFiles ?? [])];
  const config = {
    env: { PATH: DEFAULT_PATH_ENV, ...spec.imageEnv },
    user: spec.user ?? '65532:65532',
    entrypoint: spec.entrypoint ?? [inImage],
    ...(spec.cmd ? { cmd: spec.cmd } : {}),
  };
  // Everything the image is made of: the binary's content, every file's, links and configuration.
  const fileHashes = await Promise.all(
    extraFiles.map(
      async (f) =>
        `${f.path} ${(f.mode ?? 0o644).toString(8)} ${f.source ? await sha256File(f.source) : sha256(f.content ?? '')}`,
    ),
  );
  const key = sha256(
    JSON.stringify({
      inImage,
      symlinks: spec.symlinks ?? {},
      config,
      fileHashes,
      caps: spec.fileCapabilities ?? '',
    }),
    await sha256File(spec.binary),
  );
  const archive = join(paths.archives, `${spec.name}-${tag}.tar`);
  const cached = await readRecord(archive, key);
  if (cached) return toLocalImage(cached, true);

  await assertStatic(spec.binary);
  assertRoot(`the ${spec.name} image`);
  const started = Date.now();
  const buildLog = new BuildLog(join(paths.logs, `${spec.name}.log`), log);
  const stage = join(paths.work, `${spec.name}-${tag}-${process.pid}`);
  try {
    log(`building ${ref} from ${spec.binary}`);
    const b = await openBuildah(paths, env, buildLog);
    await removeTree(stage);
    await mkdir(join(stage, 'tmp'), { recursive: true });
    await chmod(join(stage, 'tmp'), 0o1777);
    await place(stage, { path: inImage, source: spec.binary, mode: 0o755 });
    // An xattr (security.capability): cp -a and the layer tar both keep it.
    if (spec.fileCapabilities) await run(buildLog, 'setcap', [spec.fileCapabilities, join(stage, inImage)]);
    for (const file of extraFiles) await place(stage, file);
    for (const [link, target] of Object.entries(spec.symlinks ?? {})) {
      await mkdir(dirname(join(stage, link)), { recursive: true });
      await symlink(target, join(stage, link));
    }
    if (spec.skeleton !== false) {
      await mkdir(join(stage, 'home', 'nonroot'), { recursive: true });
      await chmod(join(stage, 'home', 'nonroot'), 0o700);
      // cp -a keeps owners: the home folder belongs to its user.
      await chown(join(stage, 'home', 'nonroot'), 65532, 65532);
    }
    const imageId = await commitFolder(b, buildLog, stage, ref, {
      ...config,
      labels: { 'org.opencontainers.image.title': `${spec.name} ${tag}` },
    });
    const record = await saveBuiltImage(b, buildLog, {
      ref,
      archive,
      key,
      imageId,
      startedAt: started,
      details: { binary: spec.binary, path: inImage },
    });
    log(`built ${ref} in ${record.builtInSeconds} s`);
    return toLocalImage(record, false);
  } finally {
    await removeTree(stage);
    await buildLog.close();
  }
}

async function place(stage: string, file: ExtraFile): Promise<void> {
  if (!file.path.startsWith('/')) throw new Error(`image paths are absolute: ${file.path}`);
  const target = join(stage, file.path);
  await mkdir(dirname(target), { recursive: true });
  if (file.source) await copyFile(file.source, target);
  else await writeFile(target, file.content ?? '');
  await chmod(target, file.mode ?? 0o644);
}

/** A dynamically linked binary would not start in an image without its libraries: refuse it early. */
export async function assertStatic(binary: string): Promise<void> {
  const handle = await open(binary, 'r');
  try {
    const header = Buffer.alloc(64);
    await handle.read(header, 0, 64, 0);
    if (header.readUInt32BE(0) !== 0x7f454c46) throw new Error(`${binary} is not an ELF executable`);
    if (header[4] !== 2 || header[5] !== 1) throw new Error(`${binary} is not a 64-bit little-endian ELF`);
    const phoff = Number(header.readBigUInt64LE(32));
    const phentsize = header.readUInt16LE(54);
    const phnum = header.readUInt16LE(56);
    const table = Buffer.alloc(phentsize * phnum);
    await handle.read(table, 0, table.length, phoff);
    for (let i = 0; i < phnum; i++) {
      // PT_INTERP: the binary names a dynamic loader.
      if (table.readUInt32LE(i * phentsize) === 3) {
        throw new Error(
          `${binary} is dynamically linked; a one-binary image needs a static one (CGO_ENABLED=0)`,
        );
      }
    }
  } finally {
    await handle.close();
  }
}
