// The backward passes of `zotune bench headroom --gradients torch`, for models whose tfjs backward
// cannot allocate (SmolLM2-135M: tfjs-wasm's 4 GiB heap). zotune writes its own weights (writeHfDir:
// HF names, [out, in]) and the minibatches it would train on (PackedBatch + TaskBatch: token ids,
// positions, segments, scored positions and targets, gold, gold-token weights) to a temporary
// directory; scripts/python/headroom-grads.py computes zotune's task loss on them in PyTorch (pinned
// venv) and returns per-block G_j (per minibatch) and per-probe Hutchinson curvature. So the loss is
// zotune's by construction, and the block names are zotune's (HF names).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '@zotune/data';
import { writeHfDir, type Checkpoint } from '@zotune/models';
import type { BlockHeadroom } from '@zotune/policy';
import { UserError } from '@zotune/report';
import type { TaskBatch } from '@zotune/tasks';

const SCRIPT = join(REPO_ROOT, 'scripts/python/headroom-grads.py');
const VENV_SH = join(REPO_ROOT, 'scripts/python/venv.sh');

export interface TorchHeadroom {
  blocks: BlockHeadroom[];
  /** [probes][blocks] per-parameter curvature of each probe (ĥ_j is their mean) */
  curvatureByProbe: number[][];
  /** [batches][blocks] ‖∇_j L_b‖² (G_j is their mean) */
  energyByBatch: number[][];
  /** torch's task loss of each minibatch at θ0 (a check against zotune's forward) */
  losses: number[];
  seconds: number;
  python: string;
  versions: Record<string, string>;
}

interface TorchOut {
  losses: number[];
  gradEnergy: number[][];
  curvature: number[][];
  sizes: number[];
  versions: Record<string, string>;
  seconds: number;
}

/** The python to run: $ZOTUNE_PYTHON, else the pinned venv (scripts/python/venv.sh makes it once). */
export function venvPython(): string {
  if (process.env.ZOTUNE_PYTHON) return process.env.ZOTUNE_PYTHON;
  const r = spawnSync('bash', [VENV_SH], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  const py = r.stdout?.trim().split('\n').at(-1);
  if (r.status !== 0 || !py) throw new UserError(`--gradients torch: ${VENV_SH} failed (exit ${r.status}); set ZOTUNE_PYTHON to a python with torch and transformers (scripts/python/requirements.txt)`, 1);
  return py;
}

const arr = (a: ArrayLike<number>) => Array.from(a);

/** The batch as the script reads it (field names of PackedBatch and TaskBatch). */
function batchJson(b: TaskBatch): Record<string, unknown> {
  const p = b.packed;
  return {
    batch: p.batch,
    length: p.length,
    numCandidates: p.numCandidates,
    tokens: arr(p.tokens),
    positions: arr(p.positions),
    segments: arr(p.segments),
    predIndex: arr(p.predIndex),
    targetIds: arr(p.targetIds),
    targetGroup: arr(p.targetGroup),
    groupSize: arr(p.groupSize),
    gold: arr(b.gold),
    goldMask: arr(b.goldMask),
    goldTokens: b.goldTokens,
  };
}

/**
 * G_j over `batches` and (probes > 0) ĥ_j from `probes` gradient differences at ±delta, computed by
 * PyTorch on `ckpt` (zotune's weights); `blockNames` in zotune's block order.
 */
export function torchHeadroom(
  ckpt: Checkpoint,
  blockNames: readonly string[],
  batches: readonly TaskBatch[],
  opts: { probes: number; delta: number; seed: number; python?: string },
): TorchHeadroom {
  if (batches.length === 0) throw new Error('torchHeadroom: no minibatch');
  const python = opts.python ?? venvPython();
  const dir = mkdtempSync(join(tmpdir(), 'zotune-headroom-'));
  try {
    writeHfDir(join(dir, 'model'), ckpt);
    const kind = batches[0].kind === 'generation-lm' ? 'generation-lm' : 'classification';
    writeFileSync(join(dir, 'batches.json'), JSON.stringify({ kind, blocks: blockNames, probes: opts.probes, delta: opts.delta, seed: opts.seed, batches: batches.map(batchJson) }));
    const out = join(dir, 'out.json');
    const r = spawnSync(python, [SCRIPT, join(dir, 'model'), join(dir, 'batches.json'), out], { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' } });
    if (r.status !== 0) throw new UserError(`--gradients torch: ${python} ${SCRIPT} failed (exit ${r.status ?? r.signal}${r.error ? `: ${r.error.message}` : ''}); see its message above`, 1);
    const t = JSON.parse(readFileSync(out, 'utf8')) as TorchOut;
    const B = t.gradEnergy.length;
    const blocks = blockNames.map((name, j): BlockHeadroom => {
      const gradEnergy = t.gradEnergy.reduce((s, row) => s + row[j], 0) / B;
      const curvature = t.curvature.length ? t.curvature.reduce((s, row) => s + row[j], 0) / t.curvature.length : null;
      return { name, size: t.sizes[j], gradEnergy, density: gradEnergy / t.sizes[j], curvature };
    });
    return { blocks, curvatureByProbe: t.curvature, energyByBatch: t.gradEnergy, losses: t.losses, seconds: t.seconds, python, versions: t.versions };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
