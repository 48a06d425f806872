// Helpers for integration tests running against the shared control plane of the global set-up.
import { randomBytes } from 'node:crypto';
import { ApiException, KubeConfig, type KubernetesObject, Watch } from '@kubernetes/client-node';
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
  /** What is awaited, for the failure message: "namespace x to be deleted" (a function is read at failure time). */
  what: string | (() => string);
  timeoutMs?: number;
  intervalMs?: number;
}

/**
 * Background machinery a test depends on (the in-process operator of support/operator.ts) that can fail
 * while the test waits. Each probe answers the failure to report, or undefined while all is well.
 */
const failureProbes = new Set<() => Error | undefined>();

/**
 * Registers a probe that every waitFor consults on each poll: once it answers an error, waitFor throws
 * that error at once instead of polling on until its timeout. Returns the unregistering function.
 */
export function failWaitsWhen(probe: () => Error | undefined): () => void {
  failureProbes.add(probe);
  return () => failureProbes.delete(probe);
}

function backgroundFailure(): Error | undefined {
  for (const probe of failureProbes) {
    const failure = probe();
    if (failure) return failure;
  }
  return undefined;
}

/**
 * Polls `check` until it returns something other than undefined/null/false, and returns that.
 * Errors thrown by `check` count as "not yet" (the API may be briefly unavailable); on timeout
 * the failure names what was awaited, with the last error or value seen. A failure of the background
 * machinery (a crashed in-process operator, see failWaitsWhen) is thrown at the next poll: what it
 * would have done will never come.
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
    const failure = backgroundFailure();
    if (failure) throw failure;
    try {
      const value = await check();
      if (value !== undefined && value !== null && value !== false) return value;
      last = `last result: ${String(value)}`;
    } catch (error) {
      last = `last error: ${error instanceof Error ? error.message : String(error)}`;
    }
    const elapsed = Date.now() - started;
    if (elapsed >= timeoutMs) {
      throw (
        backgroundFailure() ??
        new Error(
          `Timed out after ${elapsed}ms waiting for ${typeof options.what === 'function' ? options.what() : options.what} (${last})`,
        )
      );
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

export interface OpenWatch {
  /** Why the stream ended (error or 'closed'), undefined while it runs. */
  ended(): unknown;
  stop(): void;
}

/**
 * Opens a watch and resolves once the server has accepted it (HTTP 200), so that anything
 * done afterwards is seen. A 429 is retried: a watch on a just-established CRD is refused until
 * its watch cache is initialised (KEP-4568), as any real client must expect.
 */
export async function openWatch(
  kubeconfig: KubeConfig,
  path: string,
  onEvent: (phase: string, object: KubernetesObject) => void,
  options: { timeoutMs?: number } = {},
): Promise<OpenWatch> {
  return waitFor(
    async () => {
      let ended: unknown;
      const controller = await new Watch(kubeconfig).watch(path, {}, onEvent, (error: unknown) => {
        ended = error ?? 'closed';
      });
      if (ended === undefined) return { ended: () => ended, stop: () => controller.abort() };
      const status = (ended as { statusCode?: number }).statusCode;
      if (status === 429) return undefined;
      throw new Error(`watch on ${path} failed: ${String(ended)}${status ? ` (HTTP ${status})` : ''}`);
    },
    {
      what: `the server to accept a watch on ${path}`,
      timeoutMs: options.timeoutMs ?? 30_000,
      intervalMs: 500,
    },
  );
}
