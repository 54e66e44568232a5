"""Your own model: a PyTorch network's weight matrices as Coulomb gases, and linear scaling across four runs.

A small multilayer perceptron (16 → 32 → 32 → 4, tanh) learns a fixed random
teacher network of the same shape from a generated dataset (2,048 Gaussian inputs,
teacher outputs plus label noise of std 0.1: nothing to download). It is trained
with plain SGD at two learning rates and two batch sizes, (α, |B|) ∈ {0.05, 0.1} ×
{16, 32}, from the same initial weights and data. A
:class:`~coulombgas.training.TorchRecorder` records the spectra of the three weight
matrices every ``--every`` steps and, because it is given the loss
(``loss_fn=F.mse_loss``), the per-sample gradient statistics of each matrix in its
eigenbasis (drift and noise per mode, pair coefficients) on the next batch — the
loop only adds ``rec.batch(x, y)`` before its update and ``rec.step(loss)`` after.

Then, for each run, ``cg.analyze(recorder)`` prints one row per matrix (⟨r⟩, each
mode's jitter over the late records, the effective temperature against α/|B|, the
drift/noise balance, and with ``--gas``, for the output layer, the stationary Coulomb
gas built from the measured drift and noise against the recorded spread), and
:func:`coulombgas.report.recording.linear_scaling` checks that each matrix's jitter
grows as √(α/|B|) with one slope across the four runs (SCIENCE.md §1): the runs at
(0.05, 16) and (0.1, 32) share α/|B| and should jitter alike. ``--compare`` also
writes the full comparison report of the second run (``coulombgas compare --run``).

Run: ``python examples/your_own_model.py`` (about 30 s on 2 CPU cores);
``--steps``/``--every`` to change the size; ``--out DIR`` (default
``your-model-out``) gets each run's ``recording_<lr>_<B>.h5``, ``summary.json``
and, with ``--compare``, ``compare/``. The same from the shell, for one run::

    coulombgas analyze your-model-out/recording_0.1_16.h5 --out analysis
    coulombgas compare --run your-model-out/recording_0.1_16.h5 --matrix 4.weight --out report
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

SETTINGS = ((0.05, 16), (0.1, 16), (0.05, 32), (0.1, 32))
SHOW = ("matrix", "shape", "modes", "r_mean", "jitter", "T", "T_eff", "T_eff/T", "drift_noise_ratio", "confined",
        "unconfined", "gas_spread_z", "gas_verdict")


def build(seed: int):
    """Teacher, student and data: all from ``seed`` (the student's start is shared by every run)."""
    import torch

    gen = torch.Generator().manual_seed(seed)

    def mlp():
        net = torch.nn.Sequential(torch.nn.Linear(16, 32), torch.nn.Tanh(), torch.nn.Linear(32, 32),
                                  torch.nn.Tanh(), torch.nn.Linear(32, 4))
        with torch.no_grad():
            for p in net.parameters():  # PyTorch's default uniform init, from our generator
                bound = 1.0 / np.sqrt(p.shape[-1] if p.ndim == 2 else 32)
                p.uniform_(-bound, bound, generator=gen)
        return net

    teacher, student = mlp(), mlp()
    with torch.no_grad():
        for p in teacher.parameters():
            p.mul_(3.0)  # a teacher with structure the student must learn
        X = torch.randn(2048, 16, generator=gen)
        Y = teacher(X) + 0.1 * torch.randn(2048, 4, generator=gen)
    return student, X, Y


def train(lr: float, batch_size: int, steps: int, every: int, seed: int, out: str):
    """One run: plain SGD with a TorchRecorder that keeps spectra and gradient statistics."""
    import torch
    from torch.nn import functional as F

    from coulombgas.training import TorchRecorder

    net, X, Y = build(seed)
    path = os.path.join(out, f"recording_{lr:g}_{batch_size}.h5")
    rec = TorchRecorder(net, every=every, lr=lr, batch_size=batch_size, seed=seed, loss_fn=F.mse_loss, steps=steps,
                        out=path, overwrite=True)
    opt = torch.optim.SGD(net.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed + 1)
    start = time.perf_counter()
    for _ in range(steps):
        idx = torch.randint(0, len(X), (batch_size,), generator=gen)
        x, y = X[idx], Y[idx]
        rec.batch(x, y)  # before the update: a waiting record measures per-sample gradients on it
        loss = F.mse_loss(net(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        rec.step(loss)
    idx = torch.randint(0, len(X), (batch_size,), generator=gen)
    rec.batch(X[idx], Y[idx])  # the last record's statistics
    seconds = time.perf_counter() - start
    rec.detach()
    return rec, path, seconds


def bench(steps: int, every: int, seed: int, repeats: int = 3) -> dict:
    """Cost of recording: median seconds of ``steps`` SGD steps bare, with spectra, and with gradient statistics.

    Warm: each loop runs once untimed first (torch.func and the kernels compiled), the
    recorders write to memory. ``ratio`` = (steps with statistics) / (bare steps): what
    recording every ``every`` steps multiplies the training time by.
    """
    import torch
    from torch.nn import functional as F

    from coulombgas.bench import median_time
    from coulombgas.training import TorchRecorder

    net, X, Y = build(seed)
    gen = torch.Generator().manual_seed(seed + 1)
    batches = [torch.randint(0, len(X), (16,), generator=gen) for _ in range(steps + 1)]
    opt = torch.optim.SGD(net.parameters(), lr=0.01)

    def loop(mode):
        rec = None
        if mode != "bare":
            rec = TorchRecorder(net, every=every, lr=0.01, batch_size=16,
                                loss_fn=F.mse_loss if mode == "stats" else None)
        for idx in batches[:-1]:
            x, y = X[idx], Y[idx]
            if rec is not None:
                rec.batch(x, y)
            loss = F.mse_loss(net(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if rec is not None:
                rec.step(loss)
        return rec

    times = {mode: median_time(lambda: loop(mode), repeats, warm=True) for mode in ("bare", "spectra", "stats")}
    rec = loop("stats")
    cost = rec.cost()
    return {"steps": steps, "every": every, "step_ms": 1e3 * times["bare"] / steps,
            "spectra_ratio": times["spectra"] / times["bare"], "ratio": times["stats"] / times["bare"],
            "stats_ms_per_record": 1e3 * cost["stats_seconds_per_record"],
            "spectra_ms_per_record": 1e3 * cost["spectra_seconds_per_record"], "torch_threads": torch.get_num_threads()}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--steps", type=int, default=2000, help="SGD steps per run (default 2000)")
    p.add_argument("--every", type=int, default=25, help="record every this many steps (default 25)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--gas", action="store_true",
                   help="also sample the stationary Coulomb gas of every matrix of at most 8 modes (its sampler "
                        "compiles once per process: about a minute)")
    p.add_argument("--compare", action="store_true", help="also write the comparison report of the second run")
    p.add_argument("--out", default="your-model-out", help="output directory (default your-model-out)")
    p.add_argument("--bench", action="store_true",
                   help="only measure the cost of recording (bare steps, spectra, gradient statistics) and exit")
    args = p.parse_args(argv)
    try:
        import torch
    except ImportError:
        print("this example needs PyTorch: pip install 'coulombgas[torch]'", file=sys.stderr)
        return 2
    import coulombgas as cg
    from coulombgas.report.analysis import text_table
    from coulombgas.report.recording import compare_recording, linear_scaling
    from coulombgas.store import write_json

    if args.steps < 1 or args.every < 1 or args.every > args.steps:
        print("`--steps` and `--every` must be >= 1 with --every <= --steps", file=sys.stderr)
        return 2
    torch.set_num_threads(1)  # small matrices: threads only add overhead on a shared machine
    if args.bench:
        for every in (1, 5, 25, 100):
            r = bench(min(args.steps, 1000), every, args.seed)
            print(f"record every {every:4d}: bare step {r['step_ms']:.3f} ms; with spectra x{r['spectra_ratio']:.2f}; "
                  f"with gradient statistics x{r['ratio']:.2f} (statistics {r['stats_ms_per_record']:.2f} ms, "
                  f"spectra {r['spectra_ms_per_record']:.2f} ms per record)")
        return 0
    os.makedirs(args.out, exist_ok=True)
    runs, summary = [], {"steps": args.steps, "every": args.every, "seed": args.seed, "runs": []}
    for lr, bs in SETTINGS:
        rec, path, seconds = train(lr, bs, args.steps, args.every, args.seed, args.out)
        table = cg.analyze(path, table="plain", gas=args.gas, gas_max_modes=8)
        runs.append(path)
        cost = rec.cost()
        print(f"\n== lr = {lr:g}, batch size = {bs}: {args.steps} steps in {seconds:.1f} s "
              f"(gradient statistics {1e3 * cost['stats_seconds_per_record']:.1f} ms per record)")
        print(text_table(table.rows, SHOW))
        summary["runs"].append({"lr": lr, "batch_size": bs, "recording": os.path.basename(path), "seconds": seconds,
                                "cost": cost, "rows": table.rows})
    print("\n== linear scaling: each mode's jitter ∝ (α/|B|)^γ, γ = 1/2 (per-mode scales removed)")
    print(f"{'matrix':>9} {'lr':>5} {'|B|':>4} {'α/|B|':>9} {'jitter':>10} {'√(α/|B|) line':>14}")
    scaling = {}
    for name in ("0.weight", "2.weight", "4.weight"):
        check = linear_scaling(runs, name)
        scaling[name] = {"exponent": check.exponent, "exponent_err": check.exponent_err, "z": check.z,
                         "verdict": check.verdict, "rows": check.rows}
        for r in check.rows:
            print(f"{name:>9} {r['lr']:5.3g} {r['batch_size']:4d} {r['T']:9.3g} {r['jitter']:10.4g} {r['fit']:14.4g}")
        print(f"{'':>9} γ = {check.exponent:.3f} ± {check.exponent_err:.3f} over {check.modes} modes "
              f"(z = {check.z:.2f} against 1/2): {check.verdict}")
    summary["linear_scaling"] = scaling
    if args.compare:
        report = compare_recording(runs[1], out=os.path.join(args.out, "compare"), force=True, seed=args.seed)
        print(f"\nwrote {args.out}/compare/report.md ({len(report.checks)} checks)")
    from coulombgas.report.analysis import jsonable

    write_json(os.path.join(args.out, "summary.json"), jsonable(summary))
    print(f"\nwrote {args.out}/summary.json and {len(runs)} recordings")
    print(json.dumps({k: round(v["exponent"], 4) for k, v in scaling.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
