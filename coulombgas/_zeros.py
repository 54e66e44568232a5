"""Zeros of the Hermite and generalised Laguerre polynomials in O(n) memory.

They are the T = 0 equilibria of the harmonic and Laguerre log-gases (Stieltjes
1885): the zeros ζ_i of the physicists' H_n solve ζ_i = Σ_{j≠i} 1/(ζ_i − ζ_j), and
the zeros ξ_i of L_n^{(α)} solve Σ_{j≠i} 1/(ξ_i − ξ_j) = 1/2 − (α + 1)/(2ξ_i).

Two methods, both O(n) memory:

* **Golub–Welsch** (small n): the zeros are the eigenvalues of the symmetric
  tridiagonal Jacobi matrix of the three-term recurrence (Hermite: zero
  diagonal, off-diagonal √(k/2); Laguerre: diagonal 2k + α + 1, off-diagonal
  √(k(k + α))), computed by LAPACK ``dsterf`` in O(n²) time.
* **Glaser–Liu–Rokhlin** (large n, Hermite): march from zero to zero along the
  real axis. With the Hermite function y = e^{−x²/2} H_n, y'' + q y = 0,
  q = 2n + 1 − x², the Prüfer phase θ (tan θ = √q y/y') obeys
  dx/dθ = 1/(√q + q' sin 2θ /(4q)) and increases by π between zeros; a few
  Runge–Kutta steps in θ give the next zero to a few digits, and Newton's method
  on the local Taylor series of y (coefficients from the ODE's recurrence)
  makes it exact to rounding. O(1) work per zero, O(n) in all; the zeros are
  antisymmetric, so only the positive half is marched.

Measured against the Jacobi eigenvalues (see ``tests/test_gas.py``): relative
difference below 1e-12 up to n = 5000.

References
----------
G. H. Golub, J. H. Welsch, Math. Comp. 23, 221 (1969).
A. Glaser, X. Liu, V. Rokhlin, SIAM J. Sci. Comput. 29, 1420 (2007).
T. J. Stieltjes, Sur quelques théorèmes d'algèbre, C. R. Acad. Sci. 100 (1885).
"""

from __future__ import annotations

import math

import numpy as np
from scipy.linalg import lapack

from ._jit import njit

#: Largest n whose Hermite zeros come from the Jacobi matrix (above: marching).
HERMITE_JACOBI_MAX = 256

_TAYLOR_TERMS = 120
_RK_STEPS = 8


def hermite_zeros(n: int) -> np.ndarray:
    """Ascending zeros of the physicists' Hermite polynomial H_n (n >= 1), exactly antisymmetric."""
    if n <= HERMITE_JACOBI_MAX:
        z = jacobi_eigenvalues(np.zeros(n), np.sqrt(0.5 * np.arange(1, n)))
    else:
        z = np.empty(n)
        half = n // 2
        pos = np.empty(n - half)  # the zeros >= 0 (x = 0 first when n is odd)
        _hermite_march(n, pos)
        z[half:] = pos
        z[: n - half] = -pos[::-1]
    # Antisymmetrise: rounding in the solver breaks ζ_i = −ζ_{n+1−i} at the 1e-16 level.
    z = 0.5 * (z - z[::-1])
    return z


def laguerre_zeros(n: int, alpha: float) -> np.ndarray:
    """Ascending zeros of the generalised Laguerre polynomial L_n^{(α)}, α > −1 (Golub–Welsch)."""
    k = np.arange(n, dtype=np.float64)
    off = np.sqrt(k[1:] * (k[1:] + alpha))
    return jacobi_eigenvalues(2.0 * k + alpha + 1.0, off)


def jacobi_eigenvalues(diag, off) -> np.ndarray:
    """Ascending eigenvalues of a symmetric tridiagonal matrix (LAPACK dsterf: O(n²) time, O(n) memory)."""
    if len(diag) == 1:
        return np.array(diag, dtype=np.float64)
    w, info = lapack.dsterf(np.ascontiguousarray(diag, dtype=np.float64),
                            np.ascontiguousarray(off, dtype=np.float64))
    if info != 0:  # pragma: no cover - dsterf converges on these matrices
        raise RuntimeError(f"LAPACK dsterf did not converge (info = {info})")
    return w


