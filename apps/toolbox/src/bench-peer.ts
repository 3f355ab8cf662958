// The PyTorch + transformers MeZO peer of `zotune bench step --peer` (scripts/python/mezo_peer.py, run
// with the project's venv): the batch zotune steps on, unpacked into MeZO's one-sequence-per-candidate
// layout and written for the peer; finding the venv's python; and the peer as a long-lived process
// that times one forward or one MeZO step per command, so that its steps interleave with zotune's.
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { WORKSPACE_ROOT } from '@zotune/data';
import { PAD_SEGMENT } from '@zotune/models';
import { UserError } from '@zotune/report';
import type { TaskBatch } from '@zotune/tasks';

/** What mezo_peer.py reads with --batch-file (its docstring describes the format). */
export const PEER_BATCH_FORMAT = 'zotune-peer-batch/1';

export interface PeerBatchFile {
  format: typeof PEER_BATCH_FORMAT;
  numCandidates: number;
  /** [examples] the gold candidate of each example */
  gold: number[];
  /** [examples · numCandidates], example-major: the ids fed, and which logits (positions) score which targets */
  sequences: { ids: number[]; positions: number[]; targets: number[] }[];
}

/**
 * The classification batch zotune steps on, as MeZO lays it out: example b with candidate c is the
 * sequence prompt + candidate, fed without its last token (no target reads its logits); candidate token
 * i is scored by the logits at position P − 1 + i (P = prompt length), as in zotune's tree packing,
 * where the candidate's positions restart at P. The same ids, targets and loss, by construction.
 */
export function peerBatch(tb: TaskBatch): PeerBatchFile {
  const p = tb.packed;
  const K = p.numCandidates;
  if (K < 2) throw new UserError(`--peer: the batch holds ${K} candidate per example; the peer runs MeZO's classification loss (a task with candidates, e.g. sst2)`, 2);
  const sequences: PeerBatchFile['sequences'] = [];
  for (let b = 0; b < p.batch; b++) {
    const prompt: number[] = [];
    const cands: number[][] = Array.from({ length: K }, () => []);
    for (let t = 0; t < p.length; t++) {
      const s = p.segments[b * p.length + t];
      if (s === 0) prompt.push(p.tokens[b * p.length + t]);
      else if (s !== PAD_SEGMENT) cands[s - 1].push(p.tokens[b * p.length + t]);
    }
    for (const cand of cands)
      sequences.push({ ids: [...prompt, ...cand.slice(0, -1)], positions: cand.map((_, i) => prompt.length - 1 + i), targets: cand });
  }
  return { format: PEER_BATCH_FORMAT, numCandidates: K, gold: Array.from(tb.gold), sequences };
}

/** The peer script, inside the zotune workspace (it is not shipped with a bundle installed as a package). */
export function peerScript(root: string | null = WORKSPACE_ROOT): string {
  const script = root && join(root, 'scripts', 'python', 'mezo_peer.py');
  if (!script || !existsSync(script)) throw new UserError('--peer: scripts/python/mezo_peer.py not found; run zotune from its repository (the peer is not part of an installed package)', 2);
  return script;
}

/** $ZOTUNE_PYTHON, else the project's venv if it is made (`venv.sh --check`; never installs). */
export function peerPython(env: NodeJS.ProcessEnv = process.env, root: string | null = WORKSPACE_ROOT): string {
  const named = env.ZOTUNE_PYTHON?.trim();
  if (named) {
    if (!existsSync(named)) throw new UserError(`ZOTUNE_PYTHON=${named}: no such file; unset it, or make the venv with \`bash scripts/python/venv.sh\` and use the python it prints`, 2);
    return named;
  }
  const venv = root && join(root, 'scripts', 'python', 'venv.sh');
  if (!venv || !existsSync(venv)) throw new UserError('--peer: scripts/python/venv.sh not found; run zotune from its repository, or set ZOTUNE_PYTHON', 2);
  const r = spawnSync('bash', [venv, '--check'], { env, encoding: 'utf8' });
  const lines = (s: string | null) => (s ?? '').trim().split('\n');
  if (r.status !== 0) throw new UserError(`--peer: no Python for the peer: ${lines(r.stderr).at(-1)?.replace(/^venv\.sh: /, '') || r.error?.message}`, 2);
  return lines(r.stdout).at(-1)!;
}

