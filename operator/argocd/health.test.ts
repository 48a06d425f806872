// Runs the Argo CD health check in a real Lua 5.1 interpreter (Argo CD embeds gopher-lua, a Lua 5.1
// implementation), with the Territory as the global `obj`, exactly as Argo CD calls it.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const SCRIPT = readFileSync(new URL('./health.lua', import.meta.url), 'utf8');
const LUA = process.env.LUA ?? 'lua5.1';

/** JSON value -> Lua literal (strings quoted with %q-compatible escapes). */
function toLua(value: unknown): string {
  if (value === null || value === undefined) return 'nil';
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return `{${value.map(toLua).join(',')}}`;
  return `{${Object.entries(value as Record<string, unknown>)
    .map(([k, v]) => `[${JSON.stringify(k)}]=${toLua(v)}`)
    .join(',')}}`;
}

function health(obj: unknown): { status: string; message: string } {
  const program = `obj = ${toLua(obj)}\nlocal hs = (function()\n${SCRIPT}\nend)()\nio.write(hs.status, "\\n", hs.message or "")`;
  let out: string;
  try {
    out = execFileSync(LUA, ['-'], { input: program, encoding: 'utf8' });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ENOENT')
      throw new Error(
        `${LUA} not found: install Debian's lua5.1 (or set LUA) to test the Argo CD health check`,
      );
    throw err;
  }
  const [status = '', ...message] = out.split('\n');
  return { status, message: message.join('\n') };
}

const cond = (type: string, status: string, reason = 'R', message = 'm') => ({
  type,
  status,
  reason,
  message,
});
const territory = (status: unknown, generation = 2) => ({ metadata: { name: 't', generation }, status });

describe('Argo CD health check', () => {
  it('is Progressing before the operator reports or while a new generation is unobserved', () => {
    expect(health(territory(undefined)).status).toBe('Progressing');
    expect(health(territory({ conditions: [] })).status).toBe('Progressing');
    const old = territory({ observedGeneration: 1, conditions: [cond('Ready', 'True')] });
    expect(health(old)).toEqual({
      status: 'Progressing',
      message: 'Waiting for the operator to observe generation 2',
    });
  });

  it('is Healthy when Ready is True for the current generation', () => {
    const t = territory({
      observedGeneration: 2,
      conditions: [
        cond('Ready', 'True', 'Ready', 'all good'),
        cond('Stalled', 'False'),
        cond('Reconciling', 'False'),
      ],
    });
    expect(health(t)).toEqual({ status: 'Healthy', message: 'Ready: all good' });
  });

  it('is Degraded when Stalled, with the reason to fix', () => {
    const t = territory({
      observedGeneration: 2,
      conditions: [
        cond('Ready', 'False', 'RegionNotEligible', 'x'),
        cond('Stalled', 'True', 'RegionNotEligible', 'node n1 (us-east-1)'),
      ],
    });
    expect(health(t)).toEqual({ status: 'Degraded', message: 'RegionNotEligible: node n1 (us-east-1)' });
  });

  it('is Progressing while Reconciling, and Degraded when not ready for no known reason', () => {
    const progressing = territory({
      observedGeneration: 2,
      conditions: [
        cond('Ready', 'False', 'DatabaseProvisioning'),
        cond('Reconciling', 'True', 'DatabaseProvisioning', 'starting'),
        cond('Stalled', 'False'),
      ],
    });
    expect(health(progressing)).toEqual({ status: 'Progressing', message: 'DatabaseProvisioning: starting' });
    const notReady = territory({
      observedGeneration: 2,
      conditions: [cond('Ready', 'False', 'Broken', 'no idea')],
    });
    expect(health(notReady).status).toBe('Degraded');
  });

  it('is Progressing while the Territory is being deleted', () => {
    const t = {
      metadata: { name: 't', deletionTimestamp: '2026-11-28T10:00:00Z' },
      status: { conditions: [cond('Ready', 'True')] },
    };
    expect(health(t).status).toBe('Progressing');
  });

  it('survives quotes and unicode in messages', () => {
    const t = territory({
      observedGeneration: 2,
      conditions: [cond('Ready', 'True', 'Ready', 'Île-de-France "quoted" \\ ok')],
    });
    expect(health(t).message).toBe('Ready: Île-de-France "quoted" \\ ok');
  });
});
