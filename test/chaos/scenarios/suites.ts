// The fast parts of issue 8 that live in `npm test`, run again here so one report holds everything:
// the property tests (bad input against the schema and the builders) and the isolation and
// secrets-in-output integration tests (hostile tenants against the real API server; they start
// their own control plane through vitest's global set-up).
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ChaosContext } from '../lib/context.ts';

interface VitestJson {
  numTotalTests: number;
  numPassedTests: number;
  numFailedTests: number;
  testResults: {
    name: string;
    assertionResults: { fullName: string; status: string; failureMessages: string[] }[];
  }[];
}

async function vitest(ctx: ChaosContext, name: string, args: string[]): Promise<Record<string, unknown>> {
  const output = join(ctx.options.outDir, `${name.replace(/\W+/g, '-')}.json`);
  const vitestBin = join(process.cwd(), 'node_modules', 'vitest', 'vitest.mjs');
  const code = await new Promise<number>((resolveCode) => {
    const child = spawn(
      process.execPath,
      [vitestBin, 'run', ...args, '--reporter=json', `--outputFile=${output}`],
      {
        stdio: ['ignore', 'ignore', 'inherit'],
      },
    );
    child.on('exit', (c) => resolveCode(c ?? 1));
  });
  let result: VitestJson;
  try {
    result = JSON.parse(readFileSync(output, 'utf8')) as VitestJson;
  } catch {
    return {
      name,
      total: 0,
      passed: 0,
      failed: 1,
      exitCode: code,
      failures: [`${name}: no result (exit ${code})`],
    };
  }
  const failed = result.testResults.flatMap((file) =>
    file.assertionResults
      .filter((a) => a.status === 'failed')
      .map((a) => `${a.fullName}: ${(a.failureMessages[0] ?? '').slice(0, 300)}`),
  );
  ctx.log(`suites: ${name}: ${result.numPassedTests}/${result.numTotalTests} passed`);
  return {
    name,
    total: result.numTotalTests,
    passed: result.numPassedTests,
    failed: result.numFailedTests,
    exitCode: code,
    failures: failed,
  };
}

export async function runTestSuites(
  ctx: ChaosContext,
): Promise<{ failures: string[] } & Record<string, unknown>> {
  const suites = [
    await vitest(ctx, 'property tests (schema and builders, fast-check)', [
      '--project',
      'unit',
      'property.test',
    ]),
    await vitest(ctx, 'isolation and secrets integration tests (real API server)', [
      '--project',
      'integration',
      'isolation-',
      'secrets-',
    ]),
  ];
  const failures = suites.flatMap((s) => (s.failures as string[]).map((f) => `${s.name}: ${f}`));
  for (const s of suites) if (s.total === 0) failures.push(`${s.name}: no test ran`);
  return { suites, failures };
}
