import { describe, expect, it } from 'vitest';
import { HealthServer } from './health.ts';

// The HTTP side is exercised against a running manager in test/integration/runtime-manager.test.ts.
describe('HealthServer.evaluate', () => {
  it('passes when every check passes', () => {
    const checks = new Map<string, () => boolean | undefined>([
      ['ping', () => true],
      ['none', () => undefined],
    ]);
    expect(HealthServer.evaluate(checks)).toEqual({ ok: true, lines: ['[+]ping ok', '[+]none ok'] });
  });

  it('fails naming the failing check and its reason', () => {
    const checks = new Map<string, () => boolean | string>([
      ['ping', () => true],
      ['informers', () => 'Territory cache not synced'],
      ['flag', () => false],
    ]);
    expect(HealthServer.evaluate(checks)).toEqual({
      ok: false,
      lines: ['[+]ping ok', '[-]informers failed: Territory cache not synced', '[-]flag failed: not ok'],
    });
  });

  it('treats a throwing check as a failure', () => {
    const checks = new Map([
      [
        'boom',
        () => {
          throw new Error('kaput');
        },
      ],
    ]);
    expect(HealthServer.evaluate(checks)).toEqual({ ok: false, lines: ['[-]boom failed: kaput'] });
  });
});
