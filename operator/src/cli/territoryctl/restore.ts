// `territoryctl restore NAME`: a declarative restore for people. It writes spec.restore on the Territory
// (a JSON merge patch: every field of the request, absent ones removed), then follows status.restore
// until the restore Succeeded, Failed or was Refused. The operator does the restore (a Job in the
// Territory's namespace); this command only asks and watches, so it can be stopped and run again: the
// same request is the same Job, and a request that succeeded is never run twice.
//
// Where the Territory is managed by GitOps (Argo CD, Flux), write spec.restore in Git instead: a patch
// made here would be reverted at the next sync, and the restore asked again only if Git says so.
import { Command, Option } from 'commander';
import {
  API_VERSION,
  BACKUP_OBJECT_NAME,
  KIND,
  type RestoreSpec,
  RFC3339,
  restoreRequestId,
  type TerritoryStatus,
} from '../../api/territory.ts';
import type { KubeClient } from '../../runtime/kube-client.ts';
import type { KubeObject } from '../../runtime/types.ts';
import { type ClusterOptions, connect, explain, getTerritory } from './cluster.ts';
import { CliError, EXIT } from './errors.ts';
import { formatData, outputFormat, styleFor } from './output.ts';

type RestoreStatus = NonNullable<TerritoryStatus['restore']>;

export interface RestoreOptions {
  backup?: string;
  before?: string;
  fromTerritory?: string;
  /** Point-in-time recovery from the physical backups, to this instant. */
  toTime?: string;
  replaceExistingData?: boolean;
}

const TERMINAL = new Set(['Succeeded', 'Failed', 'Refused']);

/** The request the options describe, checked as the API server would check it (usage errors: exit 2). */
export function restoreRequest(name: string, o: RestoreOptions): RestoreSpec {
  const usage = (message: string, hint?: string) =>
    new CliError(message, { exitCode: EXIT.usage, ...(hint ? { hint } : {}) });
  if (o.backup !== undefined && o.before !== undefined) {
    throw usage(
      '--backup and --before exclude each other',
      'name one backup, or a time to restore the latest backup before',
    );
  }
  if (o.backup !== undefined && !BACKUP_OBJECT_NAME.test(o.backup)) {
    throw usage(
      `--backup ${o.backup} is not a backup name`,
      'give it as `territory-backup list` shows it: <YYYYMMDDTHHMMSS.mmmZ>.pgdump.enc',
    );
  }
  if (o.before !== undefined && (!RFC3339.test(o.before) || Number.isNaN(Date.parse(o.before)))) {
    throw usage(`--before ${o.before} is not an RFC 3339 time`, 'e.g. --before 2026-11-01T03:00:00Z');
  }
  if (o.fromTerritory !== undefined && !/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(o.fromTerritory)) {
    throw usage(`--from-territory ${o.fromTerritory} is not a Territory name`);
  }
  if (o.toTime !== undefined) {
    if (o.backup !== undefined || o.before !== undefined || o.fromTerritory !== undefined) {
      throw usage(
        '--to-time excludes --backup, --before and --from-territory',
        'a point-in-time recovery reads this Territory’s physical backups, up to one instant',
      );
    }
    if (!RFC3339.test(o.toTime) || Number.isNaN(Date.parse(o.toTime))) {
      throw usage(`--to-time ${o.toTime} is not an RFC 3339 time`, 'e.g. --to-time 2026-11-01T03:00:00Z');
    }
    return {
      from: 'PointInTime',
      targetTime: o.toTime,
      ...(o.replaceExistingData ? { replaceExistingData: name } : {}),
    };
  }
  return {
    from: 'LogicalBackup',
    ...(o.backup !== undefined ? { backup: o.backup } : {}),
    ...(o.before !== undefined ? { before: o.before } : {}),
    ...(o.fromTerritory !== undefined ? { sourceTerritory: o.fromTerritory } : {}),
    // The confirmation is the Territory's own name: the flag fills it in, and the command says so.
    ...(o.replaceExistingData ? { replaceExistingData: name } : {}),
  };
}

/** The merge patch that makes spec.restore exactly `request` (null removes a field left from before). */
export function restorePatch(request: RestoreSpec): Record<string, unknown> {
  return {
    spec: {
      restore: {
        from: request.from,
        backup: request.backup ?? null,
        before: request.before ?? null,
        sourceTerritory: request.sourceTerritory ?? null,
        targetTime: request.targetTime ?? null,
        replaceExistingData: request.replaceExistingData ?? null,
      },
    },
  };
}

/** What a person reads about the request before it runs. */
export function describeRequest(name: string, request: RestoreSpec): string[] {
  if (request.from === 'PointInTime') {
    return [
      `recovering Territory ${name} to ${request.targetTime} from its physical backups (request ${restoreRequestId(request)})`,
      ...(request.replaceExistingData
        ? [
            `--replace-existing-data: spec.restore.replaceExistingData is set to "${name}", so its database Cluster is ` +
              'deleted and re-created as it was at that instant',
          ]
        : []),
    ];
  }
  const which = request.backup
    ? `backup ${request.backup}`
    : request.before
      ? `the latest backup taken at or before ${request.before}`
      : 'the latest backup';
  const whose = request.sourceTerritory ? ` of Territory ${request.sourceTerritory}` : '';
  const lines = [`restoring ${which}${whose} into Territory ${name} (request ${restoreRequestId(request)})`];
  if (request.replaceExistingData) {
    lines.push(
      `--replace-existing-data: spec.restore.replaceExistingData is set to "${name}", so the data its database ` +
        'holds will be replaced by the backup (tables the backup does not hold are left)',
    );
  }
  return lines;
}

