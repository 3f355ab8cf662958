#!/usr/bin/env python3
"""The PyTorch + transformers MeZO peer of `zotune bench step --peer` (issue 22): MeZO as
princeton-nlp/MeZO runs it (large_models/trainer.py), on the Hugging Face transformers model in fp32.

Per step, with a fresh seed s (MeZO: np.random.randint(1e9)):
    perturb(s, +eps)  L+ = loss   perturb(s, -2 eps)  L- = loss   perturb(s, +eps)
    g = (L+ - L-) / (2 eps)       update: theta -= lr * g * z
where perturb(s, a) is MeZO's zo_perturb_parameters: torch.manual_seed(s), then for every parameter
in named_parameters() order z = torch.normal(0, 1, size) and theta += a * z, in place (tied weights
appear once); the update regenerates z the same way (MeZO's zo_update, weight decay 0). Four
in-place passes over every weight per step, everything under torch.inference_mode().

Loss (MeZO's --train_as_classification): every (example, candidate) pair is one sequence, right-padded
to the longest with an attention mask; a candidate's score is the mean log-softmax of its tokens at the
scored positions; the loss is the cross-entropy of the softmax over each example's scores against its
gold candidate, averaged over the examples. The LM head runs at the scored positions only (MeZO's
wrapper runs it everywhere: --full-logits does that, about a quarter more work at vocab 49,152).

Weights and batch:
  --gguf FILE        a GGUF (transformers' own loader, dequantized to fp32), e.g. the SmolLM2-135M that
                     zotune steps; zotune passes its model's GGUF, or its checkpoint written as an F32 GGUF
  --shape NAME       random weights of a named shape (no download): smollm2-135M, stories15M, stories42M,
                     matching ../shared/bench/torch-mezo's shape mode (RoPE theta 1e4, N(0, 0.02) matrices)
  --batch-file FILE  the batch zotune steps on (JSON, format zotune-peer-batch/1, below); without it, the
                     random-shape batch of torch-mezo: --batch examples x 2 candidates of 64 random ids,
                     4 of them the candidate's, random gold
Batch file: {"format": "zotune-peer-batch/1", "numCandidates": K, "gold": [B ints],
  "sequences": [B*K of {"ids": [...], "positions": [...], "targets": [...]}]}, example-major; sequence
  b*K+c is example b with candidate c, fed as ids; logits at ids index positions[i] score targets[i].

Modes (JSON lines on stdout, one-line errors on stderr, exit 2 on bad input):
  --serve            after {"event": "ready", "loss0": ...} read commands on stdin, one per line:
                     "forward" (time one loss), "step" (one MeZO step), "quit"; one JSON line each
  default            --warmup untimed steps then --steps timed ones, then {"event": "summary", ...}
Threads: torch.set_num_threads(--threads), and OMP_WAIT_POLICY=PASSIVE unless the environment sets it (reported):
libgomp's workers otherwise spin between ops, and on a machine with more runnable threads than cores that made
the 2-thread peer 4-5x slower than its 1-thread self (stories15M shape, load 35 on 2 cores: 21.9 vs 4.3 s a step).
"""
import argparse
import json
import os
import platform
import resource
import sys
import time

# before torch loads libgomp, which reads it once (see the docstring)
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def fail(msg, code=2):
    print(f"mezo_peer.py: {msg}", file=sys.stderr, flush=True)
    sys.exit(code)


try:
    import numpy as np
    import torch
    import torch.nn.functional as F
    import transformers
    from transformers import AutoModelForCausalLM, LlamaConfig, LlamaForCausalLM
except ImportError as e:
    fail(f"{e}; run it with the project's venv (bash scripts/python/venv.sh prints its python)")

BATCH_FORMAT = "zotune-peer-batch/1"

