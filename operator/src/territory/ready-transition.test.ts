import { describe, expect, it } from 'vitest';
import type { Condition } from '../api/territory.ts';
import { readyTransitionEvent } from './ready-transition.ts';

const at = '2026-01-01T00:00:00Z';
const ready = (status: Condition['status'], reason: string, message = `${reason} message`): Condition => ({
  type: 'Ready',
  status,
  reason,
  message,
  lastTransitionTime: at,
});
const stalled = (status: Condition['status']): Condition => ({
  type: 'Stalled',
  status,
  reason: status === 'True' ? 'Stuck' : 'Progressing',
  message: '',
  lastTransitionTime: at,
});

describe('readyTransitionEvent', () => {
  it('says nothing when Ready keeps its status and reason, whatever its message', () => {
    expect(readyTransitionEvent([ready('False', 'A', 'one')], [ready('False', 'A', 'two')])).toBeUndefined();
  });

  it('is Normal Ready when Ready becomes True', () => {
    expect(readyTransitionEvent([ready('False', 'Waiting')], [ready('True', 'Serving', 'up')])).toEqual({
      type: 'Normal',
      reason: 'Ready',
      message: 'up',
    });
  });

  it('is a Warning with the new reason when Ready falls or changes reason', () => {
    expect(readyTransitionEvent([ready('True', 'Serving')], [ready('False', 'Broken', 'why')])).toEqual({
      type: 'Warning',
      reason: 'Broken',
      message: 'why',
    });
    expect(readyTransitionEvent([ready('False', 'A')], [ready('False', 'B')])?.reason).toBe('B');
  });

  it('keeps quiet on a first status that is only converging, not on one already stalled', () => {
    expect(readyTransitionEvent([], [ready('False', 'Creating'), stalled('False')])).toBeUndefined();
    expect(readyTransitionEvent([], [ready('False', 'Stuck'), stalled('True')])?.type).toBe('Warning');
    expect(readyTransitionEvent([], [ready('True', 'Serving')])?.reason).toBe('Ready');
  });
});
