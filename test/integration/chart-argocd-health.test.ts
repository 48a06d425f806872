// The chart's Argo CD health check for Territory, run in gopher-lua (the Lua VM Argo CD embeds, built from
// its Go module at the version Argo CD uses) against Territory objects as the operator writes them.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureGluaBinary } from '../helm/build.ts';
import { CHART_DIR } from '../helm/chart.ts';

const exec = promisify(execFile);
const SCRIPT = readFileSync(join(CHART_DIR, 'argocd', 'territory-health.lua'), 'utf8');
let glua = '';

/** A JSON value as a Lua table constructor (what Argo CD hands the script as `obj`). */
function toLua(value: unknown): string {
  if (value === null || value === undefined) return 'nil';
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return `{${value.map(toLua).join(', ')}}`;
  const entries = Object.entries(value as Record<string, unknown>).map(
    ([k, v]) => `[${JSON.stringify(k)}] = ${toLua(v)}`,
  );
  return `{${entries.join(', ')}}`;
}

async function health(obj: unknown): Promise<{ status: string; message: string }> {
  // The script's body becomes a function, as Argo CD runs it; its result is printed tab-separated.
  const program = `obj = ${toLua(obj)}\nlocal function check()\n${SCRIPT}\nend\nlocal hs = check()\nio.write(hs.status, "\\t", hs.message or "")\n`;
  const { stdout } = await exec(glua, ['-e', program]);
  const [status = '', message = ''] = stdout.split('\t');
  return { status, message };
}

const condition = (type: string, status: string, reason: string, message = '') => ({
  type,
  status,
  reason,
  message,
  lastTransitionTime: '2026-01-01T00:00:00Z',
});
const territory = (status?: Record<string, unknown>, generation = 2) => ({
  apiVersion: 'sovereign.dev/v1alpha1',
  kind: 'Territory',
  metadata: { name: 'acigne', generation },
  ...(status ? { status } : {}),
});

beforeAll(async () => {
  glua = await ensureGluaBinary();
}, 600_000);

describe('the Argo CD health check for Territory', () => {
  it('is Progressing until the operator reports on the latest generation', async () => {
    expect((await health(territory())).status).toBe('Progressing');
    const stale = territory({ observedGeneration: 1, conditions: [condition('Ready', 'True', 'Ready')] });
    expect(await health(stale)).toEqual({
      status: 'Progressing',
      message: 'Waiting for the operator to observe generation 2',
    });
    expect(await health(territory({ conditions: [] }))).toEqual({
      status: 'Progressing',
      message: 'Waiting for the Territory operator to report',
    });
  });

  it('is Progressing while the Territory is being deleted, whatever its conditions say', async () => {
    const deleting = {
      ...territory({ observedGeneration: 2, conditions: [condition('Ready', 'True', 'Ready')] }),
      metadata: { name: 'acigne', generation: 2, deletionTimestamp: '2026-11-28T10:00:00Z' },
    };
    expect((await health(deleting)).status).toBe('Progressing');
  });

  it('passes quotes, backslashes and accents in messages through unchanged', async () => {
    const t = territory({
      observedGeneration: 2,
      conditions: [condition('Ready', 'True', 'Ready', 'Île-de-France "quoted" \\ ok')],
    });
    expect((await health(t)).message).toBe('Ready: Île-de-France "quoted" \\ ok');
  });

  it('is Healthy when Ready, Progressing while Reconciling, Degraded when Stalled or not Ready', async () => {
    const ready = territory({
      observedGeneration: 2,
      conditions: [
        condition('Ready', 'True', 'Ready', 'all parts ready'),
        condition('Reconciling', 'False', 'Ready'),
      ],
    });
    expect(await health(ready)).toEqual({ status: 'Healthy', message: 'Ready: all parts ready' });

    const reconciling = territory({
      observedGeneration: 2,
      conditions: [
        condition('Ready', 'False', 'DatabaseNotReady'),
        condition('Reconciling', 'True', 'DatabaseStarting', 'CloudNativePG is starting 2 instances'),
      ],
    });
    expect(await health(reconciling)).toEqual({
      status: 'Progressing',
      message: 'DatabaseStarting: CloudNativePG is starting 2 instances',
    });

    const stalled = territory({
      observedGeneration: 2,
      conditions: [
        condition('Ready', 'False', 'SovereigntyNotMet'),
        condition('Stalled', 'True', 'SovereigntyNotMet', 'node n1 is not in a French region'),
      ],
    });
    expect(await health(stalled)).toEqual({
      status: 'Degraded',
      message: 'SovereigntyNotMet: node n1 is not in a French region',
    });

    const notReady = territory({
      observedGeneration: 2,
      conditions: [condition('Ready', 'False', 'BackupFailed', 'last backup failed')],
    });
    expect(await health(notReady)).toEqual({
      status: 'Degraded',
      message: 'BackupFailed: last backup failed',
    });
  });
});
