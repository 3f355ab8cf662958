// README examples are tests: every ```ts block of the lib READMEs (libs/*/README.md), the top-level
// README.md and docs/*.md is compiled as a consumer outside the workspace would compile it, under
// NodeNext without skipLibCheck, against the built packages (node_modules/@zotune/* → libs/*/dist);
// those marked `<!-- readme-snippets: run -->` on the line before the fence are then run (Node, the data
// in ZOTUNE_DATA, a fresh working directory), the others need files a user has (a run directory, a
// policy of their own) or long work. A block whose first line is `// continuing the example above` is
// appended to the block before it: one program, compiled whole; its run is the blocks up to the first
// one not marked.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { REPO_ROOT } from '@zotune/data';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { typecheck } from './tsc.testkit';

const DATA = resolve(process.env.ZOTUNE_DATA ?? join(REPO_ROOT, '../shared/data'));
const RUN_MARK = '<!-- readme-snippets: run -->';
const CONTINUES = /^\/\/ continuing the example above/;

export interface Snippet {
  /** e.g. libs/zo/README.md#1 */
  name: string;
  /** the program: the block and its continuations */
  code: string;
  /** what runs: the blocks marked to run, up to the first one not marked; null when the first is not */
  runCode: string | null;
}

/** The ```ts programs of a markdown text (`file` names them), continuations joined to the block before. */
export function extractSnippets(file: string, text: string): Snippet[] {
  const lines = text.split('\n');
  const programs: { name: string; parts: { code: string; run: boolean }[] }[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!/^```(ts|typescript)\s*$/.test(lines[i])) continue;
    const end = lines.findIndex((l, j) => j > i && /^```\s*$/.test(l));
    if (end < 0) throw new Error(`${file}:${i + 1}: a \`\`\`ts block with no closing fence`);
    const part = { code: lines.slice(i + 1, end).join('\n'), run: lines[i - 1]?.trim() === RUN_MARK };
    if (CONTINUES.test(part.code)) {
      const prev = programs.at(-1);
      if (!prev) throw new Error(`${file}:${i + 2}: "// continuing the example above" with no example above`);
      prev.parts.push(part);
    } else programs.push({ name: `${file}#${programs.length + 1}`, parts: [part] });
    i = end;
  }
  return programs.map(({ name, parts }) => {
    const n = parts.findIndex((p) => !p.run);
    const running = n < 0 ? parts : parts.slice(0, n);
    return { name, code: parts.map((p) => p.code).join('\n'), runCode: running.length > 0 ? running.map((p) => p.code).join('\n') : null };
  });
}

const DOCS = [
  ...readdirSync(join(REPO_ROOT, 'libs')).map((d) => `libs/${d}/README.md`),
  'README.md',
  ...(existsSync(join(REPO_ROOT, 'docs')) ? readdirSync(join(REPO_ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`) : []),
].filter((f) => existsSync(join(REPO_ROOT, f)));
const SNIPPETS = DOCS.flatMap((f) => extractSnippets(f, readFileSync(join(REPO_ROOT, f), 'utf8')));
// inside the repository's node_modules so that @zotune/* resolve as from an installed project
mkdirSync(join(REPO_ROOT, 'node_modules/.cache'), { recursive: true });
const dir = mkdtempSync(join(REPO_ROOT, 'node_modules/.cache/zotune-readme-'));
const fileOf = (s: Snippet, run = false) => `${s.name.replace(/[^A-Za-z0-9]+/g, '-')}${run ? '-run' : ''}.mts`;
/** a program whose run is a prefix of it gets a second file, that prefix */
const partial = (s: Snippet) => s.runCode !== null && s.runCode !== s.code;
let compiled: { status: number | null; out: string };

beforeAll(() => {
  // Nx builds them first (the e2e test target depends on ^build); run directly, build them here
  if (!process.env.NX_TASK_TARGET_PROJECT) execFileSync('npx', ['nx', 'run-many', '-t', 'build', '--output-style=static', '-p', 'tag:type:lib'], { cwd: REPO_ROOT, stdio: 'ignore' });
  const files: string[] = [];
  for (const s of SNIPPETS) {
    files.push(join(dir, fileOf(s)));
    writeFileSync(files.at(-1)!, `${s.code}\n`);
    if (!partial(s)) continue;
    files.push(join(dir, fileOf(s, true)));
    writeFileSync(files.at(-1)!, `${s.runCode}\n`);
  }
  compiled = typecheck(files, 'nodenext', ['--rootDir', dir], join(dir, 'out'));
}, 600_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('README examples', () => {
  test('every lib README has a TypeScript example, and the extraction finds them all', () => {
    const libsWithReadme = readdirSync(join(REPO_ROOT, 'libs')).filter((d) => existsSync(join(REPO_ROOT, 'libs', d, 'README.md')));
    for (const d of libsWithReadme) expect(SNIPPETS.some((s) => s.name.startsWith(`libs/${d}/README.md#`)), d).toBe(true);
  });

  test(`all ${SNIPPETS.length} compile under NodeNext without skipLibCheck`, () => {
    // tsc names each error by file: make those the README's
    const named = (o: string, file: string, name: string) => o.replaceAll(join(dir, file), name).replaceAll(relative(REPO_ROOT, join(dir, file)), name);
    const out = SNIPPETS.reduce((o, s) => named(named(o, fileOf(s, true), `${s.name} (the part that runs)`), fileOf(s), s.name), compiled.out);
    expect(out).toBe('');
    expect(compiled.status).toBe(0);
  });

  test.each(SNIPPETS.filter((s) => s.runCode !== null).map((s) => [partial(s) ? `${s.name} (up to the first block not marked)` : s.name, s] as const))('%s runs', (_, s) => {
    expect(compiled.status, 'the examples did not compile (see the test above)').toBe(0);
    const cwd = mkdtempSync(join(tmpdir(), 'zotune-readme-run-'));
    try {
      const js = join(dir, 'out', fileOf(s, partial(s)).replace(/\.mts$/, '.mjs'));
      const r = spawnSync(process.execPath, [js], { cwd, encoding: 'utf8', env: { ...process.env, ZOTUNE_DATA: DATA, ZOTUNE_BACKEND: '' }, timeout: 300_000 });
      expect(r.status, `${s.name}: ${r.stderr}`).toBe(0);
      expect(r.stdout.trim(), s.name).not.toBe('');
    } finally {
      rmSync(cwd, { recursive: true, force: true });
    }
  });
});

describe('extractSnippets', () => {
  test('takes ```ts blocks only, reads the run mark, joins continuations, runs up to the first block not marked', () => {
    const md = [
      '# x', '```js', 'no', '```',
      RUN_MARK, '```ts', 'const a = 1;', '```', 'text',
      RUN_MARK, '```ts', '// continuing the example above', 'console.log(a);', '```',
      '```ts', '// continuing the example above', 'readFile(a);', '```',
      '```typescript', 'const b = 2;', '```',
    ].join('\n');
    expect(extractSnippets('X.md', md)).toEqual([
      {
        name: 'X.md#1',
        code: 'const a = 1;\n// continuing the example above\nconsole.log(a);\n// continuing the example above\nreadFile(a);',
        runCode: 'const a = 1;\n// continuing the example above\nconsole.log(a);',
      },
      { name: 'X.md#2', code: 'const b = 2;', runCode: null },
    ]);
    expect(() => extractSnippets('Y.md', '```ts\nx')).toThrow('Y.md:1: a ```ts block with no closing fence');
  });
});
