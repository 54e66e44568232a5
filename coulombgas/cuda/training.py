"""The training models' SGD updates on the GPU: the CUDA twins of each model's CPU ``advance``.

Each ``*_advance(data, state, gens, n_steps, params)`` has the contract of the ``advance`` of
:mod:`coulombgas.training._loop` (``n_steps`` updates of every model in place, returns each
model's loss), so a model's public function validates its arguments once, draws its datasets
and initial weights on the host with its own ``init`` (the same streams on both devices), and
hands :func:`run_ensemble <coulombgas.training._loop.run_ensemble>` this ``advance`` or its CPU
one. Everything a kernel needs is in ``data``/``state``/``params`` as ``init`` made them (the
RBM's target K_φ⁻¹ and ln det K_φ included); the device copies of a block's data are made once
and kept in ``data["device"]``.

* teacher–student: one thread per model running the model's own per-model body
  (``teacher_student.update_model``, compiled for the device); data stored sample-major with
  the model fastest, so loads coalesce.
* phase network: one *team* of threads per model, each thread owning R rows of W (R·n_mid values
  in registers); the output ŷ = Σ_j Z_j tanh(u_j) is summed across the team through shared
  memory in a fixed order, so all threads of a team agree bit for bit.
* Gaussian RBM: one thread per model running the model's own per-model body
  (``rbm.update_model`` with its Gibbs sampler and the xoshiro256++/ziggurat stream of
  :mod:`coulombgas._prng`, compiled for the device), since each model's Gibbs noise is one
  sequential stream: the device reproduces the CPU's draws exactly.

Results agree with the CPU to rounding (the phase network sums ŷ in another order and uses
CUDA's tanh). References: G. Aarts, B. Lucini, C. Park, arXiv:2407.16427 (teacher–student, RBM);
C. Park, B. Lucini, G. Aarts, arXiv:2509.01349 (phase network).
"""

from __future__ import annotations

import functools
import math

import numpy as np

from .. import _prng
from . import device

__all__ = ["teacher_student_advance", "phase_network_advance", "gaussian_rbm_advance", "RBM_MAX_VALUES",
           "rbm_values", "team_shape", "teacher_student_kernel", "phase_kernel", "rbm_kernel"]

# numba.cuda, bound by device.load() on first use (module docstring of .device).
cuda = None


def _load():
    global cuda
    cuda = device.load()
    return cuda


# ------------------------------------------------------------------ teacher-student

@functools.lru_cache(maxsize=None)
def teacher_student_kernel(update):
    """One thread per model running ``update`` (the model's per-model body, compiled for the device).

    ``update`` is :func:`coulombgas.training.teacher_student.update_model`, handed over by the
    model (this module does not import it): x (S, 2, models or 1 when shared), a (S, 3, models),
    W (4, models) and the protocol's stream arrays rng (4, models), order (L, models) are stored
    with the model fastest, so that the threads' loads coalesce, and each thread passes its
    model's strided views. The in-kernel stream (batch order, per-step noise) is the
    xoshiro256++/ziggurat of :mod:`coulombgas._prng`, so the device draws what the CPU draws.
    """
    _load()
    body = device.device_twin(update)

    @cuda.jit
    def kernel(x, a, W, step, diverged, loss_out, n_steps, lr, bs, teacher, limit, mode, per_step, scale_diag,
               scale_off, rng, order, order_at, zw, zk, zf, zr):
        m = cuda.grid(1)
        if m >= W.shape[1]:
            return
        if diverged[m] != 0:
            loss_out[m] = math.nan
            return
        xm = x[:, :, 0] if x.shape[2] == 1 else x[:, :, m]
        w11, w12, w21, w22, total, st, flag, at = body(
            xm, a[:, :, m], W[0, m], W[1, m], W[2, m], W[3, m], step[m], loss_out[m], n_steps, lr, bs, teacher, limit,
            mode, per_step, scale_diag, scale_off, rng[:, m], order[:, m], order_at[m], zw, zk, zf, zr)
        W[0, m] = w11
        W[1, m] = w12
        W[2, m] = w21
        W[3, m] = w22
        step[m] = st
        diverged[m] = flag
        order_at[m] = at
        loss_out[m] = total if flag == 0 else math.nan

    return kernel


