// The in-process operator the integration tests run (test/support/operator.ts) surfaces its own crash:
// a test waiting for something the operator would do fails at once with the crash's error, and stop()
// rejects with it. Before, the crash was swallowed and the test only timed out, naming what it waited
// for and not why it would never come.
import { createServer, type Server } from 'node:net';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { uniqueName, waitFor } from '../support/kube.ts';
import { startTestOperator } from '../support/operator.ts';

const servers: Server[] = [];
afterAll(async () => {
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
});

/** A port held by someone else, on the address the operator's health server binds. */
async function takenPort(): Promise<number> {
  const server = createServer();
  servers.push(server);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '0.0.0.0', () => resolve());
  });
  return (server.address() as { port: number }).port;
}

describe('the test operator', () => {
  it('fails a waiting test at once with its crash, not with a timeout', async () => {
    // Its health port is taken: the operator's start() rejects (EADDRINUSE) once it is under way.
    const op = await startTestOperator({
      kubeconfigPath: inject('kubeconfigPath'),
      shard: uniqueName('crash'),
      healthPort: await takenPort(),
    });
    const waiting = Date.now();
    const failure = await waitFor(() => false, {
      what: 'something the operator would have done',
      timeoutMs: 60_000,
    }).then(
      () => undefined,
      (error: unknown) => error as Error,
    );
    const waited = Date.now() - waiting;
    expect(failure?.message).toMatch(/test operator .* crashed: .*EADDRINUSE/);
    expect(failure?.message).not.toMatch(/Timed out/);
    expect(waited, 'the crash is reported within a few polls').toBeLessThan(10_000);
    expect(op.crash()).toBe(failure);
    // Stopping it reports the crash too: an afterAll's stop() never hides it.
    await expect(op.stop()).rejects.toThrow(/EADDRINUSE/);
  });
});
