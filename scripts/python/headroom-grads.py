#!/usr/bin/env python3
"""Per-block gradient energy and Hutchinson curvature for `zotune bench headroom --gradients torch`:
the backward passes a model too large for the tfjs-wasm heap (SmolLM2-135M) needs, on zotune's own
loss and minibatches. Run by the bench in the pinned venv (scripts/python/venv.sh or ZOTUNE_PYTHON).

    headroom-grads.py MODEL_DIR BATCHES_JSON OUT_JSON

MODEL_DIR: a Hugging Face directory (config.json + model.safetensors) that zotune wrote from its own
blocks (writeHfDir), so torch computes with exactly zotune's weights. BATCHES_JSON (written by the bench):
  { kind: "classification" | "generation-lm", blocks: [HF names, zotune's block order],
    probes: P, delta: δ, seed: s,
    batches: [{ batch, length, numCandidates, tokens, positions, segments, predIndex, targetIds,
                targetGroup, groupSize, gold, goldMask, goldTokens }] }   (libs/models PackedBatch + TaskBatch)
The loss is zotune's task loss (libs/tasks/src/objective.ts) on the packed batch:
  classification: scores[b, c] = mean log p of candidate c's tokens; loss = mean_b −log softmax(scores[b])[gold[b]]
  generation-lm:  loss = −Σ_n goldMask[n] · log p(target_n) / goldTokens
with zotune's packing: positions restart per candidate, and query i attends key j iff j ≤ i, j is not
padding, and j is in the prompt (segment 0) or in i's own segment (libs/models/src/llama/mask.ts);
the mask goes to the eager attention as an additive [B, 1, T, T] bias of 0 / −1e9, as zotune's.
OUT_JSON:
  { losses: [B], gradEnergy: [B][blocks] (‖∇_j L_b‖², float64 sums), curvature: [P][blocks]
    (v_jᵀ(∇_j L(θ+δv) − ∇_j L(θ−δv)) / (2δ n_j) for probe p on minibatch p mod B, v ~ N(0, I) from
    torch's generator seeded s + p), versions, seconds }
Memory: θ is saved once; v is regenerated per block from its seed (never stored), and each side's
directional sum v·∇L is accumulated as it is computed, so only one gradient lives at a time.
"""
import json
import os
import platform
import sys
import time

import torch
import transformers
from transformers import AutoModelForCausalLM

PAD_SEGMENT = -1
MASKED = -1e9


def die(msg):
    print(f"headroom-grads.py: {msg}", file=sys.stderr)
    sys.exit(2)


def bias_of(b):
    """[B, 1, T, T] additive attention bias of a packed batch (libs/models/src/llama/mask.ts)."""
    B, T = b["batch"], b["length"]
    seg = torch.tensor(b["segments"], dtype=torch.long).view(B, T)
    i = torch.arange(T).view(T, 1)
    j = torch.arange(T).view(1, T)
    sj = seg.view(B, 1, T)
    si = seg.view(B, T, 1)
    ok = (j <= i).view(1, T, T) & (sj != PAD_SEGMENT) & ((sj == 0) | (sj == si))
    bias = torch.full((B, T, T), MASKED, dtype=torch.float32)
    bias[ok] = 0.0
    return bias.view(B, 1, T, T)


class Batch:
    def __init__(self, b, kind):
        self.kind = kind
        self.B, self.T, self.K = b["batch"], b["length"], b["numCandidates"]
        self.tokens = torch.tensor(b["tokens"], dtype=torch.long).view(self.B, self.T)
        self.positions = torch.tensor(b["positions"], dtype=torch.long).view(self.B, self.T)
        self.bias = bias_of(b)
        self.pred = torch.tensor(b["predIndex"], dtype=torch.long)
        self.target = torch.tensor(b["targetIds"], dtype=torch.long)
        self.group = torch.tensor(b["targetGroup"], dtype=torch.long)
        self.group_size = torch.tensor(b["groupSize"], dtype=torch.float32).clamp(min=1)
        self.gold = torch.tensor(b["gold"], dtype=torch.long)
        self.gold_mask = torch.tensor(b["goldMask"], dtype=torch.float32)
        self.gold_tokens = float(b["goldTokens"])


