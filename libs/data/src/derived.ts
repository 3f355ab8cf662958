// Derived data: task files built deterministically from a pinned corpus at run time, never committed.
// A task config names them like any data file (`derived/stories/order/train.jsonl`); dataFile()
// builds the whole set into the cache dir the first time one is asked for: the source is checked
// against its pin, the outputs against theirs (a changed builder or corpus fails loudly, by name).
//
// The two sets built from corpora/tinystories-valid.txt (stories260K's own domain):
// - stories/order: which sentence comes next? context = a paragraph up to sentence i (i ≥ 1); the
//   true sentence i against a later sentence (≥ 2 positions on) of the SAME story: same characters
//   and words, so only the order tells them apart. One example per eligible paragraph; label random.
// - stories/name: which name starts the next sentence? context = the story's previous paragraph and
//   this one up to a sentence that starts with a character's name (a name the story introduces as
//   "named X") that the context has already used; against the gold name of another example of the
//   same split (frequency-matched: a name's prior says nothing), one the context does not use. One
//   example per such sentence; label random.
// Stories are runs of paragraphs starting at one that begins "Once upon a time" (the corpus has no
// separator; a run may hold two stories, harmless for splitting). Stories go 75/25 to train/val by
// a seeded permutation, so no story is in both (and a val context that also occurs in train is dropped). Candidate sentences hold no quote marks and 4–25
// words; sentence boundaries are [.!?] (+ optional closing quote) followed by a capital or a quote.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { RemedyError, sha256Hex, writeFileAtomic } from '@zotune/io';
import { defaultRoot } from './dir';
import { MANIFEST } from './manifest';

export const DERIVED_PREFIX = 'derived/';

export interface DerivedFile {
  /** relative to the derived root, e.g. stories/order/train.jsonl */
  path: string;
  sha256: string;
  rows: number;
}

export interface DerivedSet {
  name: string;
  /** the pinned source file (relative to the data dir) */
  source: string;
  files: readonly DerivedFile[];
  /** path → file text */
  build(sourceText: string): Map<string, string>;
}

/** Where derived files go: $ZOTUNE_CACHE/derived, else .cache/derived under the workspace (gitignored) or, installed, the current directory. */
export function derivedRoot(env: NodeJS.ProcessEnv = process.env): string {
  const c = env.ZOTUNE_CACHE?.trim();
  return join(c ? resolve(c) : join(defaultRoot(), '.cache'), 'derived');
}

