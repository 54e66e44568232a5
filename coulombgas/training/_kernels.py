"""Pieces every model's training kernel shares: the device choice and the end of an update.

Private helpers of :mod:`coulombgas.training` (public names, for the model modules):

* :func:`pick_device` — after a model has validated its arguments (the same checks on
  both devices), choose its ``advance``: the CPU kernel or its CUDA twin from
  :mod:`coulombgas.cuda.training`, and how many models run at once;
* :func:`stop_update` and :func:`mean_loss` — the contract of ``advance``
  (:mod:`._loop`) at the end of each model's update, compiled into each kernel:
  ``n_steps = 0`` measures the next batch's loss without updating, and a batch loss
  above ``divergence_loss`` (or not finite) flags the model at that update and stops it;
* :func:`loss_carry` — the running batch-loss sum each kernel continues in place, so that a
  record interval done in several calls (the driver splits long ones, to answer Ctrl-C)
  adds its batch losses in exactly the order of one call.
"""

from __future__ import annotations

import math

import numpy as np

from .. import _validate as v
from .._jit import njit
from ..cuda import device as cuda_device

__all__ = ["pick_device", "stop_update", "mean_loss", "loss_carry", "with_loss_sum"]


def pick_device(device, fallback, block_models, cpu_advance, cuda_advance, *, cpu_block: int,
                device_bytes: float, models: int):
    """``(advance, block_models)`` for ``device`` (:func:`coulombgas.cuda.device.require` decides).

    ``block_models`` (None or an int ≥ 1, checked here on either device) overrides the
    default block: ``cpu_block`` on the CPU, what fits in a quarter of the GPU's free
    memory at ``device_bytes`` per model on the GPU.
    """
    if block_models is not None:
        block_models = v.integer("block_models", block_models, minimum=1)
    if cuda_device.require(device, fallback=fallback):
        return cuda_advance, cuda_device.block_models(block_models, device_bytes, models)
    return cpu_advance, cpu_block if block_models is None else block_models


@njit
def stop_update(batch_loss, n_steps, limit, step, diverged, m):
    """True when model ``m`` must not be updated: ``n_steps == 0`` (loss only), or a divergent batch.

    A batch loss that is not ≤ ``limit`` (also NaN) sets ``diverged[m] = step[m] + 1``
    (the update at which the model stopped, counted from 1).
    """
    if n_steps == 0:
        return True
    if not (batch_loss <= limit):  # also catches NaN
        diverged[m] = step[m] + 1
        return True
    return False


@njit
def mean_loss(total, n_steps, flagged):
    """The loss ``advance`` returns for a model: mean batch loss over max(n_steps, 1) batches, NaN if flagged."""
    return total / max(n_steps, 1) if flagged == 0 else math.nan


def with_loss_sum(state: dict) -> dict:
    """``state`` with a zero ``"loss_sum"``: how a model's ``init`` says its loss is the mean batch loss
    over each record interval (kept as a running sum, :func:`loss_carry`), not a value at the final weights."""
    state["loss_sum"] = np.zeros(state["W"].shape[0])
    return state


def loss_carry(state) -> np.ndarray:
    """``state["loss_sum"]``, the running sum of batch losses the kernel continues (float64 per model).

    The driver (:mod:`._loop`) zeroes it at the start of each record interval; a caller
    whose state has none (one call per interval, e.g. ``phase_paper``) gets zeros.
    """
    carry = state.get("loss_sum")
    return np.zeros(state["W"].shape[0]) if carry is None else carry
