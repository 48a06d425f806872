// Runs a short-lived Pod on the e2e cluster's node, as an application of the Territory would, and
// returns how it ended and what it printed. The Pod meets Pod Security "restricted" (Territory
// namespaces enforce it), so the test Pods are held to the same rules as the authority's own.
import { spawn } from 'node:child_process';
import { createReadStream } from 'node:fs';
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
  /** Writable scratch folders (emptyDir), e.g. /tmp for a throw-away PostgreSQL. */
  scratch?: string[];
  /** Memory limit; 128Mi by default. */
  memory?: string;
}

function podManifest(spec: PodSpec): Record<string, unknown> {
  const scratch = (spec.scratch ?? []).map((mountPath, i) => ({ name: `scratch-${i}`, mountPath }));
  return {
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
          resources: {
            requests: { cpu: '50m', memory: '64Mi' },
            limits: { cpu: '500m', memory: spec.memory ?? '128Mi' },
          },
          volumeMounts: [
            ...(spec.volumes ?? []).map((v) => ({ name: v.name, mountPath: v.mountPath, readOnly: true })),
            ...scratch,
          ],
        },
      ],
      volumes: [
        ...(spec.volumes ?? []).map((v) => ({ name: v.name, secret: { secretName: v.secret } })),
        ...scratch.map((v) => ({ name: v.name, emptyDir: {} })),
      ],
    },
  };
}

export async function runPod(spec: PodSpec, timeoutMs = 180_000): Promise<PodRun> {
  await applyManifests(clusterKubectl(), [podManifest(spec)]);
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

/** A Pod that stays up (its script, then sleep) for commands run in it with `execInPod`. */
export async function startPod(spec: Omit<PodSpec, 'script'> & { script?: string }): Promise<void> {
  const script = `${spec.script ? `${spec.script} && ` : ''}exec sleep 3600`;
  await applyManifests(clusterKubectl(), [podManifest({ ...spec, script })]);
  await kubectl(clusterKubectl(), [
    '-n',
    spec.namespace,
    'wait',
    '--for=condition=Ready',
    `pod/${spec.name}`,
    '--timeout=180s',
  ]);
}

/** `kubectl exec` of a shell script, optionally fed a local file on stdin; its output, or throws. */
export async function execInPod(
  namespace: string,
  name: string,
  script: string,
  stdinFile?: string,
): Promise<string> {
  const k = clusterKubectl();
  const child = spawn(
    k.binary,
    [
      `--kubeconfig=${k.kubeconfig}`,
      '-n',
      namespace,
      'exec',
      ...(stdinFile ? ['-i'] : []),
      name,
      '--',
      'sh',
      '-c',
      script,
    ],
    { stdio: [stdinFile ? 'pipe' : 'ignore', 'pipe', 'pipe'] },
  );
  if (stdinFile && child.stdin) createReadStream(stdinFile).pipe(child.stdin);
  let out = '';
  child.stdout?.on('data', (d) => (out += d));
  child.stderr?.on('data', (d) => (out += d));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', resolve);
  });
  if (code !== 0) throw new Error(`exec in ${namespace}/${name} exited ${code}: ${out.trim()}`);
  return out;
}

export async function deletePod(namespace: string, name: string): Promise<void> {
  await kubectl(clusterKubectl(), [
    '-n',
    namespace,
    'delete',
    'pod',
    name,
    '--wait=false',
    '--ignore-not-found',
  ]);
}

/** Environment variables from a Secret's keys. */
export function secretEnv(name: string, secret: string, key: string): Record<string, unknown> {
  return { name, valueFrom: { secretKeyRef: { name: secret, key } } };
}
