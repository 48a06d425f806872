// Helpers for integration tests running against the shared control plane of the global set-up.
import { randomBytes } from 'node:crypto';
import { ApiException, KubeConfig } from '@kubernetes/client-node';
import { inject } from 'vitest';

/** A KubeConfig for the admin of the control plane started by test/setup/global-setup.ts. */
export function testKubeConfig(): KubeConfig {
  const kubeconfig = new KubeConfig();
  kubeconfig.loadFromFile(inject('kubeconfigPath'));
  return kubeconfig;
}

/**
 * A DNS-1123 label unique to this call (test files share one cluster and run in parallel):
 * `<prefix>-<8 random hex>`, the prefix lower-cased and cut so the result fits 63 characters.
 */
export function uniqueName(prefix: string): string {
  const suffix = randomBytes(4).toString('hex');
  const cleaned = prefix
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 63 - suffix.length - 1)
    .replace(/-+$/, '');
  return cleaned ? `${cleaned}-${suffix}` : `t-${suffix}`;
}

export interface WaitForOptions {
  /** What is awaited, for the failure message: "namespace x to be deleted". */
  what: string;
  timeoutMs?: number;
  intervalMs?: number;
}

/**
 * Polls `check` until it returns something other than undefined/null/false, and returns that.
 * Errors thrown by `check` count as "not yet" (the API may be briefly unavailable); on timeout
 * the failure names what was awaited, with the last error or value seen.
 */
export async function waitFor<T>(
  check: () => Promise<T | undefined | null | false> | T | undefined | null | false,
  options: WaitForOptions,
): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const intervalMs = options.intervalMs ?? 200;
  const started = Date.now();
  let last = 'no attempt finished';
  while (true) {
    try {
      const value = await check();
      if (value !== undefined && value !== null && value !== false) return value;
      last = `last result: ${String(value)}`;
    } catch (error) {
      last = `last error: ${error instanceof Error ? error.message : String(error)}`;
    }
    const elapsed = Date.now() - started;
    if (elapsed >= timeoutMs) {
      throw new Error(`Timed out after ${elapsed}ms waiting for ${options.what} (${last})`);
    }
    await new Promise((resolveSleep) => setTimeout(resolveSleep, Math.min(intervalMs, timeoutMs - elapsed)));
  }
}

/** True for the API's 404: the object does not exist (any more). */
export function isNotFound(error: unknown): boolean {
  return error instanceof ApiException && error.code === 404;
}

/** Resolves true once reading the object answers 404; rethrows any other error. */
export async function isGone(read: () => Promise<unknown>): Promise<boolean> {
  try {
    await read();
    return false;
  } catch (error) {
    if (isNotFound(error)) return true;
    throw error;
  }
}
