// Runs a short-lived Pod on the e2e cluster's node, as an application of the Territory would, and
// returns how it ended and what it printed. The Pod meets Pod Security "restricted" (Territory
// namespaces enforce it), so the test Pods are held to the same rules as the authority's own.
import { applyManifests, kubectl } from '../node/kubectl.ts';
import { waitFor } from '../support/kube.ts';
import { clusterKubectl, kubectlJson } from './support.ts';

export interface PodRun {
  phase: 'Succeeded' | 'Failed';
  logs: string;
}

export interface PodSpec {
  namespace: string;
  name: string;
  image: string;
  script: string;
  env?: Array<Record<string, unknown>>;
  volumes?: Array<{ name: string; secret: string; mountPath: string }>;
  /** uid the container runs as (the PostgreSQL image's postgres user is 26). */
  uid?: number;
}

export async function runPod(spec: PodSpec, timeoutMs = 180_000): Promise<PodRun> {
  const pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: spec.name,
      namespace: spec.namespace,
      labels: { 'app.kubernetes.io/name': 'e2e-client' },
    },
    spec: {
      restartPolicy: 'Never',
      automountServiceAccountToken: false,
      securityContext: {
        runAsNonRoot: true,
        runAsUser: spec.uid ?? 26,
        runAsGroup: spec.uid ?? 26,
        seccompProfile: { type: 'RuntimeDefault' },
      },
      containers: [
        {
          name: 'client',
          image: spec.image,
          imagePullPolicy: 'IfNotPresent',
          command: ['/bin/sh', '-c', spec.script],
          env: spec.env ?? [],
          securityContext: {
            allowPrivilegeEscalation: false,
            capabilities: { drop: ['ALL'] },
            readOnlyRootFilesystem: true,
          },
          resources: { requests: { cpu: '50m', memory: '64Mi' }, limits: { cpu: '500m', memory: '128Mi' } },
          volumeMounts: (spec.volumes ?? []).map((v) => ({
            name: v.name,
            mountPath: v.mountPath,
            readOnly: true,
          })),
        },
      ],
      volumes: (spec.volumes ?? []).map((v) => ({ name: v.name, secret: { secretName: v.secret } })),
    },
  };
  await applyManifests(clusterKubectl(), [pod]);
  const phase = await waitFor(
    async () => {
      const live = await kubectlJson<{ status?: { phase?: string } }>([
        '-n',
        spec.namespace,
        'get',
        'pod',
        spec.name,
      ]);
      const p = live.status?.phase;
      return p === 'Succeeded' || p === 'Failed' ? p : undefined;
    },
    { what: `pod ${spec.namespace}/${spec.name} to finish`, timeoutMs, intervalMs: 1_000 },
  );
  const logs = await kubectl(clusterKubectl(), ['-n', spec.namespace, 'logs', spec.name]);
  await kubectl(clusterKubectl(), ['-n', spec.namespace, 'delete', 'pod', spec.name, '--wait=false']);
  return { phase, logs };
}

/** Environment variables from a Secret's keys. */
export function secretEnv(name: string, secret: string, key: string): Record<string, unknown> {
  return { name, valueFrom: { secretKeyRef: { name: secret, key } } };
}
