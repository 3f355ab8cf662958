// Backend selection: auto tries the native TensorFlow bindings (GPU, then CPU) when installed,
// then the WebAssembly backend, then tfjs's pure-JS cpu backend; it says which it chose and why.
import * as tf from '@tensorflow/tfjs-core';

export type BackendName = 'auto' | 'tensorflow' | 'wasm' | 'cpu';
export const BACKENDS: readonly BackendName[] = ['auto', 'tensorflow', 'wasm', 'cpu'];

export interface BackendChoice {
  /** the tfjs backend now active: 'tensorflow', 'wasm' or 'cpu' */
  name: string;
  /** why it was chosen, including what was tried and failed */
  reason: string;
}

let current: BackendChoice | undefined;

async function tryTensorflow(): Promise<string> {
  // Optional dependencies, loaded only when asked for; importing one registers the 'tensorflow' backend.
  const errors: string[] = [];
  for (const pkg of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
    try {
      await import(/* @vite-ignore */ pkg);
      if (await tf.setBackend('tensorflow')) return pkg;
      errors.push(`${pkg}: loaded but the backend did not start`);
    } catch (e) {
      const missing = (e as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND';
      errors.push(`${pkg} ${missing ? 'not installed' : `failed: ${firstLine(e)}`}`);
    }
  }
  throw new Error(errors.join('; '));
}

/**
 * The Emscripten module inside tfjs-backend-wasm installs process-wide `uncaughtException` and
 * `unhandledRejection` handlers that rethrow from its own file, so every uncaught error of the program
 * (ours or the user's) is reported at that line, with that file's source, instead of where it was
 * thrown. The backend works without them: they are removed once it has started, leaving Node's default
 * behaviour (and any handler the program installed itself).
 */
async function tryWasm(): Promise<void> {
  // Node's typings overload listeners() per event name, so each event is read with its own literal
  const listeners = () => [...process.listeners('uncaughtException'), ...process.listeners('unhandledRejection')];
  const before = new Set<unknown>(listeners());
  try {
    await import('@tensorflow/tfjs-backend-wasm');
    if (!(await tf.setBackend('wasm'))) throw new Error('the wasm backend did not start');
  } finally {
    for (const l of process.listeners('uncaughtException')) if (!before.has(l)) process.removeListener('uncaughtException', l);
    for (const l of process.listeners('unhandledRejection')) if (!before.has(l)) process.removeListener('unhandledRejection', l);
  }
}

async function tryCpu(): Promise<void> {
  await import('@tensorflow/tfjs-backend-cpu');
  if (!(await tf.setBackend('cpu'))) throw new Error('the cpu backend did not start');
}

/** The first line of an error, cut to `max` characters (a composed message of several reasons gets more room). */
function firstLine(e: unknown, max = 200): string {
  const msg = e instanceof Error ? e.message : String(e);
  return msg.split('\n')[0].slice(0, max);
}

/** Parse a user-given backend name (flag or ZOTUNE_BACKEND); throws a one-line error naming the source. */
export function parseBackend(value: string | undefined, source = '--backend'): BackendName {
  const v = (value ?? 'auto').trim();
  if ((BACKENDS as readonly string[]).includes(v)) return v as BackendName;
  throw new Error(`${source}: unknown backend "${v}"; expected one of ${BACKENDS.join(', ')}`);
}

/** Select and initialise the tfjs backend. Idempotent for the same choice. */
export async function initBackend(
  pref: BackendName = parseBackend(process.env.ZOTUNE_BACKEND, 'ZOTUNE_BACKEND'),
  opts: { quiet?: boolean } = {},
): Promise<BackendChoice> {
  if (current && (pref === 'auto' || pref === current.name)) return current;
  let choice: BackendChoice;
  if (pref === 'tensorflow') {
    const pkg = await tryTensorflow().catch((e) => {
      throw new Error(`--backend tensorflow: not available (${firstLine(e, 1000)}); install @tensorflow/tfjs-node or use --backend wasm`);
    });
    choice = { name: 'tensorflow', reason: `requested; loaded ${pkg}` };
  } else if (pref === 'wasm') {
    await tryWasm();
    choice = { name: 'wasm', reason: 'requested' };
  } else if (pref === 'cpu') {
    await tryCpu();
    choice = { name: 'cpu', reason: 'requested (pure JavaScript, about 40x slower than wasm)' };
  } else {
    const tried: string[] = [];
    choice = await tryTensorflow().then(
      (pkg) => ({ name: 'tensorflow', reason: `auto: ${pkg} is installed` }),
      async (e) => {
        tried.push(`native TensorFlow unavailable (${firstLine(e, 1000)})`);
        try {
          await tryWasm();
          return { name: 'wasm', reason: `auto: ${tried.join('; ')}; using WebAssembly` };
        } catch (e2) {
          tried.push(`wasm failed (${firstLine(e2)})`);
          await tryCpu();
          return { name: 'cpu', reason: `auto: ${tried.join('; ')}; using the pure-JS cpu backend` };
        }
      },
    );
  }
  await tf.ready();
  current = choice;
  if (!opts.quiet) process.stderr.write(backendNote(choice));
  return choice;
}

/** The one-line stderr note of a choice (what initBackend prints unless quiet; libraries hand it to their `log`). */
export function backendNote(choice: BackendChoice): string {
  return `zotune: backend ${choice.name} (${choice.reason})\n`;
}

/**
 * Throws a one-line error saying what to call when no tfjs backend is registered yet: a library user who
 * builds a model before `initBackend` would otherwise get tfjs's "No backend found in registry." from
 * deep inside. A backend the program registered itself (importing a tfjs backend package) counts.
 */
export function requireBackend(what: string): void {
  if (tf.engine().backendNames().length === 0)
    throw new Error(`${what}: no tfjs backend is set up; call \`await initBackend()\` from @zotune/tensor first (or 'wasm', 'cpu', 'tensorflow')`);
}

/** The backend chosen by initBackend, if any. */
export function currentBackend(): BackendChoice | undefined {
  return current;
}