# torch-mezo's random-weight shapes: hidden, FFN, layers, heads, KV heads, vocab, context (tied head)
SHAPES = {
    "stories15M": (288, 768, 6, 6, 6, 32000, 256),
    "stories42M": (512, 1376, 8, 8, 8, 32000, 1024),
    "smollm2-135M": (576, 1536, 30, 9, 3, 49152, 2048),
}
RANDOM_SEQ, RANDOM_OPT = 64, 4  # torch-mezo's random batch: 64 input ids per sequence, 4 candidate tokens


def emit(**kw):
    print(json.dumps(kw), flush=True)


def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def load_model(args):
    if args.gguf:
        path = os.path.abspath(args.gguf)
        if not os.path.isfile(path):
            fail(f"--gguf {args.gguf}: not a file")
        m = AutoModelForCausalLM.from_pretrained(os.path.dirname(path), gguf_file=os.path.basename(path), dtype=torch.float32)
        return m, os.path.basename(path)
    dim, ffn, layers, heads, kv, vocab, ctx = SHAPES[args.shape]
    cfg = LlamaConfig(hidden_size=dim, intermediate_size=ffn, num_hidden_layers=layers, num_attention_heads=heads,
                      num_key_value_heads=kv, vocab_size=vocab, max_position_embeddings=ctx, rms_norm_eps=1e-5,
                      rope_theta=1e4, tie_word_embeddings=True, initializer_range=0.02)
    torch.manual_seed(args.seed)
    return LlamaForCausalLM(cfg).to(torch.float32), args.shape


def read_batch(path, vocab):
    try:
        with open(path, encoding="utf-8") as f:
            b = json.load(f)
    except (OSError, ValueError) as e:
        fail(f"--batch-file {path}: {e}")
    if not isinstance(b, dict) or b.get("format") != BATCH_FORMAT:
        fail(f"--batch-file {path}: format: expected {BATCH_FORMAT!r}")
    K, gold, seqs = b.get("numCandidates"), b.get("gold"), b.get("sequences")
    if not isinstance(K, int) or K < 2:
        fail(f"--batch-file {path}: numCandidates: expected an integer >= 2, got {K!r}")
    if not isinstance(gold, list) or not gold or any(not isinstance(g, int) or not 0 <= g < K for g in gold):
        fail(f"--batch-file {path}: gold: expected a non-empty list of integers in [0, {K})")
    if not isinstance(seqs, list) or len(seqs) != len(gold) * K:
        fail(f"--batch-file {path}: sequences: expected {len(gold) * K} (gold x numCandidates) entries")
    for i, s in enumerate(seqs):
        ids, pos, tgt = (s.get(k) if isinstance(s, dict) else None for k in ("ids", "positions", "targets"))
        where = f"--batch-file {path}: sequences[{i}]"
        if not (isinstance(ids, list) and ids and all(isinstance(t, int) and 0 <= t < vocab for t in ids)):
            fail(f"{where}.ids: expected a non-empty list of token ids in [0, {vocab})")
        if not (isinstance(pos, list) and isinstance(tgt, list) and pos and len(pos) == len(tgt)):
            fail(f"{where}: positions and targets: expected two non-empty lists of the same length")
        if any(not isinstance(p, int) or not 0 <= p < len(ids) for p in pos):
            fail(f"{where}.positions: expected indices into ids (0..{len(ids) - 1})")
        if any(not isinstance(t, int) or not 0 <= t < vocab for t in tgt):
            fail(f"{where}.targets: expected token ids in [0, {vocab})")
    return seqs, gold, K


def random_batch(args, vocab):
    """torch-mezo's random-shape layout: prompt [1] + 60 random ids, each candidate 4 random ids."""
    rng = np.random.default_rng(args.seed)
    opts = [[int(t) for t in rng.integers(3, vocab, RANDOM_OPT)] for _ in range(2)]
    seqs, gold = [], []
    for _ in range(args.batch):
        prompt = [1] + [int(t) for t in rng.integers(3, vocab, RANDOM_SEQ - RANDOM_OPT)]
        gold.append(int(rng.integers(2)))
        for o in opts:
            seqs.append({"ids": prompt + o[:-1], "positions": list(range(len(prompt) - 1, len(prompt) + len(o) - 1)), "targets": o})
    return seqs, gold, 2


