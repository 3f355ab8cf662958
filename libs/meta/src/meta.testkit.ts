// What the meta-trainers' specs share: a tiny random LLaMA, two made-up tasks (a classification and a
// teacher-forced one), and the tfjs model behind @zotune/models' Model interface, for the
// forward-only meta-gradient without onnxruntime (hostOf: the host blocks hold their own copy of the
// weights in JS memory, written into the variables for each forward pass and put back afterwards).
import * as tf from '@tensorflow/tfjs-core';
import { randomCheckpoint, type ModelConfig, type Model, type TensorModel } from '@zotune/models';
import { classificationLoss, collate, lmLoss, type EncodedExample, type Example, type TaskKind } from '@zotune/tasks';
import type { MetaTask } from './trainer';

export const config: ModelConfig = {
  dim: 16, hiddenDim: 40, nLayers: 2, nHeads: 4, nKvHeads: 2, vocabSize: 48, maxSeqLen: 32,
  normEps: 1e-5, ropeTheta: 10000, tiedEmbeddings: true,
};
export const ckpt = randomCheckpoint(config, 21, { std: 0.3 });

/** Four classification examples (two candidates each) packed as one batch. */
export const batch = collate(
  [
    { prompt: [1, 5, 9, 12, 7], candidates: [[40], [41, 2]], gold: 0, truncated: 0 },
    { prompt: [1, 7, 3], candidates: [[40, 3], [41]], gold: 1, truncated: 0 },
    { prompt: [1, 20, 21, 22, 23, 30], candidates: [[40], [41]], gold: 1, truncated: 0 },
    { prompt: [1, 30, 31], candidates: [[40], [41, 5]], gold: 0, truncated: 0 },
  ],
  'classification',
);

function fakeTask(name: string, kind: TaskKind, rows: EncodedExample[]): MetaTask {
  const byId = new Map<string, EncodedExample>();
  const train: Example[] = rows.map((r, i) => {
    const id = `${name}:${i}`;
    byId.set(id, r);
    return { id, fields: {}, gold: r.gold, file: `${name}.jsonl`, line: i + 1 };
  });
  return {
    name, train, goldOnly: kind === 'generation-lm', objective: kind === 'generation-lm' ? lmLoss : classificationLoss,
    collator: { batch: (ex, opts) => collate(ex.map((e) => byId.get(e.id)!), kind, opts) },
  };
}
const row = (prompt: number[], candidates: number[][], gold: number): EncodedExample => ({ prompt: [1, ...prompt], candidates, gold, truncated: 0 });
export const tasks = () => [
  fakeTask('cls', 'classification', [
    row([5, 9, 12], [[40], [41]], 0), row([7, 3], [[40], [41, 2]], 1), row([20, 21, 22], [[40], [41]], 1), row([30, 31], [[40, 5], [41]], 0),
  ]),
  fakeTask('lm', 'generation-lm', [row([8, 6, 4], [[10, 11], [12]], 0), row([9, 9], [[13], [14, 15]], 1)]),
];

export function hostOf(model: TensorModel): Model {
  const blocks = model.blocks.map((b) => ({ name: b.name, shape: b.shape, kind: b.kind, size: b.size, index: b.index, data: (b.variable!.dataSync() as Float32Array).slice() }));
  const saved = model.blocks.map((b) => (b.variable!.dataSync() as Float32Array).slice());
  const assign = (from: readonly Float32Array[]) => model.blocks.forEach((b, j) => b.variable!.assign(tf.tensor(from[j], b.shape, 'float32')));
  const run = async (f: () => tf.Tensor) => {
    assign(blocks.map((b) => b.data));
    const t = f();
    try {
      return ((await t.data()) as Float32Array).slice();
    } finally {
      t.dispose();
      assign(saved);
    }
  };
  return {
    family: model.family, engine: 'ort', config: model.config, blocks,
    logits: async () => {
      throw new Error('hostOf: logits is not used by the meta-gradient');
    },
    tokenLogProbs: (p) => run(() => model.tokenLogProbsTensor(p)),
    scoreCandidates: (p) => run(() => model.scoreCandidatesTensor(p)),
    toCheckpoint: () => {
      throw new Error('hostOf: toCheckpoint is not used by the meta-gradient');
    },
    dispose: async () => {},
  };
}