/** Where the request stands in a Territory's status, or undefined while the operator has not seen it. */
export function requestStatus(territory: KubeObject, request: string): RestoreStatus | undefined {
  const restore = (territory.status as TerritoryStatus | undefined)?.restore;
  return restore?.request === request ? restore : undefined;
}

/** The exit code of a finished restore: 0 succeeded, 1 failed or refused. */
export function exitOf(status: RestoreStatus): number {
  return status.phase === 'Succeeded' ? EXIT.ok : EXIT.failure;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function follow(
  kube: KubeClient,
  name: string,
  request: string,
  opts: { timeoutMs: number; everyMs: number },
): Promise<RestoreStatus> {
  const style = styleFor(process.stderr);
  const deadline = Date.now() + opts.timeoutMs;
  let said = '';
  for (;;) {
    const t = await getTerritory(kube, name);
    const status = requestStatus(t, request);
    const line = status
      ? `${status.phase}: ${status.message ?? ''}`
      : 'waiting for the operator to take the request';
    if (line !== said) {
      process.stderr.write(`${style.dim(new Date().toISOString())} ${line}\n`);
      said = line;
    }
    if (status && TERMINAL.has(status.phase)) return status;
    if (Date.now() > deadline) {
      throw new CliError(
        `the restore of ${name} has not ended after ${Math.round(opts.timeoutMs / 1000)} s`,
        {
          hint: `it goes on without this command: territoryctl restore ${name} (the same options) follows it again, or kubectl get territory ${name} -o jsonpath='{.status.restore}'`,
        },
      );
    }
    await sleep(opts.everyMs);
  }
}

function parseDuration(text: string): number {
  const m = /^(\d+)(s|m|h)$/.exec(text);
  if (!m)
    throw new CliError(`--timeout ${text} is not a duration`, {
      hint: 'e.g. 30m or 6h',
      exitCode: EXIT.usage,
    });
  return Number(m[1]) * { s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 's' | 'm' | 'h'];
}

export function restoreCommand(): Command {
  return new Command('restore')
    .description(
      "restore a Territory's database from an encrypted logical backup, or to an instant from its physical backups (writes spec.restore, then follows status.restore)",
    )
    .argument('<name>', 'the Territory to restore into')
    .option(
      '--backup <object>',
      'the backup to restore, by name (<YYYYMMDDTHHMMSS.mmmZ>.pgdump.enc); default: the latest',
    )
    .option('--before <time>', 'restore the latest backup taken at or before this RFC 3339 time')
    .option(
      '--from-territory <name>',
      "restore another Territory's backups (same destination; this Territory's keyring must open them)",
    )
    .option(
      '--to-time <time>',
      'point-in-time recovery from the physical backups (base backup and WAL) to this RFC 3339 instant',
    )
    .option(
      '--replace-existing-data',
      "confirm that the backup may replace the data the database holds (sets spec.restore.replaceExistingData to the Territory's name)",
    )
    .option('--no-wait', 'write the request and return, without following it')
    .option('--timeout <duration>', 'stop following after this long (the restore goes on), e.g. 30m', '6h')
    .addOption(
      new Option('-o, --output <format>', 'text, json or yaml (status.restore at the end)').default('text'),
    )
    .addHelpText(
      'after',
      '\nExit codes: 0 restored (or, with --no-wait, requested), 1 the restore failed or was refused, 2 it could not run.\n' +
        'A database that already holds tables is only replaced with --replace-existing-data; without it the restore is\n' +
        'refused and nothing changes. Where the Territory is managed by GitOps, write spec.restore in Git instead.',
    )
    .action(
      async (
        name: string,
        o: RestoreOptions & { wait: boolean; timeout: string; output: string },
        command: Command,
      ) => {
        const format = outputFormat(o.output, ['text', 'json', 'yaml'] as const);
        const request = restoreRequest(name, o);
        const timeoutMs = parseDuration(o.timeout);
        const id = restoreRequestId(request);
        const kube = await connect(command.optsWithGlobals<ClusterOptions>());
        try {
          const before = await getTerritory(kube, name);
          for (const line of describeRequest(name, request)) process.stderr.write(`${line}\n`);
          const done = requestStatus(before, id);
          if (done?.phase === 'Succeeded') {
            process.stderr.write(
              'this very request already succeeded; it is not run twice. To restore again, name the backup (--backup, ' +
                'as `territory-backup list` shows it) or a time (--before)\n',
            );
          } else {
            try {
              await kube.mergePatch({ apiVersion: API_VERSION, kind: KIND, name }, restorePatch(request));
            } catch (err) {
              throw explain(err, kube, `writing spec.restore on Territory ${name}`);
            }
          }
          if (!o.wait) return;
          const status =
            done?.phase === 'Succeeded' ? done : await follow(kube, name, id, { timeoutMs, everyMs: 2000 });
          process.stdout.write(
            format === 'text' ? `${status.phase}: ${status.message ?? ''}\n` : formatData(status, format),
          );
          process.exitCode = exitOf(status);
        } finally {
          await kube.close();
        }
      },
    );
}