def tensors(seqs, gold):
    """Right-padded [N, T] ids and mask; [N, S] scored positions, targets and their validity."""
    N, T, S = len(seqs), max(len(s["ids"]) for s in seqs), max(len(s["targets"]) for s in seqs)
    ids, mask = torch.zeros(N, T, dtype=torch.long), torch.zeros(N, T, dtype=torch.long)
    pos, tgt, valid = torch.zeros(N, S, dtype=torch.long), torch.zeros(N, S, dtype=torch.long), torch.zeros(N, S)
    for i, s in enumerate(seqs):
        n, k = len(s["ids"]), len(s["targets"])
        ids[i, :n], mask[i, :n] = torch.tensor(s["ids"]), 1
        pos[i, :k], tgt[i, :k], valid[i, :k] = torch.tensor(s["positions"]), torch.tensor(s["targets"]), 1
    return ids, mask, pos, tgt, valid, torch.tensor(gold)


class Peer:
    def __init__(self, model, batch, K, args):
        self.model, self.K, self.args = model, K, args
        self.ids, self.mask, self.pos, self.tgt, self.valid, self.gold = batch
        # MeZO's named_parameters_to_optim: every trainable parameter, tied weights once
        self.params = [p for _, p in model.named_parameters()]
        self.decoder, self.head = model.get_decoder(), model.get_output_embeddings()
        self.rows = torch.arange(self.ids.shape[0])[:, None]
        self.seeds = np.random.default_rng(args.seed + 1)

    def loss(self):
        h = self.decoder(input_ids=self.ids, attention_mask=self.mask).last_hidden_state  # [N, T, H]
        if self.args.full_logits:
            logp = self.head(h).log_softmax(-1)[self.rows, self.pos]  # [N, S, V]
        else:
            logp = self.head(h[self.rows, self.pos]).log_softmax(-1)
        lp = logp.gather(-1, self.tgt[..., None])[..., 0]  # [N, S]
        scores = ((lp * self.valid).sum(-1) / self.valid.sum(-1)).view(-1, self.K)  # [B, K]
        return F.cross_entropy(scores, self.gold).item()

    def perturb(self, seed, scale):
        torch.manual_seed(seed)
        for p in self.params:
            z = torch.normal(mean=0, std=1, size=p.size(), dtype=p.dtype)
            p.add_(z, alpha=scale)

    def step(self):
        eps, lr = self.args.eps, self.args.lr
        seed = int(self.seeds.integers(1_000_000_000))
        t0 = time.perf_counter()
        self.perturb(seed, eps)
        t1 = time.perf_counter()
        l_plus = self.loss()
        t2 = time.perf_counter()
        self.perturb(seed, -2 * eps)
        t3 = time.perf_counter()
        l_minus = self.loss()
        t4 = time.perf_counter()
        self.perturb(seed, eps)
        g = (l_plus - l_minus) / (2 * eps)
        self.perturb(seed, -lr * g)
        t5 = time.perf_counter()
        return {"ms": 1e3 * (t5 - t0), "forward_ms": 1e3 * ((t2 - t1) + (t4 - t3)),
                "perturb_ms": 1e3 * ((t1 - t0) + (t3 - t2) + (t5 - t4)), "l_plus": l_plus, "l_minus": l_minus, "proj_grad": g}

    def forward(self):
        t0 = time.perf_counter()
        loss = self.loss()
        return {"ms": 1e3 * (time.perf_counter() - t0), "loss": loss}


