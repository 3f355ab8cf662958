// The shared Stryker configuration behind `nx run <project>:mutate` (scripts/mutate.sh). Each mutated
// project has a stryker.config.mjs that names what to mutate; everything else is here. Stryker runs
// from the workspace root so that the sandbox holds the whole workspace: the projects' vitest
// configs import ../../vitest.shared.ts and the tests' setup files, which a sandbox of one project
// would not have. docs/mutation.md says how and when to run it.
import { basename } from 'node:path';

/**
 * @param {{ project: string; mutate: string[]; vitestConfig?: string; name?: string }} p project root
 *   (e.g. 'libs/zo'), the files or line ranges to mutate, relative to the workspace root, the vitest
 *   config to run (default: the project's vitest.config.ts; another one can leave out specs that never
 *   reach the mutated code but cost minutes per run), and the name of the reports (default: the
 *   project's directory name; a second config of a project, stryker.<part>.config.mjs, names its own)
 * @returns {import('@stryker-mutator/api/core').PartialStrykerOptions}
 */
export function strykerConfig({ project, mutate, vitestConfig = `${project}/vitest.config.ts`, name = basename(project) }) {
  return {
    testRunner: 'vitest',
    vitest: { configFile: vitestConfig, dir: project },
    // mutants that do not typecheck are not tests' business: the checker sets them aside
    // (CompileError) instead of letting esbuild run them and count them as survivors
    checkers: ['typescript'],
    tsconfigFile: `${project}/tsconfig.json`,
    typescriptChecker: { prioritizePerformanceOverAccuracy: true },
    mutate: [...mutate, '!**/*.spec.ts', '!**/*.testkit.ts', '!**/testing/**'],
    coverageAnalysis: 'perTest',
    // the machine is shared: one test process, one checker
    concurrency: 1,
    // added to 1.5 × the mutant's tests' time in the dry run: a mutant that hangs a server costs this much
    timeoutMS: 15_000,
    // re-runs test only the mutants whose code or covering tests changed since the last run
    incremental: true,
    incrementalFile: `reports/mutation/${name}.incremental.json`,
    reporters: ['clear-text', 'progress', 'json'],
    jsonReporter: { fileName: `reports/mutation/${name}.json` },
    clearTextReporter: { allowColor: false, logTests: false, reportScoreTable: true },
    // not needed by any test, and large: kept out of the sandbox copy
    ignorePatterns: ['/docs', '/bench', '/data', '/runs', '/reports', '/.nx', '**/dist'],
    tempDirName: '.stryker-tmp',
    cleanTempDir: 'always',
    thresholds: { high: 90, low: 80, break: null },
  };
}
