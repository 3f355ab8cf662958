// A meta-training run against its paired untrained control (the same `zotune meta-train` command with
// --lr-mlp 0): the look-ahead gain of both over the first and last quarter, and per last-quarter step
// the difference, with an exact two-sided sign test. Usage:
//   node --conditions=@zotune/source --import tsx scripts/meta-control.ts RUN_DIR CONTROL_DIR [--json]
// (docs/results/meta-training.md, the variants table.)
import { join } from 'node:path';
import { compareWithControl } from '@zotune/meta';
import { readMetrics } from '@zotune/report';
import { signTestP } from '@zotune/sweep';

const args = process.argv.slice(2).filter((a) => a !== '--json');
if (args.length !== 2) {
  process.stderr.write('meta-control: expected RUN_DIR CONTROL_DIR (two meta-train run directories)\n');
  process.exit(2);
}
/** metrics.jsonl step records as the trainer logged them: L(θ) is `thetaLoss`, L(θ') is `loss`. */
function steps(dir: string) {
  return readMetrics(join(dir, 'metrics.jsonl'))
    .filter((r) => r.event === 'step')
    .map((r) => {
      const x = r as unknown as { thetaLoss?: number; loss?: number };
      if (typeof x.thetaLoss !== 'number' || typeof x.loss !== 'number') throw new Error(`${dir}/metrics.jsonl: step ${r.step} lacks thetaLoss or loss (not a meta-train run?)`);
      return { loss: x.thetaLoss, metaLoss: x.loss };
    });
}
try {
  const c = compareWithControl(steps(args[0]), steps(args[1]));
  const p = signTestP(c.lastQuarterWins, c.lastQuarterSteps);
  if (process.argv.includes('--json')) process.stdout.write(JSON.stringify({ ...c, lastQuarterSignTestP: p }) + '\n');
  else {
    const f = (x: number) => (x >= 0 ? '+' : '') + x.toPrecision(2);
    process.stdout.write(
      `gain first → last quarter: trained ${f(c.trained.gainFirstQuarter)} → ${f(c.trained.gainLastQuarter)}, control ${f(c.control.gainFirstQuarter)} → ${f(c.control.gainLastQuarter)}\n` +
        `last quarter, trained − control: mean ${f(c.lastQuarterDiffMean)}, median ${f(c.lastQuarterDiffMedian)}; trained better in ${c.lastQuarterWins}/${c.lastQuarterSteps} steps (sign test p = ${p.toPrecision(2)})\n`,
    );
  }
} catch (e) {
  process.stderr.write(`meta-control: ${(e as Error).message}\n`);
  process.exit(1);
}
