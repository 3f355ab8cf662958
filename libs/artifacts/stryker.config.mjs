// nx run @zotune/artifacts:mutate — the trajectory file (framing, torn tails, record checks), the
// policy artifact (encoding, validation) and their codec. fingerprint.ts and the policy schema's
// example are out of scope: they describe an artifact, they do not decide what is replayed.
import { strykerConfig } from '../../tools/stryker.base.mjs';

export default strykerConfig({
  project: 'libs/artifacts',
  mutate: ['libs/artifacts/src/trajectory.ts', 'libs/artifacts/src/policy-artifact.ts', 'libs/artifacts/src/codec.ts'],
});
