// The product installed the way users install it, on a cluster with a node: CloudNativePG from its
// own release manifests (kustomize of the pinned module's config/default), its Barman Cloud plugin
// (barman-cloud-install.ts: physical backups), then the operator with `helm install
// charts/territory-operator`, all from locally built images.
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parseAllDocuments, stringify } from 'yaml';
import { CNPG_MODULE, CNPG_VERSION } from '../cnpg/crds.ts';
import type { Log } from '../controlplane/binaries.ts';
import { CHART_DIR } from '../helm/chart.ts';
import { goModDownload, requireGo } from '../support/go-tool.ts';
import { importImages, PG_MAJOR } from './images.ts';
import { applyManifests, type Kubectl, kubectl, waitForCondition } from './kubectl.ts';
import { imageRepository } from './local-stack.ts';
import { type NodeState, tagNodeImage } from './node.ts';
import type { ProductImages } from './node-images.ts';

const run = promisify(execFile);

export const CNPG_NAMESPACE = 'cnpg-system';
export const OPERATOR_NAMESPACE = 'territory-system';
export const OPERATOR_RELEASE = 'territory-operator';

type Manifest = Record<string, unknown> & { kind?: string; metadata?: { name?: string } };

/**
 * The product's images into the node's containerd, PostgreSQL's also under `<repository>:<major>`:
 * the operator runs `<postgresImage>:<major>`, and CloudNativePG reads the major from the tag.
 * Returns that repository, the operator configuration's postgresImage.
 */
export async function importProductImages(
  node: Pick<NodeState, 'ctr' | 'containerdSocket'>,
  images: ProductImages,
  log?: Log,
): Promise<string> {
  await importImages(node.ctr, node.containerdSocket, Object.values(images), log ? { log } : {});
  const repository = imageRepository(images.postgresql.ref);
  await tagNodeImage(node, images.postgresql.ref, `${repository}:${PG_MAJOR}`);
  return repository;
}

/**
 * CloudNativePG's own install manifests with our image. Upstream's Deployment pulls
 * `controller:latest` Always; here the image was imported into the node, so it is never pulled.
 */
export async function cloudNativePgManifests(k: Kubectl, image: string): Promise<Manifest[]> {
  const go = requireGo(process.env, "CloudNativePG's install manifests");
  const { dir } = await goModDownload(go, CNPG_MODULE, CNPG_VERSION, process.env);
  const text = await kubectl(k, ['kustomize', join(dir, 'config', 'default')]);
  const docs = parseAllDocuments(text)
    .map((d) => d.toJS() as Manifest | null)
    .filter((d): d is Manifest => !!d);
  for (const doc of docs) {
    if (doc.kind !== 'Deployment') continue;
    const pod = (doc as { spec: { template: { spec: { containers: Array<Record<string, unknown>> } } } }).spec
      .template.spec;
    for (const container of pod.containers) {
      container.image = image;
      container.imagePullPolicy = 'IfNotPresent';
      // Each PostgreSQL Pod copies the instance manager out of this image (bootstrap init container).
      const env = (container.env ?? []) as Array<{ name: string; value?: string }>;
      for (const variable of env) if (variable.name === 'OPERATOR_IMAGE_NAME') variable.value = image;
    }
  }
  return docs;
}

export async function installCloudNativePg(k: Kubectl, image: string): Promise<void> {
  await applyManifests(
    k,
    (await cloudNativePgManifests(k, image)).map((m) => m),
  );
  await waitForCondition(
    k,
    ['-n', CNPG_NAMESPACE, 'deployment/cnpg-controller-manager'],
    'condition=Available',
    300,
  );
  // Available means the Pod is ready, and its readiness waits for its webhook server: objects can
  // be validated from now on.
}

export interface OperatorInstall {
  helm: string;
  image: string;
  /** The `config:` values of the chart: the cluster's attestation, providers, egress. */
  config: Record<string, unknown>;
  replicas?: number;
}

/** `helm upgrade --install` of the repository's chart with a values file, as a user would run it. */
export async function installOperatorChart(
  k: Kubectl,
  install: OperatorInstall,
  valuesFile: string,
): Promise<void> {
  const [repository, tag] = splitImage(install.image);
  const values = {
    replicaCount: install.replicas ?? 1,
    image: { repository, tag, pullPolicy: 'IfNotPresent' },
    config: install.config,
  };
  await writeFile(valuesFile, stringify(values));
  try {
    await run(
      install.helm,
      [
        'upgrade',
        '--install',
        OPERATOR_RELEASE,
        CHART_DIR,
        '--namespace',
        OPERATOR_NAMESPACE,
        '--create-namespace',
        '--kubeconfig',
        k.kubeconfig,
        '--values',
        valuesFile,
        '--wait',
        '--timeout',
        '5m',
      ],
      { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 },
    );
  } catch (error) {
    const e = error as Error & { stderr?: string };
    const pods = await kubectl(k, ['-n', OPERATOR_NAMESPACE, 'get', 'pods', '-o', 'wide']).catch(() => '');
    throw new Error(`helm install of the operator failed: ${(e.stderr ?? e.message).trim()}\n${pods}`);
  }
}

function splitImage(image: string): [string, string] {
  const at = image.lastIndexOf(':');
  if (at <= image.lastIndexOf('/')) return [image, 'latest'];
  return [image.slice(0, at), image.slice(at + 1)];
}
