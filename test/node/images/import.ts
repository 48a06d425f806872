// Images reach the node's containerd by import, never by pull (there is no registry): `ctr images
// import` of each docker-archive, into the `k8s.io` namespace, the one the CRI plugin serves the
// kubelet from. The CRI plugin reads that namespace's images whatever put them there, and learns
// of new ones from containerd's events, so an imported image is usable at once.
//
// - `--local`: the client-side import (containerd 2's ctr otherwise goes through the transfer
//   service); it names each image after its archive's RepoTags (a fully qualified
//   localhost/territory/… is kept as is) and unpacks it right after, printing "unpacking … done".
// - `--snapshotter overlayfs`: unpacked for the snapshotter the CRI plugin uses (the node's
//   containerd config says overlayfs), for the default platform (linux/amd64), so the first
//   container starts without an unpack. Without it, the CRI plugin would still unpack on first use.
// - A label carries the image's ID (its config digest, from the build record next to the archive):
//   an image already there under the same name is skipped only when it is that very build, so a
//   rebuilt binary image with an unchanged tag is imported again.
//
// Not run against a real containerd by this module's author (none was built yet when it was
// written): the flags were checked against containerd 2.4's ctr source (cmd/ctr/commands/images/import.go).
import { execFile } from 'node:child_process';
import type { Log } from '../../controlplane/binaries.ts';
import { defaultLog, type LocalImage, loadRecord } from './common.ts';

const NAMESPACE = 'k8s.io';
const SNAPSHOTTER = 'overlayfs';
const ID_LABEL = 'territory.local/image-id';

function ctr(binary: string, address: string, args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      binary,
      ['--address', address, '--namespace', NAMESPACE, ...args],
      { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, timeout: timeoutMs },
      (error, stdout, stderr) => {
        if (error) reject(new Error(`ctr ${args.join(' ')}: ${(stderr || error.message).trim()}`));
        else resolve(stdout);
      },
    );
  });
}

/** Image name → the ID label it was imported with ('' when it has none). */
async function presentImages(ctrBinary: string, address: string): Promise<Map<string, string>> {
  const listing = await ctr(ctrBinary, address, ['images', 'list'], 60_000);
  const present = new Map<string, string>();
  for (const line of listing.split('\n').slice(1)) {
    const name = line.split(/\s+/)[0];
    if (!name) continue;
    const id = new RegExp(`${ID_LABEL.replace(/[./]/g, '\\$&')}=([0-9a-f]+)`).exec(line)?.[1] ?? '';
    present.set(name, id);
  }
  return present;
}

async function imageIdOf(archive: string): Promise<string | undefined> {
  return (await loadRecord(archive))?.imageId;
}

/**
 * Imports each image the node's containerd does not hold yet, unpacked for the CRI snapshotter.
 * Returns the references it imported (the others were there already).
 */
export async function importImages(
  ctrBinary: string,
  address: string,
  images: Pick<LocalImage, 'ref' | 'archive'>[],
  options: { log?: Log } = {},
): Promise<string[]> {
  const log = options.log ?? defaultLog;
  const present = await presentImages(ctrBinary, address);
  const imported: string[] = [];
  for (const image of images) {
    const id = await imageIdOf(image.archive);
    const there = present.get(image.ref);
    if (there !== undefined && (id === undefined || there === id)) continue;
    const started = Date.now();
    await ctr(
      ctrBinary,
      address,
      [
        'images',
        'import',
        '--local',
        '--snapshotter',
        SNAPSHOTTER,
        ...(id ? ['--label', `${ID_LABEL}=${id}`] : []),
        image.archive,
      ],
      10 * 60_000,
    );
    imported.push(image.ref);
    log(`imported ${image.ref} into containerd (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  }
  if (imported.length > 0) {
    const after = await presentImages(ctrBinary, address);
    const missing = imported.filter((ref) => !after.has(ref));
    if (missing.length > 0) {
      throw new Error(`ctr imported ${missing.join(', ')} under another name: check the archives' RepoTags`);
    }
  }
  return imported;
}
