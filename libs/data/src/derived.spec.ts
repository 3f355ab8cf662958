import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { buildDerived, DERIVED, derivedFile, derivedRoot, sentences } from './derived';
import { REPO_ROOT } from './dir';

const MIRROR = process.env.ZOTUNE_DATA ? resolve(process.env.ZOTUNE_DATA) : resolve(REPO_ROOT, '../shared/data');
const work = mkdtempSync(join(tmpdir(), 'zotune-derived-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const rows = (p: string) => readFileSync(p, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l));

describe('sentences', () => {
  test('splits at . ! ? (and a closing quote) before a capital or a quote; each keeps the text before it', () => {
    const s = sentences('Tom ran. "Stop!" said Mom. She was sad! Was it "fun"? Yes it was.');
    expect(s.map((x) => x.text)).toEqual(['Tom ran.', '"Stop!" said Mom.', 'She was sad!', 'Was it "fun"?', 'Yes it was.']);
    expect(s[2].before).toBe('Tom ran. "Stop!" said Mom.');
    expect(s[0].before).toBe('');
  });
});

describe('derived sets from the pinned TinyStories corpus', () => {
  test('each set builds to its pinned sha256 and row counts, the same twice; train and val share no context', () => {
    for (const set of DERIVED) {
      const a = buildDerived(set, MIRROR, join(work, 'a'));
      const b = buildDerived(set, MIRROR, join(work, 'b'));
      expect(a).toEqual(set.files);
      expect(b).toEqual(a);
      const [train, val] = set.files.map((f) => rows(join(work, 'a', f.path)));
      expect(new Set(train.map((r) => r.context)).size).toBeGreaterThan(train.length / 2);
      const trainContexts = new Set(train.map((r) => r.context));
      expect(val.filter((r) => trainContexts.has(r.context))).toEqual([]);
      for (const r of [...train, ...val]) {
        expect([0, 1]).toContain(r.label);
        expect(r.choice1).not.toBe(r.choice2);
        expect(r.context.length).toBeGreaterThan(0);
      }
      // labels are balanced (no class prior to learn)
      const ones = train.filter((r) => r.label === 1).length;
      expect(Math.abs(ones / train.length - 0.5)).toBeLessThan(0.05);
    }
  });

  test('story-name: the gold name is in the context, the distractor is not', () => {
    const [train] = buildDerived(DERIVED.find((d) => d.name === 'story-name')!, MIRROR, join(work, 'n')).map((f) => rows(join(work, 'n', f.path)));
    for (const r of train) {
      const [gold, other] = r.label === 0 ? [r.choice1, r.choice2] : [r.choice2, r.choice1];
      expect(r.context).toMatch(new RegExp(`\\b${gold}\\b`));
      expect(r.context).not.toMatch(new RegExp(`\\b${other}\\b`));
    }
  });

  test('derivedFile builds the set on first use into the cache root; a changed corpus fails against its pin', () => {
    const root = join(work, 'cache');
    const p = derivedFile('stories/order/val.jsonl', MIRROR, root);
    expect(p).toBe(join(root, 'stories/order/val.jsonl'));
    expect(rows(p)).toHaveLength(DERIVED[0].files[1].rows);
    expect(() => derivedFile('stories/nope/train.jsonl', MIRROR, root)).toThrow(/derived\/stories\/nope\/train.jsonl: no derived data set builds this file/);
    const bad = join(work, 'bad');
    mkdirSync(join(bad, 'corpora'), { recursive: true });
    writeFileSync(join(bad, 'corpora/tinystories-valid.txt'), 'Once upon a time, there was a dog named Max. Max ran. He was fast.\n');
    chmodSync(join(bad, 'corpora/tinystories-valid.txt'), 0o444);
    expect(() => derivedFile('stories/name/train.jsonl', bad, join(work, 'cache2'))).toThrow(/tinystories-valid.txt: sha256 [0-9a-f]{64} differs from its pin/);
    expect(() => derivedFile('stories/name/train.jsonl', join(work, 'none'), join(work, 'cache2'))).toThrow(/not found \(the source of derived set story-name\)/);
  });

  test('the cache root is $ZOTUNE_CACHE/derived, else <repo>/.cache/derived', () => {
    expect(derivedRoot({ ZOTUNE_CACHE: '/srv/cache' })).toBe('/srv/cache/derived');
    expect(derivedRoot({})).toBe(join(REPO_ROOT, '.cache', 'derived'));
  });
});
