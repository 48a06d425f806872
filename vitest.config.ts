import { defineConfig } from 'vitest/config';

// Two projects: `unit` tests pure code with no I/O; `integration` talks to a real
// kube-apiserver + etcd + kube-controller-manager started once per run by the global set-up.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['operator/**/*.test.ts', 'infra/**/*.test.ts', 'test/node/**/*.test.ts'],
          environment: 'node',
          // Unit tests run first: a broken builder should fail fast, before a control plane starts.
          sequence: { groupOrder: 0 },
          // Property tests draw hundreds of cases; 5 s (the default) is too short on a loaded 2-core machine.
          testTimeout: 30_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          environment: 'node',
          sequence: { groupOrder: 1 },
          globalSetup: ['test/setup/global-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 300_000,
          // One control plane is shared: files run in parallel, isolated by unique names.
          fileParallelism: true,
          maxWorkers: 2,
        },
      },
    ],
  },
});
