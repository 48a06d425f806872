// The chaos report: JSON (everything measured) and Markdown (what a reviewer reads): kills survived,
// faults injected and recovered, bad inputs tried, isolation checks passed, losses (must be zero).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface ChaosReport {
  startedAt: string;
  finishedAt?: string;
  seed: number;
  options: Record<string, unknown>;
  environment: Record<string, unknown>;
  phases: Record<string, Record<string, unknown>>;
  failures: string[];
}

type Any = Record<string, unknown>;
const n = (value: unknown) => (typeof value === 'number' ? value : Array.isArray(value) ? value.length : 0);
const s = (ms: unknown) => (typeof ms === 'number' ? `${(ms / 1000).toFixed(1)} s` : '?');

function lines(report: ChaosReport): string[] {
  const out: string[] = [];
  const p = report.phases;
  out.push('# Chaos report: Territory operator', '');
  out.push(`- started ${report.startedAt}, finished ${report.finishedAt ?? '?'}, seed \`${report.seed}\``);
  out.push(
    `- environment: ${Object.entries(report.environment)
      .map(([k, v]) => `${k} ${JSON.stringify(v)}`)
      .join('; ')}`,
  );
  out.push(
    `- result: ${report.failures.length === 0 ? '**all invariants held, zero losses**' : `**${report.failures.length} FAILURE(S)**`}`,
    '',
  );

  out.push('## Summary', '', '| what | result |', '|---|---|');
  const crash = p.crash as Any | undefined;
  if (crash) {
    const check = crash.check as Any | undefined;
    out.push(
      `| operator SIGKILLs survived (crash anywhere) | ${n(crash.kills)} kills, ${n(crash.territories)} Territories, ${n(crash.edits)} spec edits; converged ${n(check?.converged)}/${n(check?.territories)} ${s(crash.convergedAfterLastKillMs)} after the last kill |`,
    );
    out.push(
      `| invariant violations after kills (duplicates, orphans, owners, keys) | ${n(check?.violations)} |`,
    );
    const requests = crash.requests as Any | undefined;
    out.push(
      `| idle after convergence (one resync period) | ${n(crash.idleReconciles)} reconciles, ${n(crash.idleWrites)} writes; requests during the phase: peak ${n(requests?.peakPerSecond)}/s over 1 s, ${n(requests?.sustainedPeakPerSecond)}/s over 5 s, mean ${Number(requests?.perSecond ?? 0).toFixed(1)}/s |`,
    );
  }
  const faults = p.faults as Any | undefined;
  if (faults) {
    for (const f of (faults.faults as Any[] | undefined) ?? []) {
      out.push(
        `| fault: ${f.name} | ${f.recovered ? 'recovered' : '**NOT recovered**'} in ${s(f.recoveryMs)}; operator restarted: ${f.operatorRestarted ? '**yes**' : 'no'}; requests peak ${f.peakRequestsPerSecond}/s over 1 s, ${f.sustainedPeakPerSecond}/s over 5 s, mean ${Number(f.requestsPerSecond ?? 0).toFixed(1)}/s (baseline ${Number(f.baselinePerSecond ?? 0).toFixed(1)}/s) |`,
      );
    }
  }
  const failover = p.failover as Any | undefined;
  if (failover) {
    const takeovers = ((failover.takeovers as Any[] | undefined) ?? []).map((t) => Number(t.takeoverMs));
    const max = takeovers.length ? Math.max(...takeovers) : 0;
    const mean = takeovers.length ? takeovers.reduce((a, b) => a + b, 0) / takeovers.length : 0;
    out.push(
      `| leader failovers (two replicas, leader SIGKILLed) | ${takeovers.length}; takeover mean ${s(mean)}, max ${s(max)}; samples with two leaders: ${n(failover.doubleLeaderSamples)}; writes from a standby: ${n(failover.standbyWrites)} |`,
    );
    if (failover.pause) {
      const pause = failover.pause as Any;
      out.push(
        `| paused leader (SIGSTOP past its lease, then SIGCONT) | takeover ${s(pause.takeoverMs)}; writes by the paused leader after the takeover: ${n(pause.writesAfterTakeover)}; it exited: ${pause.exited ? 'yes' : 'no'} |`,
      );
    }
  }
  const collisions = p.collisions as Any | undefined;
  if (collisions) {
    out.push(
      `| namespace collisions refused, existing namespace untouched | ${n(collisions.refused)}/${n(collisions.cases)} (races: ${n(collisions.races)}) |`,
    );
  }
  const bad = p['bad-input'] as Any | undefined;
  if (bad) {
    out.push(
      `| bad inputs sent to the API server | ${n(bad.tried)} tried: ${n(bad.rejectedByApiServer)} refused at admission, ${n(bad.acceptedInvalidSpec)} accepted then marked InvalidSpec, ${n(bad.acceptedReconciled)} valid; operator restarts: ${n(bad.operatorRestarts)} |`,
    );
    out.push(
      `| valid generated Territories accepted by the API server | ${n(bad.validAccepted)}/${n(bad.validTried)} |`,
    );
  }
  const secrets = p.secrets as Any | undefined;
  if (secrets) {
    out.push(
      `| secrets grep (logs, Events, status, metrics) | ${n(secrets.secretValues)} secret values × ${n(secrets.haystacks)} captured items (${n(secrets.logLines)} log lines, ${n(secrets.events)} Events, ${n(secrets.territories)} Territory objects, ${n(secrets.metricsTexts)} metrics pages): ${n(secrets.hits)} hits |`,
    );
  }
  const suites = p.suites as Any | undefined;
  if (suites) {
    for (const suite of (suites.suites as Any[] | undefined) ?? []) {
      out.push(
        `| ${suite.name} | ${n(suite.passed)}/${n(suite.total)} passed${suite.failed ? `, **${suite.failed} failed**` : ''} |`,
      );
    }
  }
  out.push('', '## Failures', '');
  if (report.failures.length === 0) out.push('None.');
  for (const f of report.failures) out.push(`- ${f.replace(/\n/g, ' ').slice(0, 1000)}`);
  out.push(
    '',
    '## Details',
    '',
    'Every measurement is in `report.json`; each operator process log is beside it.',
  );
  return out;
}

export function writeReport(dir: string, report: ChaosReport): { json: string; markdown: string } {
  const json = join(dir, 'report.json');
  const markdown = join(dir, 'report.md');
  writeFileSync(json, `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(markdown, `${lines(report).join('\n')}\n`);
  return { json, markdown };
}
