"""Naive reference twins of the package's computations, in one shared file.

Each is the slow, obvious version of something the package computes fast:
dense Gaussian-ensemble eigenvalues, user potentials compiled with numba.njit
(for :class:`coulombgas.potentials.Custom`), the Coulomb force and energy as
plain pair sums, spacings and gap ratios by sorting lists, the Anderson–Darling
statistic term by term, the autocorrelation function as O(N²) dot products and
Sokal's window by its definition. Tests compare the package against these.
"""

import math

import numba
import numpy as np


def gaussian_ensemble_eigenvalues(n, count, rng, beta):
    """Eigenvalues of ``count`` dense n×n matrices with density ∝ exp(−β tr H²/2): GOE (β=1) or GUE (β=2)."""
    if beta == 1:
        a = rng.standard_normal((count, n, n))
        h = (a + np.swapaxes(a, 1, 2)) / 2
    else:
        a = (rng.standard_normal((count, n, n)) + 1j * rng.standard_normal((count, n, n))) / math.sqrt(2)
        h = (a + np.conj(np.swapaxes(a, 1, 2))) / 2
    return np.linalg.eigvalsh(h)


@numba.njit
def quartic_value(x, i):
    """V(x) = x²/2 + x⁴/4, the built-in Quartic(t=1, g=1) written as a user potential."""
    return 0.5 * x * x + 0.25 * x**4


@numba.njit
def quartic_derivative(x, i):
    """V'(x) = x + x³."""
    return x + x**3


def naive_rho(x):
    """ρ(t) = Σ_s z_s z_{s+t} / Σ_s z_s² per chain (z = x − mean), averaged over chains: O(N²) loops."""
    out = np.zeros(x.shape[1])
    for chain in x:
        z = chain - chain.mean()
        c0 = float(np.dot(z, z))
        out += np.array([np.dot(z[:len(z) - t], z[t:]) / c0 for t in range(len(z))])
    return out / x.shape[0]


def naive_tau(rho, c):
    """Sokal's window: the first M with M >= c·τ(M), τ(M) = 1 + 2 Σ_{t=1}^{M} ρ(t) (else the last lag)."""
    tau = 1.0
    for m in range(1, len(rho)):
        tau += 2.0 * rho[m]
        if m >= c * tau:
            return tau
    return tau


def naive_spacings(x, groups=None):
    flat = x.reshape(-1, x.shape[-1])
    groups = [range(x.shape[-1])] if groups is None else groups
    out = []
    for row in flat:
        s = []
        for g in groups:
            v = sorted(row[i] for i in g)
            s += [v[k + 1] - v[k] for k in range(len(v) - 1)]
        out.append(s)
    return np.array(out).reshape(*x.shape[:-1], -1)


def naive_ratios(x):
    out = []
    for row in x.reshape(-1, x.shape[-1]):
        v = sorted(row)
        s = [v[k + 1] - v[k] for k in range(len(v) - 1)]
        out.append([min(s[k], s[k + 1]) / max(s[k], s[k + 1]) for k in range(len(s) - 1)])
    return np.array(out).reshape(*x.shape[:-1], -1)


def naive_a2(data, cdf):
    u = sorted(cdf(v) for v in data)
    n = len(u)
    return -n - sum((2 * k - 1) * (np.log(u[k - 1]) + np.log(1 - u[n - k])) for k in range(1, n + 1)) / n


def reference_force(x, w):
    """F_i = Σ_{j≠i} w_j / (x_i - x_j), one row at a time (slow, obvious)."""
    force = np.empty(x.size)
    for i in range(x.size):
        d = x[i] - x
        d[i] = np.inf  # drops the j = i term
        force[i] = np.sum(w / d)
    return force


def reference_energy(x, w):
    i, j = np.triu_indices(x.size, k=1)
    return -np.sum(w[i] * w[j] * np.log(np.abs(x[i] - x[j])))
