"""The drift-implicit nearest-neighbour step of the IMEX integrators (the kernels in _sde.py).

Split the drift of dx_i = [a K_i(x_i) + c Σ_{j≠i} w_j/(x_i − x_j)] dt + s_i dW_i as

    D_i(x) = E_i(x) + I_i(x),
    I_i(x) = σ_{i−1}/(x_i − x_{i−1}) − σ_i/(x_{i+1} − x_i) [+ ω/(x_0 − L) for i = 0],
    σ_k = c (w_k + w_{k+1})/2,

with I the nearest-neighbour repulsion (plus the log wall ω/(x − L) of a
Laguerre potential on the lowest eigenvalue) and E everything else (far-field
Coulomb, confinement), evaluated explicitly. With σ_k symmetric per pair, I is
the gradient of the barrier Φ(y) = Σ_k σ_k log(y_{k+1} − y_k) [+ ω log(y_0 − L)],
so the drift-implicit step y = z + h I(y) is the proximal point

    y = argmin_y  |y − z|²/(2h) − Φ(y),

of a function that is strictly convex on the ordered chamber and +∞ outside
it: y exists, is unique and is strictly ordered for *every* h and every z —
no crossing and no rejected step, by construction. Its Hessian is tridiagonal,
so damped Newton with a Thomas solve costs O(n) per iteration.

With unequal weights w the nearest-neighbour force c w_{k±1}/(x_k − x_{k±1}) is
not a gradient. The symmetric part (strength c(w_k + w_{k+1}) on the gap, the
same as the gap's own drift) is implicit; the remainder c(w_k − w_{k+1})/(2g)
pushes *both* members of the pair the same way (it does not change the gap),
stays in E and so cannot reorder them; the drift D is reproduced exactly.

The scheme generalises the drift-implicit Euler scheme for Bessel-type
processes of A. Alfonsi, Stat. Probab. Lett. 83, 602 (2013) (there one gap;
here all n − 1 gaps at once, coupled through the tridiagonal Hessian).
"""

from __future__ import annotations

import math

import numpy as np

from ._jit import njit

# Newton stops after the step taken at a squared Newton decrement λ² (in units of the
# smallest barrier strength σ, the self-concordant scale) below this; the step squares
# it, leaving |y − y*| ≲ λ'·√(σ h) with λ'² ~ λ⁴ ≲ 1e-20.
_NEWTON_TOL = 1e-10
# λ² below which the full Newton step is taken without a line search (whose F-differences
# would be lost in roundoff there): for a self-concordant F, λ < (3 − √5)/2 ≈ 0.38 keeps
# the full step feasible and the decrement contracting, λ' ≤ (λ/(1 − λ))².
_QUADRATIC_REGION = 0.14
_MAX_NEWTON = 200


@njit
def _positive_root(A, q):
    """Positive root of g² − A g − q = 0 (q > 0), without cancellation when A ≪ 0."""
    r = math.sqrt(A * A + 4.0 * q)
    return 0.5 * (A + r) if A >= 0.0 else 2.0 * q / (r - A)


@njit
def _remove_implicit(x, b, sig, lower, omega):
    """b ← b − I(x): the explicit part E of a full drift b (inputs validated by the caller)."""
    n = x.shape[0]
    for k in range(n - 1):
        f = sig[k] / (x[k + 1] - x[k])
        b[k] += f
        b[k + 1] -= f
    if omega > 0.0:
        b[0] -= omega / (x[0] - lower)


@njit
def _objective(y, z, h, sig, lower, omega):
    """F(y) = |y − z|²/(2h) − Σ σ_k log(y_{k+1} − y_k) − ω log(y_0 − L); y must be ordered."""
    n = y.shape[0]
    q = 0.0
    for i in range(n):
        d = y[i] - z[i]
        q += d * d
    f = q / (2.0 * h)
    for k in range(n - 1):
        f -= sig[k] * math.log(y[k + 1] - y[k])
    if omega > 0.0:
        f -= omega * math.log(y[0] - lower)
    return f


