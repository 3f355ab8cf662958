// nx run @zotune/registry:mutate — the bearer-token check and the content-addressed store.
import { strykerConfig } from '../../tools/stryker.base.mjs';

export default strykerConfig({
  project: 'libs/registry',
  mutate: ['libs/registry/src/server.ts', 'libs/registry/src/token.ts', 'libs/registry/src/local-store.ts', 'libs/registry/src/store-index.ts', 'libs/registry/src/refs.ts'],
});
