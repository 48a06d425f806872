import { describe, expect, it } from 'vitest';
import { parseTerritory, restoreRequestId } from '../../api/territory.ts';
import { mergePatch, minimalTerritory } from '../../api/test-fixtures.ts';
import { CliError, EXIT } from './errors.ts';
import { describeRequest, exitOf, requestStatus, restorePatch, restoreRequest } from './restore.ts';

const usage = (fn: () => unknown) => {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(CliError);
    return (e as CliError).exitCode;
  }
  throw new Error('no error');
};

describe('territoryctl restore', () => {
  it('asks for the latest backup by default, and fills the confirmation with the Territory name', () => {
    expect(restoreRequest('rennes', {})).toEqual({ from: 'LogicalBackup' });
    expect(
      restoreRequest('rennes', {
        before: '2026-11-01T03:00:00Z',
        fromTerritory: 'rennes-ancien',
        replaceExistingData: true,
      }),
    ).toEqual({
      from: 'LogicalBackup',
      before: '2026-11-01T03:00:00Z',
      sourceTerritory: 'rennes-ancien',
      replaceExistingData: 'rennes',
    });
    const lines = describeRequest('rennes', restoreRequest('rennes', { replaceExistingData: true }));
    expect(lines[1]).toContain('spec.restore.replaceExistingData is set to "rennes"');
  });

  it('refuses what the API server would refuse, as a usage error (exit 2)', () => {
    expect(
      usage(() =>
        restoreRequest('r', { backup: '20261101T020000.000Z.pgdump.enc', before: '2026-11-01T03:00:00Z' }),
      ),
    ).toBe(EXIT.usage);
    expect(usage(() => restoreRequest('r', { backup: 'latest' }))).toBe(EXIT.usage);
    expect(usage(() => restoreRequest('r', { before: 'yesterday' }))).toBe(EXIT.usage);
    expect(usage(() => restoreRequest('r', { fromTerritory: 'Rennes' }))).toBe(EXIT.usage);
  });

  it('asks for a point-in-time recovery with --to-time, alone or confirmed, and says what it replaces', () => {
    expect(restoreRequest('rennes', { toTime: '2026-11-01T03:00:00Z', replaceExistingData: true })).toEqual({
      from: 'PointInTime',
      targetTime: '2026-11-01T03:00:00Z',
      replaceExistingData: 'rennes',
    });
    expect(usage(() => restoreRequest('r', { toTime: 'now' }))).toBe(EXIT.usage);
    expect(
      usage(() => restoreRequest('r', { toTime: '2026-11-01T03:00:00Z', before: '2026-11-01T03:00:00Z' })),
    ).toBe(EXIT.usage);
    expect(usage(() => restoreRequest('r', { toTime: '2026-11-01T03:00:00Z', fromTerritory: 'x' }))).toBe(
      EXIT.usage,
    );
    const request = restoreRequest('rennes', { toTime: '2026-11-01T03:00:00Z', replaceExistingData: true });
    expect(restorePatch(request).spec).toEqual({
      restore: {
        from: 'PointInTime',
        backup: null,
        before: null,
        sourceTerritory: null,
        targetTime: '2026-11-01T03:00:00Z',
        replaceExistingData: 'rennes',
      },
    });
    expect(describeRequest('rennes', request).join('\n')).toMatch(
      /recovering Territory rennes to 2026-11-01T03:00:00Z.*\n.*deleted and re-created/,
    );
  });

  it('writes exactly the request: a field of an earlier request is removed, and the result parses', () => {
    const request = restoreRequest('rennes', { backup: '20261101T020000.000Z.pgdump.enc' });
    const patch = restorePatch(request);
    expect(patch).toEqual({
      spec: {
        restore: {
          from: 'LogicalBackup',
          backup: '20261101T020000.000Z.pgdump.enc',
          before: null,
          sourceTerritory: null,
          targetTime: null,
          replaceExistingData: null,
        },
      },
    });
    const earlier = mergePatch(minimalTerritory('rennes'), {
      spec: {
        restore: { from: 'LogicalBackup', before: '2026-01-01T00:00:00Z', replaceExistingData: 'rennes' },
      },
    });
    const parsed = parseTerritory(mergePatch(earlier, patch as never));
    expect(parsed.ok && parsed.territory.spec.restore).toEqual(request);
    expect(parsed.ok && restoreRequestId(parsed.territory.spec.restore ?? request)).toBe(
      restoreRequestId(request),
    );
  });

  it('follows its own request only, and exits 0 on success, 1 on a failure or a refusal', () => {
    const territory = {
      metadata: { name: 'rennes' },
      status: { restore: { request: 'abc', phase: 'Refused' } },
    };
    expect(requestStatus(territory as never, 'other')).toBeUndefined();
    expect(requestStatus(territory as never, 'abc')?.phase).toBe('Refused');
    expect(exitOf({ request: 'abc', phase: 'Refused' })).toBe(EXIT.failure);
    expect(exitOf({ request: 'abc', phase: 'Failed' })).toBe(EXIT.failure);
    expect(exitOf({ request: 'abc', phase: 'Succeeded' })).toBe(EXIT.ok);
  });
});
