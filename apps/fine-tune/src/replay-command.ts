// `zotune replay RUN_DIR --out FILE`: the declaration; what it runs is replay-run.ts (@zotune/finetune's
// replayRun), loaded by the action. The help names the formats and GGUF types from light modules.
import type { Command } from 'commander';
import { REPLAY_FORMATS } from '@zotune/finetune/schema';
import { GGUF_OUT_TYPES } from '@zotune/gguf';
import { action, emit } from '@zotune/report';
import type { ReplayFlags } from './replay-run';

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
      action(async (runDir: string, flags: ReplayFlags) => {
        const { replayFromFlags, replayText } = await import('./replay-run');
        const r = await replayFromFlags(runDir, flags, (line) => process.stderr.write(`${line}\n`));
        emit(r, !!flags.json, replayText(r));
      }),
    );
}