// ---- deterministic randomness (a counter-based hash: the same on every machine) ----
function draw(seed: string, i: number): number {
  return createHash('sha256').update(`${seed}:${i}`).digest().readUInt32LE(0) / 2 ** 32;
}
function shuffled<T>(items: readonly T[], seed: string): T[] {
  const a = [...items];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(draw(seed, i) * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

// ---- corpus structure ----
interface Sentence {
  text: string;
  /** the paragraph text before it (the context) */
  before: string;
}
type Paragraph = Sentence[];
type Story = Paragraph[];

/** Sentences of a paragraph, each with the paragraph text before it. */
export function sentences(paragraph: string): Sentence[] {
  const out: Sentence[] = [];
  const re = /[.!?]+["”]?\s+(?=[A-Z"“])/g;
  let start = 0;
  for (let m = re.exec(paragraph); m; m = re.exec(paragraph)) {
    const end = m.index + m[0].trimEnd().length;
    out.push({ text: paragraph.slice(start, end).trim(), before: paragraph.slice(0, start).trim() });
    start = m.index + m[0].length;
  }
  if (start < paragraph.length) out.push({ text: paragraph.slice(start).trim(), before: paragraph.slice(0, start).trim() });
  return out;
}

function stories(text: string): Story[] {
  const paragraphs = text.split(/\n\s*\n/).map((p) => p.replace(/\s+/g, ' ').trim()).filter(Boolean);
  const out: Story[] = [];
  for (const p of paragraphs) {
    if (out.length === 0 || p.startsWith('Once upon a time')) out.push([]);
    out[out.length - 1].push(sentences(p));
  }
  return out;
}

const words = (s: string) => s.split(/\s+/).length;
const clean = (s: string) => !/["“”]/.test(s) && words(s) >= 4 && words(s) <= 25;

/** Stories → (train, val), 75/25 by a seeded permutation. */
function splitStories(all: Story[], seed: string): [Story[], Story[]] {
  const order = shuffled(all.map((_, i) => i), seed);
  const nTrain = Math.round(all.length * 0.75);
  const train = new Set(order.slice(0, nTrain));
  return [all.filter((_, i) => train.has(i)), all.filter((_, i) => !train.has(i))];
}

/** One example: the context, two choices, the label (0: choice1 is true), its index in the file. */
interface Row {
  context: string;
  choice1: string;
  choice2: string;
  label: number;
  idx?: number;
}

const jsonl = (rows: Row[]) => rows.map((r) => JSON.stringify(r)).join('\n') + '\n';

function orderRows(split: Story[], seed: string): Row[] {
  const rows: Row[] = [];
  split.forEach((story, si) => {
    const flat = story.flatMap((p, pi) => p.map((s, k) => ({ ...s, pi, k })));
    let g = 0;
    story.forEach((p, pi) => {
      const base = g;
      g += p.length;
      // positions i ≥ 1 in this paragraph with a clean true sentence and a clean later distractor
      const eligible = p
        .map((s, k) => ({ s, k, later: flat.slice(base + k + 2).filter((t) => clean(t.text) && t.text !== s.text) }))
        .filter((e) => e.k >= 1 && clean(e.s.text) && e.later.length > 0);
      if (eligible.length === 0) return;
      const key = `${seed}:${si}:${pi}`;
      const e = eligible[Math.floor(draw(key, 0) * eligible.length)];
      const distractor = e.later[Math.floor(draw(key, 1) * e.later.length)].text;
      const label = draw(key, 2) < 0.5 ? 0 : 1;
      const [choice1, choice2] = label === 0 ? [e.s.text, distractor] : [distractor, e.s.text];
      rows.push({ context: e.s.before, choice1, choice2, label });
    });
  });
  return shuffled(rows, `${seed}:order`).map((r, idx) => ({ ...r, idx }));
}

/** The names a story gives its characters ("a girl named Lily"). */
const namesOf = (story: Story) => new Set([...story.flatMap((p) => p.map((s) => s.text)).join(' ').matchAll(/\bnamed ([A-Z][a-z]+)/g)].map((m) => m[1]));

function nameRows(split: Story[], seed: string): Row[] {
  const found: { context: string; gold: string; names: Set<string>; key: string }[] = [];
  split.forEach((story, si) => {
    const names = namesOf(story);
    story.forEach((p, pi) =>
      p.forEach((s, k) => {
        const m = /^([A-Z][a-z]+) /.exec(s.text);
        const context = [pi > 0 ? story[pi - 1].map((t) => t.text).join(' ') : '', s.before].join(' ').trim();
        if (m && names.has(m[1]) && new RegExp(`\\b${m[1]}\\b`).test(context)) found.push({ context, gold: m[1], names, key: `${seed}:${si}:${pi}:${k}` });
      }),
    );
  });
  // distractors are drawn from the gold names themselves (with their multiplicity), so a name's
  // frequency says nothing about the answer (uniform distractors let "prefer Lily" score 77 %)
  const golds = found.map((f) => f.gold);
  const rows: Row[] = [];
  for (const f of found) {
    // a name neither this story introduces nor the context uses (stories reuse names without "named")
    const others = golds.filter((n) => !f.names.has(n) && !new RegExp(`\\b${n}\\b`).test(f.context));
    if (others.length === 0) continue;
    const distractor = others[Math.floor(draw(f.key, 0) * others.length)];
    const label = draw(f.key, 1) < 0.5 ? 0 : 1;
    const [choice1, choice2] = label === 0 ? [f.gold, distractor] : [distractor, f.gold];
    rows.push({ context: f.context, choice1, choice2, label });
  }
  return shuffled(rows, `${seed}:name`).map((r, idx) => ({ ...r, idx }));
}

const TINYSTORIES = 'corpora/tinystories-valid.txt';

/**
 * A set of two files, stories/<name>/{train,val}.jsonl, from the TinyStories corpus; `pins` are
 * [sha256, rows] of train and val.
 */
function storiesSet(name: string, rowsOf: (split: Story[], seed: string) => Row[], pins: [[string, number], [string, number]]): DerivedSet {
  const files = (['train', 'val'] as const).map((which, i) => ({ path: `stories/${name}/${which}.jsonl`, sha256: pins[i][0], rows: pins[i][1] }));
  return {
    name: `story-${name}`,
    source: TINYSTORIES,
    files,
    build(text) {
      const [train, val] = splitStories(stories(text), 'zotune-stories-split');
      const trainRows = rowsOf(train, `zotune-${name}-train`);
      // stock openings repeat across stories ("Once upon a time, there was a little girl named Lily."):
      // a val context seen in train is dropped
      const seen = new Set(trainRows.map((r) => r.context));
      const valRows = rowsOf(val, `zotune-${name}-val`).filter((r) => !seen.has(r.context)).map((r, idx) => ({ ...r, idx }));
      return new Map([
        [files[0].path, jsonl(trainRows)],
        [files[1].path, jsonl(valRows)],
      ]);
    },
  };
}

/** Every derived set (the sha256 and row counts are the pins of today's builder on the pinned corpus). */
export const DERIVED: readonly DerivedSet[] = [
  storiesSet('order', orderRows, [
    ['010c7973c575ad8c06138196507dc4f78c083d7de465253e81b547cc5f760d4f', 2561],
    ['add7dcbbfdb1c0eb9f55d4a7b0a3f30ac1462c3c3442d9db305abb7e19f7c991', 608],
  ]),
  storiesSet('name', nameRows, [
    ['5227a3fcf3dca41d416b174e16de9c421b56697e50a643f2b4e6f4e30246b552', 1052],
    ['ce42ab3677663c30f6a02c670fc4de4f9b5ea21438c446e6a468430e37512a1a', 309],
  ]),
];

function setOf(rel: string): DerivedSet {
  const set = DERIVED.find((d) => d.files.some((f) => f.path === rel));
  if (!set) throw new Error(`${DERIVED_PREFIX}${rel}: no derived data set builds this file; known: ${DERIVED.flatMap((d) => d.files.map((f) => DERIVED_PREFIX + f.path)).join(', ')}`);
  return set;
}

/**
 * Build a derived set from its source in `dataDir` into `root` (atomic writes), checking the
 * source's and every output's sha256 (`checkPins: false`: not the outputs', to re-pin a changed
 * builder). Returns the files written, with their hashes.
 */
export function buildDerived(set: DerivedSet, dataDir: string, root = derivedRoot(), opts: { checkPins?: boolean } = {}): DerivedFile[] {
  const src = join(dataDir, set.source);
  if (!existsSync(src))
    throw new RemedyError(
      `${src}: not found (the source of derived set ${set.name}); fetch it with pullData({ dataDir, only: ['corpora'] }) from @zotune/data`,
      `${src}: not found (the source of derived set ${set.name}); run \`zotune data pull --only corpora\``,
    );
  const bytes = readFileSync(src);
  const pin = MANIFEST.find((p) => p.path === set.source);
  if (pin && sha256Hex(bytes) !== pin.sha256)
    throw new RemedyError(
      `${src}: sha256 ${sha256Hex(bytes)} differs from its pin ${pin.sha256}; checkData() from @zotune/data lists what to pull again`,
      `${src}: sha256 ${sha256Hex(bytes)} differs from its pin ${pin.sha256}; run \`zotune data check\``,
    );
  const built = set.build(bytes.toString('utf8'));
  const out: DerivedFile[] = [];
  for (const f of set.files) {
    const text = built.get(f.path);
    if (text === undefined) throw new Error(`derived set ${set.name}: the builder made no ${f.path}`);
    const got: DerivedFile = { path: f.path, sha256: sha256Hex(text), rows: text.split('\n').length - 1 };
    if (opts.checkPins !== false && (got.sha256 !== f.sha256 || got.rows !== f.rows))
      throw new Error(`${DERIVED_PREFIX}${f.path}: built with sha256 ${got.sha256} (${got.rows} rows), pinned ${f.sha256} (${f.rows}) (the builder or the corpus changed; update the pin in libs/data/src/derived.ts)`);
    writeFileAtomic(join(root, f.path), text);
    out.push(got);
  }
  return out;
}

/** The path of derived file `rel` (after "derived/"), building its set first if it is missing. */
export function derivedFile(rel: string, dataDir: string, root = derivedRoot()): string {
  const set = setOf(rel);
  const p = join(root, rel);
  if (!set.files.every((f) => existsSync(join(root, f.path)))) buildDerived(set, dataDir, root);
  return p;
}

/**
 * The pinned data-dir file a data path stands on: itself, or for `derived/…` the corpus its set is
 * built from (what must be fetched before the set can be built). An unknown derived path is itself.
 */
export function derivedSourceOf(path: string): string {
  if (!path.startsWith(DERIVED_PREFIX)) return path;
  const rel = path.slice(DERIVED_PREFIX.length);
  return DERIVED.find((set) => set.files.some((f) => f.path === rel))?.source ?? path;
}
