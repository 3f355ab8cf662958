// The declarations of the toolbox's commands (data, model, bench, report): names, arguments, options and
// help. A command's code is loaded by its action when it runs (`await import('./bench-step')`), so
// `zotune --help` loads none of tfjs, ONNX Runtime or the libs above io/report; the modules imported
// here statically are that light (data-command, report-command, bench-memory: io, data, report).
import { Command } from 'commander';
import { writeJsonAtomic } from '@zotune/io';
import { action, emit } from '@zotune/report';
import type { BenchForwardFlags } from './bench-forward';
import { registerBenchMemory } from './bench-memory';
import { FORWARD_SHAPES } from './bench-shapes';
import { registerDataCommands } from './data-command';
import type { BenchCommand } from './flags';
import type { CommonFlags, GenerateFlags, NllFlags } from './model-command';
import { registerReportCommand } from './report-command';

/** Mount this app's commands on the zotune program: data, model, bench, report. */
export function registerToolboxCommands(program: Command): void {
  registerDataCommands(program);
  registerModelCommands(program);
  const bench = program.command('bench').description('benchmarks: results as JSON (--json) and to a file (--out)');
  registerBenchNoise(bench);
  registerBenchForward(bench);
  registerBenchStep(bench);
  registerBenchEval(bench);
  registerBenchMemory(bench);
  registerBenchHeadroom(bench);
  registerBenchDistributed(bench);
  registerReportCommand(program);
}

/** Add `distributed` to an existing `zotune bench` command. */
function registerBenchDistributed(bench: Command): void {
  const cmd = bench
    .command('distributed')
    .description('one run locally and over 1, 2, … `zotune worker` processes started here (--queue): steps/s and their ratio, bytes each worker sends per step, the share of a step outside forward passes, trajectories compared with the local one')
    .option('--queue <URL>', 'redis://[:password@]host:port[/db] or rediss:// (required)')
    .option('--model <M>', 'model', 'stories260K')
    .option('--task <T>', 'task', 'sst2')
    .option('--estimator <E>', 'mezo, guided or greedy', 'mezo')
    .option('--queries <Q>', 'mezo: queries per step', '2')
    .option('--candidates <M>', 'guided, greedy: candidates per step', '4')
    .option('--steps <N>', 'steps per run (the first is left out of the timing)', '6')
    .option('--batch <B>', 'examples per step', '16')
    .option('--shards <N>', 'data-parallel shards per evaluation', '1')
    .option('--threads <N>', 'ORT intra-op threads of every process (the coordinator, each worker, the local run)', '1')
    .option('--workers <LIST>', 'worker counts, e.g. 1,2', '1,2')
    .option('--rounds <N>', 'rounds of (local, each worker count), interleaved', '1')
    .option('--seed <S>', 'run seed', '0')
    .option('--work <DIR>', 'run and worker directories (default: a new directory under $TMPDIR)');
  benchOutput(cmd, async () => (await import('./bench-distributed')).benchDistributedCommand);
}

/**
 * The tail every bench command shares: --out, --backend, --json, and an action that loads the bench's
 * module, runs the bench, writes the JSON result to --out (atomically) and prints it (--json) or its text.
 */
function benchOutput<F extends { out?: string; json?: boolean }, R>(cmd: Command, load: () => Promise<BenchCommand<F, R>>): Command {
  return cmd
    .option('--out <FILE>', 'also write the result as JSON to FILE (atomically)')
    .option('--backend <name>', 'tfjs backend: auto, tensorflow, wasm or cpu (default: $ZOTUNE_BACKEND, else auto)')
    .option('--json', 'print one JSON object on stdout at the end')
    .action(
      action(async (flags: F) => {
        const bench = await load();
        const result = await bench.run(flags);
        if (flags.out) writeJsonAtomic(flags.out, result);
        emit(result, !!flags.json, bench.text(result));
      }),
    );
}

const BACKEND_HELP = 'tfjs backend: auto|tensorflow|wasm|cpu (default $ZOTUNE_BACKEND, else auto)';
const ENGINE_HELP = 'forward engine: auto|ort|tfjs (default $ZOTUNE_ENGINE, else auto = ONNX Runtime when installed)';
const THREADS_HELP = "ONNX Runtime intra-op threads (default: the machine's cores)";

