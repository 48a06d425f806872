import { describe, expect, it } from 'vitest';
import { LABEL_KEY, LABEL_VALUE, type LabelSelector, matchesSelector } from './label-selector.ts';

describe('matchesSelector', () => {
  const labels = { 'sovereign.dev/pilot': 'true', tier: 'silver' };

  it('selects everything with an empty selector', () => {
    expect(matchesSelector({}, undefined)).toBe(true);
    expect(matchesSelector({}, labels)).toBe(true);
  });

  it('needs every matchLabels pair, with its exact value', () => {
    expect(matchesSelector({ matchLabels: { tier: 'silver' } }, labels)).toBe(true);
    expect(matchesSelector({ matchLabels: { tier: 'silver', 'sovereign.dev/pilot': 'true' } }, labels)).toBe(
      true,
    );
    expect(matchesSelector({ matchLabels: { tier: 'gold' } }, labels)).toBe(false);
    expect(matchesSelector({ matchLabels: { region: 'bretagne' } }, labels)).toBe(false);
  });

  it.each<[string, LabelSelector, boolean]>([
    [
      'In, value listed',
      { matchExpressions: [{ key: 'tier', operator: 'In', values: ['gold', 'silver'] }] },
      true,
    ],
    [
      'In, value not listed',
      { matchExpressions: [{ key: 'tier', operator: 'In', values: ['gold'] }] },
      false,
    ],
    ['In, label absent', { matchExpressions: [{ key: 'zone', operator: 'In', values: ['a'] }] }, false],
    [
      'NotIn, value listed',
      { matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['silver'] }] },
      false,
    ],
    [
      'NotIn, value not listed',
      { matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['gold'] }] },
      true,
    ],
    // As in Kubernetes: an object without the label meets NotIn.
    ['NotIn, label absent', { matchExpressions: [{ key: 'zone', operator: 'NotIn', values: ['a'] }] }, true],
    ['Exists', { matchExpressions: [{ key: 'tier', operator: 'Exists' }] }, true],
    ['Exists, label absent', { matchExpressions: [{ key: 'zone', operator: 'Exists' }] }, false],
    ['DoesNotExist', { matchExpressions: [{ key: 'zone', operator: 'DoesNotExist' }] }, true],
    ['DoesNotExist, label present', { matchExpressions: [{ key: 'tier', operator: 'DoesNotExist' }] }, false],
    [
      'all requirements at once, one failing',
      {
        matchLabels: { tier: 'silver' },
        matchExpressions: [{ key: 'sovereign.dev/pilot', operator: 'In', values: ['false'] }],
      },
      false,
    ],
  ])('%s', (_what, selector, expected) => {
    expect(matchesSelector(selector, labels)).toBe(expected);
  });

  it('does not take inherited properties for labels', () => {
    expect(matchesSelector({ matchExpressions: [{ key: 'toString', operator: 'Exists' }] }, {})).toBe(false);
  });
});

describe('label keys and values', () => {
  it('are what Kubernetes accepts', () => {
    for (const key of ['tier', 'sovereign.dev/pilot', 'a.b-c/D_e.f', 'x'.repeat(63)])
      expect(LABEL_KEY.test(key), key).toBe(true);
    for (const key of ['', '/tier', 'a b', '-tier', 'Sovereign.dev/x', 'x'.repeat(64)])
      expect(LABEL_KEY.test(key), key).toBe(false);
    for (const value of ['', 'true', 'a-b_c.d', 'x'.repeat(63)])
      expect(LABEL_VALUE.test(value), value).toBe(true);
    for (const value of ['-a', 'a-', 'a b', 'x'.repeat(64)])
      expect(LABEL_VALUE.test(value), value).toBe(false);
  });
});
