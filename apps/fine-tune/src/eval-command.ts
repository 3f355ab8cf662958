// `zotune eval`: zero-shot (or fine-tuned) accuracy of a model on a task split. The declaration; what it
// runs is eval-run.ts (@zotune/finetune's evaluate()), loaded by the action.
import type { Command } from 'commander';
import type { EvalReport } from '@zotune/finetune';
import { action, emit } from '@zotune/report';
import type { EvalCommandOptions } from './eval-run';

function human(r: EvalReport): string {
  const lines = [
    `${r.task} ${r.split} (seed ${r.seed}), ${r.model}: accuracy ${(100 * r.accuracy).toFixed(1)}% on ${r.n} examples`,
    `  ${r.seconds.toFixed(2)} s, ${r.examplesPerSecond.toFixed(0)} examples/s (${r.backend}, engine ${r.engine.name})`,
    ...Object.entries(r.perClass).map(([k, c]) => `  ${k}: gold ${c.gold}, predicted ${c.pred}, correct ${c.correct}`),
    ...r.notes.map((s) => `  note: ${s}`),
  ];
  return lines.join('\n');
}

/** Mount `zotune eval`. */
export function registerEvalCommand(program: Command): void {
  program
    .command('eval')
    .description('accuracy of a model on a task split (argmax of the candidates\' mean log-probability)')
    .option('--model <model>', 'a name under the data dir\'s models/, a llama2.c .bin, or a Hugging Face directory (default: stories260K, or the run\'s)')
    .option('--task <task>', 'a built-in task (sst2, rte, cb, boolq, wsc, wic, multirc, copa), a config in configs/tasks, or a task .json (default: sst2, or the run\'s)')
    .option('--split <split>', 'dev or test', 'test')
    .option('--n <n>', 'evaluate the first N examples of the split')
    .option('--seed <seed>', 'the sampling seed of the splits (default: 0, or the run\'s)')
    .option('--run <dir>', 'a fine-tune run directory: evaluate its best checkpoint (model.safetensors) on its task')
    .option('--batch <batch>', 'examples per forward pass, at most (examples of similar length are batched together)', '64')
    .option('--backend <backend>', 'auto, tensorflow, wasm or cpu (default: ZOTUNE_BACKEND, else auto)')
    .option('--engine <engine>', 'forward engine: auto, ort or tfjs (default: ZOTUNE_ENGINE, else auto = ONNX Runtime when installed)')
    .option('--threads <n>', "ONNX Runtime intra-op threads (default: the machine's cores)")
    .option('--json', 'print one JSON object on stdout')
    .action(
      action(async (opts: EvalCommandOptions) => {
        const { runEval } = await import('./eval-run');
        const r = await runEval(opts, (line) => process.stderr.write(line + '\n'));
        emit(r, !!opts.json, human(r));
      }),
    );
}