/** Mount `zotune model info|generate|nll`. */
function registerModelCommands(program: Command): void {
  const model = program.command('model').description('inspect a model, generate text, measure NLL');

  model
    .command('info')
    .argument('<model>', 'a name under the data directory, a llama2.c .bin, or a Hugging Face directory')
    .description('the model family, config, parameter count and blocks (name, shape, kind)')
    .option('--backend <name>', BACKEND_HELP)
    .option('--engine <name>', ENGINE_HELP)
    .option('--threads <n>', THREADS_HELP)
    .option('--json', 'print one JSON object on stdout at the end')
    .action(action(async (arg: string, flags: CommonFlags) => (await import('./model-command')).info(arg, flags)));

  model
    .command('generate')
    .argument('<model>', 'a name under the data directory, a llama2.c .bin, or a Hugging Face directory')
    .description('continue a prompt (greedy unless --temperature is given); ids are the generated ids only')
    .option('--prompt <text>', 'text to continue (default: start from BOS alone)')
    .option('--max-tokens <n>', 'tokens to generate', '256')
    .option('--temperature <t>', 'sample from softmax(logits / t); 0 = greedy (default)')
    .option('--seed <s>', 'seed of the sampler', '0')
    .option('--backend <name>', BACKEND_HELP)
    .option('--engine <name>', ENGINE_HELP)
    .option('--threads <n>', THREADS_HELP)
    .option('--json', 'print one JSON object on stdout at the end')
    .action(action(async (arg: string, flags: GenerateFlags) => (await import('./model-command')).gen(arg, flags)));

  model
    .command('nll')
    .argument('<model>', 'a name under the data directory, a llama2.c .bin, or a Hugging Face directory')
    .description('mean next-token negative log-likelihood (nats) of BOS + encode(text) truncated to N ids')
    .option('--text-file <file>', 'the text to score (UTF-8)')
    .option('--max-tokens <n>', "N: ids scored including BOS (default: the model's context length)")
    .option('--backend <name>', BACKEND_HELP)
    .option('--engine <name>', ENGINE_HELP)
    .option('--threads <n>', THREADS_HELP)
    .option('--json', 'print one JSON object on stdout at the end')
    .action(action(async (arg: string, flags: NllFlags) => (await import('./model-command')).nll(arg, flags)));
}

/** Add `noise` to an existing `zotune bench` command. */
function registerBenchNoise(bench: Command): void {
  const cmd = bench
    .command('noise')
    .description('samples per second of the counter-based Gaussian noise, against the scalar reference and tf.randomNormal, and the cost of applyNoise')
    .option('--n <N>', 'samples per timed call (and elements of the applyNoise variable)', '1048576')
    .option('--repeat <R>', 'timed calls per measurement; the best is reported', '10')
    .option('--threads <N>', 'threads of the perturb pass, timed against 1 thread (default: the cores)')
    .option('--shape <name>', 'model shape of the perturb pass: stories15M or stories260K', 'stories15M')
    .option('--rounds <R>', 'timed rounds of the perturb pass (the best is reported)', '5');
  benchOutput(cmd, async () => (await import('./bench-noise')).benchNoiseCommand);
}

/** Mount `zotune bench forward` on an existing `bench` command. */
function registerBenchForward(bench: Command): void {
  bench
    .command('forward')
    .description('forward and scoring pass: ms per call, tokens/s, GFLOP/s and its ratio to the matMul peak')
    .option('--model <name|path>', 'a model (name under the data directory, .bin, or HF directory)', undefined)
    .option('--shape <name>', `random weights of a known shape instead: ${FORWARD_SHAPES.join(', ')}`)
    .option('--batch <n>', 'rows per batch', '16')
    .option('--seq <n>', 'tokens per row', '64')
    .option('--repeat <n>', 'timed calls per measurement (the median is reported)', '5')
    .option('--seed <n>', 'seed of the random weights (--shape)', '0')
    .option('--out <file>', 'also write the JSON result to this file (atomically)')
    .option('--backend <name>', 'tfjs backend: auto|tensorflow|wasm|cpu (default $ZOTUNE_BACKEND, else auto)')
    .option('--no-kernels', 'use the tfjs-ops path instead of the fused wasm kernels (for comparison)')
    .option('--engine <name>', 'forward engine: auto|ort|tfjs (default $ZOTUNE_ENGINE, else auto)')
    .option('--threads <n>', "ONNX Runtime intra-op threads (default: the machine's cores)")
    .option('--attention <kinds>', 'engine ort: the rotary graph\'s attention, gqa|mha|plain, or a comma list timed in the same run against the same peak (default $ZOTUNE_ORT_ATTENTION, else gqa)')
    .option('--json', 'print one JSON object on stdout at the end')
    .action(action(async (flags: BenchForwardFlags) => (await import('./bench-forward')).benchForwardCommand(flags)));
}

