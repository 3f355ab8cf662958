// `zotune meta-train`: flags → @zotune/meta's metaTrain / resumeMetaTrain → the policy artifact →
// optional publish into registries (opened before the training, so a bad URL or token fails first).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeJsonAtomic } from '@zotune/io';
import { MetaTrainAbortError, metaTrain, resumeMetaTrain, type MetaTrainOptions, type MetaTrainResult as LibResult } from '@zotune/meta';
import { formatRef, type PolicyRef, type PolicyRegistry } from '@zotune/registry';
import { cliText, interruptedError, RUN_FILES, UserError } from '@zotune/report';
import { chooseEngine, engineNote, openModel, parseThreads } from '@zotune/engine';
import { parseBackend } from '@zotune/tensor';
import { checkResumeFlags, metaConfigFromFlags, parseTaskList, peftFromFlags, publishRefs, registryOf, type MetaTrainFlags } from './options';

export { CHECKPOINT_FILE, POLICY_FILE } from '@zotune/meta';

export interface PublishedRef {
  ref: string;
  digest: string;
  status: string;
  registry: string;
}

/** The library's result and the references published (summary.json). */
export interface MetaTrainResult extends LibResult {
  published: PublishedRef[];
}

export interface RunOptions {
  /** one-line messages (the command sends them to stderr) */
  log?: (line: string) => void;
  /** no progress line on stderr */
  quiet?: boolean;
  /** Ctrl-C: stop after the step under way, checkpointed; the run then rejects with the line that says how to resume (exit 130) */
  signal?: AbortSignal;
}

/** Run (or resume) a meta-training as the command does. */
export async function runMetaTrain(flags: MetaTrainFlags, opts: RunOptions = {}): Promise<MetaTrainResult> {
  const log = opts.log ?? (() => {});
  let backend;
  let threads: number;
  try {
    backend = parseBackend(flags.backend ?? process.env.ZOTUNE_BACKEND, flags.backend ? '--backend' : 'ZOTUNE_BACKEND');
    threads = parseThreads(flags.threads);
  } catch (e) {
    throw new UserError(cliText(e), 2);
  }
  let refs: PolicyRef[] = [];
  let registry: PolicyRegistry | undefined;
  const lib: MetaTrainOptions = {
    backend,
    log,
    quiet: opts.quiet ?? false,
    signal: opts.signal,
    // the forward-only meta-gradient (--meta-grad spsa) runs on ONNX Runtime
    openModel: async (checkpoint) => {
      const engine = await chooseEngine('ort', 'forward', { threads }).catch((e: Error) => {
        throw new UserError(`--meta-grad spsa: ${e.message}`, 2);
      });
      log(engineNote(engine).trimEnd());
      return openModel(checkpoint, engine, { handOver: true });
    },
    beforeTraining: (run) => {
      refs = publishRefs(flags.publish ?? [], run.modelName, run.name, flags.tag);
      // open the registries before hours of training, so a bad URL or token file fails now
      registry = refs.length ? registryOf(flags.registry, flags.tokenFile) : undefined;
    },
  };
  let r: LibResult;
  try {
    if (flags.resume !== undefined) {
      checkResumeFlags(flags);
      r = await resumeMetaTrain(flags.resume, lib);
    } else {
      const tasks = parseTaskList(flags.tasks);
      const meta = (metaGrad: 'exact' | 'spsa') => metaConfigFromFlags(flags, metaGrad);
      const peft = peftFromFlags(flags);
      r = await metaTrain({ model: flags.model, tasks, meta, metaGrad: flags.metaGrad, name: flags.name, description: flags.description, peft }, { ...lib, dir: flags.out });
    }
  } catch (e) {
    throw e instanceof MetaTrainAbortError ? interruptedError('meta-train', e.step, e.steps, e.dir) : e;
  }
  const published: PublishedRef[] = [];
  if (registry) {
    const bytes = readFileSync(r.artifact);
    for (const ref of refs) {
      const p = await registry.publish(ref, bytes).catch((e: Error) => {
        throw new UserError(`--publish ${formatRef(ref)}: ${e.message}`);
      });
      published.push({ ref: p.ref, digest: p.digest, status: p.status, registry: registry.location });
      log(`meta-train: published ${p.ref} (${p.status}) in ${registry.location}`);
    }
  }
  const result: MetaTrainResult = { ...r, published };
  writeJsonAtomic(join(r.runDir, RUN_FILES.summary), result);
  return result;
}
