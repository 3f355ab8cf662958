// nx run @zotune/finetune:mutate — the resume path: the trajectory's records checked against
// config.json and replayed (resume.ts), and the run state restored from them (state.ts). The rest of
// trainer.ts drives whole runs and is covered by the end-to-end tests (tests/finetune.test.ts), which
// are too slow to run once per mutant.
import { strykerConfig } from '../../tools/stryker.base.mjs';

export default strykerConfig({
  project: 'libs/finetune',
  mutate: ['libs/finetune/src/resume.ts', 'libs/finetune/src/state.ts'],
});
