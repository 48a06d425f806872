// The Barman Cloud plugin installed on a cluster with a node, as its release installs it: the
// kustomization in its module's kubernetes/ folder (the ObjectStore CRD, the plugin's
// ServiceAccount and RBAC, its Deployment and the Service CloudNativePG discovers it by, all in
// CloudNativePG's namespace), with the two locally built images.
//
// One difference, on purpose: upstream's install asks cert-manager for the plugin's mTLS
// certificates (a selfSigned Issuer, Certificates barman-cloud-server and barman-cloud-client).
// This harness makes the same two certificates itself and stores them as the Secrets those
// Certificates would have written (barman-cloud-server-tls, barman-cloud-client-tls, type
// kubernetes.io/tls with tls.crt, tls.key, ca.crt), so no cert-manager is built or run:
//   - server: self-signed, CN and DNS name `barman-cloud` (the Service's name, which CloudNativePG
//     v1.30.0 verifies unless the Service carries cnpg.io/pluginServerName), server auth;
//   - client: self-signed, CN barman-cloud-client, client auth.
// CloudNativePG trusts the server's own certificate (the server Secret's tls.crt as its root pool)
// and presents the client's; the plugin trusts the client's (--client-cert). TLS 1.3 both ways.
//
// How CloudNativePG v1.30.0 finds a plugin (internal/controller/plugin_controller.go,
// pkg/utils/labels_annotations.go): a Service in the operator's own namespace with the label
// cnpg.io/pluginName and the annotations cnpg.io/pluginClientSecret, cnpg.io/pluginServerSecret
// and cnpg.io/pluginPort; it dials <service>.<namespace>.svc:<port> (cluster DNS needed).
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import { join } from 'node:path';
import * as x509 from '@peculiar/x509';
import { parseAllDocuments } from 'yaml';
import { barmanCloudPluginModuleDir } from './barman-cloud-plugin-binary.ts';
import { applyManifests, type Kubectl, kubectl, waitForCondition } from './kubectl.ts';
import { CNPG_NAMESPACE } from './stack.ts';

/** The name Clusters give in spec.plugins[].name (internal/cnpgi/metadata/constants.go). */
export const BARMAN_CLOUD_PLUGIN_NAME = 'barman-cloud.cloudnative-pg.io';
/** The Deployment's and Service's name in upstream's kustomization. */
export const BARMAN_CLOUD_SERVICE = 'barman-cloud';
export const BARMAN_CLOUD_SERVER_SECRET = 'barman-cloud-server-tls';
export const BARMAN_CLOUD_CLIENT_SECRET = 'barman-cloud-client-tls';
export const BARMAN_CLOUD_PORT = 9090;

type Manifest = Record<string, unknown> & {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string };
};

x509.cryptoProvider.set(webcrypto);

export interface PluginImages {
  plugin: string;
  sidecar: string;
}

/** Upstream's kustomization, cert-manager's objects left out, with the given images. */
export async function barmanCloudPluginManifests(k: Kubectl, images: PluginImages): Promise<Manifest[]> {
  const dir = await barmanCloudPluginModuleDir();
  const text = await kubectl(k, ['kustomize', join(dir, 'kubernetes')]);
  const docs = parseAllDocuments(text)
    .map((d) => d.toJS() as Manifest | null)
    .filter((d): d is Manifest => !!d)
    .filter((d) => !d.apiVersion?.startsWith('cert-manager.io/'));
  let sidecarSecret = 0;
  let deployment = 0;
  for (const doc of docs) {
    if (doc.metadata?.namespace && doc.metadata.namespace !== CNPG_NAMESPACE) {
      throw new Error(`the plugin's ${doc.kind} ${doc.metadata.name} is in ${doc.metadata.namespace}`);
    }
    // The kustomization's secretGenerator: SIDECAR_IMAGE, the image the plugin injects into Pods.
    if (doc.kind === 'Secret' && (doc.data as Record<string, string> | undefined)?.SIDECAR_IMAGE) {
      doc.data = { SIDECAR_IMAGE: Buffer.from(images.sidecar).toString('base64') };
      sidecarSecret++;
    }
    if (doc.kind === 'Deployment') {
      const pod = (doc as { spec: { template: { spec: { containers: Array<Record<string, unknown>> } } } })
        .spec.template.spec;
      for (const container of pod.containers) {
        container.image = images.plugin;
        container.imagePullPolicy = 'IfNotPresent';
      }
      deployment++;
    }
  }
  if (sidecarSecret !== 1 || deployment !== 1) {
    throw new Error(
      `unexpected plugin kustomization: ${sidecarSecret} SIDECAR_IMAGE Secret(s), ${deployment} Deployment(s)`,
    );
  }
  return docs;
}

