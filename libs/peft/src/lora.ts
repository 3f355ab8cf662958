// LoRA (Hu et al. 2021) under ZO, as MeZO runs it: for each targeted linear W0 [in, out] (the model
// stores matrices [in, out]), trainable A [in, r] and B [r, out], and the layer computes with
//   W = W0 + (alpha / r)·A·B.
// A ~ N(0, 1/(3·in)) from the recorded seed (the variance of PEFT's kaiming-uniform(a = √5) init,
// U(±1/√in)); B = 0, so the first forward is the base model's, bit for bit.
//
// Two ways to reach the forward, chosen by what the model can do:
// - in the engine (a model with setLora: ORT): the graph computes x·W0 (+ bias) + (alpha/r)·((x·A)·B),
//   A and B fed from the adapter blocks' own arrays at every run, W0 never written. Nothing happens
//   before a forward: in ZO both A and B move at every evaluation, and a merge before each one cost
//   ~30 % of a LoRA step on SmolLM2-135M (in·out·r multiply-adds per target in JS, against the
//   branch's (in + out)·r per row in the graph). Float32 in the graph: the logits equal the merged
//   weights' to float tolerance, not bit for bit.
// - merged (no setLora: tfjs): W0 is copied once, and before a forward whose adapters changed since the
//   last one, W0 + (alpha/r)·A·B is written where the engine reads the weight (variable.assign, or a
//   Block.data array). The merge costs in·out·r multiply-adds per target, in float64, rounded once to
//   float32: a pure function of W0, A and B, so resume and replay see the same bits.
// merged() is the same float64 merge on both (the checkpoint for --merge), so it gives the same weights.
// Replay rebuilds A and B from the records alone (no forward), so it is the same bits on either path.
import * as tf from '@tensorflow/tfjs-core';
import { blockValues, hfLayoutOfBlocks, hfTensorOf, toCheckpoint, type Model, type Block, type Checkpoint } from '@zotune/models';
import { normalFill } from '@zotune/tensor';
import { adapterBlock, adapterParts, sameBits, type Adapter, type FileLayout } from './adapter';
import type { LoraConfig } from './config';

/** HF PEFT's names of a LoRA checkpoint: base_model.model.<module>.lora_A.weight [r, in], lora_B.weight [out, r]. */
export const PEFT_PREFIX = 'base_model.model.';

interface Target {
  base: Block; // W0 [in, out]
  a: Block; // [in, r]
  b: Block; // [r, out]
}

/**
 * The problem with `targets` for a model whose per-layer matrices have these names (…<module>.weight),
 * or undefined: every target must name at least one of them.
 */
export function loraTargetProblem(matrixNames: readonly string[], targets: readonly string[]): string | undefined {
  const missing = targets.find((t) => !matrixNames.some((n) => n.endsWith(`.${t}.weight`)));
  if (missing === undefined) return undefined;
  const known = [...new Set(matrixNames.map((n) => /([^.]+)\.weight$/.exec(n)?.[1]).filter(Boolean))];
  return `--lora-targets: no matrix of the model is named *.${missing}.weight (its linears: ${known.join(', ')})`;
}

/** The model's matrix blocks that the targets name (`…<target>.weight`), in model order; throws one line when a target matches none. */
export function loraTargets(blocks: readonly Block[], targets: readonly string[]): Block[] {
  // per-layer matrices (a layer index in the name): not the embedding or the classifier
  const matrices = blocks.filter((b) => b.kind === 'matrix' && b.shape.length === 2 && /\.\d+\./.test(b.name));
  const problem = loraTargetProblem(matrices.map((b) => b.name), targets);
  if (problem) throw new Error(problem);
  return matrices.filter((b) => targets.some((t) => b.name.endsWith(`.${t}.weight`)));
}

/** W = W0 + s·A·B into `out` ([in, out] row-major), accumulated in float64 per row. */
export function mergeInto(out: Float32Array, w0: Float32Array, a: Float32Array, b: Float32Array, din: number, r: number, dout: number, s: number, row = new Float64Array(dout)): void {
  for (let i = 0; i < din; i++) {
    row.fill(0);
    for (let k = 0; k < r; k++) {
      const aik = a[i * r + k];
      if (aik === 0) continue;
      const bo = k * dout;
      for (let o = 0; o < dout; o++) row[o] += aik * b[bo + o];
    }
    const wo = i * dout;
    for (let o = 0; o < dout; o++) out[wo + o] = w0[wo + o] + s * row[o];
  }
}

