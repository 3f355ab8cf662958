// nx run @zotune/registry:mutate — the HTTP server (bearer-token check, path and digest checks) and
// the token file reader. local-store.ts (content addressing, 257 mutants) is next in line: on this
// shared 2-core machine a run of it did not fit the time of the first pass (docs/mutation.md).
import { strykerConfig } from '../../tools/stryker.base.mjs';

export default strykerConfig({
  project: 'libs/registry',
  mutate: ['libs/registry/src/server.ts', 'libs/registry/src/token.ts'],
});
