// `zotune meta-train`: commander definition and the human-readable result. The run (tfjs, the meta
// lib) is loaded when the command runs, so `zotune --help` does not load it.
import { Option, type Command } from 'commander';
import { action, emit, interruptOnSigint } from '@zotune/report';
import type { MetaTrainFlags } from './options';
import type { MetaTrainResult } from './run';

function human(r: MetaTrainResult): string {
  return [
    `policy ${r.artifact}  ${r.digest}`,
    `  ${r.model} meta-trained on ${r.tasks.join(', ')}: ${r.steps} steps in ${r.seconds.toFixed(1)} s (${r.secondsPerStep.toFixed(3)} s/step), peak RSS ${r.peakRssMiB.toFixed(0)} MiB, ${r.backend}, meta-gradient ${r.metaGrad}`,
    `  meta-loss ${r.metrics.metaLossFirstQuarter.toFixed(4)} → ${r.metrics.metaLossLastQuarter.toFixed(4)} (first → last quarter of the steps)`,
    `  look-ahead gain L(θ) − L(θ′) ${r.metrics.gainFirstQuarter.toPrecision(3)} → ${r.metrics.gainLastQuarter.toPrecision(3)} (first → last quarter); ω moved ${(100 * r.metrics.omegaMoved).toPrecision(3)} % from its start`,
    ...r.published.map((p) => `  published ${p.ref} (${p.status}) in ${p.registry}`),
    `  run directory ${r.runDir}`,
  ].join('\n');
}

export function registerMetaTrainCommand(program: Command): void {
  program
    .command('meta-train')
    .description('meta-train the perturbation policy of a base model on a few tasks (learning to learn, ALGORITHMS.md §5)')
    .option('--model <model>', "a name under the data dir's models/, a llama2.c .bin, or a Hugging Face directory (default stories260K)")
    .option('--tasks <list>', 'comma-separated tasks to meta-train on, e.g. sst2,copa')
    .option('--epochs <n>', 'passes over every task\'s training examples (default 15)')
    .option('--reset-every <n>', 'reset the LLM to its pretrained weights every N epochs (default 5)')
    .option('--batch <n>', 'minibatch size (default 8)')
    .option('--eps <x>', 'perturbation scale ε of L± (default 1e-3)')
    .option('--lr-mlp <x>', 'SGD learning rate of the policy (default 0.1; 0 keeps the initial networks, an untrained control)')
    .option('--lr-llm <x>', 'peak learning rate of the LLM\'s first-order trajectory, decaying linearly to 0 per reset period (default 0.01)')
    .option('--meta-lr <x>', 'η of the look-ahead step: the ZO fine-tuning lr the policy is for (default 1e-4)')
    .option('--meta-lr-max <x>', 'variant: draw each step\'s look-ahead η log-uniformly from [--meta-lr, x] (stability across lrs; default: off)')
    .option('--lookahead-steps <k>', 'variant: unroll K ZO look-ahead steps per meta step, the meta-loss being the loss after the K-th (default 1)')
    .option('--features <set>', 'variant: the policy\'s features, base or curvature (adds each block\'s relative curvature at the pretrained weights, from a forward-only probe; default base)')
    .option('--meta-grad <kind>', `how the policy's gradient is computed: exact (backward through the model in tfjs; θ follows first-order SGD), spsa (forward passes only on the ORT engine: SPSA with common random numbers; θ follows MeZO at --meta-lr), or auto (default): exact below 50M model parameters (@zotune/meta's SPSA_FROM_PARAMETERS, not loaded for --help) (stories260K), spsa from there (SmolLM2-135M, whose tfjs backward does not fit)`)
    .option('--spsa-directions <k>', 'spsa: random directions averaged per meta step, 2 forward passes each (default 16)')
    .option('--spsa-scale <c>', 'spsa: perturbation of σ (or ω) relative to its rms (default 0.05)')
    .option('--spsa-space <space>', 'spsa: perturb the per-block σ (sigma, default: then exactly through the tiny networks) or the network weights ω (omega: far noisier)')
    .option('--threads <n>', 'spsa: ONNX Runtime intra-op threads (default: the machine\'s cores)')
    .option('--nf-grad', 'variant: differentiate the look-ahead through the norm factor nf(σ) too (default: nf held constant, as the reference)')
    .option('--max-steps <n>', 'stop after N meta steps (default: all epochs)')
    .option('--train-examples <n>', 'use the first N training examples of each task (default: the whole MeZO train split)')
    .option('--hidden <n>', 'hidden width of each block\'s network (default 64)')
    .option('--seed <n>', 'run seed: data order, noise and the policy\'s initial weights (default 0)')
    .option('--data-seed <n>', 'sampling seed of the tasks\' train split (default 0)')
    .option('--checkpoint-every <n>', 'write a resumable checkpoint every N steps (default 25; 0: only at the end)')
    .option('--peft <p>', 'meta-train a policy for PEFT adapter blocks instead of every block: none (default), lora or prefix; forward-only (--meta-grad auto picks spsa); use it with `zotune finetune` and the same PEFT flags')
    .option('--lora-rank <r>', '--peft lora: rank (default 8)')
    .option('--lora-alpha <a>', '--peft lora: alpha (default 16)')
    .option('--lora-targets <list>', '--peft lora: linears (default q_proj,v_proj)')
    .option('--prefix-tokens <n>', '--peft prefix: prefix positions per layer (default 5)')
    .option('--out <dir>', 'run directory (default runs/meta-train-MODEL-TIME)')
    .option('--resume <dir>', 'continue the run in DIR from its last checkpoint (Ctrl-C checkpoints after the step under way and prints this command; twice, exits at once)')
    .addOption(new Option('--publish [ref]', 'publish the policy as REF (MODEL/NAME:TAG; bare: MODEL/<--name>:<--tag>); repeatable').preset('').argParser((v: string, prev: string[] | undefined) => [...(prev ?? []), v]))
    .option('--registry <dir|url>', 'registry for --publish: a store directory or an http(s):// URL (default: the shipped policies/, or $ZOTUNE_REGISTRY)')
    .option('--token-file <file>', 'file holding the bearer token of a remote registry')
    .option('--name <name>', 'the policy\'s name (artifact and bare --publish; default "default")')
    .option('--tag <tag>', 'tag of a bare --publish (default latest)')
    .option('--description <text>', 'free text stored in the artifact')
    .option('--backend <backend>', 'auto, tensorflow, wasm or cpu (default: ZOTUNE_BACKEND, else auto)')
    .option('--json', 'print one JSON object on stdout')
    .action(
      action(async (opts: MetaTrainFlags) => {
        const { runMetaTrain } = await import('./run');
        const interrupt = interruptOnSigint('meta-train');
        try {
          const r = await runMetaTrain(opts, { log: (line) => process.stderr.write(line + '\n'), signal: interrupt.signal });
          emit(r, !!opts.json, human(r));
        } finally {
          interrupt.release();
        }
      }),
    );
}
