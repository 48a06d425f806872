// Steps of the continuity tests on the real node: rows the authority writes (and their checksum), a
// logical backup Job started from the Territory's CronJob as `kubectl create job --from` would, and
// a restore of an exported dump into a throw-away PostgreSQL of the same major, elsewhere.
import { randomBytes } from 'node:crypto';
import { kubectl } from '../node/kubectl.ts';
import { waitFor } from '../support/kube.ts';
import { deletePod, execInPod, runPod, secretEnv, startPod } from './pods.ts';
import { awaitServer, psql } from './psql.ts';
import { clusterKubectl, kubectlJson, namespaceOf, type TerritoryObject } from './support.ts';

/** One line a restored copy must reproduce exactly: row count and an md5 over every row, in order. */
export const CHECKSUM_SQL =
  "SELECT count(*) || ' ' || md5(string_agg(id || ':' || note, ',' ORDER BY id)) FROM continuity";

/** The owner's credentials and the Territory's CA, as the authority's application gets them. */
export function ownerClient(t: TerritoryObject, image: string, name: string, script: string[]) {
  return {
    namespace: namespaceOf(t),
    name,
    image,
    env: [secretEnv('PGUSER', 'db-owner', 'username'), secretEnv('PGPASSWORD', 'db-owner', 'password')],
    volumes: [{ name: 'ca', secret: 'db-ca', mountPath: '/ca' }],
    script: [awaitServer(t), ...script].join(' && '),
  };
}

/**
 * Runs statements as the owner on the primary (a line starting with `for ` is shell, run as is);
 * returns the lines printed.
 */
export async function ownerSql(
  t: TerritoryObject,
  image: string,
  name: string,
  lines: string[],
): Promise<string[]> {
  const script = lines.map((line) => (line.startsWith('for ') ? line : psql(t, line)));
  const run = await runPod(ownerClient(t, image, name, script));
  if (run.phase !== 'Succeeded') throw new Error(`${name} failed:\n${run.logs}`);
  return run.logs.trim().split('\n');
}

export interface JobRun {
  name: string;
  succeeded: boolean;
  seconds: number;
  logs: string;
  /** The exit code the Job's Failed condition names (the restore drill's pod failure policy), if any. */
  exitCode?: number;
}

/** A Job from the Territory's backup CronJob, run to its end. */
export function runBackupJob(t: TerritoryObject): Promise<JobRun> {
  return runJobFrom(t, 'logical-backup', 'e2e-backup');
}

/** A Job from the Territory's restore-drill CronJob, run to its end. */
export function runDrillJob(t: TerritoryObject): Promise<JobRun> {
  return runJobFrom(t, 'restore-drill', 'e2e-drill');
}

/** A Job from one of the Territory's CronJobs, as `kubectl create job --from` makes it, run to its end. */
async function runJobFrom(t: TerritoryObject, cronJob: string, prefix: string): Promise<JobRun> {
  const ns = namespaceOf(t);
  const name = `${prefix}-${randomBytes(3).toString('hex')}`;
  const started = Date.now();
  await kubectl(clusterKubectl(), ['-n', ns, 'create', 'job', name, `--from=cronjob/${cronJob}`]);
  type JobStatus = {
    succeeded?: number;
    failed?: number;
    conditions?: { type: string; status: string; message?: string }[];
  };
  let failedWith: string | undefined;
  const succeeded = await waitFor(
    async () => {
      const job = await kubectlJson<{ status?: JobStatus }>(['-n', ns, 'get', 'job', name]);
      if ((job.status?.succeeded ?? 0) > 0) return 'yes';
      // The drill's pod failure policy fails its Job at the first failure, naming the exit code in the
      // FailureTarget (then Failed) condition: wait for it.
      const failure = job.status?.conditions?.find(
        (c) => (c.type === 'FailureTarget' || c.type === 'Failed') && c.status === 'True',
      );
      if (failure) {
        failedWith = failure.message;
        return 'no';
      }
      // backoffLimit 2 (backup): three failed Pods end the Job; the first failure is enough to stop waiting.
      if ((job.status?.failed ?? 0) > 0 && cronJob !== 'restore-drill') return 'no';
      return undefined;
    },
    { what: `${cronJob} Job ${ns}/${name} to finish`, timeoutMs: 300_000, intervalMs: 1_000 },
  );
  const seconds = (Date.now() - started) / 1000;
  const logs = await kubectl(clusterKubectl(), ['-n', ns, 'logs', `job/${name}`]).catch(
    (e: Error) => e.message,
  );
  const code = /exit code (\d+)/.exec(failedWith ?? '')?.[1];
  return {
    name,
    succeeded: succeeded === 'yes',
    seconds,
    logs,
    ...(code !== undefined ? { exitCode: Number(code) } : {}),
  };
}

/**
 * Restores a plain pg_dump file into a fresh PostgreSQL started for it in a Pod of `namespace`
 * (initdb, local socket only), and returns the restore's duration and CHECKSUM_SQL's answer.
 */
export async function restoreElsewhere(opts: {
  namespace: string;
  image: string;
  dumpFile: string;
}): Promise<{ seconds: number; checksum: string }> {
  const pod = 'e2e-restore';
  await kubectl(clusterKubectl(), ['create', 'namespace', opts.namespace]).catch(() => undefined);
  await startPod({
    namespace: opts.namespace,
    name: pod,
    image: opts.image,
    scratch: ['/tmp'],
    memory: '512Mi',
  });
  try {
    await execInPod(opts.namespace, pod, 'cat > /tmp/restore.pgdump', opts.dumpFile);
    const pg = '-h /tmp -U postgres';
    const out = await execInPod(
      opts.namespace,
      pod,
      [
        'set -e',
        'initdb -D /tmp/pg -U postgres --auth=trust >/dev/null',
        `pg_ctl -D /tmp/pg -o "-c listen_addresses='' -k /tmp" -l /tmp/pg.log -w start >/dev/null`,
        `createdb ${pg} restored`,
        'start=$(date +%s%N)',
        // The roles of the old platform do not exist here: objects go to the restoring user.
        `pg_restore ${pg} --no-owner --no-privileges --exit-on-error -d restored /tmp/restore.pgdump`,
        'end=$(date +%s%N)',
        'echo "restore_ms=$(( (end - start) / 1000000 ))"',
        `psql ${pg} -d restored -At -c "${CHECKSUM_SQL}"`,
      ].join('\n'),
    );
    const ms = Number(/restore_ms=(\d+)/.exec(out)?.[1]);
    return { seconds: ms / 1000, checksum: out.trim().split('\n').at(-1) ?? '' };
  } finally {
    await deletePod(opts.namespace, pod);
  }
}
