// The images the test node runs, all built on this machine (no registry is reachable) and saved as
// docker-archives in the cache (cacheRoot()/images/archives), which `importImages` loads into the
// node's containerd. Each build is recorded next to its archive (<archive>.json: its duration, its
// inputs' hash) and redone only when its inputs change. One module per image under images/:
//
// - postgresql.ts     PostgreSQL 17 for CloudNativePG (Debian trixie, barman-cloud, uid 26)
// - node-base.ts      Debian trixie + the project's Node + npm: the Containerfile's NODE_IMAGE
// - operator.ts       the operator, `buildah bud` of the project's Containerfile
// - static-binary.ts  one static binary (pause, CoreDNS, local-path-provisioner, CloudNativePG)
// - busybox.ts        the shell local-path-provisioner's helper Pods run
// - debian-files.ts   busybox and the CA bundle, taken from Debian's packages for the two above
// - import.ts         `ctr images import` into the node's containerd
//
// CLI: `npm run node:images [-- --binary <layout>:<version>:<path> ...] [--json]` builds what is
// missing and prints each image's reference and archive. <layout> is pause, coredns,
// local-path-provisioner or cloudnative-pg (upstream's paths and users), or any other name.
import type { Log } from '../controlplane/binaries.ts';
import { ensureBusyboxImage } from './images/busybox.ts';
import { defaultLog, formatBytes, type ImageOptions, type LocalImage } from './images/common.ts';
import { ensureNodeBaseImage } from './images/node-base.ts';
import { ensureOperatorImage } from './images/operator.ts';
import { ensurePostgresqlImage } from './images/postgresql.ts';
import { type BinaryImageSpec, ensureBinaryImage, UPSTREAM_LAYOUTS } from './images/static-binary.ts';

export type { ImageOptions, LocalImage } from './images/common.ts';
export { importImages } from './images/import.ts';
export { NPM_VERSION, projectNodeBinary } from './images/node-base.ts';
export { operatorInputs } from './images/operator.ts';
export { PG_MAJOR, POSTGRES_UID } from './images/postgresql.ts';
export type { BinaryImageSpec, ExtraFile } from './images/static-binary.ts';
export { ensureBinaryImage, ensureBusyboxImage, ensureOperatorImage, UPSTREAM_LAYOUTS };

/**
 * The two images built from Debian packages, side by side (their downloads overlap the other's
 * unpacking): PostgreSQL for CloudNativePG, and the Node base the operator's Containerfile needs.
 */
export async function ensureBaseImages(
  options: ImageOptions = {},
): Promise<{ postgresql: LocalImage; nodeBase: LocalImage }> {
  const [postgresql, nodeBase] = await Promise.all([
    ensurePostgresqlImage(options),
    ensureNodeBaseImage(options),
  ]);
  const { record: _record, ...nodeBaseImage } = nodeBase;
  return { postgresql, nodeBase: nodeBaseImage };
}

/** The image of a static binary laid out as upstream's image is, when `layout` names one. */
export function binaryImageSpec(layout: string, version: string, binary: string): BinaryImageSpec {
  switch (layout) {
    case 'pause':
      return UPSTREAM_LAYOUTS.pause(binary, version);
    case 'coredns':
      return UPSTREAM_LAYOUTS.coredns(binary, version);
    case 'local-path-provisioner':
      return UPSTREAM_LAYOUTS.localPathProvisioner(binary, version);
    case 'cloudnative-pg':
      return UPSTREAM_LAYOUTS.cloudNativePg(binary, version);
    default:
      return { name: layout, version, binary };
  }
}

async function main(argv: string[], log: Log): Promise<void> {
  const binaries: BinaryImageSpec[] = [];
  let json = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--json') json = true;
    else if (arg === '--binary') {
      const match = /^([^:]+):([^:]+):(.+)$/.exec(argv[++i] ?? '');
      if (!match?.[1] || !match[2] || !match[3]) throw new Error('--binary takes <layout>:<version>:<path>');
      binaries.push(binaryImageSpec(match[1], match[2], match[3]));
    } else {
      throw new Error(
        `unknown argument ${arg}; usage: images.ts [--binary <layout>:<version>:<path>]... [--json]`,
      );
    }
  }
  const options = { log };
  const images: Record<string, LocalImage> = {};
  const started = Date.now();
  Object.assign(images, await ensureBaseImages(options));
  images.operator = await ensureOperatorImage(options);
  images.localPathHelper = await ensureBusyboxImage(options);
  for (const spec of binaries) images[spec.name] = await ensureBinaryImage({ ...spec, log });
  if (json) {
    process.stdout.write(`${JSON.stringify(images, null, 2)}\n`);
    return;
  }
  for (const [name, image] of Object.entries(images)) {
    const how = image.cached
      ? `cached, built in ${image.builtInSeconds} s`
      : `built in ${image.builtInSeconds} s`;
    process.stdout.write(
      `${name}\t${image.ref}\n\t${image.archive} (${formatBytes(image.archiveBytes ?? 0)}, ${how})\n`,
    );
  }
  process.stdout.write(`total ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
}

if (import.meta.main) {
  main(process.argv.slice(2), defaultLog).catch((error: Error) => {
    process.stderr.write(`${error.message}\n`);
    process.exit(1);
  });
}