export function createLora(model: Model, config: LoraConfig): Adapter {
  const { rank: r, alpha } = config;
  const scale = alpha / r;
  const blocks: Block[] = [];
  const layout: FileLayout[] = [];
  const targets: Target[] = loraTargets(model.blocks, config.targets).map((base) => {
    const [din, dout] = base.shape;
    const stem = base.name.replace(/\.weight$/, '');
    const a = adapterBlock(`${stem}.lora_A.weight`, [din, r], blocks.length);
    blocks.push(a);
    const b = adapterBlock(`${stem}.lora_B.weight`, [r, dout], blocks.length);
    blocks.push(b);
    layout.push({ name: `${PEFT_PREFIX}${stem}.lora_A.weight`, transpose: true }, { name: `${PEFT_PREFIX}${stem}.lora_B.weight`, transpose: true });
    // N(0, 1) from the seed, block id = the adapter block's index, then scaled to std 1/√(3·in)
    normalFill(a.data!, config.initSeed, a.index);
    const std = Math.fround(1 / Math.sqrt(3 * din));
    for (let i = 0; i < a.size; i++) a.data![i] = Math.fround(a.data![i] * std);
    return { base, a, b };
  });
  return model.setLora ? inEngine(model, config, blocks, layout, targets, scale) : merging(model, config, blocks, layout, targets, scale);
}

/** LoRA computed by the engine: A and B registered once (Model.setLora), no work before a forward. */
function inEngine(model: Model, config: LoraConfig, blocks: Block[], layout: FileLayout[], targets: Target[], scale: number): Adapter {
  model.setLora!({ rank: config.rank, scale, targets: targets.map((t) => ({ weight: t.base.name, a: t.a.data!, b: t.b.data! })) });
  const sync = () => {}; // the engine reads the A and B arrays themselves at every forward
  return {
    ...adapterParts(config, blocks, layout, model, sync, 'engine'),
    merged(): Checkpoint {
      // the base checkpoint with each target's tensor replaced by W0 + s·A·B (mergeInto, as the merging
      // path writes it) in the target's HF layout; W0 itself stays as it is
      const ckpt = toCheckpoint(model);
      const hf = hfLayoutOfBlocks(model.config, model.blocks);
      let row = new Float64Array(0);
      for (const t of targets) {
        const [din, dout] = t.base.shape;
        if (row.length < dout) row = new Float64Array(dout);
        const w = new Float32Array(t.base.size);
        mergeInto(w, blockValues(t.base), t.a.data!, t.b.data!, din, config.rank, dout, scale, row);
        ckpt.tensors.set(t.base.name, hfTensorOf({ ...hf.get(t.base.name)!, block: { ...t.base, data: w, variable: undefined } }));
      }
      return ckpt;
    },
    dispose() {
      model.setLora?.(undefined);
    },
  };
}

/** LoRA merged into the weights the engine reads, before a forward whose adapters changed. */
function merging(model: Model, config: LoraConfig, blocks: Block[], layout: FileLayout[], targets: Target[], scale: number): Adapter {
  const r = config.rank;
  // W0 [in·out] of each target, and A and B at its last merge (none yet: undefined)
  const frozen = targets.map((t) => Float32Array.from(blockValues(t.base)));
  const last: ([Float32Array, Float32Array] | undefined)[] = targets.map(() => undefined);
  let scratch = new Float32Array(0);
  let row = new Float64Array(0);

  const mergeTarget = (j: number): void => {
    const t = targets[j];
    const [din, dout] = t.base.shape;
    if (row.length < dout) row = new Float64Array(dout);
    if (t.base.data) mergeInto(t.base.data, frozen[j], t.a.data!, t.b.data!, din, r, dout, scale, row);
    else {
      if (scratch.length < t.base.size) scratch = new Float32Array(t.base.size);
      const w = scratch.subarray(0, t.base.size);
      mergeInto(w, frozen[j], t.a.data!, t.b.data!, din, r, dout, scale, row);
      const v = tf.tensor(w, t.base.shape, 'float32');
      t.base.variable!.assign(v);
      v.dispose();
    }
    last[j] = [Float32Array.from(t.a.data!), Float32Array.from(t.b.data!)];
  };
  const sync = (): void => {
    targets.forEach((t, j) => {
      const m = last[j];
      if (!m || !sameBits(m[0], t.a.data!) || !sameBits(m[1], t.b.data!)) mergeTarget(j);
    });
  };

  return {
    ...adapterParts(config, blocks, layout, model, sync, 'merge'),
    merged(): Checkpoint {
      sync();
      return toCheckpoint(model);
    },
    dispose() {
      // nothing merges any more (the weights keep the last merge) and W0's copies are released
      targets.length = 0;
      frozen.length = 0;
    },
  };
}
