// Polling with a deadline, for the chaos suite (a plain Node script: no test runner helpers).

export async function waitFor<T>(
  check: () => Promise<T | undefined | null | false> | T | undefined | null | false,
  options: { what: string; timeoutMs?: number; intervalMs?: number },
): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const started = Date.now();
  let last = 'no attempt finished';
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== null && value !== false) return value;
      last = `last result: ${String(value)}`;
    } catch (error) {
      last = `last error: ${(error as Error).message}`;
    }
    if (Date.now() - started >= timeoutMs) {
      throw new Error(`timed out after ${Date.now() - started} ms waiting for ${options.what} (${last})`);
    }
    await new Promise((r) => setTimeout(r, options.intervalMs ?? 250));
  }
}
