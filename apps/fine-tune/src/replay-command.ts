// `zotune replay RUN_DIR --out FILE`: the command; the work is @zotune/finetune's replayRun.
import type { Command } from 'commander';
import { GGUF_OUT_TYPES, type GgufOutType } from '@zotune/models';
import { action, emit, parseNumber, UserError } from '@zotune/report';
import { REPLAY_FORMATS, replayRun, type ReplayFormat } from '@zotune/finetune';

/** Mount `zotune replay`. */
export function registerReplayCommand(program: Command): void {
  program
    .command('replay')
    .description('rebuild a run\'s fine-tuned weights from the base weights and its trajectory alone, as safetensors')
    .argument('<RUN_DIR>', 'a fine-tune run directory (config.json + trajectory)')
    .requiredOption('--out <FILE>', 'the file to write (atomically): safetensors, or GGUF with --format gguf')
    .option('--format <F>', `output format: ${REPLAY_FORMATS.join(' or ')} (gguf: full weights that llama.cpp reads, a LoRA run merged; needs a GGUF base model)`, 'safetensors')
    .option('--gguf-type <T>', `GGUF tensor type of matrices and tables: ${Object.keys(GGUF_OUT_TYPES).join(', ')} (norms and biases stay f32)`, 'f32')
    .option('--step <N>', 'replay only the first N steps (e.g. the best step of summary.json)')
    .option('--backend <B>', 'tfjs backend (default: the run\'s)')
    .option('--engine <E>', 'engine holding the weights: auto, ort or tfjs (default: ZOTUNE_ENGINE, else auto)')
    .option('--threads <N>', "ONNX Runtime intra-op threads (default: the machine's cores)")
    .option('--merge', 'a --peft lora run: write the full weights with (alpha/r)·A·B merged in (default: the adapter alone)')
    .option('--json', 'print one JSON object on stdout')
    .action(
      action(async (runDir: string, flags: { out: string; step?: string; backend?: string; engine?: string; threads?: string; merge?: boolean; json?: boolean; format: string; ggufType: string }) => {
        if (!(REPLAY_FORMATS as readonly string[]).includes(flags.format)) throw new UserError(`--format: expected ${REPLAY_FORMATS.join(' or ')}, got "${flags.format}"`, 2);
        if (!(flags.ggufType in GGUF_OUT_TYPES)) throw new UserError(`--gguf-type: expected one of ${Object.keys(GGUF_OUT_TYPES).join(', ')}, got "${flags.ggufType}"`, 2);
        const step = flags.step === undefined ? undefined : parseNumber('--step', flags.step, { int: true, min: 0 });
        if (flags.backend !== undefined && !['auto', 'tensorflow', 'wasm', 'cpu'].includes(flags.backend))
          throw new UserError(`--backend: unknown backend "${flags.backend}"; expected one of auto, tensorflow, wasm, cpu`, 2);
        const r = await replayRun(runDir, flags.out, { step, backend: flags.backend, engine: flags.engine, threads: flags.threads, merge: flags.merge, format: flags.format as ReplayFormat, ggufType: flags.ggufType as GgufOutType, log: (line) => process.stderr.write(`${line}\n`) });
        const check = r.runWeights
          ? `; against the run's ${r.runWeights.file} (losses on engine ${r.recordedEngine}, replayed on ${r.engine.name}): ${r.runWeights.maxAbsDiff === 0 ? 'the same bits' : r.runWeights.maxAbsDiff <= 1e-5 ? `match to float tolerance, max |Δ| ${r.runWeights.maxAbsDiff.toExponential(2)}` : `DIFFER, max |Δ| ${r.runWeights.maxAbsDiff}`}`
          : '';
        const what = r.wrote === 'weights' ? '' : r.wrote === 'adapter' ? ` (the ${r.peft} adapter)` : ` (${r.peft} merged into the weights)`;
        emit(r, !!flags.json, `${r.out}${what}: ${r.model} after ${r.steps} of ${r.recordedSteps} ${r.estimator} steps, replayed from ${r.trajectoryBytes} bytes of trajectory in ${r.seconds.toFixed(2)} s${check}`);
      }),
    );
}