def teacher_student_advance(data, state, gens, n_steps, params, *, update, protocol=None):
    """``advance`` of the teacher–student model on the device; ``update`` is the model's per-model body.

    ``protocol`` is ``(mode, per_step, rng, order, order_at)`` from the model's
    ``kernel_args`` (batch-order code, per-step noise flag, and each model's stream arrays,
    updated in place); None: in order, noise per sample.
    """
    _load()
    dev = data.get("device")
    if dev is None:  # the block's dataset goes to the device once, sample-major with the model fastest
        dev = {"x": cuda.to_device(np.ascontiguousarray(data["x"].transpose(1, 2, 0))),
               "a": cuda.to_device(np.ascontiguousarray(data["a"].transpose(1, 2, 0))),
               "zw": cuda.to_device(_prng.ZIG_W), "zk": cuda.to_device(_prng.ZIG_K),
               "zf": cuda.to_device(_prng.ZIG_F)}
        data["device"] = dev
    W = state["W"]
    models = W.shape[0]
    if protocol is None:
        protocol = (0, False, np.zeros((models, 4), np.uint64), np.zeros((models, 0), np.int64),
                    np.zeros(models, np.int64))
    mode, per_step, rng, order, order_at = protocol
    Wd = cuda.to_device(np.ascontiguousarray(W.reshape(models, 4).T))
    rngd = cuda.to_device(np.ascontiguousarray(rng.T))
    orderd = cuda.to_device(np.ascontiguousarray(order.T))
    atd = cuda.to_device(order_at)
    step = cuda.to_device(state["step"])
    div = cuda.to_device(state["diverged"])
    carry = _carry(state)
    loss = cuda.to_device(carry)  # in: the running loss sum to continue; out: the sum (NaN: stopped)
    tpb = device.threads(128)
    eps = float(params["eps"])
    with device.quiet():
        teacher_student_kernel(update)[(models + tpb - 1) // tpb, tpb](
            dev["x"], dev["a"], Wd, step, div, loss, int(n_steps), float(params["lr"]), int(params["batch_size"]),
            float(params["teacher"]), float(params["divergence_loss"]), int(mode), bool(per_step),
            math.sqrt(2.0) * eps, eps, rngd, orderd, atd, dev["zw"], dev["zk"], dev["zf"], float(_prng.ZIG_R))
        W[...] = Wd.copy_to_host().T.reshape(models, 2, 2)
        rng[...] = rngd.copy_to_host().T
        order[...] = orderd.copy_to_host().T
        order_at[...] = atd.copy_to_host()
        state["step"][...] = step.copy_to_host()
        state["diverged"][...] = div.copy_to_host()
        return _mean(carry, loss.copy_to_host(), n_steps)


def _carry(state) -> np.ndarray:
    """The running batch-loss sum of :func:`coulombgas.training._kernels.loss_carry` (zeros if none)."""
    carry = state.get("loss_sum")
    return np.zeros(state["W"].shape[0]) if carry is None else carry


def _mean(carry, sums, n_steps) -> np.ndarray:
    """Store the kernel's continued sums in ``carry``; the mean over max(n_steps, 1) batches (the CPU's value)."""
    carry[...] = sums
    return sums / max(int(n_steps), 1)


# ------------------------------------------------------------------ phase network

