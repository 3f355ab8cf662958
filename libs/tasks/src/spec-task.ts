// A Task made from a TaskConfig: the one code path of built-in and config-defined tasks. Rows are
// validated when read, so a missing field fails with the file and line before any model runs.
import { existsSync } from 'node:fs';
import { basename, isAbsolute } from 'node:path';
import { dataFile, DERIVED_PREFIX, derivedFile, derivedSourceOf, readTable, type Row } from '@zotune/data';
import { deriveSeed } from '@zotune/tensor';
import { testSource, type TaskConfig } from './config';
import { carve, sample, trainDev, TEST_STREAM, TRAIN_STREAM } from './sample';
import { isScalar, lookup, parseTemplate, placeholders, renderTemplate } from './template';
import type { Example, Rendered, Task, TaskSplits } from './types';

/** A config plus what plain data cannot say: a per-row hook (flattening MultiRC, COPA's connective). */
export interface TaskSpec {
  config: TaskConfig;
  /** turn one file row into zero or more example rows; throw an Error to reject the row */
  prepare?: (row: Row) => Row[];
}

/** Resolve a data path of a config: relative paths are inside the data dir, `derived/…` in the cache (built on first use). */
export function dataPath(dataDir: string, p: string): string {
  if (p.startsWith(DERIVED_PREFIX)) return derivedFile(p.slice(DERIVED_PREFIX.length), dataDir);
  if (!isAbsolute(p)) return dataFile(p, dataDir);
  if (!existsSync(p)) throw new Error(`${p}: not found (a task data file)`);
  return p;
}

export function taskFromSpec(spec: TaskSpec): Task {
  const c = spec.config;
  const prompt = parseTemplate(c.template);
  const candidates = c.candidates.map(parseTemplate);
  const alias = (path: string[]) => (path.length === 1 && c.fields[path[0]] !== undefined ? c.fields[path[0]].split('.') : path);
  const labelPath = alias(c.label.field.split('.'));
  const labelTexts = c.label.values.map(String);
  const used = [prompt, ...candidates].flatMap(placeholders);

  const render = (ex: Example): Rendered => ({
    prompt: renderTemplate(prompt, ex.fields, alias),
    candidates: candidates.map((t) => renderTemplate(t, ex.fields, alias)),
    gold: ex.gold,
  });

  function toExample(row: Row, file: string, line: number, id: string): Example {
    const where = `${file}:${line}`;
    for (const p of used) {
      const path = alias(p.path);
      const v = lookup(row, path);
      if (v === undefined || v === null) throw new Error(`${where}: missing field "${path.join('.')}" (used by {${p.source}} in task ${c.name})`);
      if (!isScalar(v)) throw new Error(`${where}: field "${path.join('.')}" is ${Array.isArray(v) ? 'an array' : 'an object'}; expected text, a number or a boolean`);
    }
    const label = lookup(row, labelPath);
    if (label === undefined || label === null) throw new Error(`${where}: missing field "${labelPath.join('.')}" (the label of task ${c.name})`);
    const gold = labelTexts.indexOf(String(label));
    if (gold < 0) throw new Error(`${where}: field "${labelPath.join('.')}" is ${JSON.stringify(label)}; expected one of ${labelTexts.map((v) => JSON.stringify(v)).join(', ')}`);
    const ex: Example = { id, fields: row, gold, file, line };
    const r = render(ex);
    r.candidates.forEach((s, i) => {
      if (s.trim() === '') throw new Error(`${where}: candidate ${i} of task ${c.name} renders to blank text ("${c.candidates[i]}")`);
    });
    return ex;
  }

  function load(file: string): Example[] {
    const table = readTable(file, c.data.format, c.data.columns);
    const out: Example[] = [];
    const name = basename(file);
    table.rows.forEach((row, i) => {
      const line = table.lines[i];
      let items: Row[];
      try {
        items = spec.prepare ? spec.prepare(row) : [row];
      } catch (e) {
        throw new Error(`${file}:${line}: ${(e as Error).message}`);
      }
      items.forEach((item, k) => out.push(toExample(item, file, line, items.length > 1 ? `${name}:${line}#${k}` : `${name}:${line}`)));
    });
    return out;
  }

  function splits(dataDir: string, seed: number): TaskSplits {
    const { train: nTrain, dev: nDev, test: nTest } = c.split;
    const notes = [...c.notes];
    const trainFile = dataPath(dataDir, c.data.train);
    const trainRows = load(trainFile);
    const trainSeed = deriveSeed(seed, TRAIN_STREAM);
    const testSeed = deriveSeed(seed, TEST_STREAM);
    let test: Example[];
    let pool: Example[];
    if (testSource(c) === 'test-file') {
      const testFile = dataPath(dataDir, c.data.test as string);
      const testRows = load(testFile);
      test = sample(testRows, nTest, testSeed);
      if (testRows.length < nTest) notes.push(`test: all ${testRows.length} examples of ${basename(testFile)} (fewer than ${nTest})`);
      pool = trainRows;
    } else {
      [test, pool] = carve(trainRows, nTest, testSeed);
      notes.push(
        `test: ${test.length} of the ${trainRows.length} examples of ${basename(trainFile)}${trainRows.length <= nTest ? ' (all of them: fewer than asked; nothing left for train/dev)' : ''}; ` +
          `train/dev are sampled from the remaining ${pool.length}`,
      );
    }
    const td = trainDev(pool, nTrain, nDev, trainSeed);
    if (td.shortBy > 0)
      notes.push(`train/dev: only ${pool.length} examples available (fewer than ${nTrain} + ${nDev}): train ${td.train.length}, dev ${td.dev.length}`);
    return { train: td.train, dev: td.dev, test, notes };
  }

  function examples(dataDir: string, which: 'train' | 'test'): Example[] {
    const rel = which === 'train' ? c.data.train : c.data.test;
    if (!rel) throw new Error(`task ${c.name} has no test file (its test split is carved out of ${c.data.train})`);
    return load(dataPath(dataDir, rel));
  }

  return {
    name: c.name,
    kind: c.kind,
    numClasses: c.candidates.length,
    classNames: c.label.names ?? labelTexts,
    // the pinned files behind the config's paths (a derived set stands on its corpus)
    dataFiles: [...new Set((testSource(c) === 'test-file' ? [c.data.train, c.data.test as string] : [c.data.train]).map(derivedSourceOf))],
    splits,
    examples,
    render,
  };
}

