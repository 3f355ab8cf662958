// The task interface every consumer sees (fine-tune, eval, meta-training): built-in tasks and tasks
// defined in a JSON config are the same object, made by taskFromSpec.
import type { Row } from '@zotune/data';

/** classification: score every candidate, loss = CE of the softmax over candidate scores.
 *  generation-lm: the same candidates for evaluation, but training is teacher-forced CE of the gold one (COPA). */
export type TaskKind = 'classification' | 'generation-lm';

/** One labelled row of a task's data, after any flattening (MultiRC yields one per answer). */
export interface Example {
  /** stable id: file name, line and, for flattened rows, the sub-item */
  id: string;
  /** the row's fields as read from the file (plus derived fields of a built-in's prepare hook) */
  fields: Row;
  /** index of the gold candidate */
  gold: number;
  /** where the row came from (errors name it) */
  file: string;
  line: number;
}

/** A rendered example: the prompt and the candidate continuations (text after the template's slash point). */
export interface Rendered {
  prompt: string;
  candidates: string[];
  gold: number;
}

export interface TaskSplits {
  train: Example[];
  dev: Example[];
  test: Example[];
  /** how the splits were made where that departs from the plain protocol (smaller files, borrowed rows) */
  notes: string[];
}

export interface Task {
  name: string;
  kind: TaskKind;
  /** number of candidates (= classes) per example */
  numClasses: number;
  /** a readable name per class, in candidate order */
  classNames: string[];
  /** the pinned data-dir files the task reads (relative to the data dir unless absolute); a derived set is listed as the corpus it is built from */
  dataFiles: string[];
  /** MeZO's sampling, fixed by the seed; dataDir is where relative data paths resolve */
  splits(dataDir: string, seed: number): TaskSplits;
  /** every example of the task's train or test data file, in file order (validated) */
  examples(dataDir: string, file: 'train' | 'test'): Example[];
  render(example: Example): Rendered;
}
