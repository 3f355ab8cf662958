// Issue 23, sizing amendment (docs/results/smollm2-evidence.md): what a batch of 16 costs per task, in
// tokens. A forward's time grows with the packed tokens (~2-3.5 ms per token for SmolLM2-135M here), so
// this table is what the amendment's cost limits read; it is a property of the data and the tokenizer,
// not of any result.
// usage: node scripts/smollm2/tokens.mjs [--out FILE] TASK...   (needs the built libs and ZOTUNE_DATA)
// Per task: the mean packed tokens (padding excluded) of the first 20 batches of 16 of its MeZO training
// split (sampling seed 0), as the collator packs them for SmolLM2-135M.
import { renameSync, writeFileSync } from 'node:fs';
import { resolveDataDir } from '@zotune/data';
import { PAD_SEGMENT, resolveModel } from '@zotune/models';
import { Collator, resolveTask } from '@zotune/tasks';

const args = process.argv.slice(2);
let out;
if (args[0] === '--out') {
  out = args[1];
  args.splice(0, 2);
}
if (args.length === 0 || (out !== undefined && !out)) {
  console.error('usage: node scripts/smollm2/tokens.mjs [--out FILE] TASK...');
  process.exit(2);
}
const dataDir = resolveDataDir();
const model = resolveModel('smollm2-135m', dataDir);
const table = {};
for (const name of args) {
  let task;
  try {
    task = resolveTask(name);
  } catch (e) {
    console.error(`tokens: ${name}: ${e instanceof Error ? e.message : e}`);
    process.exit(2);
  }
  const train = task.splits(dataDir, 0).train;
  const collator = new Collator(task, model.tokenizer, model.checkpoint.config.maxSeqLen);
  const counts = [];
  for (let i = 0; i + 16 <= train.length && counts.length < 20; i += 16) {
    const { packed } = collator.batch(train.slice(i, i + 16));
    counts.push(packed.segments.reduce((n, s) => n + (s === PAD_SEGMENT ? 0 : 1), 0));
  }
  table[name] = Math.round(counts.reduce((a, b) => a + b, 0) / counts.length);
  console.log(`${name.padEnd(12)} ${String(table[name]).padStart(5)} tokens per batch of 16 (mean of ${counts.length} batches)`);
}
if (out) {
  const tmp = `${out}.tmp-${process.pid}`;
  writeFileSync(tmp, `${JSON.stringify(table, null, 2)}\n`);
  renameSync(tmp, out);
}