def loss_of(model, x):
    """zotune's task loss of one packed batch (a scalar tensor with a graph)."""
    out = model.model(input_ids=x.tokens, position_ids=x.positions, attention_mask=x.bias, use_cache=False)
    h = out.last_hidden_state.reshape(x.B * x.T, -1)[x.pred]  # [n, dim], after the final norm
    logp = torch.log_softmax(model.lm_head(h), dim=-1)  # [n, V]
    lp = logp.gather(1, x.target[:, None])[:, 0]  # [n]
    if x.kind == "generation-lm":
        return -(lp * x.gold_mask).sum() / x.gold_tokens
    groups = x.B * x.K
    sums = torch.zeros(groups, dtype=lp.dtype).index_add(0, x.group, lp)
    scores = (sums / x.group_size).view(x.B, x.K)
    return -torch.log_softmax(scores, dim=1).gather(1, x.gold[:, None])[:, 0].mean()


def main():
    if len(sys.argv) != 4:
        die("usage: headroom-grads.py MODEL_DIR BATCHES_JSON OUT_JSON")
    model_dir, batches_path, out_path = sys.argv[1:]
    if not os.path.isfile(os.path.join(model_dir, "config.json")):
        die(f"{model_dir}: no config.json; expected a Hugging Face directory written by zotune")
    with open(batches_path) as f:
        spec = json.load(f)
    for k in ("kind", "blocks", "batches", "probes", "delta", "seed"):
        if k not in spec:
            die(f"{batches_path}: field {k} is missing")
    t0 = time.time()
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32, attn_implementation="eager")
    model.eval()  # no dropout; gradients still flow
    params = dict(model.named_parameters())
    blocks = spec["blocks"]
    for name in blocks:
        if name not in params:
            die(f"{batches_path}: block {name} is not a parameter of {model_dir} (has {', '.join(list(params)[:4])}, ...)")
    if len(set(blocks)) != len(params):
        die(f"{model_dir} has {len(params)} parameters, the bench names {len(set(blocks))} blocks")
    ps = [params[n] for n in blocks]
    batches = [Batch(b, spec["kind"]) for b in spec["batches"]]
    if not batches:
        die(f"{batches_path}: no minibatch")

    def grads(x):
        model.zero_grad(set_to_none=True)
        loss = loss_of(model, x)
        loss.backward()
        return float(loss.detach()), [p.grad if p.grad is not None else torch.zeros_like(p) for p in ps]

    losses, energy = [], []
    for i, x in enumerate(batches):
        loss, g = grads(x)
        losses.append(loss)
        energy.append([float(gj.double().pow(2).sum()) for gj in g])
        print(f"headroom-grads.py: minibatch {i + 1}/{len(batches)}: loss {loss:.6f} ({time.time() - t0:.0f} s)", file=sys.stderr)

    P, delta, seed = int(spec["probes"]), float(spec["delta"]), int(spec["seed"])
    curv = []
    if P > 0:
        saved = [p.detach().clone() for p in ps]

        def direction(p_idx, j):
            g = torch.Generator().manual_seed((seed + p_idx) * 100003 + j)
            return torch.randn(ps[j].shape, generator=g, dtype=torch.float32)

        for p_idx in range(P):
            x = batches[p_idx % len(batches)]
            side = []
            for sign in (1.0, -1.0):
                with torch.no_grad():
                    for j, p in enumerate(ps):
                        p.copy_(saved[j] + sign * delta * direction(p_idx, j))
                _, g = grads(x)
                side.append([float((direction(p_idx, j).double() * gj.double()).sum()) for j, gj in enumerate(g)])
            curv.append([(side[0][j] - side[1][j]) / (2 * delta * ps[j].numel()) for j in range(len(ps))])
            print(f"headroom-grads.py: probe {p_idx + 1}/{P} ({time.time() - t0:.0f} s)", file=sys.stderr)
        with torch.no_grad():
            for j, p in enumerate(ps):
                p.copy_(saved[j])

    out = {
        "losses": losses,
        "gradEnergy": energy,
        "curvature": curv,
        "sizes": [p.numel() for p in ps],
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__, "python": platform.python_version()},
        "threads": torch.get_num_threads(),
        "seconds": time.time() - t0,
    }
    tmp = out_path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(out, f)
    os.replace(tmp, out_path)


if __name__ == "__main__":
    main()