def main():
    p = argparse.ArgumentParser(description="MeZO peer (PyTorch + transformers, fp32) of zotune bench step --peer")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--gguf", help="a GGUF model file (transformers' loader, dequantized to fp32)")
    src.add_argument("--shape", choices=sorted(SHAPES), help="random weights of this shape")
    p.add_argument("--batch-file", help="the batch as JSON (format zotune-peer-batch/1); default with --shape: random ids")
    p.add_argument("--batch", type=int, default=16, help="--shape without --batch-file: examples (2 sequences each)")
    p.add_argument("--threads", type=int, default=os.cpu_count(), help="torch.set_num_threads")
    p.add_argument("--seed", type=int, default=0, help="random weights and batch (--shape); the step seeds draw from seed + 1")
    p.add_argument("--eps", type=float, default=1e-3)
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--full-logits", action="store_true", help="the LM head at every position, as MeZO's wrapper does")
    p.add_argument("--serve", action="store_true", help="read forward/step/quit commands on stdin")
    p.add_argument("--steps", type=int, default=3, help="timed steps (without --serve)")
    p.add_argument("--warmup", type=int, default=1, help="untimed steps first (without --serve)")
    args = p.parse_args()
    if args.threads < 1:
        fail(f"--threads: expected an integer >= 1, got {args.threads}")
    if args.gguf and not args.batch_file:
        fail("--gguf needs --batch-file (the batch zotune writes)")
    if args.batch < 1 or args.steps < 1 or args.warmup < 0:
        fail("--batch and --steps: expected integers >= 1, --warmup >= 0")
    torch.set_num_threads(args.threads)

    t0 = time.perf_counter()
    model, name = load_model(args)
    model.eval()
    for q in model.parameters():
        q.requires_grad_(False)
    vocab = model.config.vocab_size
    seqs, gold, K = read_batch(args.batch_file, vocab) if args.batch_file else random_batch(args, vocab)
    peer = Peer(model, tensors(seqs, gold), K, args)
    with torch.inference_mode():
        loss0 = peer.loss()
        load_s = time.perf_counter() - t0
        emit(event="ready", model=name, params=sum(q.numel() for q in peer.params), sequences=len(seqs),
             padded_tokens=int(peer.ids.numel()), tokens=int(peer.mask.sum()), loss0=loss0, threads=torch.get_num_threads(),
             eps=args.eps, lr=args.lr, full_logits=args.full_logits, attn=model.config._attn_implementation,
             torch=torch.__version__, transformers=transformers.__version__, numpy=np.__version__,
             python=platform.python_version(), omp_wait_policy=os.environ.get("OMP_WAIT_POLICY"), load_s=round(load_s, 3), rss_after_load_mib=round(peak_rss_mib(), 1))
        if args.serve:
            for line in sys.stdin:
                cmd = line.strip()
                if cmd == "step":
                    emit(event="step", **peer.step())
                elif cmd == "forward":
                    emit(event="forward", **peer.forward())
                elif cmd == "quit":
                    break
                else:
                    fail(f"stdin: unknown command {cmd!r}; expected forward, step or quit")
            emit(event="done", peak_rss_mib=round(peak_rss_mib(), 1))
            return
        timed = []
        for i in range(args.warmup + args.steps):
            r = peer.step()
            emit(event="step", step=i, warmup=i < args.warmup, **r)
            if i >= args.warmup:
                timed.append(r)
        n = len(timed)
        sec = sum(r["ms"] for r in timed) / n / 1e3
        emit(event="summary", model=name, threads=torch.get_num_threads(), timed_steps=n, steps_per_s=1 / sec, sec_per_step=sec,
             forward_s=sum(r["forward_ms"] for r in timed) / n / 1e3, perturb_update_s=sum(r["perturb_ms"] for r in timed) / n / 1e3,
             padded_tokens_per_forward=int(peer.ids.numel()), peak_rss_mib=round(peak_rss_mib(), 1))


if __name__ == "__main__":
    main()
