"""Paper 1's teacher–student ensemble trained through PyTorch, recorded by a :class:`TorchRecorder`.

The same protocol as :func:`coulombgas.training.teacher_student` (SCIENCE.md §6;
Aarts, Lucini, Park, arXiv:2407.16427), written as an ordinary PyTorch loop so that
the route a user's own network takes (``TorchRecorder`` with ``loss_fn`` →
``cg.analyze`` / ``cg.compare``) can be checked against the built-in model:

* ``models`` students W_s (2×2 each, entries N(0, 0.1²)), teacher W_t = 2·1;
* per model a fixed dataset of |B|·``epoch_batches`` samples x ~ N(0, 1₂) and one
  GOE-like noise matrix a_n per sample (off-diagonal std ε, diagonal std √2 ε), swept
  in order;
* per-sample loss ℓ_n = ½‖(W_t − W_s) x_n‖² − ⟨a_n, W_s⟩_F, whose gradient
  (W_s − W_t) x_n x_nᵀ − a_n is exactly the built-in model's per-sample gradient, so
  ``torch.optim.SGD(lr=α)`` on the batch mean performs
  W_s ← W_s + α mean_B[(W_t − W_s) x xᵀ + a].

The students are ``models`` separate 2×2 parameters (``students.0`` …), recorded and
stacked along the harvest's models axis (:meth:`TorchRecorder.harvest` with a list of
names). Randomness comes from ``torch.Generator(seed)``: the same law as the built-in
model, not the same numbers.
"""

from __future__ import annotations

import math

from .. import _validate as v
from .torch_hook import TorchRecorder

__all__ = ["TeacherStudentEnsemble", "train_teacher_student_torch", "sample_loss"]


def _torch():
    try:
        import torch
    except ImportError:  # pragma: no cover - exercised only without the extra
        raise ImportError("the PyTorch teacher-student needs PyTorch: pip install 'coulombgas[torch]'") from None
    return torch


def _module_class():
    torch = _torch()

    class TeacherStudentEnsemble(torch.nn.Module):
        """``models`` 2×2 students; ``forward(x, a)`` returns (prediction error, ⟨a, W⟩) per model."""

        def __init__(self, models: int, init_std: float, teacher: float, generator):
            super().__init__()
            self.students = torch.nn.ParameterList(
                torch.nn.Parameter(init_std * torch.randn(2, 2, generator=generator, dtype=torch.float64))
                for _ in range(models))
            self.register_buffer("teacher", teacher * torch.eye(2, dtype=torch.float64))

        def forward(self, x, a):
            W = torch.stack(list(self.students))  # (models, 2, 2)
            err = torch.einsum("mij,bmj->bmi", self.teacher - W, x)  # (batch, models, 2)
            pen = torch.einsum("bmij,mij->bm", a, W)
            return err, pen

    return TeacherStudentEnsemble


def TeacherStudentEnsemble(models: int, init_std: float = 0.1, teacher: float = 2.0, generator=None):
    """The ensemble module (built lazily, so this module imports without PyTorch)."""
    return _module_class()(models, init_std, teacher, generator)


def sample_loss(output, target=None):
    """Mean over the batch of Σ_models [½‖(W_t − W_s)x‖² − ⟨a, W_s⟩]: per-sample gradients are the model's."""
    err, pen = output
    return (0.5 * (err**2).sum(dim=(-1, -2)) - pen.sum(dim=-1)).mean()


def train_teacher_student_torch(*, lr: float = 0.1, batch_size: int = 16, eps: float = 0.1, models: int = 100,
                                steps: int = 2000, record_every: int = 25, seed: int = 0, teacher: float = 2.0,
                                init_std: float = 0.1, epoch_batches: int = 500, out=None):
    """Train the ensemble with ``torch.optim.SGD`` and record it with gradient statistics.

    Returns ``(recorder, harvest)``: the detached :class:`TorchRecorder` and the
    stacked :class:`~coulombgas.training.recording.RecordedHarvest` of all students
    (models axis), whose statistics at each record are over (up to 512 of) each model's
    own dataset, as the built-in model's ``per_sample_gradients``. Parameters as :func:`coulombgas.training.teacher_student`.
    """
    torch = _torch()
    lr = v.positive("lr", lr)
    batch_size = v.integer("batch_size", batch_size, minimum=1)
    eps = v.nonnegative("eps", eps)
    models = v.integer("models", models, minimum=1)
    steps = v.integer("steps", steps, minimum=1)
    record_every = v.integer("record_every", record_every, minimum=1)
    epoch_batches = v.integer("epoch_batches", epoch_batches, minimum=1)
    gen = torch.Generator().manual_seed(v.integer("seed", seed, minimum=0))
    net = TeacherStudentEnsemble(models, init_std, teacher, gen)
    size = batch_size * epoch_batches
    x = torch.randn(size, models, 2, generator=gen, dtype=torch.float64)
    a = torch.randn(size, models, 3, generator=gen, dtype=torch.float64) * eps * torch.tensor(
        [math.sqrt(2.0), math.sqrt(2.0), 1.0], dtype=torch.float64)
    A = torch.stack([torch.stack([a[..., 0], a[..., 2]], -1), torch.stack([a[..., 2], a[..., 1]], -1)], -2)
    names = [f"students.{i}" for i in range(models)]
    # Statistics over the model's whole dataset (or 512 of its samples), as the built-in model's
    # per_sample_gradients: with batches swept in order the next batch has already moved the
    # weights an epoch ago (a period-one-epoch orbit, SCIENCE.md §8), so it is not independent of them.
    rec = TorchRecorder(net, names, every=record_every, lr=lr, batch_size=batch_size, seed=seed, loss_fn=sample_loss,
                        steps=steps, record_weights=True, data=((x, A), None), stats_samples=min(size, 512))
    opt = torch.optim.SGD(net.parameters(), lr=lr)
    for step in range(steps):
        start = (step % epoch_batches) * batch_size
        xb, ab = x[start: start + batch_size], A[start: start + batch_size]
        loss = sample_loss(net(xb, ab))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        rec.step(loss)
    rec.detach()
    harvest = rec.harvest(names)
    harvest.model = "teacher-student (PyTorch)"
    harvest.params.update(eps=eps, teacher=teacher, init_std=init_std, epoch_batches=epoch_batches)
    return rec, harvest
