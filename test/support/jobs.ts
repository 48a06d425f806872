// What the Job controller writes when a Job's command exits, for tests whose cluster runs no Pods: Complete
// (exit 0), or Failed by the Job's pod failure policy (any other code).
import type { KubeClient } from '../../operator/src/runtime/kube-client.ts';
import type { KubeObject } from '../../operator/src/runtime/types.ts';
import { waitFor } from './kube.ts';

export const jobRef = (namespace: string, name: string) => ({
  apiVersion: 'batch/v1',
  kind: 'Job',
  name,
  namespace,
});

const stamp = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');

export async function endJob(
  client: KubeClient,
  opts: { namespace: string; name: string; exitCode: number; durationSeconds: number; container?: string },
): Promise<void> {
  const { namespace, name, exitCode, durationSeconds } = opts;
  const failedBy = {
    reason: 'PodFailurePolicy',
    message: `Container ${opts.container ?? 'restore'} for pod ${namespace}/${name}-q8x2z failed with exit code ${exitCode} matching FailJob rule at index 1`,
  };
  await waitFor(
    async () => {
      const job = (await client.get(jobRef(namespace, name))) as KubeObject;
      // kube-controller-manager's Job controller runs here and may have started the Job already: its
      // startTime is immutable once set, so the end is placed relative to it.
      const startTime =
        (job.status as { startTime?: string } | undefined)?.startTime ??
        stamp(new Date(Date.now() - durationSeconds * 1000));
      const at = stamp(new Date(Date.parse(startTime) + durationSeconds * 1000));
      const cond = (type: string, extra: Record<string, string> = {}) => ({
        type,
        status: 'True',
        lastProbeTime: at,
        lastTransitionTime: at,
        ...extra,
      });
      const status =
        exitCode === 0
          ? {
              startTime,
              completionTime: at,
              active: 0,
              ready: 0,
              succeeded: 1,
              conditions: [cond('SuccessCriteriaMet'), cond('Complete')],
            }
          : {
              startTime,
              active: 0,
              ready: 0,
              failed: 1,
              conditions: [cond('FailureTarget', failedBy), cond('Failed', failedBy)],
            };
      // The Job controller writes too (it started the Job): retry on a conflict with it.
      return client.replace({ ...job, status } as KubeObject, 'status').then(
        () => true,
        (e: { statusCode?: number }) => {
          if (e.statusCode === 409) return undefined;
          throw e;
        },
      );
    },
    { what: `${name} ended`, timeoutMs: 10_000 },
  );
}
