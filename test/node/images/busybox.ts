// The image local-path-provisioner's helper Pods run (upstream: busybox from a registry): they
// create and remove each volume's folder on the node with `sh`, `mkdir`, `rm` and `chmod`. Here:
// the static busybox of Debian trixie's busybox-static package, a link for each of its applets in
// /bin, and nothing else. It runs as root, as upstream's does: the folders it manages are root's.
import { spawnSync } from 'node:child_process';
import {
  defaultLog,
  ensureImageDirs,
  type ImageOptions,
  imagePaths,
  type LocalImage,
  loadRecord,
  seconds,
  writeRecord,
} from './common.ts';
import { ensureDebianFiles } from './debian-files.ts';
import { ensureBinaryImage } from './static-binary.ts';

export async function ensureBusyboxImage(options: ImageOptions = {}): Promise<LocalImage> {
  const env = options.env ?? process.env;
  const log = options.log ?? defaultLog;
  const paths = imagePaths(env);
  await ensureImageDirs(paths);
  const started = Date.now();
  const { busybox } = await ensureDebianFiles(paths, log);
  const banner = spawnSync(busybox, ['--help'], { encoding: 'utf8' });
  const version = /BusyBox v(\d+(?:\.\d+)+)/.exec(`${banner.stdout}${banner.stderr}`)?.[1];
  if (!version)
    throw new Error(`${busybox} does not say which BusyBox it is: ${banner.stderr.slice(0, 200)}`);
  const applets = spawnSync(busybox, ['--list'], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
  for (const needed of ['sh', 'mkdir', 'rm', 'chmod']) {
    if (!applets.includes(needed)) throw new Error(`${busybox} has no ${needed} applet`);
  }
  const symlinks: Record<string, string> = {};
  for (const applet of applets) if (applet !== 'busybox') symlinks[`/bin/${applet}`] = 'busybox';
  const image = await ensureBinaryImage({
    name: 'busybox',
    version,
    binary: busybox,
    path: '/bin/busybox',
    symlinks,
    entrypoint: [],
    cmd: ['sh'],
    user: '0:0',
    imageEnv: { PATH: '/bin' },
    extraFiles: [
      { path: '/etc/passwd', content: 'root:x:0:0:root:/root:/bin/sh\n' },
      { path: '/etc/group', content: 'root:x:0:\n' },
    ],
    skeleton: false,
    log,
    env,
  });
  if (!image.cached) {
    // The extraction, when there was one, is part of this image's build: its record says so too.
    const record = await loadRecord(image.archive);
    if (record) {
      record.builtInSeconds = seconds(started);
      await writeRecord(record);
      image.builtInSeconds = record.builtInSeconds;
    }
  }
  return image;
}
