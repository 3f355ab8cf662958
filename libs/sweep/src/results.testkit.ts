// Tests' sweep directories: a spec's plan and a result for each run the outcome function gives a summary for.
import { expandRuns, type Run, type SweepSpec } from './spec';
import { SweepDir } from './store';

/** Write DIR's spec, plan and a result per run with a summary (undefined: the run is not finished); returns DIR. */
export function writeSweep(root: string, spec: SweepSpec, summary: (run: Run) => Record<string, unknown> | undefined): string {
  const dir = new SweepDir(root);
  const runs = expandRuns(spec);
  dir.writeSpec(spec);
  dir.writePlan(runs);
  for (const r of runs) {
    const s = summary(r);
    if (s) dir.writeResult({ key: r.key, config: r.config, childSeconds: 1, worker: 'test', finishedAt: '', summary: s });
  }
  return dir.root;
}
