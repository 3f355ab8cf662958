// CLI start time: `zotune --help` from the built bundle (what the bin runs) against the same CLI run
// from its TypeScript sources through tsx (what the bin did before it was built) and against a bare
// `node -e 0` (Node's own start: issue 24 wants the help within 5x of it, which the commands' lazy
// loading gives), alternated in one run so that all see the same machine load. Wall time per start
// and peak RSS (GNU time's %M), and CPU time (user + system, %U + %S): on a loaded machine the wall
// times of all three stretch alike, while the CPU time of each stays what it costs.
//   node --import tsx scripts/bench-start.ts [--runs N] [--out F]
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { REPO_ROOT } from '@zotune/data';
import { writeFileAtomic } from '../libs/io/src/index';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '7' }, out: { type: 'string' } } });
const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs: expected a positive integer, got "${values.runs}"`);
const TIME = '/usr/bin/time';
if (!existsSync(TIME)) throw new Error(`${TIME}: not found; expected GNU time (apt-get install -y time) to read the peak RSS`);

const variants = {
  built: [join(REPO_ROOT, 'apps/cli/bin/zotune.js'), '--help'],
  source: ['--conditions=@zotune/source', '--import', 'tsx', join(REPO_ROOT, 'apps/cli/src/main.ts'), '--help'],
  bare: ['-e', '0'],
} as const;
/** `zotune --help` within this multiple of a bare `node -e 0` (issue 24). */
const HELP_TARGET_RATIO = 5;
type Name = keyof typeof variants;

const samples: Record<Name, { seconds: number; cpuSeconds: number; rssMiB: number }[]> = { built: [], source: [], bare: [] };
for (let i = 0; i < runs; i++)
  for (const name of Object.keys(variants) as Name[]) {
    const t0 = performance.now();
    const r = spawnSync(TIME, ['-f', 'zotune-bench-rss %M %U %S', process.execPath, ...variants[name]], { cwd: REPO_ROOT, encoding: 'utf8' });
    const seconds = (performance.now() - t0) / 1000;
    const rss = /zotune-bench-rss (\d+) ([\d.]+) ([\d.]+)/.exec(r.stderr);
    if (r.status !== 0 || !rss || (name !== 'bare' && !r.stdout.includes('Usage: zotune'))) throw new Error(`${name}: zotune --help failed (exit ${r.status}): ${r.stderr.trim().split('\n')[0]}`);
    samples[name].push({ seconds, cpuSeconds: Number(rss[2]) + Number(rss[3]), rssMiB: Number(rss[1]) / 1024 });
  }

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const summary = (name: Name) => ({
  command: `node ${variants[name].map((a) => a.replace(REPO_ROOT + '/', '')).join(' ')}`,
  medianSeconds: median(samples[name].map((s) => s.seconds)),
  medianCpuSeconds: median(samples[name].map((s) => s.cpuSeconds)),
  medianRssMiB: median(samples[name].map((s) => s.rssMiB)),
  samples: samples[name],
});
const built = summary('built');
const source = summary('source');
const bare = summary('bare');
const result = {
  benchmark: 'cli-start',
  runs,
  node: process.version,
  built,
  source,
  bare,
  speedup: source.medianSeconds / built.medianSeconds,
  rssRatio: built.medianRssMiB / source.medianRssMiB,
  ratioToBareNode: built.medianSeconds / bare.medianSeconds,
  cpuRatioToBareNode: built.medianCpuSeconds / bare.medianCpuSeconds,
  /** the machine's 1-minute load average at the end (os.loadavg): above its cores, the wall ratios shrink toward 1 */
  loadAverage: loadavg()[0],
  cores: availableParallelism(),
  targetRatioToBareNode: HELP_TARGET_RATIO,
  withinTarget: built.medianSeconds / bare.medianSeconds <= HELP_TARGET_RATIO,
};
const text = JSON.stringify(result, null, 2) + '\n';
if (values.out) writeFileAtomic(values.out, text);
process.stdout.write(
  `zotune --help: built ${built.medianSeconds.toFixed(3)} s, ${built.medianRssMiB.toFixed(0)} MiB; from sources (tsx) ${source.medianSeconds.toFixed(3)} s, ${source.medianRssMiB.toFixed(0)} MiB; ${result.speedup.toFixed(1)}x faster; ` +
    `node -e 0 ${bare.medianSeconds.toFixed(3)} s: the help takes ${result.ratioToBareNode.toFixed(2)}x Node's bare start (target <= ${HELP_TARGET_RATIO}x), ${result.cpuRatioToBareNode.toFixed(2)}x its CPU time; load average ${result.loadAverage.toFixed(1)} on ${result.cores} cores\n`,
);