/** Add `step` to an existing `zotune bench` command. */
function registerBenchStep(bench: Command): void {
  const cmd = bench
    .command('step')
    .description('ms per forward pass, per MeZO and guided step (and their ratio to a forward), and the policy\'s overhead, on a real task batch')
    .option('--model <model>', 'a name under the data dir\'s models/, a llama2.c .bin, or a Hugging Face directory', 'stories260K')
    .option('--task <task>', 'a built-in task, a config in configs/tasks, or a task .json (its first training examples form the batch)', 'sst2')
    .option('--batch <B>', 'examples in the batch', '16')
    .option('--estimator <names>', 'mezo, guided, or mezo,guided (default: mezo,guided; mezo with --peer)')
    .option('--candidates <M>', 'guided: candidates per step', '4')
    .option('--policy <p>', 'random: also time a randomly initialised PertNN as σ; none: skip it (default: random; none with --peer)')
    .option('--steps <N>', 'timed repetitions per measurement (median reported)', '20')
    .option('--seed <S>', 'task sampling seed, run seed and policy init seed', '0')
    .option('--engine <name>', 'forward engine: auto, ort or tfjs (default: $ZOTUNE_ENGINE, else auto)')
    .option('--threads <n>', "ORT intra-op threads and noise threads (default: the machine's cores); with --peer a list, each count run in turn on both sides (default 1,2)")
    .option('--shape <name>', 'random weights of this shape (stories15M) fed the same task batch')
    .option('--peer', 'time MeZO beside the PyTorch + transformers peer (scripts/python/mezo_peer.py; $ZOTUNE_PYTHON, else the venv of scripts/python/venv.sh) on the same weights and batch, interleaved, at each --threads count; --steps rounds each')
    .option('--peft <p>', 'ZO over none (every block; default), lora or prefix adapter blocks')
    .option('--lora-rank <r>', '--peft lora: rank (default 8)')
    .option('--lora-alpha <a>', '--peft lora: alpha (default 16)')
    .option('--lora-targets <list>', '--peft lora: linears (default q_proj,v_proj)')
    .option('--prefix-tokens <n>', '--peft prefix: prefix positions per layer (default 5)')
    .option('--unfused', 'also time each estimator with trajectory format versions 2 (restore, then update: one pass more) and 3 (fused, noise stream 1) in the same rounds');
  benchOutput(cmd, async () => (await import('./bench-step')).benchStepCommand);
}

/** Add `eval` to an existing `zotune bench` command. */
function registerBenchEval(bench: Command): void {
  const cmd = bench
    .command('eval')
    .description("examples/s of evaluation (zotune eval's loop) per batch layout, planned vs the former greedy one, interleaved: padding, tokens per forward, the forward's share; load average and ORT's MatMul peak as same-run references")
    .option('--model <model>', "a name under the data dir's models/, a llama2.c .bin, or a Hugging Face directory", 'stories260K')
    .option('--task <tasks>', 'a task or a comma-separated list (e.g. sst2,boolq), each timed in turn', 'sst2')
    .option('--split <split>', 'dev or test', 'dev')
    .option('--n <N>', 'the first N examples of the split', '256')
    .option('--batch <B>', 'examples per forward pass (at most)', '64')
    .option('--rounds <R>', 'timed evaluations per layout, interleaved (the fastest is reported)', '2')
    .option('--seed <S>', 'sampling seed of the splits', '0')
    .option('--engine <name>', ENGINE_HELP)
    .option('--threads <n>', THREADS_HELP);
  benchOutput(cmd, async () => (await import('./bench-eval')).benchEvalCommand);
}

function registerBenchHeadroom(bench: Command): void {
  const cmd = bench
    .command('headroom')
    .description('research yardstick (docs/results/headroom.md): per-block gradient density and curvature (backward passes), and the predicted and measured gain of the oracle allocations over uniform MeZO')
    .option('--model <M>', 'model', 'stories260K')
    .option('--task <T>', 'task', 'story-cloze')
    .option('--batch <B>', 'examples per minibatch', '16')
    .option('--batches <N>', 'minibatches the gradient energy is measured on', '8')
    .option('--probes <P>', 'random directions of the curvature estimate', '8')
    .option('--steps <N>', 'MeZO steps of each paired run (0: measure the blocks only, no runs)', '300')
    .option('--lr <LR>', 'uniform MeZO\'s learning rate', '1e-4')
    .option('--eps <EPS>', 'perturbation scale ε (and the curvature\'s finite-difference step)', '1e-3')
    .option('--seeds <S,S>', 'paired seeds (minibatches and noise)', '0,1')
    .option('--loss-n <N>', 'training examples the loss reduction is measured on', '256')
    .option('--gradients <G>', "where the backward passes run: tfjs (autodiff), torch (PyTorch in the pinned venv or $ZOTUNE_PYTHON, on zotune's weights, loss and minibatches) or auto (torch above 50M parameters)", 'auto')
    .option('--from <FILE>', "reuse the blocks' G_j and h_j of an earlier --json result (same model, task, --batch, --batches, --probes, --eps); its first seed fixes the data")
    .option('--variants <V,V>', 'the measured runs (uniform is required)', 'uniform,density,density@predicted-lr,curvature,curvature@predicted-lr')
    .option('--engine <name>', 'forward engine of the measured runs: auto|ort|tfjs (default $ZOTUNE_ENGINE, else auto)')
    .option('--threads <n>', 'ORT intra-op threads and noise threads (default: the machine\'s cores)');
  benchOutput(cmd, async () => (await import('./bench-headroom')).benchHeadroomCommand);
}
