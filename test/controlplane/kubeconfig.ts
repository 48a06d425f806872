// Kubeconfig files for the test control plane. Certificates are embedded (the *-data fields)
// so a kubeconfig stays valid wherever it is copied, e.g. into another process or a CI artefact.
import { stringify } from 'yaml';

export interface KubeconfigParams {
  server: string;
  caPem: string;
  user: string;
  certPem: string;
  keyPem: string;
  cluster?: string;
}

export function renderKubeconfig(params: KubeconfigParams): string {
  const cluster = params.cluster ?? 'territory-test';
  const context = `${params.user}@${cluster}`;
  const b64 = (pem: string) => Buffer.from(pem, 'utf8').toString('base64');
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      { name: cluster, cluster: { server: params.server, 'certificate-authority-data': b64(params.caPem) } },
    ],
    users: [
      {
        name: params.user,
        user: { 'client-certificate-data': b64(params.certPem), 'client-key-data': b64(params.keyPem) },
      },
    ],
    contexts: [{ name: context, context: { cluster, user: params.user } }],
    'current-context': context,
    preferences: {},
  });
}