@njit
def _series(a, y0, p, h, n2, out):
    """(y(a+h), y'(a+h)) of y'' = (x² − n2) y from y(a) = y0, y'(a) = p, by the Taylor series in h.

    Coefficients: c_0 = y0, c_1 = p, c_{m+2} = (f0 c_m + 2a c_{m−1} + c_{m−2})/((m+1)(m+2)),
    f0 = a² − n2 (the ODE's coefficient x² − n2 = f0 + 2a h + h²).
    """
    f0 = a * a - n2
    cmm2 = 0.0  # c_{m-2}
    cmm1 = 0.0  # c_{m-1}
    cm = y0     # c_m
    cm1 = p     # c_{m+1}
    y = y0 + p * h
    dy = p
    hm = 1.0    # h^m
    scale = abs(y0) + abs(p) * max(abs(h), 1.0) + 1e-300
    small = 0
    for m in range(_TAYLOR_TERMS):
        c2 = (f0 * cm + 2.0 * a * cmm1 + cmm2) / ((m + 1.0) * (m + 2.0))  # c_{m+2}
        hm *= h  # h^(m+1)
        dterm = (m + 2.0) * c2 * hm
        yterm = c2 * hm * h
        dy += dterm
        y += yterm
        cmm2, cmm1, cm, cm1 = cmm1, cm, cm1, c2
        if abs(dterm) + abs(yterm) < 1e-17 * scale:
            small += 1
            if small >= 3:  # three negligible terms in a row (the recurrence has a 3-term memory)
                break
        else:
            small = 0
    out[0] = y
    out[1] = dy


@njit
def _dx_dtheta(x, theta, n2):
    q = n2 - x * x
    return 1.0 / (math.sqrt(q) - x * math.sin(2.0 * theta) / (2.0 * q))


@njit
def _hermite_march(n, pos):
    """pos[k] = k-th zero >= 0 of H_n (inputs: n > 2, pos of length n − n//2). Glaser–Liu–Rokhlin."""
    n2 = 2.0 * n + 1.0
    out = np.empty(2)
    m = pos.shape[0]
    if n % 2 == 1:
        a = 0.0
        p = 1.0
        theta0 = -math.pi
        pos[0] = 0.0
        k0 = 1
    else:
        # x = 0 is an extremum: y(0) = 1, y'(0) = 0, θ(0) = π/2. Reach the first zero from there.
        a = 0.0
        p = 0.0
        theta0 = -0.5 * math.pi
        k0 = 0
    for k in range(k0, m):
        # Runge–Kutta in θ from θ0 to 0 (θ ≡ phase measured from the next zero, shifted by −π).
        x = a
        t = theta0 if k == k0 else -math.pi
        dt = -t / _RK_STEPS
        for _ in range(_RK_STEPS):
            k1 = _dx_dtheta(x, t, n2)
            k2 = _dx_dtheta(x + 0.5 * dt * k1, t + 0.5 * dt, n2)
            k3 = _dx_dtheta(x + 0.5 * dt * k2, t + 0.5 * dt, n2)
            k4 = _dx_dtheta(x + dt * k3, t + dt, n2)
            x += dt * (k1 + 2.0 * k2 + 2.0 * k3 + k4) / 6.0
            t += dt
        # Newton on y(a + h) = 0 with the Taylor series about the previous point.
        h = x - a
        if k == k0 and n % 2 == 0:
            y0, p0 = 1.0, 0.0
        else:
            y0, p0 = 0.0, p
        for _ in range(12):
            _series(a, y0, p0, h, n2, out)
            step = out[0] / out[1]
            h -= step
            if abs(step) <= 1e-15 * abs(a + h):
                break
        _series(a, y0, p0, h, n2, out)
        a = a + h
        # Normalise the derivative: only the zeros matter, and y grows/decays along the march.
        p = 1.0 if out[1] > 0 else -1.0
        pos[k] = a