/** The peer's first line: the model and batch it loaded and the loss at the initial weights. */
export interface PeerReady {
  model: string;
  params: number;
  sequences: number;
  padded_tokens: number;
  tokens: number;
  loss0: number;
  threads: number;
  eps: number;
  lr: number;
  full_logits: boolean;
  attn: string;
  torch: string;
  transformers: string;
  numpy: string;
  python: string;
  /** OMP_WAIT_POLICY as the peer ran (PASSIVE unless the environment sets another) */
  omp_wait_policy: string | null;
  load_s: number;
}

export interface PeerStep {
  ms: number;
  forward_ms: number;
  perturb_ms: number;
  l_plus: number;
  l_minus: number;
}

/** One command's longest wait: a 135M step on a loaded machine takes under a minute. */
const COMMAND_TIMEOUT_MS = 600_000;

/** mezo_peer.py --serve: one JSON line per command on stdin; exit or a timeout fails the pending command. */
export class PeerProcess {
  private readonly lines: string[] = [];
  private waiting?: (line: string | Error) => void;
  private stderrTail = '';
  private exited?: string;

  private constructor(
    private readonly child: ChildProcessWithoutNullStreams,
    readonly command: string,
  ) {
    createInterface({ input: child.stdout }).on('line', (l) => this.push(l));
    child.stderr.on('data', (d: Buffer) => (this.stderrTail = (this.stderrTail + d.toString()).slice(-4000)));
    child.on('error', (e) => this.fail(e.message));
    child.on('close', (code) => this.fail(`exit ${code}`));
  }

  ready!: PeerReady;

  static async start(python: string, args: string[]): Promise<PeerProcess> {
    const script = peerScript();
    const child = spawn(python, [script, '--serve', ...args], { env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' }, stdio: ['pipe', 'pipe', 'pipe'] });
    const p = new PeerProcess(child, [python, script, '--serve', ...args].join(' '));
    p.ready = (await p.next('ready')) as unknown as PeerReady;
    return p;
  }

  forward(): Promise<{ ms: number; loss: number }> {
    return this.send('forward') as Promise<{ ms: number; loss: number }>;
  }

  step(): Promise<PeerStep> {
    return this.send('step') as unknown as Promise<PeerStep>;
  }

  /** Ask it to quit; its peak RSS (MiB). */
  async close(): Promise<number> {
    const done = await this.send('quit');
    return done.peak_rss_mib as number;
  }

  /** End it without a word (after an error). */
  kill(): void {
    if (this.exited === undefined) this.child.kill();
  }

  private async send(cmd: 'forward' | 'step' | 'quit'): Promise<Record<string, unknown>> {
    this.child.stdin.write(`${cmd}\n`);
    return this.next(cmd === 'quit' ? 'done' : cmd);
  }

  private push(line: string): void {
    if (this.waiting) {
      const w = this.waiting;
      this.waiting = undefined;
      w(line);
    } else this.lines.push(line);
  }

  private fail(why: string): void {
    this.exited ??= why;
    this.push('');
  }

  private async next(event: string): Promise<Record<string, unknown>> {
    const line =
      this.lines.shift() ??
      (await new Promise<string | Error>((resolve) => {
        const timer = setTimeout(() => resolve(new Error(`no answer in ${COMMAND_TIMEOUT_MS / 1000} s`)), COMMAND_TIMEOUT_MS);
        this.waiting = (l) => {
          clearTimeout(timer);
          resolve(l);
        };
      }));
    let msg: Record<string, unknown> | undefined;
    try {
      msg = typeof line === 'string' && line !== '' ? JSON.parse(line) : undefined;
    } catch {
      msg = undefined;
    }
    if (msg?.event === event) return msg;
    this.kill();
    const why = line instanceof Error ? line.message : this.exited ?? `unexpected output ${JSON.stringify(line.slice(0, 200))}`;
    const said = this.stderrTail.trim().split('\n').at(-1);
    throw new UserError(`--peer: the peer failed (${why}) waiting for "${event}"${said ? `: ${said}` : ''}; command: ${this.command}`, 1);
  }
}
