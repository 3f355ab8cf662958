// Compile an AssemblyScript module in memory and embed its .wasm bytes as base64 in a generated .ts file,
// so that nothing is compiled at run time. Shared by libs/tensor/scripts/build-noise-wasm.mjs and
// libs/models/src/tfjs/kernels/build-kernels.mjs, which say what to compile; this says how, and how
// `--check` compares a fresh build with the committed bytes (exit 0 equal, 1 different, 3 no asc).
import { createHash } from 'node:crypto';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';

/**
 * @param {object} o
 * @param {string} o.tool       the script's name in messages (e.g. 'build-noise-wasm')
 * @param {string[]} o.argv     asc's arguments before the flags (entry file, --baseDir, …)
 * @param {string} o.wasmName   the --outFile name asc writes in memory (e.g. 'noise.wasm')
 * @param {string[]} o.flags    asc flags, also written into the generated file's header
 * @param {(name: string, baseDir: string) => string | null} o.readFile  asc's source reader
 * @param {() => string[]} [o.listFiles]  asc's directory lister (absent: asc's default)
 * @param {string} o.source     how messages name the source
 * @param {string} o.target     absolute path of the generated .ts file
 * @param {string} o.shown      how messages name the generated file
 * @param {string} o.constName  exported constants are `${constName}_BASE64` and `${constName}_SHA256`
 * @param {string} o.generatedBy first line of the generated file, after '// '
 * @param {string} o.what       the doc comment's subject ("The noise kernel's")
 * @param {string} o.rebuild    what the --check failure tells the user to run
 */
export async function ascEmbed(o) {
  const asc = await loadAsc();
  if (!asc) {
    process.stderr.write(`${o.tool}: assemblyscript is not installed (npm i -D assemblyscript)\n`);
    process.exit(3);
  }
  const bytes = await compile(asc, o);
  if (process.argv.includes('--check')) {
    const old = committedBytes(o);
    if (old && Buffer.compare(old, Buffer.from(bytes)) === 0) {
      process.stdout.write(`${o.tool}: ${o.shown} matches the source (${bytes.length} bytes)\n`);
    } else {
      process.stderr.write(`${o.tool}: ${o.shown} differs from a fresh build of ${o.source}; ${o.rebuild}\n`);
      process.exit(1);
    }
  } else {
    const tmp = `${o.target}.tmp-${process.pid}`;
    writeFileSync(tmp, render(bytes, asc.version ?? 'unknown', o));
    renameSync(tmp, o.target);
    process.stdout.write(`${o.tool}: wrote ${o.shown} (${bytes.length} bytes of wasm)\n`);
  }
}

async function loadAsc() {
  try {
    return (await import('assemblyscript/asc')).default;
  } catch (e) {
    if (e?.code === 'ERR_MODULE_NOT_FOUND') return null;
    throw e;
  }
}

/** The module's .wasm bytes; asc's log is shown only when it fails. */
async function compile(asc, o) {
  const outputs = new Map();
  const log = [];
  const stream = { write: (s) => log.push(String(s)) };
  const { error } = await asc.main([...o.argv, '--outFile', o.wasmName, ...o.flags], {
    stdout: stream,
    stderr: stream,
    readFile: o.readFile,
    writeFile: (name, contents) => outputs.set(name, contents),
    ...(o.listFiles ? { listFiles: o.listFiles } : {}),
  });
  if (error) throw new Error(`asc failed: ${error.message}\n${log.join('')}`);
  const bytes = outputs.get(o.wasmName);
  if (!(bytes instanceof Uint8Array)) throw new Error(`asc wrote no ${o.wasmName} (${[...outputs.keys()].join(', ')})`);
  return bytes;
}

function render(bytes, version, o) {
  const b64 = Buffer.from(bytes).toString('base64');
  const sha = createHash('sha256').update(bytes).digest('hex');
  return [
    `// ${o.generatedBy}`,
    `// AssemblyScript ${version}, flags: ${o.flags.join(' ')}`,
    `/** ${o.what} .wasm bytes (${bytes.length} bytes), base64. */`,
    `export const ${o.constName}_BASE64 =\n  '${b64}';`,
    '/** sha256 of those bytes. */',
    `export const ${o.constName}_SHA256 = '${sha}';`,
    '',
  ].join('\n');
}

function committedBytes(o) {
  let text;
  try {
    text = readFileSync(o.target, 'utf8');
  } catch {
    return null;
  }
  const m = new RegExp(`${o.constName}_BASE64 =\\s*'([A-Za-z0-9+/=]*)'`).exec(text);
  return m ? Buffer.from(m[1], 'base64') : null;
}
