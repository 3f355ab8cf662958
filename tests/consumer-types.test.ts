// The packages' declarations as a TypeScript user gets them: tests/consumer/consumer.ts (the building
// blocks) and tests/consumer/run.ts (the run as a library), programs outside every lib, typechecked
// against the built packages (node_modules/@zotune/* → libs/*/dist, no "@zotune/source" condition)
// under the three module resolutions users set, with skipLibCheck off so our .d.ts files are checked
// too. NodeNext and Node16 need explicit `.js` paths in relative imports of declaration files, which
// tools/dts-specifiers.mjs writes after tsc (tested below on its own).
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '@zotune/data';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { fixDeclarationSpecifiers, removeStaleDeclarations } from '../tools/dts-specifiers.mjs';
import { typecheck } from './tsc.testkit';

const LIBS = readdirSync(join(REPO_ROOT, 'libs'))
  .map((d) => ({ dir: join(REPO_ROOT, 'libs', d), pkg: JSON.parse(readFileSync(join(REPO_ROOT, 'libs', d, 'package.json'), 'utf8')) }))
  .filter((l) => !l.pkg.private);
const work = mkdtempSync(join(tmpdir(), 'zotune-dts-'));

beforeAll(() => {
  // Nx builds them first (the e2e test target depends on ^build); run directly, build them here
  if (!process.env.NX_TASK_TARGET_PROJECT)
    execFileSync('npx', ['nx', 'run-many', '-t', 'build', '--output-style=static', '-p', ...LIBS.map((l) => l.pkg.name)], { cwd: REPO_ROOT, stdio: 'ignore' });
}, 600_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('declarations of the built packages', () => {
  test.each(['nodenext', 'node16', 'bundler'] as const)('a consumer typechecks under module/moduleResolution %s, without skipLibCheck', (module) => {
    const r = typecheck(['consumer.ts', 'run.ts'].map((f) => join(REPO_ROOT, 'tests/consumer', f)), module);
    expect(r.out).toBe('');
    expect(r.status).toBe(0);
  });

  test('no relative import in a published .d.ts lacks its file extension', () => {
    const bad: string[] = [];
    for (const l of LIBS)
      for (const e of readdirSync(join(l.dir, 'dist'), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.d.ts'))) {
        const text = readFileSync(join(l.dir, 'dist', e), 'utf8');
        for (const m of text.matchAll(/(?:from |import\()\s*['"](\.{1,2}\/[^'"]*)['"]/g)) if (!m[1].endsWith('.js')) bad.push(`${l.pkg.name}/dist/${e}: ${m[1]}`);
      }
    expect(bad).toEqual([]);
  });
});

describe('tools/dts-specifiers.mjs', () => {
  test('rewrites each relative specifier to the declaration file it names, once', () => {
    const dist = join(work, 'dist');
    mkdirSync(join(dist, 'sub'), { recursive: true });
    writeFileSync(join(dist, 'a.d.ts'), 'export declare const a: 1;\n');
    writeFileSync(join(dist, 'sub/index.d.ts'), "export { a } from '../a';\nexport type T = typeof import(\"../a\");\n");
    writeFileSync(
      join(dist, 'index.d.ts'),
      "export * from './a';\nexport { a as b } from './sub';\nimport type { T } from './sub/index.js';\nexport declare const f: () => Promise<typeof import('./a')>;\nexport type { T };\nexport { z } from 'zod';\n",
    );
    expect(fixDeclarationSpecifiers(dist)).toBe(5);
    expect(readFileSync(join(dist, 'index.d.ts'), 'utf8')).toBe(
      "export * from './a.js';\nexport { a as b } from './sub/index.js';\nimport type { T } from './sub/index.js';\nexport declare const f: () => Promise<typeof import('./a.js')>;\nexport type { T };\nexport { z } from 'zod';\n",
    );
    expect(readFileSync(join(dist, 'sub/index.d.ts'), 'utf8')).toBe("export { a } from '../a.js';\nexport type T = typeof import(\"../a.js\");\n");
    expect(fixDeclarationSpecifiers(dist)).toBe(0);
  });

  test('the declarations of deleted sources are removed (with their maps), the others kept', () => {
    const pkg = join(work, 'stale');
    for (const d of ['src/sub', 'dist/sub', 'dist/gone']) mkdirSync(join(pkg, d), { recursive: true });
    for (const f of ['src/index.ts', 'src/sub/a.ts', 'src/b.mts']) writeFileSync(join(pkg, f), 'export {};\n');
    for (const f of ['index.d.ts', 'sub/a.d.ts', 'b.d.ts', 'old.d.ts', 'old.d.ts.map', 'sub/old.d.ts', 'gone/index.d.ts', 'index.js']) writeFileSync(join(pkg, 'dist', f), '');
    expect(removeStaleDeclarations(join(pkg, 'dist'), join(pkg, 'src'))).toEqual(['gone/index.d.ts', 'old.d.ts', 'sub/old.d.ts']);
    const left = readdirSync(join(pkg, 'dist'), { recursive: true, encoding: 'utf8' }).filter((f) => /\.(d\.ts|map|js)$/.test(f)).sort();
    expect(left).toEqual(['b.d.ts', 'index.d.ts', 'index.js', 'sub/a.d.ts']);
    expect(removeStaleDeclarations(join(pkg, 'dist'), join(pkg, 'src'))).toEqual([]);
  });

  test('a specifier that names no emitted file is refused, naming the file and the specifier', () => {
    const dist = join(work, 'broken');
    mkdirSync(dist, { recursive: true });
    writeFileSync(join(dist, 'index.d.ts'), "export * from './missing';\n");
    expect(() => fixDeclarationSpecifiers(dist)).toThrow(/index\.d\.ts: import specifier '\.\/missing' names no emitted declaration file/);
  });
});
