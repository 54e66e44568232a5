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
* Gaussian RBM: one thread per model, since each model's Gibbs noise is one sequential stream
  (the xoshiro256++/ziggurat stream of :mod:`coulombgas._prng`, compiled here from the same
  source as the CPU's): the device reproduces the CPU's draws exactly.

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


@functools.lru_cache(maxsize=None)
def _prng_device():
    """The :mod:`coulombgas._prng` stream compiled as CUDA device functions (once per process)."""
    return _prng.compile_with(_load().jit(device=True))


# ------------------------------------------------------------------ teacher-student

@functools.lru_cache(maxsize=None)
def teacher_student_kernel(update):
    """One thread per model running ``update`` (the model's per-model body, compiled for the device).

    ``update`` is :func:`coulombgas.training.teacher_student.update_model`, handed over by the
    model (this module does not import it): x (S, 2, models), a (S, 3, models) and W (4, models)
    are stored with the model fastest, so that the threads' loads coalesce, and each thread
    passes its model's strided views.
    """
    _load()
    body = device.device_twin(update)

    @cuda.jit
    def kernel(x, a, W, step, diverged, loss_out, n_steps, lr, bs, teacher, limit):
        m = cuda.grid(1)
        if m >= W.shape[1]:
            return
        if diverged[m] != 0:
            loss_out[m] = math.nan
            return
        w11, w12, w21, w22, total, st, flag = body(x[:, :, m], a[:, :, m], W[0, m], W[1, m], W[2, m], W[3, m],
                                                   step[m], n_steps, lr, bs, teacher, limit)
        W[0, m] = w11
        W[1, m] = w12
        W[2, m] = w21
        W[3, m] = w22
        step[m] = st
        diverged[m] = flag
        loss_out[m] = total / max(n_steps, 1) if flag == 0 else math.nan

    return kernel


def teacher_student_advance(data, state, gens, n_steps, params, *, update):
    """``advance`` of the teacher–student model on the device; ``update`` is the model's per-model body."""
    _load()
    dev = data.get("device")
    if dev is None:  # the block's dataset goes to the device once, sample-major with the model fastest
        dev = {"x": cuda.to_device(np.ascontiguousarray(data["x"].transpose(1, 2, 0))),
               "a": cuda.to_device(np.ascontiguousarray(data["a"].transpose(1, 2, 0)))}
        data["device"] = dev
    W = state["W"]
    models = W.shape[0]
    Wd = cuda.to_device(np.ascontiguousarray(W.reshape(models, 4).T))
    step = cuda.to_device(state["step"])
    div = cuda.to_device(state["diverged"])
    loss = cuda.device_array(models, dtype=np.float64)
    tpb = device.threads(128)
    with device.quiet():
        teacher_student_kernel(update)[(models + tpb - 1) // tpb, tpb](
            dev["x"], dev["a"], Wd, step, div, loss, int(n_steps), float(params["lr"]), int(params["batch_size"]),
            float(params["teacher"]), float(params["divergence_loss"]))
        W[...] = Wd.copy_to_host().T.reshape(models, 2, 2)
        state["step"][...] = step.copy_to_host()
        state["diverged"][...] = div.copy_to_host()
        return loss.copy_to_host()


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
        div = 0
        par = 0
        iters = max(n_steps, 1)
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
                    loss_out[m] = total / iters if div == 0 else math.nan
                else:
                    loss_out[m] = math.nan

    return kernel


def phase_network_advance(data, state, gens, n_steps, params):
    """``advance`` of :mod:`coulombgas.training._loop` running phase_network's update on the device."""
    _load()
    dev = data.get("device")
    W = state["W"]
    models, n_hidden, n_mid = W.shape
    if dev is None:
        dev = {"H": cuda.to_device(np.ascontiguousarray(data["H"])),
               "y": cuda.to_device(np.ascontiguousarray(data["y"])),
               "Z": cuda.to_device(np.ascontiguousarray(data["Z"])),
               "lr": cuda.to_device(np.full(models, float(params["lr"])))}
        data["device"] = dev
    bs = int(params["batch_size"])
    team, rows = team_shape(n_hidden)
    tpb = max(team, device.threads(128, 32))
    kernel = phase_kernel(n_mid, n_hidden, bs, team, rows, tpb)
    Wd = cuda.to_device(np.ascontiguousarray(W))
    step = cuda.to_device(state["step"])
    div = cuda.to_device(state["diverged"])
    loss = cuda.device_array(models, dtype=np.float64)
    teams = tpb // team
    with device.quiet():
        kernel[(models + teams - 1) // teams, tpb](dev["H"], dev["y"], dev["Z"], Wd, step, div, loss, int(n_steps),
                                                   dev["lr"], float(params["divergence_loss"]))
        W[...] = Wd.copy_to_host()
        state["step"][...] = step.copy_to_host()
        state["diverged"][...] = div.copy_to_host()
        return loss.copy_to_host()



# ------------------------------------------------------------------ Gaussian RBM

#: Largest per-thread working set of :func:`gaussian_rbm_advance` (W, the chains, h, two n × n scratch
#: matrices; float64 values): one thread holds one model, in local memory.
RBM_MAX_VALUES = 8192


@functools.lru_cache(maxsize=None)
def rbm_kernel(n: int, nh: int, bs: int, tpb: int):
    """The RBM's persistent-chain updates, one thread per model, drawing the model's stream in the CPU's order.

    One thread per model (not a team per chain) because the CPU draws every model's
    Gibbs noise from one sequential stream, and a ziggurat draw uses a variable
    number of 64-bit words: only one thread can reproduce it. Arrays are flat,
    row-major: w[a·n + i] (W), p[i·bs + b] (chains, site-major as on the CPU),
    h[a·bs + b]; the ziggurat tables and K_φ⁻¹ are copied to shared memory.
    """
    _load()
    from numba import float64, uint64

    normal = _prng_device().normal  # the CPU's stream, from the same source
    NW, NP, NH, NN = nh * n, n * bs, nh * bs, n * n
    LAYERS, LAYERS1 = _prng.LAYERS, _prng.LAYERS + 1  # literal array sizes

    @cuda.jit(device=True)
    def kl_divergence(w, A, kinv, mu2, s2, logdet_k):
        """KL(p_t ‖ p_W) with A = μ² − σ_h²WᵀW factored in place; inf if A is not positive definite."""
        for i in range(NN):
            A[i] = 0.0
        for a in range(nh):
            for i in range(n):
                c = -s2 * w[a * n + i]
                for j in range(n):
                    A[i * n + j] += c * w[a * n + j]
        tr = 0.0
        for i in range(n):
            A[i * n + i] += mu2
            for j in range(n):
                tr += A[i * n + j] * kinv[i * n + j]
        det = 1.0
        logdet = 0.0
        for j in range(n):
            d = A[j * n + j]
            for k in range(j):
                d -= A[j * n + k] * A[j * n + k]
            if not (d > 0.0):
                return math.inf
            det *= d
            if det < 1e-200 or det > 1e200:
                logdet += math.log(det)
                det = 1.0
            inv = 1.0 / math.sqrt(d)
            for i in range(j + 1, n):
                acc = A[i * n + j]
                for k in range(j):
                    acc -= A[i * n + k] * A[j * n + k]
                A[i * n + j] = acc * inv
        logdet += math.log(det)
        return 0.5 * (tr - n - logdet + logdet_k)

    @cuda.jit
    def kernel(W, phi, rng, step, diverged, loss_out, n_steps, lr, mu2, sigma_h, sweeps, kinv_g, logdet_k, limit,
               zw_g, zk_g, zf_g, zr):
        zw = cuda.shared.array(LAYERS, float64)
        zk = cuda.shared.array(LAYERS, uint64)
        zf = cuda.shared.array(LAYERS1, float64)
        kinv = cuda.shared.array(NN, float64)
        t = cuda.threadIdx.x
        for k in range(t, LAYERS1, tpb):
            if k < LAYERS:
                zw[k] = zw_g[k]
                zk[k] = zk_g[k]
            zf[k] = zf_g[k]
        for k in range(t, NN, tpb):
            kinv[k] = kinv_g[k]
        cuda.syncthreads()
        m = cuda.grid(1)
        if m >= W.shape[0]:
            return
        if diverged[m] != 0:
            loss_out[m] = math.nan
            return
        s = cuda.local.array(4, uint64)
        w = cuda.local.array(NW, float64)
        p = cuda.local.array(NP, float64)
        h = cuda.local.array(NH, float64)
        d = cuda.local.array(NN, float64)
        A = cuda.local.array(NN, float64)
        row = cuda.local.array(n, float64)
        for k in range(4):
            s[k] = rng[m, k]
        for a in range(nh):
            for i in range(n):
                w[a * n + i] = W[m, a, i]
        for b in range(bs):
            for i in range(n):
                p[i * bs + b] = phi[m, b, i]
        s2 = sigma_h * sigma_h
        inv_mu = 1.0 / math.sqrt(mu2)
        scale = lr * s2
        inv_bs = 1.0 / bs
        st = step[m]
        div = 0
        kl = kl_divergence(w, A, kinv, mu2, s2, logdet_k)
        for it in range(n_steps):
            if not (kl <= limit):  # also catches NaN and a non-normalisable model (inf)
                div = st + 1
                break
            for sweep in range(sweeps):
                # h | φ ~ N(σ_h² W φ, σ_h²): noise in (chain, hidden unit) order, as on the CPU.
                for b in range(bs):
                    for a in range(nh):
                        h[a * bs + b] = sigma_h * normal(s, zw, zk, zf, zr)
                for a in range(nh):
                    for i in range(n):
                        c = s2 * w[a * n + i]
                        for b in range(bs):
                            h[a * bs + b] += c * p[i * bs + b]
                # φ | h ~ N(Wᵀh/μ², 1/μ²): noise in (chain, site) order.
                for b in range(bs):
                    for i in range(n):
                        p[i * bs + b] = inv_mu * normal(s, zw, zk, zf, zr)
                for a in range(nh):
                    for i in range(n):
                        c = w[a * n + i] / mu2
                        for b in range(bs):
                            p[i * bs + b] += c * h[a * bs + b]
            # D = K⁻¹ − (1/|B|) Σ_b φ_b φ_bᵀ, then W ← W + α σ_h² W D.
            for i in range(n):
                for j in range(i, n):
                    acc = 0.0
                    for b in range(bs):
                        acc += p[i * bs + b] * p[j * bs + b]
                    d[i * n + j] = kinv[i * n + j] - acc * inv_bs
                    d[j * n + i] = d[i * n + j]
            for a in range(nh):
                for j in range(n):
                    acc = 0.0
                    for i in range(n):
                        acc += w[a * n + i] * d[j * n + i]
                    row[j] = acc
                for j in range(n):
                    w[a * n + j] += scale * row[j]
            st += 1
            kl = kl_divergence(w, A, kinv, mu2, s2, logdet_k)
        if div == 0 and not (kl <= limit):
            div = st + 1
        for a in range(nh):
            for i in range(n):
                W[m, a, i] = w[a * n + i]
        for b in range(bs):
            for i in range(n):
                phi[m, b, i] = p[i * bs + b]
        for k in range(4):
            rng[m, k] = s[k]
        step[m] = st
        diverged[m] = div
        loss_out[m] = kl if div == 0 else math.nan

    return kernel


def rbm_values(n: int, n_hidden: int, batch_size: int) -> int:
    """Float64 values one RBM model holds in its thread: n_h·n + |B|(n + n_h) + 2n² + n."""
    return n_hidden * n + batch_size * (n + n_hidden) + 2 * n * n + n


def gaussian_rbm_advance(data, state, gens, n_steps, params):
    """``advance`` of the Gaussian RBM on the device (``data["kinv"]``, ``data["logdet_k"]``: the target)."""
    _load()
    dev = data.get("device")
    if dev is None:  # the target and the ziggurat tables go to the device once per block
        dev = {"kinv": cuda.to_device(np.ascontiguousarray(np.asarray(data["kinv"], dtype=np.float64).ravel())),
               "zw": cuda.to_device(_prng.ZIG_W), "zk": cuda.to_device(_prng.ZIG_K),
               "zf": cuda.to_device(_prng.ZIG_F)}
        data["device"] = dev
    W, phi, rng = state["W"], state["phi"], state["rng"]
    models, nh, n = W.shape
    bs = phi.shape[1]
    tpb = device.threads(64, 8)
    kernel = rbm_kernel(n, nh, bs, tpb)
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
