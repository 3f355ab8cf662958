// Build the in-domain task files derived from TinyStories (libs/data/src/derived.ts) and print where
// they went, their rows and sha256. The tasks build them on first use anyway; this script is for
// inspecting them, or building them ahead (CI, a read-only cache). Usage:
//   npx tsx scripts/story-tasks.ts [--out DIR] [--repin]   (default: $ZOTUNE_CACHE/derived, else .cache/derived)
// --repin: print the hashes of a changed builder without checking them (then update DERIVED's pins).
import { buildDerived, DERIVED, derivedRoot, resolveDataDir } from '@zotune/data';

const i = process.argv.indexOf('--out');
const root = i > 0 ? process.argv[i + 1] : derivedRoot();
if (!root) {
  process.stderr.write('story-tasks: --out: expected a directory\n');
  process.exit(2);
}
try {
  for (const set of DERIVED)
    for (const f of buildDerived(set, resolveDataDir(), root, { checkPins: !process.argv.includes('--repin') })) process.stdout.write(`${set.name}\t${root}/${f.path}\t${f.rows} rows\tsha256 ${f.sha256}\n`);
} catch (e) {
  process.stderr.write(`story-tasks: ${(e as Error).message}\n`);
  process.exit(1);
}
