"""Marchenko–Pastur at initialisation, heavier tails after training: a tiny character transformer.

A two-block, character-level transformer (d_model 64, 4 heads, causal
self-attention, MLP width 256; PyTorch's default uniform initialisation) is
trained with AdamW on ``examples/data/tiny_corpus.txt`` while a
:class:`~coulombgas.training.torch_hook.TorchRecorder` records the spectra of
the attention (W_q, W_k, W_v, W_o: 64×64) and MLP (fc1: 256×64, fc2: 64×256)
weights, streamed to ``OUT/spectra.h5``.

For each matrix W (m×k) with entries of variance σ², X = WᵀW/(m σ²) has at
initialisation the Marchenko–Pastur law of ratio λ = k/m and unit scale
(:func:`coulombgas.theory.marchenko_pastur`; for λ > 1, as for fc2, the k − m
exact zeros are left out and the non-zero part is compared). σ² is measured
from the matrix itself, σ̂² = ‖W‖²_F/(mk), at every record, so the comparison
is about the *shape* of the spectrum, not its scale. The script pools the
eigenvalues of the matrices of one kind (attention, fc1, fc2) and prints the
Kolmogorov–Smirnov distance D to MP at initialisation and after training,
the fraction of eigenvalues beyond MP's upper edge (1 + √λ)² and the largest
eigenvalue over that edge. The KS p-value treats pooled eigenvalues as
independent; they repel, which makes it conservative at initialisation, and σ̂
is estimated from the same matrix: read D as a distance, p as indicative.

Paper 2 of the project (Aarts, Hajizadeh, Lucini, Park, arXiv:2411.13512)
follows a nano-GPT's spectra from MP to structured spectra in this way.

The recording then goes the way of any recorded run: ``cg.analyze`` prints one row
per matrix (the same as ``coulombgas analyze OUT/spectra.h5``), and
``coulombgas compare --run OUT/spectra.h5`` writes its report
(``examples/your_own_model.py`` shows the whole path with gradient statistics).

Run: ``python examples/transformer_mp.py`` (about 30 s on 2 CPU cores),
``--full`` for a longer run; ``--out DIR`` (default ``transformer-out``) gets
``transformer_mp.png``, ``summary.json`` and ``spectra.h5``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import pathlib
import sys
import time

import numpy as np

CORPUS = pathlib.Path(__file__).with_name("data") / "tiny_corpus.txt"
GROUPS = {"attention": ("attn.q", "attn.k", "attn.v", "attn.o"), "mlp fc1": ("mlp.fc1",), "mlp fc2": ("mlp.fc2",)}


def build_model(vocab: int, block: int, d_model: int, heads: int, layers: int, ff: int):
    """A GPT-style stack: token + learned position embeddings, pre-LayerNorm blocks, linear head."""
    import torch
    from torch import nn
    from torch.nn import functional as F

    class Attention(nn.Module):
        def __init__(self):
            super().__init__()
            self.q, self.k, self.v = (nn.Linear(d_model, d_model, bias=False) for _ in range(3))
            self.o = nn.Linear(d_model, d_model)

        def forward(self, x):
            b, t, d = x.shape
            q, k, v = (lin(x).view(b, t, heads, d // heads).transpose(1, 2) for lin in (self.q, self.k, self.v))
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            return self.o(y.transpose(1, 2).reshape(b, t, d))

    class MLP(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1, self.fc2 = nn.Linear(d_model, ff), nn.Linear(ff, d_model)

        def forward(self, x):
            return self.fc2(F.gelu(self.fc1(x)))

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln1, self.ln2 = nn.LayerNorm(d_model), nn.LayerNorm(d_model)
            self.attn, self.mlp = Attention(), MLP()

        def forward(self, x):
            x = x + self.attn(self.ln1(x))
            return x + self.mlp(self.ln2(x))

    class TinyGPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.tok = nn.Embedding(vocab, d_model)
            self.pos = nn.Parameter(0.02 * torch.randn(block, d_model))
            self.blocks = nn.ModuleList(Block() for _ in range(layers))
            self.ln = nn.LayerNorm(d_model)
            self.head = nn.Linear(d_model, vocab)

        def forward(self, idx):
            x = self.tok(idx) + self.pos[: idx.shape[1]]
            for blk in self.blocks:
                x = blk(x)
            return self.head(self.ln(x))

    return TinyGPT()


def normalised(harvest, record: int) -> list[np.ndarray]:
    """Per matrix: eigenvalues of WᵀW/(m σ̂²) at ``record``, structural zeros dropped."""
    m, k = harvest.params["shape"]
    out = []
    for ev in harvest.eigenvalues[:, record]:
        sigma2 = ev.sum() / (m * k)  # tr WᵀW = ‖W‖²_F
        out.append(ev[max(0, k - m):] / (m * sigma2))
    return out


def compare(harvest, record: int) -> dict:
    """KS distance to MP(λ = k/m, 1) and the tail beyond MP's upper edge, pooled over the stacked matrices."""
    from coulombgas import spectra, theory

    m, k = harvest.params["shape"]
    ratio = k / m
    x = np.concatenate(normalised(harvest, record))
    law = theory.marchenko_pastur(ratio, 1.0)
    fit = spectra.goodness_of_fit(x, law, "ks")
    edge = (1 + math.sqrt(ratio)) ** 2
    return {"step": int(harvest.steps[record]), "ratio": ratio, "eigenvalues": int(x.size),
            "ks_D": fit.statistic, "ks_p": fit.pvalue, "mp_edge": edge,
            "beyond_edge": float(np.mean(x > edge)), "max_over_edge": float(x.max() / edge), "x": x, "law": law}


