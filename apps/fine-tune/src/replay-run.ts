// `zotune replay` when it runs: the flags checked, then @zotune/finetune's replayRun. Loaded by the
// command's action (replay-command.ts), so `zotune --help` loads none of it.
import { GGUF_OUT_TYPES, type GgufOutType } from '@zotune/gguf';
import { REPLAY_FORMATS, replayRun, type ReplayFormat, type ReplayResult } from '@zotune/finetune';
import { parseNumber, UserError } from '@zotune/report';

/** The flags as commander parses them. */
export interface ReplayFlags {
  out: string;
  step?: string;
  backend?: string;
  engine?: string;
  threads?: string;
  merge?: boolean;
  json?: boolean;
  format: string;
  ggufType: string;
}

/** Replay RUN_DIR's trajectory as `zotune replay` does, from its flags (one-line errors, exit 2). */
export async function replayFromFlags(runDir: string, flags: ReplayFlags, log: (line: string) => void): Promise<ReplayResult> {
  if (!(REPLAY_FORMATS as readonly string[]).includes(flags.format)) throw new UserError(`--format: expected ${REPLAY_FORMATS.join(' or ')}, got "${flags.format}"`, 2);
  if (!(flags.ggufType in GGUF_OUT_TYPES)) throw new UserError(`--gguf-type: expected one of ${Object.keys(GGUF_OUT_TYPES).join(', ')}, got "${flags.ggufType}"`, 2);
  const step = flags.step === undefined ? undefined : parseNumber('--step', flags.step, { int: true, min: 0 });
  if (flags.backend !== undefined && !['auto', 'tensorflow', 'wasm', 'cpu'].includes(flags.backend))
    throw new UserError(`--backend: unknown backend "${flags.backend}"; expected one of auto, tensorflow, wasm, cpu`, 2);
  return replayRun(runDir, flags.out, { step, backend: flags.backend, engine: flags.engine, threads: flags.threads, merge: flags.merge, format: flags.format as ReplayFormat, ggufType: flags.ggufType as GgufOutType, log });
}

/** The result as the command prints it without --json. */
export function replayText(r: ReplayResult): string {
  const check = r.runWeights
    ? `; against the run's ${r.runWeights.file} (losses on engine ${r.recordedEngine}, replayed on ${r.engine.name}): ${r.runWeights.maxAbsDiff === 0 ? 'the same bits' : r.runWeights.maxAbsDiff <= 1e-5 ? `match to float tolerance, max |Δ| ${r.runWeights.maxAbsDiff.toExponential(2)}` : `DIFFER, max |Δ| ${r.runWeights.maxAbsDiff}`}`
    : '';
  const what = r.wrote === 'weights' ? '' : r.wrote === 'adapter' ? ` (the ${r.peft} adapter)` : ` (${r.peft} merged into the weights)`;
  return `${r.out}${what}: ${r.model} after ${r.steps} of ${r.recordedSteps} ${r.estimator} steps, replayed from ${r.trajectoryBytes} bytes of trajectory in ${r.seconds.toFixed(2)} s${check}`;
}
