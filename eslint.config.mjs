// Lint: TypeScript rules plus Nx module boundaries. The dependency direction of DESIGN.md is encoded
// in the depConstraints below: each lib may import only the libs listed for its tag, and the libs that
// must stay free of tfjs ban it outright.
import nx from '@nx/eslint-plugin';
import tseslint from 'typescript-eslint';

const noTf = ['@tensorflow/*'];
const lib = (name, deps, extra = {}) => ({
  sourceTag: `lib:${name}`,
  onlyDependOnLibsWithTags: deps.map((d) => `lib:${d}`),
  ...extra,
});

export default [
  // assembly/: AssemblyScript, not TypeScript (its @inline decorators do not parse as TS); asc compiles
  // and checks it (libs/tensor/scripts/build-noise-wasm.mjs, and a test that the committed bytes match)
  { ignores: ['**/node_modules/**', '**/dist/**', '**/*.wasm', 'data/**', 'runs/**', '.nx/**', '**/build/**', 'libs/tensor/assembly/**'] },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts', '**/*.mjs', '**/*.js'],
    plugins: { '@nx': nx },
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@nx/enforce-module-boundaries': [
        'error',
        {
          enforceBuildableLibDependency: false,
          allow: [],
          depConstraints: [
            lib('io', [], { bannedExternalImports: noTf }),
            lib('tensor', []),
            lib('tokenizers', [], { bannedExternalImports: noTf }),
            lib('data', ['io'], { bannedExternalImports: noTf }),
            lib('gguf', ['io'], { bannedExternalImports: noTf }),
            lib('artifacts', ['io'], { bannedExternalImports: noTf }),
            lib('report', ['io'], { bannedExternalImports: noTf }),
            lib('models', ['io', 'tensor', 'tokenizers', 'gguf', 'data', 'artifacts']),
            lib('ort', ['models']),
            lib('engine', ['models', 'ort']),
            lib('peft', ['models', 'tensor']),
            lib('tasks', ['tensor', 'tokenizers', 'data', 'models']),
            lib('zo', ['io', 'tensor', 'models', 'tasks', 'artifacts']),
            lib('policy', ['io', 'tensor', 'models', 'tasks', 'zo', 'artifacts']),
            lib('meta', ['io', 'tensor', 'data', 'models', 'peft', 'tasks', 'zo', 'policy', 'artifacts', 'report']),
            lib('registry', ['io', 'artifacts'], { bannedExternalImports: noTf }),
            lib('sweep', ['io', 'report'], { bannedExternalImports: noTf }),
            lib('finetune', ['io', 'tensor', 'data', 'tokenizers', 'gguf', 'models', 'engine', 'peft', 'tasks', 'zo', 'policy', 'artifacts', 'registry', 'report']),
            lib('distributed', ['io', 'artifacts', 'report', 'zo', 'sweep', 'finetune']),
            { sourceTag: 'app:registry', onlyDependOnLibsWithTags: ['lib:io', 'lib:artifacts', 'lib:registry', 'lib:report'], bannedExternalImports: noTf },
            {
              sourceTag: 'app:fine-tune',
              onlyDependOnLibsWithTags: ['lib:io', 'lib:tensor', 'lib:data', 'lib:tokenizers', 'lib:gguf', 'lib:models', 'lib:ort', 'lib:engine', 'lib:peft', 'lib:tasks', 'lib:zo', 'lib:policy', 'lib:artifacts', 'lib:registry', 'lib:report', 'lib:finetune', 'lib:distributed'],
            },
            {
              sourceTag: 'app:meta-trainer',
              onlyDependOnLibsWithTags: ['lib:io', 'lib:tensor', 'lib:data', 'lib:models', 'lib:ort', 'lib:engine', 'lib:peft', 'lib:tasks', 'lib:zo', 'lib:policy', 'lib:meta', 'lib:artifacts', 'lib:registry', 'lib:report'],
            },
            {
              sourceTag: 'app:toolbox',
              onlyDependOnLibsWithTags: ['lib:io', 'lib:tensor', 'lib:data', 'lib:tokenizers', 'lib:models', 'lib:ort', 'lib:engine', 'lib:peft', 'lib:tasks', 'lib:zo', 'lib:policy', 'lib:report', 'lib:distributed'],
            },
            { sourceTag: 'app:sweep', onlyDependOnLibsWithTags: ['lib:io', 'lib:report', 'lib:sweep', 'lib:distributed'], bannedExternalImports: noTf },
            { sourceTag: 'app:cli', onlyDependOnLibsWithTags: ['type:app', 'lib:tensor'] },
            { sourceTag: 'type:e2e', onlyDependOnLibsWithTags: ['*'] },
            { sourceTag: 'type:scripts', onlyDependOnLibsWithTags: ['*'] },
            { sourceTag: 'type:tools', onlyDependOnLibsWithTags: [] },
          ],
        },
      ],
    },
  },
  // tests/ and scripts/ reach into apps and testkits by relative path (they were outside every project
  // before they became the e2e and scripts projects), and each project's vitest.config.ts (and
  // vitest.mutate*.config.ts, the tests Stryker runs) re-exports the root vitest.shared.ts (and its
  // stryker*.config.mjs import tools/stryker.base.mjs, the two AssemblyScript build scripts tools/asc-embed.mjs:
  // build-time files, never packed or imported at run time); the libs' and apps' sources stay strict
  {
    files: ['tests/**', 'scripts/**', '**/vitest.config.ts', '**/vitest.mutate*.config.ts', '**/stryker*.config.mjs', 'libs/tensor/scripts/build-noise-wasm.mjs', 'libs/models/src/tfjs/kernels/build-kernels.mjs'],
    rules: { '@nx/enforce-module-boundaries': 'off' },
  },
];