def figure(path, rows: dict, records: dict, steps) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(rows)
    fig, ax = plt.subplots(3, len(names), figsize=(5 * len(names), 12))
    for j, group in enumerate(names):
        for i, (res, tag) in enumerate(((rows[group]["init"], "initialisation"), (rows[group]["final"], "trained"))):
            a = ax[i, j]
            hi = max(np.quantile(res["x"], 0.995), res["mp_edge"]) * 1.15
            bins = np.linspace(0.0, hi, max(12, int(1.5 * math.sqrt(res["x"].size))))
            a.hist(res["x"], bins=bins, density=True, color="C0" if i == 0 else "C1", alpha=0.6,
                   label=f"step {res['step']}")
            grid = np.linspace(1e-4, hi, 800)
            a.plot(grid, res["law"].pdf(grid), "k", lw=1.2, label=f"MP λ={res['ratio']:g}")
            a.axvline(res["mp_edge"], color="k", ls=":", lw=0.8)
            a.set(xlabel="eigenvalue of WᵀW / (m σ̂²)", ylabel="density",
                  title=f"{group}, {tag}: KS D = {res['ks_D']:.3f}, max/edge = {res['max_over_edge']:.2f}")
            a.set_ylim(0, 1.6 * float(np.max(res["law"].pdf(grid[grid > 0.05 * hi]))))
            a.legend(fontsize=8)
        a = ax[2, j]
        a.plot(steps, records[group]["max_over_edge"], "C3", label="λ_max / MP edge")
        a.plot(steps, records[group]["ks_D"], "C0", label="KS D to MP")
        a.set(xlabel="optimiser step", title=f"{group}: departure from MP", yscale="log")
        a.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return str(path)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--full", action="store_true", help="longer run: 4000 steps (default 500)")
    p.add_argument("--steps", type=int, default=None, help="optimiser steps (overrides --full)")
    p.add_argument("--every", type=int, default=None, help="record every this many steps (default steps/20)")
    p.add_argument("--lr", type=float, default=3e-3, help="AdamW learning rate (default 3e-3)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--block", type=int, default=64, help="context length in characters")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1,
                   help="torch CPU threads (default 1: small matrices, and a shared machine slows threads badly)")
    p.add_argument("--out", default="transformer-out", help="output directory (default transformer-out)")
    args = p.parse_args(argv)
    try:
        import torch
    except ImportError:
        print("this example needs PyTorch: pip install 'coulombgas[torch]'", file=sys.stderr)
        return 2
    from coulombgas.io import write_json
    from coulombgas.training.torch_hook import TorchRecorder

    steps = args.steps or (4000 if args.full else 500)
    every = args.every or max(1, steps // 20)
    if steps < 1 or every < 1 or args.batch_size < 1 or args.block < 2 or not args.lr > 0:
        print("`steps`, `every`, `batch-size` must be >= 1, `block` >= 2, `lr` > 0", file=sys.stderr)
        return 2
    os.makedirs(args.out, exist_ok=True)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    text = CORPUS.read_text(encoding="utf-8")
    chars = sorted(set(text))
    data = torch.tensor([chars.index(c) for c in text], dtype=torch.long)
    model = build_model(len(chars), args.block, d_model=64, heads=4, layers=2, ff=256)
    names = [n for n, _ in model.named_parameters() if any(f".{g}.weight" in n for gs in GROUPS.values() for g in gs)]
    rec = TorchRecorder(model, names, every=every, out=os.path.join(args.out, "spectra.h5"), overwrite=True,
                        lr=args.lr, batch_size=args.batch_size, seed=args.seed)  # records step 0 now
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.0)
    rec.attach(opt)  # counts optimiser steps; the loop below is unchanged except for note_loss
    gen = torch.Generator().manual_seed(args.seed)
    print(f"corpus {len(text)} chars, vocab {len(chars)}, {sum(p.numel() for p in model.parameters())} parameters, "
          f"{len(names)} matrices recorded every {every} of {steps} steps")
    t0 = time.perf_counter()
    for s in range(steps):
        start = torch.randint(0, len(data) - args.block - 1, (args.batch_size,), generator=gen)
        idx = torch.stack([data[i: i + args.block + 1] for i in start.tolist()])
        logits = model(idx[:, :-1])
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, len(chars)), idx[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        rec.note_loss(loss)
        opt.step()
        if s % max(1, steps // 5) == 0 or s == steps - 1:
            print(f"  step {s + 1:5d}  loss {loss.item():.3f}  ({time.perf_counter() - t0:.1f} s)")
    if rec.updates % every:
        rec.record()  # the final weights, when steps is not a multiple of every
    rec.detach()
    train_s = time.perf_counter() - t0

    harvests = rec.harvest()
    groups = {g: [n for n in names if any(f".{k}.weight" in n for k in keys)] for g, keys in GROUPS.items()}
    rows, curves, summary = {}, {}, {"steps": steps, "every": every, "lr": args.lr, "batch_size": args.batch_size,
                                     "seed": args.seed, "train_seconds": train_s, "groups": {}}
    stacked = {g: rec.harvest(ns) for g, ns in groups.items()}
    steps_at = stacked["attention"].steps
    print(f"\n{'matrices':>10} {'λ=k/m':>6} {'step':>6} {'KS D':>7} {'KS p':>9} {'>edge':>7} {'max/edge':>9}")
    for g, h in stacked.items():
        res = {"init": compare(h, 0), "final": compare(h, -1)}
        rows[g] = res
        per = [compare(h, r) for r in range(h.records)]
        curves[g] = {"ks_D": [c["ks_D"] for c in per], "max_over_edge": [c["max_over_edge"] for c in per]}
        for tag in ("init", "final"):
            c = res[tag]
            print(f"{g:>10} {c['ratio']:6.3g} {c['step']:6d} {c['ks_D']:7.4f} {c['ks_p']:9.2g} "
                  f"{c['beyond_edge']:7.3f} {c['max_over_edge']:9.3f}")
        summary["groups"][g] = {"names": groups[g], "shape": h.params["shape"], **{
            tag: {k: v for k, v in res[tag].items() if k not in ("x", "law")} for tag in res},
            "curves": curves[g]}
    losses = harvests[names[0]].loss[0]
    summary["loss"] = {"steps": steps_at.tolist(), "mean_batch_loss": [None if math.isnan(x) else x for x in losses]}
    fig = figure(os.path.join(args.out, "transformer_mp.png"), rows, curves, steps_at)
    # The same path as any recorded run: one row per matrix (MP fit and outliers, ⟨r⟩, jitter), as
    # `coulombgas analyze OUT/spectra.h5` prints it. AdamW is not plain SGD, so no gradient statistics.
    import coulombgas as cg
    from coulombgas.report.analysis import jsonable, text_table

    table = cg.analyze(os.path.join(args.out, "spectra.h5"), table="plain", gas=False)
    print("\n" + text_table(table.rows, ("matrix", "shape", "mp_ratio_now", "mp_sigma_now", "mp_ks_now",
                                          "outliers", "beta_fit", "beta_err", "delta3", "sff")))
    summary["analysis"] = jsonable(table.rows)
    write_json(os.path.join(args.out, "summary.json"), summary)
    print(f"\ntrained {steps} steps in {train_s:.1f} s; wrote {fig}, summary.json and spectra.h5 to {args.out}")
    print(json.dumps({g: {"init_D": round(r["init"]["ks_D"], 4), "final_D": round(r["final"]["ks_D"], 4),
                          "final_max_over_edge": round(r["final"]["max_over_edge"], 3)} for g, r in rows.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
