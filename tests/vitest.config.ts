import { mergeConfig } from 'vitest/config';
import shared from '../vitest.shared.ts';

// the shared config, plus: build the CLI bundle the tests spawn when not run by Nx (see cli-build-setup.ts)
export default mergeConfig(shared, { test: { globalSetup: [new URL('./cli-build-setup.ts', import.meta.url).pathname] } });
