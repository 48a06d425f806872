// Which locally built images a cluster with a node needs, from which binaries: the node's own
// (pause, CoreDNS, local-path-provisioner and its helper shell) and the product's (PostgreSQL for
// CloudNativePG, CloudNativePG's operator, its Barman Cloud plugin and the plugin's sidecar, the
// Territory operator from the project's Containerfile).
//
// CLI: `npm run barman-cloud:images` builds the plugin's binary and its two images when missing (CI
// builds them once, after the other images) and prints their references.
import type { Log } from '../controlplane/binaries.ts';
import { BARMAN_CLOUD_PLUGIN_VERSION, ensureBarmanCloudPluginBinary } from './barman-cloud-plugin-binary.ts';
import { type NodeBinaries, resolveNodeBinaries, NODE_COMPONENT_VERSIONS as V } from './components.ts';
import { ensureBarmanCloudPluginImage } from './images/barman-cloud-plugin.ts';
import { ensureBarmanCloudSidecarImage } from './images/barman-cloud-sidecar.ts';
import {
  ensureBaseImages,
  ensureBinaryImage,
  ensureBusyboxImage,
  ensureOperatorImage,
  type LocalImage,
  UPSTREAM_LAYOUTS,
} from './images.ts';
import type { NodeImages } from './node.ts';

const bare = (version: string) => version.replace(/^v/, '');

export async function ensureNodeImages(
  binaries: NodeBinaries,
  options: { log?: Log } = {},
): Promise<NodeImages> {
  const log = options.log;
  const withLog = <T extends object>(spec: T) => ({ ...spec, ...(log ? { log } : {}) });
  return {
    pause: await ensureBinaryImage(withLog(UPSTREAM_LAYOUTS.pause(binaries.pause, V.pause))),
    coredns: await ensureBinaryImage(withLog(UPSTREAM_LAYOUTS.coredns(binaries.coredns, bare(V.coredns)))),
    localPathProvisioner: await ensureBinaryImage(
      withLog(
        UPSTREAM_LAYOUTS.localPathProvisioner(binaries.localPathProvisioner, bare(V.localPathProvisioner)),
      ),
    ),
    localPathHelper: await ensureBusyboxImage(log ? { log } : {}),
  };
}

export interface ProductImages {
  postgresql: LocalImage;
  cnpg: LocalImage;
  /** CloudNativePG's Barman Cloud plugin (physical backups): its Deployment's image… */
  barmanCloudPlugin: LocalImage;
  /** …and the sidecar it injects into each PostgreSQL Pod (barman-cloud). */
  barmanCloudSidecar: LocalImage;
  operator: LocalImage;
}

export async function ensureProductImages(options: { log?: Log } = {}): Promise<ProductImages> {
  const log = options.log;
  const binaries = await resolveNodeBinaries(log ? { log } : {});
  const { postgresql } = await ensureBaseImages(log ? { log } : {});
  const cnpg = await ensureBinaryImage({
    ...UPSTREAM_LAYOUTS.cloudNativePg(binaries.cnpgManager, bare(V.cloudNativePg)),
    ...(log ? { log } : {}),
  });
  const barmanCloud = await ensureBarmanCloudImages(log ? { log } : {});
  const operator = await ensureOperatorImage(log ? { log } : {});
  return {
    postgresql,
    cnpg,
    barmanCloudPlugin: barmanCloud.plugin,
    barmanCloudSidecar: barmanCloud.sidecar,
    operator,
  };
}

// ---------------------------------------------------------------------------------------------
// The Barman Cloud plugin (CNPG-I): its `manager` from the Go module, the plugin's image and the
// sidecar image it injects into PostgreSQL Pods. Installed by barman-cloud-install.ts.

export interface BarmanCloudImages {
  plugin: LocalImage;
  sidecar: LocalImage;
}

export async function ensureBarmanCloudImages(options: { log?: Log } = {}): Promise<BarmanCloudImages> {
  const log = options.log;
  const { binary } = await ensureBarmanCloudPluginBinary(log ? { log } : {});
  const common = { manager: binary, pluginVersion: BARMAN_CLOUD_PLUGIN_VERSION, ...(log ? { log } : {}) };
  return {
    plugin: await ensureBarmanCloudPluginImage(common),
    sidecar: await ensureBarmanCloudSidecarImage(common),
  };
}

if (import.meta.main) {
  const say: Log = (line) => process.stderr.write(`[barman-cloud] ${line}\n`);
  if (process.argv[2] !== 'barman-cloud') {
    process.stderr.write('usage: node test/node/node-images.ts barman-cloud\n');
    process.exit(2);
  }
  ensureBarmanCloudImages({ log: say }).then(
    (images) => {
      for (const [name, image] of Object.entries(images)) {
        const how = image.cached ? 'cached' : 'built';
        process.stdout.write(`${name}\t${image.ref}\t${image.archive} (${how}, ${image.builtInSeconds} s)\n`);
      }
    },
    (error: Error) => {
      process.stderr.write(`${error.message}\n`);
      process.exit(1);
    },
  );
}
