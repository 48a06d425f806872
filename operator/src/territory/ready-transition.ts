// When a change of the Ready condition is news worth an Event: for a Territory and for a DatabasePool
// alike, so that both speak to people the same way. Pure.
import type { Condition } from '../api/territory.ts';
import type { EventInput } from '../runtime/types.ts';

/** The Event a Ready transition deserves, or undefined when status alone says enough. */
export function readyTransitionEvent(before: Condition[], after: Condition[]): EventInput | undefined {
  const was = before.find((c) => c.type === 'Ready');
  const is = after.find((c) => c.type === 'Ready');
  if (!is || (was?.status === is.status && was?.reason === is.reason)) return undefined;
  // A first status that says "still converging" is not news: status shows it. An event is for a
  // change, for reaching Ready, or for a first status that is already stuck (Stalled).
  const stalled = after.find((c) => c.type === 'Stalled')?.status === 'True';
  if (!was && is.status !== 'True' && !stalled) return undefined;
  return {
    type: is.status === 'True' ? 'Normal' : 'Warning',
    reason: is.status === 'True' ? 'Ready' : is.reason,
    message: is.message,
  };
}
