import type { BackoffOptions } from './types.ts';

/** Random source in [0, 1); injected so tests are deterministic. */
export type Random = () => number;

/**
 * Exponential backoff with bounded jitter: attempt 0 waits ~base, each further attempt multiplies by
 * `factor`, never beyond `max`. Jitter spreads the delay over [d*(1-jitter), d] so that many keys failing
 * together (an API server restart) do not retry in lock-step, while the cap stays a hard upper bound.
 */
export function backoffDelay(options: BackoffOptions, attempt: number, random: Random = Math.random): number {
  const factor = options.factor ?? 2;
  const jitter = Math.min(1, Math.max(0, options.jitter ?? 0.2));
  const exp = options.baseMs * factor ** Math.max(0, attempt);
  const capped = Math.min(options.maxMs, Number.isFinite(exp) ? exp : options.maxMs);
  return Math.round(capped * (1 - jitter * random()));
}

/** Spreads a period by ±fraction (resyncs of many controllers must not align). */
export function jittered(periodMs: number, fraction: number, random: Random = Math.random): number {
  return Math.round(periodMs * (1 + fraction * (2 * random() - 1)));
}