@njit
def _ordered(y, lower, omega):
    """Strictly increasing (and above ``lower`` when there is a wall), in floating point."""
    if omega > 0.0 and not (y[0] > lower):
        return False
    for k in range(y.shape[0] - 1):
        if not (y[k + 1] > y[k]):
            return False
    return True


@njit
def _line(y, step, z, inv_h, sig, lower, omega, t):
    """(φ'(t), φ''(t)) for φ(t) = F(y + t·step) (inside the chamber)."""
    n = y.shape[0]
    d1 = 0.0
    d2 = 0.0
    for i in range(n):
        d1 += (y[i] + t * step[i] - z[i]) * step[i]
        d2 += step[i] * step[i]
    d1 *= inv_h
    d2 *= inv_h
    for k in range(n - 1):
        dd = step[k + 1] - step[k]
        r = dd / (y[k + 1] - y[k] + t * dd)
        d1 -= sig[k] * r
        d2 += sig[k] * r * r
    if omega > 0.0:
        r = step[0] / (y[0] - lower + t * step[0])
        d1 -= omega * r
        d2 += omega * r * r
    return d1, d2


@njit
def _prox(z, start, h, sig, sig_min, lower, omega, y, g, dg, off, step, cp, trial):
    """y ← argmin |y − z|²/(2h) − Φ(y) by damped Newton; returns iterations, or −1 if not converged.

    ``start`` must be strictly ordered (the current state); ``z`` is used as the
    start instead when it is ordered and has the lower objective. Work arrays
    g, dg, off, step, cp, trial have length n. Inputs are validated by the caller.
    """
    n = z.shape[0]
    # Start: each gap's own two-body implicit step g = [A + √(A² + 4hσ·2)]/2 (A = z's gap),
    # its repulsion σ/g applied to both members; in the bulk this is within O(h²) of y,
    # so Newton starts in its quadratic region. If that guess is not ordered (neighbouring
    # close pairs), fall back to the current state, which is.
    for k in range(n - 1):
        gk = _positive_root(z[k + 1] - z[k], 2.0 * h * sig[k])
        off[k] = h * sig[k] / gk
    for i in range(n):
        y[i] = z[i]
    for k in range(n - 1):
        y[k] -= off[k]
        y[k + 1] += off[k]
    if omega > 0.0:
        d0 = _positive_root(z[0] - lower, h * omega)
        y[0] += lower + d0 - z[0]
    if not _ordered(y, lower, omega):
        for i in range(n):
            y[i] = start[i]
    scale = sig_min
    if omega > 0.0 and omega < scale:
        scale = omega
    inv_h = 1.0 / h
    # Roundoff floor of the decrement: steps below the resolution of y (eps |y|) are noise.
    ymax = 0.0
    for i in range(n):
        if abs(z[i]) > ymax:
            ymax = abs(z[i])
    res = 2.2e-16 * (ymax + 1e-300)
    tol = max(_NEWTON_TOL, 16.0 * n * res * res * inv_h / scale)
    for it in range(1, _MAX_NEWTON + 1):
        # Gradient and the tridiagonal Hessian (diagonal dg, off-diagonal off).
        for i in range(n):
            g[i] = (y[i] - z[i]) * inv_h
            dg[i] = inv_h
        if omega > 0.0:
            d0 = y[0] - lower
            g[0] -= omega / d0
            dg[0] += omega / (d0 * d0)
        for k in range(n - 1):
            d = y[k + 1] - y[k]
            f = sig[k] / d
            cu = f / d
            g[k] += f
            g[k + 1] -= f
            dg[k] += cu
            dg[k + 1] += cu
            off[k] = -cu
        # Thomas algorithm for H step = −g (H is SPD and diagonally dominant: no pivoting).
        cp[0] = off[0] / dg[0] if n > 1 else 0.0
        step[0] = -g[0] / dg[0]
        for i in range(1, n):
            m = dg[i] - off[i - 1] * cp[i - 1]
            cp[i] = off[i] / m if i < n - 1 else 0.0
            step[i] = (-g[i] - off[i - 1] * step[i - 1]) / m
        for i in range(n - 2, -1, -1):
            step[i] -= cp[i] * step[i + 1]
        lam2 = 0.0
        for i in range(n):
            lam2 -= g[i] * step[i]
        lam2 /= scale  # normalised squared Newton decrement
        if not (lam2 >= 0.0):  # NaN: non-finite input
            return -1
        # Largest step that keeps every gap (and the wall distance) positive.
        tmax = math.inf
        for k in range(n - 1):
            dd = step[k + 1] - step[k]
            if dd < 0.0:
                r = (y[k + 1] - y[k]) / (-dd)
                if r < tmax:
                    tmax = r
        if omega > 0.0 and step[0] < 0.0:
            r = (y[0] - lower) / (-step[0])
            if r < tmax:
                tmax = r
        if lam2 < _QUADRATIC_REGION and tmax > 1.0:
            for i in range(n):
                trial[i] = y[i] + step[i]
            if _ordered(trial, lower, omega):
                for i in range(n):
                    y[i] = trial[i]
                if lam2 <= tol:
                    return it
                continue
        # Damped phase: minimise F along the Newton direction on [0, min(1, tmax)). F is
        # convex there and +∞ at tmax, so a safeguarded Newton-bisection on F' finds the
        # minimiser; the last point with F' ≤ 0 is kept (F strictly decreased). Unlike a
        # fixed fraction of the way to the boundary, this never squeezes a gap needlessly.
        d1, d2 = _line(y, step, z, inv_h, sig, lower, omega, 1.0) if tmax > 1.0 else (math.inf, 0.0)
        if d1 <= 0.0:
            t = 1.0
        else:
            lo = 0.0
            hi = min(1.0, tmax)
            t = 0.0
            d1, d2 = _line(y, step, z, inv_h, sig, lower, omega, 0.0)
            for _ in range(60):
                tn = t - d1 / d2
                if not (lo < tn < hi):
                    tn = 0.5 * (lo + hi)
                d1, d2 = _line(y, step, z, inv_h, sig, lower, omega, tn)
                if d1 <= 0.0:
                    lo = tn
                else:
                    hi = tn
                t = tn
                if lo > 0.0 and hi - lo <= 0.05 * lo:
                    break
            t = lo
            if not (t > 0.0):
                return -1
        for i in range(n):
            trial[i] = y[i] + t * step[i]
        if not _ordered(trial, lower, omega):
            return -1
        for i in range(n):
            y[i] = trial[i]
    return -1


def prox_reference(z, h, sig, lower=-math.inf, omega=0.0):
    """Slow reference for tests: the same minimiser by scipy's bounded quasi-Newton in gap variables."""
    import scipy.optimize

    z = np.asarray(z, dtype=np.float64)
    n = z.size
    base = lower if omega > 0 else 0.0

    def unpack(u):
        # u = [log first offset or position, log gaps]
        first = base + math.exp(u[0]) if omega > 0 else u[0]
        return first + np.concatenate([[0.0], np.cumsum(np.exp(u[1:]))])

    def fun(u):
        y = unpack(u)
        f = np.sum((y - z) ** 2) / (2 * h) - np.sum(sig * np.log(np.diff(y)))
        if omega > 0:
            f -= omega * math.log(y[0] - lower)
        return f

    zs = np.sort(z)
    gaps = np.maximum(np.diff(zs), 1e-3)
    u0 = np.concatenate([[math.log(max(zs[0] - lower, 1e-3)) if omega > 0 else zs[0]], np.log(gaps)])
    res = scipy.optimize.minimize(fun, u0, method="BFGS", options={"gtol": 1e-12, "maxiter": 10000})
    return unpack(res.x)