def team_shape(n_hidden: int) -> tuple[int, int]:
    """(team, rows): threads per model (a power of two ≤ 32) and rows of W per thread (2-3 when possible).

    Two rows per thread let one load of h_k feed two multiply-adds (loads, not
    arithmetic, would otherwise bound the kernel), and keep 2·n_mid weights in
    registers (64 for paper 4's n_mid = 32).
    """
    team = 1
    while team < 32 and team * 4 <= n_hidden:
        team *= 2
    rows = -(-n_hidden // team)
    return team, rows


@functools.lru_cache(maxsize=None)
def phase_kernel(n_mid: int, n_hidden: int, bs: int, team: int, rows: int, tpb: int):
    """SGD on W of y = Z tanh(W h) (phase_network._advance), one team of ``team`` threads per model."""
    _load()
    from numba import float64

    teams = tpb // team
    bc = min(bs, 8)  # samples whose partial outputs share one barrier
    NR = rows * n_mid
    BR = bs * rows  # array sizes must be compile-time literals: products formed here

    @cuda.jit
    def kernel(H, y, Z, W, step, diverged, loss_out, n_steps, lr, limit):
        # loss_out: in, each model's running loss sum to continue; out, the sum (NaN: stopped).
        tid = cuda.threadIdx.x
        t_id = tid // team
        lane = tid - t_id * team
        base = t_id * team
        m = cuda.blockIdx.x * teams + t_id
        models = W.shape[0]
        size = H.shape[1]
        batches = size // bs
        part = cuda.shared.array((2, bc, tpb), float64)
        w = cuda.local.array(NR, float64)
        z = cuda.local.array(rows, float64)
        u = cuda.local.array(rows, float64)
        d = cuda.local.array(BR, float64)
        live = m < models
        if live:
            live = diverged[m] == 0
        was_live = live
        st = 0
        if m < models:
            st = step[m]
        for r in range(rows):
            j = lane * rows + r
            if live and j < n_hidden:
                z[r] = Z[m, j]
                for k in range(n_mid):
                    w[r * n_mid + k] = W[m, j, k]
            else:
                z[r] = 0.0
                for k in range(n_mid):
                    w[r * n_mid + k] = 0.0
        total = 0.0
        if m < models:
            total = loss_out[m]
        div = 0
        par = 0
        iters = n_steps if n_steps > 1 else 1  # not max(): the CUDA target refuses it
        for it in range(iters):
            start = (st % batches) * bs
            batch_loss = 0.0
            for b0 in range(0, bs, bc):
                # Forward pass of up to bc samples with the old W; the team's partial outputs to shared memory.
                for bb in range(bc):
                    b = b0 + bb
                    p = 0.0
                    if live and b < bs:
                        for r in range(rows):
                            u[r] = 0.0
                        for k in range(n_mid):
                            hk = H[m, start + b, k]
                            for r in range(rows):
                                u[r] += w[r * n_mid + k] * hk
                        for r in range(rows):
                            t = math.tanh(u[r])
                            d[b * rows + r] = z[r] * (1.0 - t * t)
                            p += z[r] * t
                    part[par, bb, tid] = p
                cuda.syncthreads()
                if live:
                    for bb in range(bc):
                        b = b0 + bb
                        if b < bs:
                            yhat = 0.0
                            for lidx in range(team):  # fixed order: the whole team gets the same bits
                                yhat += part[par, bb, base + lidx]
                            e = yhat - y[m, start + b]
                            batch_loss += e * e
                            for r in range(rows):
                                d[b * rows + r] *= e
                par = 1 - par  # double buffer: the next group writes the other half, one barrier each
            if live:
                batch_loss /= bs
                total += batch_loss
                if n_steps == 0:  # loss of the next batch only, no update
                    pass
                elif not (batch_loss <= limit):  # also catches NaN
                    div = st + 1
                    live = False
                else:
                    c = 2.0 * lr[m] / bs  # d(e²)/de = 2e
                    for b in range(bs):
                        for k in range(n_mid):
                            hk = H[m, start + b, k]
                            for r in range(rows):
                                w[r * n_mid + k] -= (c * d[b * rows + r]) * hk
                    st += 1
        if m < models:
            if was_live:
                for r in range(rows):
                    j = lane * rows + r
                    if j < n_hidden:
                        for k in range(n_mid):
                            W[m, j, k] = w[r * n_mid + k]
            if lane == 0:
                if was_live:
                    step[m] = st
                    diverged[m] = div
                    loss_out[m] = total if div == 0 else math.nan
                else:
                    loss_out[m] = math.nan

    return kernel


def phase_network_advance(data, state, gens, n_steps, params):
    """``advance`` of :mod:`coulombgas.training._loop` running phase_network's update on the device.

    The kernel works with the MSE without ½; the paper's ½·MSE (``params["loss"] ==
    "half_mse"``, factor s = ½; absent key: ``"mse"``, s = 1, runs made before the choice
    existed) enters here, exactly: the kernel gets the step s·α (so its 2·(sα)/|B| is the
    CPU kernel's 2sα/|B|), the freezing threshold limit/s (s·MSE > limit ⟺ MSE > limit/s,
    both exact for s a power of two) and its losses come back times s.
    """
    _load()
    dev = data.get("device")
    W = state["W"]
    models, n_hidden, n_mid = W.shape
    scale = {"half_mse": 0.5, "mse": 1.0}[params.get("loss", "mse")]
    if dev is None:
        dev = {"H": cuda.to_device(np.ascontiguousarray(data["H"])),
               "y": cuda.to_device(np.ascontiguousarray(data["y"])),
               "Z": cuda.to_device(np.ascontiguousarray(data["Z"])),
               "lr": cuda.to_device(np.full(models, scale * float(params["lr"])))}
        data["device"] = dev
    bs = int(params["batch_size"])
    team, rows = team_shape(n_hidden)
    tpb = max(team, device.threads(128, 32))
    kernel = phase_kernel(n_mid, n_hidden, bs, team, rows, tpb)
    Wd = cuda.to_device(np.ascontiguousarray(W))
    step = cuda.to_device(state["step"])
    div = cuda.to_device(state["diverged"])
    carry = _carry(state)
    loss = cuda.to_device(carry / scale)  # the kernel sums MSE without the factor s (exact: s is ½ or 1)
    teams = tpb // team
    with device.quiet():
        kernel[(models + teams - 1) // teams, tpb](dev["H"], dev["y"], dev["Z"], Wd, step, div, loss, int(n_steps),
                                                   dev["lr"], float(params["divergence_loss"]) / scale)
        W[...] = Wd.copy_to_host()
        state["step"][...] = step.copy_to_host()
        state["diverged"][...] = div.copy_to_host()
        return _mean(carry, scale * loss.copy_to_host(), n_steps)



# ------------------------------------------------------------------ Gaussian RBM

#: Largest per-thread working set of :func:`gaussian_rbm_advance` (float64 values, :func:`rbm_values`):
#: one thread holds one model, in local memory.
RBM_MAX_VALUES = 8192


@functools.lru_cache(maxsize=None)
def rbm_kernel(update, n: int, nh: int, bs: int, tpb: int):
    """One thread per model running ``update`` (the RBM's per-model body, compiled for the device).

    ``update`` is :func:`coulombgas.training.rbm.update_model`, handed over by the model
    (this module does not import it). One thread per model (not a team per chain) because
    the CPU draws every model's Gibbs noise from one sequential stream, and a ziggurat draw
    uses a variable number of 64-bit words: only one thread can reproduce it. The ziggurat
    tables and K_φ⁻¹ are copied to shared memory; the model's arrays are thread-local.
    """
    _load()
    from numba import float64, uint64

    body = device.device_twin(update)
    LAYERS, LAYERS1 = _prng.LAYERS, _prng.LAYERS + 1  # array sizes must be compile-time literals
    NN = n * n

    @cuda.jit
    def kernel(W, phi, rng, step, diverged, loss_out, n_steps, lr, mu2, sigma_h, sweeps, kinv_g, logdet_k, limit,
               zw_g, zk_g, zf_g, zr):
        zw = cuda.shared.array(LAYERS, float64)
        zk = cuda.shared.array(LAYERS, uint64)
        zf = cuda.shared.array(LAYERS1, float64)
        kinv = cuda.shared.array((n, n), float64)
        t = cuda.threadIdx.x
        for k in range(t, LAYERS1, tpb):
            if k < LAYERS:
                zw[k] = zw_g[k]
                zk[k] = zk_g[k]
            zf[k] = zf_g[k]
        for k in range(t, NN, tpb):
            kinv[k // n, k % n] = kinv_g[k // n, k % n]
        cuda.syncthreads()
        m = cuda.grid(1)
        if m >= W.shape[0]:
            return
        if diverged[m] != 0:
            loss_out[m] = math.nan
            return
        s = cuda.local.array(4, uint64)
        w = cuda.local.array((nh, n), float64)
        p = cuda.local.array((n, bs), float64)
        for k in range(4):
            s[k] = rng[m, k]
        for a in range(nh):
            for i in range(n):
                w[a, i] = W[m, a, i]
        for b in range(bs):
            for i in range(n):
                p[i, b] = phi[m, b, i]
        kl, st, flag = body(w, p, cuda.local.array((nh, bs), float64), cuda.local.array((nh, n), float64),
                            cuda.local.array((nh, n), float64), cuda.local.array((n, n), float64),
                            cuda.local.array((n, n), float64), s, kinv, step[m], n_steps, lr, mu2, sigma_h, sweeps,
                            logdet_k, limit, zw, zk, zf, zr)
        for a in range(nh):
            for i in range(n):
                W[m, a, i] = w[a, i]
        for b in range(bs):
            for i in range(n):
                phi[m, b, i] = p[i, b]
        for k in range(4):
            rng[m, k] = s[k]
        step[m] = st
        diverged[m] = flag
        loss_out[m] = kl if flag == 0 else math.nan

    return kernel


def rbm_values(n: int, n_hidden: int, batch_size: int) -> int:
    """Float64 values one RBM model holds in its thread: 3·n_h·n + |B|(n + n_h) + 2n² (W, σ_h²W, W/μ², φ, h, D, A)."""
    return 3 * n_hidden * n + batch_size * (n + n_hidden) + 2 * n * n


def gaussian_rbm_advance(data, state, gens, n_steps, params, *, update):
    """``advance`` of the Gaussian RBM on the device (``data["kinv"]``, ``data["logdet_k"]``: the target).

    ``update`` is the model's per-model body (:func:`coulombgas.training.rbm.update_model`).
    """
    _load()
    dev = data.get("device")
    if dev is None:  # the target and the ziggurat tables go to the device once per block
        dev = {"kinv": cuda.to_device(np.ascontiguousarray(data["kinv"], dtype=np.float64)),
               "zw": cuda.to_device(_prng.ZIG_W), "zk": cuda.to_device(_prng.ZIG_K),
               "zf": cuda.to_device(_prng.ZIG_F)}
        data["device"] = dev
    W, phi, rng = state["W"], state["phi"], state["rng"]
    models, nh, n = W.shape
    bs = phi.shape[1]
    tpb = device.threads(64, 8)
    kernel = rbm_kernel(update, n, nh, bs, tpb)
    Wd, phid, rngd = (cuda.to_device(np.ascontiguousarray(a)) for a in (W, phi, rng))
    step = cuda.to_device(state["step"])
    div = cuda.to_device(state["diverged"])
    loss = cuda.device_array(models, dtype=np.float64)
    with device.quiet():
        kernel[(models + tpb - 1) // tpb, tpb](
            Wd, phid, rngd, step, div, loss, int(n_steps), float(params["lr"]), float(params["mu2"]),
            float(params["sigma_h"]), int(params["gibbs_steps"]), dev["kinv"], float(data["logdet_k"]),
            float(params["divergence_loss"]), dev["zw"], dev["zk"], dev["zf"], float(_prng.ZIG_R))
        W[...] = Wd.copy_to_host()
        phi[...] = phid.copy_to_host()
        rng[...] = rngd.copy_to_host()
        state["step"][...] = step.copy_to_host()
        state["diverged"][...] = div.copy_to_host()
        return loss.copy_to_host()
