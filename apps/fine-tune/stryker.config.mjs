// nx run @zotune/app-fine-tune:mutate — the resume path: the trajectory's records checked against
// config.json and replayed (resume.ts), and the run state restored from them (state.ts). The rest of
// trainer.ts drives whole runs and is covered by the end-to-end tests (tests/finetune.test.ts), which
// are too slow to run once per mutant.
import { strykerConfig } from '../../tools/stryker.base.mjs';

export default strykerConfig({
  project: 'apps/fine-tune',
  mutate: ['apps/fine-tune/src/resume.ts', 'apps/fine-tune/src/state.ts'],
});
