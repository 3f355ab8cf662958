import { Command } from 'commander';
import { registerBenchForward } from './bench-forward';
import { registerBenchHeadroom } from './bench-headroom';
import { registerBenchMemory } from './bench-memory';
import { registerBenchNoise } from './bench-noise';
import { registerBenchStep } from './bench-step';
import { registerDataCommands } from './data-command';
import { registerModelCommands } from './model-command';
import { registerReportCommand } from './report-command';

/** Mount this app's commands on the zotune program: data, model, bench, report. */
export function registerToolboxCommands(program: Command): void {
  registerDataCommands(program);
  registerModelCommands(program);
  const bench = program.command('bench').description('benchmarks: results as JSON (--json) and to a file (--out)');
  registerBenchNoise(bench);
  registerBenchForward(bench);
  registerBenchStep(bench);
  registerBenchMemory(bench);
  registerBenchHeadroom(bench);
  registerReportCommand(program);
}
