"""Benchmark of the training models against plain NumPy loops of the same protocol.

Teacher–student (paper 1, one setting): 3,000 models × 5,000 updates, |B| = 16,
the whole call (dataset generation, training, spectra every 50 updates) timed
against a vectorised NumPy loop over the same models (batched ``einsum`` per
update). The Gaussian RBM and the phase network rows come from their own
modules (:mod:`.training_rbm`, :mod:`.training_phase`) when present.
"""

from __future__ import annotations

import importlib

import numpy as np

from ..training._loop import replay_init
from ..training.teacher_student import teacher_student
from . import format_rows, median_time

ts = importlib.import_module("coulombgas.training.teacher_student")

__all__ = ["bench_training", "format_table"]


def _numpy_teacher_student(data, W, steps, lr, bs, teacher=2.0):
    """The protocol in plain NumPy, vectorised over models (what a researcher would write)."""
    x, a = data["x"], data["a"]
    nb = x.shape[1] // bs
    Wt = teacher * np.eye(2)
    A = np.empty(a.shape[:-1] + (2, 2))
    A[..., 0, 0], A[..., 1, 1], A[..., 0, 1], A[..., 1, 0] = a[..., 0], a[..., 1], a[..., 2], a[..., 2]
    for step in range(steps):
        sl = slice((step % nb) * bs, (step % nb + 1) * bs)
        xb = x[:, sl]
        grad = np.einsum("mij,mnj,mnk->mik", Wt - W, xb, xb) / bs + A[:, sl].mean(axis=1)
        W = W + lr * grad
    return W


def bench_teacher_student(quick: bool = False) -> list[dict]:
    models, steps = (300, 1000) if quick else (3000, 5000)
    kw = dict(models=models, steps=steps, record_every=50, batch_size=16, lr=0.1, eps=0.1, progress=False)
    teacher_student(**{**kw, "models": 8, "steps": 100})  # compile / load the cache
    ours = median_time(lambda: teacher_student(seed=1, **kw), 1 if not quick else 3)
    h = teacher_student(seed=1, **{**kw, "steps": 50, "models": models})
    data, state = replay_init(ts.init, h)
    np_steps = 200 if quick else 500
    t_np = median_time(lambda: _numpy_teacher_student(data, state["W"], np_steps, 0.1, 16), 3)
    rate_ours = models * steps / ours
    rate_np = models * np_steps / t_np
    return [{
        "case": f"teacher-student {models} models x {steps} updates, |B|=16", "coulombgas_s": ours,
        "coulombgas_updates_per_s": rate_ours, "numpy_updates_per_s": rate_np,
        "numpy_s_extrapolated": models * steps / rate_np, "speedup": rate_ours / rate_np,
        "target": "<= 10 s" if not quick else "(quick size)",
        "note": "whole call: data, training, spectra every 50 updates; NumPy: training only",
    }]


def bench_training(quick: bool = False) -> list[dict]:
    """All training rows: teacher–student here, RBM and phase network from their modules."""
    rows = bench_teacher_student(quick)
    for module, func in ((".training_rbm", "bench_rbm"), (".training_phase", "bench_phase")):
        try:
            fn = getattr(importlib.import_module(module, __package__), func)
        except (ImportError, AttributeError):
            continue
        rows.extend(fn(quick=quick))
    return rows


def format_table(rows) -> str:
    return format_rows("Training models vs plain NumPy (one process; medians; ratios are the figures to quote)",
                       rows)
