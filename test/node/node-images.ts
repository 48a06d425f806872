// Which locally built images a cluster with a node needs, from which binaries: the node's own
// (pause, CoreDNS, local-path-provisioner and its helper shell) and the product's (PostgreSQL for
// CloudNativePG, CloudNativePG's operator, the Territory operator from the project's Containerfile).
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
  const operator = await ensureOperatorImage(log ? { log } : {});
  return { postgresql, cnpg, operator };
}

// ---------------------------------------------------------------------------------------------
// The Barman Cloud plugin (CNPG-I): its `manager` from the Go module, the plugin's image and the
// sidecar image it injects into PostgreSQL Pods. Not installed by the e2e set-up yet; see
// test/node/barman-cloud-proof.ts.

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
