import { defineConfig } from 'vitest/config';
import { DisasterRecoveryLast } from './test/e2e/sequencer.ts';

// The e2e suite (`npm run test:e2e`): one cluster with a real node for the whole run, started by the
// global set-up; not part of `npm test`. Files run one at a time: they share one small node.
export default defineConfig({
  test: {
    name: 'e2e',
    include: ['test/e2e/**/*.test.ts'],
    environment: 'node',
    globalSetup: ['test/e2e/global-setup.ts'],
    testTimeout: 900_000,
    hookTimeout: 900_000,
    fileParallelism: false,
    // The disaster-recovery test stops the suite's cluster: it runs after every other file.
    sequence: { sequencer: DisasterRecoveryLast },
  },
});
