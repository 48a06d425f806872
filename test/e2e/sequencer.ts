// The e2e files' order: vitest's own (failed first, then slowest), except that the disaster-recovery
// test comes last, because it stops the suite's cluster to start another.
import { BaseSequencer, type TestSpecification } from 'vitest/node';

const LAST = /disaster-recovery\.test\.ts$/;

export class DisasterRecoveryLast extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    return [...sorted.filter((f) => !LAST.test(f.moduleId)), ...sorted.filter((f) => LAST.test(f.moduleId))];
  }
}
