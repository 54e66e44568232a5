"""Finite-learning-rate corrections of the Coulomb gas built from a drift/noise estimate.

:func:`coulombgas.training.gas_from_harvest` matches the continuum eigenvalue SDE
(SCIENCE.md §2) to the measured drift K_i and noise g_i² = C_ii/2 (module
:mod:`coulombgas.training.drift_noise`). That SDE is the α → 0 limit of SGD. This
module holds the four corrections that :func:`gas_from_harvest` can switch on
(``corrections=``), each a pure function of the measured arrays:

``"step"`` — the step-size factor of the stationary variance (SCIENCE.md §8).
    Near its mean a mode with drift slope K′_i = dK_i/dx_i (per unit lr, < 0) moves
    by the AR(1) map δx ← (1 − α|K′_i|) δx + ξ, Var ξ = 2α² g_i²/|B| per update
    (the SDE's per-update variance, ``CoulombGas.from_sgd``). Its stationary variance
    solves s² = (1 − α|K′|)² s² + 2α²g²/|B|:

        s_i² = 2α² g_i²/|B| / (1 − (1 − α|K′_i|)²) = (α g_i²/(|B| |K′_i|)) / (1 − α|K′_i|/2),

    while the continuum SDE (dδx = −α|K′|δx dt + √(2α²g²/|B|) dW) gives
    α g_i²/(|B||K′_i|): the same with the factor f_i = 1/(1 − α|K′_i|/2) missing.
    The gas takes g_i² → f_i g_i² (noise and pair weights together, so the
    Vandermonde exponent c w_j/D_i stays what the measurement gives and a linear
    model's whole law is scaled by f, as its exact Gaussian law is: for paper 1's
    teacher–student, K′ = −1 and ⟨S⟩ grows by 1/√(1 − α/2)). Relaxation rates are
    left at α|K′_i| (the map's −ln(1 − α|K′|) to first order). Needs α|K′_i| < 2
    (beyond it the map does not contract). Batch-covariance fluctuations add a
    further O(α/|B|) to the denominator that this factor does not contain.
    Reference: Aarts, Lucini, Park, arXiv:2407.16427 (the AR(1) form of SGD near a
    minimum; the paper's continuum limit is f = 1).

``"pairs"`` — the measured Coulomb coefficients C_ij (i ≠ j) instead of the SDE's
    pair weights g_j². The measured second-order drift is (α²/|B|) Σ_j C_ij/(x_i − x_j)
    with C symmetric; the gas's kernels take one weight per partner, c w_j, so
    w_j = mean_{i≠j} C_ij (exact for n = 2 and for GOE-like noise, where C_ij = g²).

``"wishart"`` — noise growing with x. For X = WᵀW one sample's change of x_i is
    −2 (W u_i)·(G_b u_i) with |W u_i|² = x_i, so C_ii ∝ x_i at fixed gradient
    statistics: g_i²(x) = g_i² x/x̄_i (g_i² measured at the mean x̄_i). The SDE kernels
    take a constant noise per mode, so the correction enters through the
    single-mode stationary law instead: for dx = aK dt + √(2D(x)) dW (Itô) the
    zero-flux density is p ∝ exp(∫ aK/D dx)/D(x). With D(x) = D̄ x/x̄ and the
    constant D̄ = D(x̄) this is exp(−a V_eff/D̄) with

        V_eff′(x) = −K(x) x̄/x + (D̄/a)/x,

    and for the fitted K = −(x − c)/w² a Laguerre weight,
    V_eff = (x̄/w²) x − (x̄ c/w² − T g²) ln x (T g² = D̄/a, T = α/|B|),
    exact for each mode's own law; the pair term keeps the weights at x̄. Needs
    x̄ c/w² > T g² (a normalisable density on x > 0).

``"drift2"`` — the measured second-order drift. The mean change per update is
    α K_i + α² K2_i + (α²/|B|)(Σ_j C_ij/(x_i − x_j) + Q_i) (drift_noise module
    docstring); the gas has the first and the Coulomb term. This adds the rest,
    Δ_i = α⟨K2_i⟩ + (α/|B|)⟨Q_i⟩, to K_i: a quadratic well's centre moves by w_i² Δ_i.

References
----------
G. Aarts, B. Lucini, C. Park, Phys. Rev. E 111, 015303 (2025), arXiv:2407.16427.
SCIENCE.md §2 (the SDE and its stationary law) and §8 (finite learning rate).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from .. import potentials as pot

__all__ = ["CORRECTIONS", "parse_corrections", "step_factor", "GasTerms", "corrected_terms", "potential_slope",
           "spacing_mean_two_modes"]

#: Names accepted by ``corrections=`` (besides ``"continuum"``, none, and ``"all"``, every one).
CORRECTIONS = ("step", "pairs", "wishart", "drift2")


def parse_corrections(corrections) -> tuple[str, ...]:
    """The set of corrections named by ``corrections``, in the order of :data:`CORRECTIONS`.

    ``"continuum"`` or None or an empty sequence: none (the α → 0 SDE); ``"all"``: every
    one; a name or a sequence of names from :data:`CORRECTIONS`.
    """
    allowed = ("continuum", "all") + CORRECTIONS
    if corrections is None:
        return ()
    names = [corrections] if isinstance(corrections, str) else corrections
    try:
        names = list(names)
    except TypeError:
        raise TypeError(f"`corrections` must be a string or a sequence of strings from {allowed}, "
                        f"got {type(corrections).__name__}") from None
    out = set()
    for name in names:
        if not isinstance(name, str) or name not in allowed:
            raise ValueError(f"`corrections` must name options from {', '.join(map(repr, allowed))}, got {name!r}")
        if name == "all":
            out.update(CORRECTIONS)
        elif name != "continuum":
            out.add(name)
    if "continuum" in names and out:
        raise ValueError(f"`corrections` cannot combine 'continuum' (none) with {sorted(out)}")
    return tuple(c for c in CORRECTIONS if c in out)


def step_factor(slope, lr) -> np.ndarray:
    """f_i = 1/(1 − α|K′_i|/2): stationary variance of the AR(1) step over the continuum value.

    ``slope`` K′_i (per unit lr, < 0 for a confined mode), ``lr`` α > 0. Raises ValueError
    where α|K′_i| ≥ 2 (the linearised map δx ↦ (1 − α|K′|)δx does not contract).
    """
    slope = np.asarray(slope, dtype=float)
    r = lr * np.abs(slope)
    if np.any(~np.isfinite(r)) or np.any(r >= 2.0):
        bad = np.flatnonzero(~(r < 2.0)).tolist()
        raise ValueError(f"`lr` = {lr:g} is outside the stable range of the SGD step for modes {bad}: "
                         f"α|K′| must be < 2, got α|K′| = {np.round(r[bad], 4).tolist()}")
    return 1.0 / (1.0 - 0.5 * r)


def potential_slope(potential, x) -> np.ndarray:
    """K′_i = −V_i″(x_i) by a central difference of V′ (for potentials other than the fitted quadratic)."""
    x = np.asarray(x, dtype=float)
    n = x.shape[-1]
    h = 1e-5 * np.maximum(1.0, np.abs(x))
    return -(potential.derivative(x + h, n) - potential.derivative(x - h, n)) / (2.0 * h)


@dataclasses.dataclass(frozen=True)
class GasTerms:
    """What :func:`corrected_terms` hands to the gas: potential, noise g_i, pair weights w_j, factors f_i."""

    potential: object
    g: np.ndarray
    weights: np.ndarray
    factor: np.ndarray
    corrections: tuple


def corrected_terms(estimate, potential, slope, corrections, *, center=None, width=None) -> GasTerms:
    """Potential, noise and pair weights of the gas with ``corrections`` applied (module docstring).

    Parameters
    ----------
    estimate : DriftNoise
        The measured drift and noise (means over models and records are used).
    potential : Potential
        V_i of the continuum gas.
    slope : ndarray, shape (n,)
        K′_i per unit lr (for ``"step"``).
    corrections : tuple of str
        From :func:`parse_corrections`.
    center, width : ndarray, shape (n,), optional
        The quadratic fit (needed by ``"wishart"`` and ``"drift2"``).
    """
    lr, bs = float(estimate.lr), float(estimate.batch_size)
    T = lr / bs
    n = estimate.n
    g2 = estimate.g2.mean(axis=(0, 1))
    factor = step_factor(slope, lr) if "step" in corrections else np.ones(n)
    g2_eff = g2 * factor
    if "pairs" in corrections:
        c = estimate.variance.mean(axis=(0, 1))
        off = ~np.eye(n, dtype=bool)
        w = np.where(off, c, 0.0).sum(axis=0) / (n - 1) * factor
        if np.any(~(w > 0)):
            raise ValueError(f"the measured Coulomb coefficients of modes {np.flatnonzero(~(w > 0)).tolist()} are "
                             "not positive: `corrections` 'pairs' cannot weight them")
    else:
        w = g2_eff.copy()
    V = potential
    needs_fit = [c for c in ("wishart", "drift2") if c in corrections]
    if needs_fit and (center is None or width is None):
        raise ValueError(f"`corrections` {needs_fit} need potential='quadratic' (a fitted centre and width), "
                         "not a user potential")
    if "drift2" in corrections:
        d2 = estimate.drift2.mean(axis=(0, 1))
        ito = estimate.ito.mean(axis=(0, 1))
        if not (np.all(np.isfinite(d2)) and np.all(np.isfinite(ito))):
            raise ValueError("`corrections` 'drift2' needs finite second-order drift (degenerate eigenvalues "
                             "make it infinite; see DriftNoise.degenerate)")
        delta = lr * d2 + lr / bs * ito
        center = np.asarray(center, float) + np.asarray(width, float) ** 2 * delta
        V = pot.Quadratic(center, width)
    if "wishart" in corrections:
        xbar = estimate.eigenvalues.mean(axis=(0, 1))
        w2 = np.asarray(width, float) ** 2
        if np.any(xbar <= 0):
            raise ValueError("`corrections` 'wishart' needs positive eigenvalues (X = WᵀW of full rank)")
        log_coef = xbar * np.asarray(center, float) / w2 - T * g2_eff
        if np.any(log_coef <= 0):
            bad = np.flatnonzero(log_coef <= 0).tolist()
            raise ValueError(f"`corrections` 'wishart': modes {bad} have x̄c/w² <= T g², no normalisable "
                             "stationary law on x > 0")
        V = pot.Laguerre(a=log_coef, scale=w2 / xbar)
    if not (np.all(np.isfinite(g2_eff)) and np.all(g2_eff > 0)):
        raise ValueError(f"modes {np.flatnonzero(~(g2_eff > 0)).tolist()} have no gradient noise (g = 0): "
                         "no Coulomb gas describes them")
    return GasTerms(potential=V, g=np.sqrt(g2_eff), weights=w, factor=factor, corrections=tuple(corrections))


def spacing_mean_two_modes(center, sigma) -> float:
    """⟨|x₁ − x₂|⟩ of P ∝ |x₁ − x₂| Π_i exp(−(x_i − c_i)²/(2σ_i²)) (two quadratic modes, β = 1).

    d = x₁ − x₂ is N(μ, s²) weighted by |d|, μ = c₁ − c₂, s² = σ₁² + σ₂²:
    ⟨S⟩ = E d²/E|d| = (μ² + s²)/(s√(2/π) e^{−μ²/2s²} + μ erf(μ/(s√2))).
    For μ = 0: √(π s²/2) (= √π σ for equal σ, SCIENCE.md §4).
    """
    c = np.asarray(center, float)
    s2 = float(np.sum(np.asarray(sigma, float) ** 2))
    mu = abs(float(c[0] - c[1]))
    s = math.sqrt(s2)
    folded = s * math.sqrt(2.0 / math.pi) * math.exp(-mu * mu / (2.0 * s2)) + mu * math.erf(mu / (s * math.sqrt(2.0)))
    return (mu * mu + s2) / folded
