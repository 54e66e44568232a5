"""Paper 4: a true phase or slow freezing? Each order parameter against the run's length.

Park, Lucini, Aarts, arXiv:2509.01349 train 10⁸ updates (100,000 epochs); here runs of
``--lengths`` epochs (default 10, 100, 1000: 10⁴ … 10⁶ updates) at points near the paper's
boundaries: the three representative points, the ordered/jammed line at T = 1/32 (σ_W = 1 … 16)
and the ordered/high-temperature line at σ_W = 1/8 (T = ½ … 2). For every point and length it
prints the paper's order parameters (test MSE, q, hs, λ·E), the criterion's fraction and the
phase (:func:`coulombgas.training.phase_observables.classify_phase`); then it fits each order
parameter linearly in log₁₀ E over the lengths and extrapolates to the paper's 10⁵ epochs, and
says where the phase changes with length.

    python examples/paper4_run_length.py                       # ~10 min on 2 cores
    python examples/paper4_run_length.py --lengths 2,20 --models 2 --epoch-batches 10   # seconds
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time

import numpy as np

from coulombgas.training import phase_boundary as pb
from coulombgas.training import phase_observables as po
from coulombgas.training import phase_paper as pp

#: (σ_W, T): the three representative points, then the two boundaries.
POINTS = [(0.125, 1 / 32), (0.125, 4.0), (256.0, 1 / 32),
          (1.0, 1 / 32), (2.0, 1 / 32), (4.0, 1 / 32), (8.0, 1 / 32), (16.0, 1 / 32),
          (0.125, 0.5), (0.125, 1.0), (0.125, 2.0)]
PAPER_EPOCHS = 100_000


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lengths", default="10,100,1000", help="comma-separated run lengths in epochs")
    ap.add_argument("--models", type=int, default=10)
    ap.add_argument("--epoch-batches", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    ap.add_argument("--out", default="paper4-run-length")
    a = ap.parse_args(argv)
    lengths = sorted(int(s) for s in a.lengths.split(","))
    for e in lengths:
        pp.snapshot_epochs(e)  # ValueError naming `epochs` for a length generate.py cannot save
    os.makedirs(a.out, exist_ok=True)
    updates = len(POINTS) * a.models * sum(lengths) * a.epoch_batches
    print(f"{len(POINTS)} points × {a.models} networks × {lengths} epochs of {a.epoch_batches} batches: "
          f"{updates:.3g} updates", flush=True)
    rows = []
    start = time.perf_counter()
    for k, (s, T) in enumerate(POINTS):
        for e in lengths:
            run = pp.paper_run(lr=4 * T, sigma_w=s, epochs=e, models=a.models, epoch_batches=a.epoch_batches,
                               seed=a.seed + k, device=a.device)
            op = po.order_parameters(run)
            rows.append({"sigma_w": s, "T": T, "epochs": e, "test_mse": op.test_mse, "q": op.q, "hs": op.hs,
                         "lyapunov_E": op.lyapunov * e, "fraction": pb.criterion_terms(run).fraction,
                         "phase": op.phase})
            r = rows[-1]
            print(f"σ_W={s:<7g} T={T:<8.4g} E={e:<6d} MSE={r['test_mse']:.3g} q={r['q']:.3f} hs={r['hs']:.2e} "
                  f"λE={r['lyapunov_E']:.3g} frac={r['fraction']:.2f} {r['phase']}", flush=True)
    print(f"[{time.perf_counter() - start:.0f} s]")
    summary = []
    for s, T in POINTS:
        sub = [r for r in rows if r["sigma_w"] == s and r["T"] == T]
        phases = [r["phase"] for r in sub]
        x = np.log10([r["epochs"] for r in sub])
        ext = {}
        for key in ("test_mse", "q", "hs", "fraction"):
            y = np.array([r[key] for r in sub], dtype=float)
            if key == "test_mse":
                y = np.log10(y)
            b, a0 = np.polyfit(x, y, 1) if len(x) > 1 else (0.0, y[0])
            val = a0 + b * math.log10(PAPER_EPOCHS)
            ext[key] = 10**val if key == "test_mse" else val
            ext[key + "_slope_per_decade"] = float(b)
        ext_phase = po.classify_phase(ext["test_mse"], ext["q"])
        changes = [f"{sub[i]['epochs']}→{sub[i + 1]['epochs']}: {phases[i]}→{phases[i + 1]}"
                   for i in range(len(sub) - 1) if phases[i] != phases[i + 1]]
        summary.append({"sigma_w": s, "T": T, "phases": phases, "changes": changes,
                        "extrapolated_to_1e5_epochs": ext, "extrapolated_phase": ext_phase})
        print(f"σ_W={s:<7g} T={T:<8.4g} phases {phases}; changes: {changes or 'none'}; "
              f"extrapolated to 10⁵ epochs: MSE {ext['test_mse']:.2g}, q {ext['q']:.2f} → {ext_phase}")
    with open(os.path.join(a.out, "run_length.json"), "w") as fh:
        json.dump({"rows": rows, "summary": summary, "models": a.models, "epoch_batches": a.epoch_batches}, fh,
                  indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