/** The two Secrets cert-manager would have made for upstream's Certificates. */
export async function barmanCloudPluginTlsSecrets(now = new Date()): Promise<Manifest[]> {
  const server = await selfSigned('barman-cloud', x509.ExtendedKeyUsage.serverAuth, now, [
    { type: 'dns', value: BARMAN_CLOUD_SERVICE },
  ]);
  const client = await selfSigned('barman-cloud-client', x509.ExtendedKeyUsage.clientAuth, now);
  const secret = (name: string, pair: { certPem: string; keyPem: string }): Manifest => ({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace: CNPG_NAMESPACE },
    type: 'kubernetes.io/tls',
    // cert-manager's selfSigned issuer: the certificate is its own CA.
    stringData: { 'tls.crt': pair.certPem, 'tls.key': pair.keyPem, 'ca.crt': pair.certPem },
  });
  return [secret(BARMAN_CLOUD_SERVER_SECRET, server), secret(BARMAN_CLOUD_CLIENT_SECRET, client)];
}

/**
 * Installs the plugin (CloudNativePG must be installed already: the plugin's RBAC names its
 * namespace) and waits until its Deployment is Available and CloudNativePG has registered it.
 * The TLS Secrets are made once: an existing pair is kept, as cert-manager would keep it.
 */
export async function installBarmanCloudPlugin(k: Kubectl, images: PluginImages): Promise<void> {
  const manifests = await barmanCloudPluginManifests(k, images);
  const existing = await kubectl(k, [
    '-n',
    CNPG_NAMESPACE,
    'get',
    'secret',
    BARMAN_CLOUD_SERVER_SECRET,
    BARMAN_CLOUD_CLIENT_SECRET,
    '--ignore-not-found',
    '-o',
    'name',
  ]);
  const tls =
    existing.trim().split('\n').filter(Boolean).length === 2 ? [] : await barmanCloudPluginTlsSecrets();
  // The CRD first, so the objects after it (none here, but a user's) are recognised.
  await applyManifests(k, [...manifests.filter((m) => m.kind === 'CustomResourceDefinition')]);
  await waitForCondition(k, ['crd/objectstores.barmancloud.cnpg.io'], 'condition=Established', 60);
  await applyManifests(k, [...tls, ...manifests.filter((m) => m.kind !== 'CustomResourceDefinition')]);
  await waitForCondition(
    k,
    ['-n', CNPG_NAMESPACE, `deployment/${BARMAN_CLOUD_SERVICE}`],
    'condition=Available',
    180,
  );
  await waitForPluginRegistered(k, 120);
}

/** CloudNativePG's event on the plugin's Service once it dialled it with mTLS and read its identity. */
export async function waitForPluginRegistered(k: Kubectl, timeoutSeconds: number): Promise<void> {
  const deadline = Date.now() + timeoutSeconds * 1000;
  let events = '';
  while (Date.now() < deadline) {
    events = await kubectl(k, [
      '-n',
      CNPG_NAMESPACE,
      'get',
      'events',
      '--field-selector',
      `involvedObject.kind=Service,involvedObject.name=${BARMAN_CLOUD_SERVICE}`,
      '-o',
      'custom-columns=REASON:.reason,MESSAGE:.message',
      '--no-headers',
    ]);
    if (/^PluginRegistered\b/m.test(events)) return;
    await new Promise((ok) => setTimeout(ok, 1000));
  }
  const logs = await kubectl(k, [
    '-n',
    CNPG_NAMESPACE,
    'logs',
    'deployment/cnpg-controller-manager',
    '--tail=40',
  ]).catch((e: Error) => e.message);
  throw new Error(
    `CloudNativePG did not register the Barman Cloud plugin within ${timeoutSeconds} s. Service events:\n${events}\nCloudNativePG's log:\n${logs}`,
  );
}

async function selfSigned(
  commonName: string,
  usage: x509.ExtendedKeyUsage,
  now: Date,
  sans: x509.JsonGeneralNames = [],
): Promise<{ certPem: string; keyPem: string }> {
  const keys = await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, [
    'sign',
    'verify',
  ]);
  const serial = webcrypto.getRandomValues(new Uint8Array(16));
  serial[0] = (serial[0] ?? 0) & 0x7f;
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(
      x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment,
      true,
    ),
    new x509.ExtendedKeyUsageExtension([usage]),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
  ];
  if (sans.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(sans));
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: Buffer.from(serial).toString('hex'),
    name: [{ CN: [commonName] }],
    // upstream's Certificates: 90 days.
    notBefore: new Date(now.getTime() - 60 * 60 * 1000),
    notAfter: new Date(now.getTime() + 90 * 24 * 60 * 60 * 1000),
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
    keys,
    extensions,
  });
  const der = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
  return { certPem: cert.toString('pem'), keyPem: x509.PemConverter.encode(der, 'PRIVATE KEY') };
}
