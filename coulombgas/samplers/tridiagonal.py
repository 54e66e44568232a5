"""Exact samples of the stationary Coulomb gas from the Dumitriu–Edelman β-ensembles.

For a reversible gas (:attr:`CoulombGas.stationary_is_exact`) the stationary law is

    P_s(x) ∝ Π_{i<j} |x_i − x_j|^β · exp(−Σ_i (a/D) V_i(x_i)),       D = s²/2,

(:meth:`CoulombGas.log_density`). When every mode has the *same* potential of one
of two classical shapes, P_s is an affine image of a classical β-ensemble, and
Dumitriu & Edelman (2002) give random tridiagonal matrices whose eigenvalues
have exactly that law for **any** real β > 0, at O(n) random numbers and an
O(n²) eigenvalue solve per sample (no Markov chain, no burn-in, independent
samples):

* **β-Hermite.** (a/D) V(x) = κ (x − m)²/2 + const (a common
  :func:`~coulombgas.potentials.Quadratic`, same centre m and curvature κ for every
  mode). The symmetric tridiagonal matrix

      H_β = (1/√2) tridiag( χ_{β(n−1)}, …, χ_β ; N(0,2), …, N(0,2) ; χ_{β(n−1)}, …, χ_β )

  (independent entries; χ_ν the chi law with ν real degrees of freedom) has
  eigenvalue density ∝ Π|λ_i − λ_j|^β exp(−Σ λ_i²/2) [DE02], so

      x = m + λ/√κ.

  Example: ``CoulombGas.gaussian(n, beta)`` (V = x²/2, a/D = β) has κ = β, i.e.
  x = λ/√β with density ∝ |Δ|^β exp(−β Σx²/2): the GOE/GUE of density
  ∝ exp(−β tr H²/2) at β = 1, 2, semicircle radius √(2n), E Σx² = n(n−1)/2 + n/β.

* **β-Laguerre.** (a/D) V(x) = θ x − ρ log x on x > 0 (a common
  :class:`~coulombgas.potentials.Laguerre` potential x/scale − a_V log x, so that
  θ = (a/D)/scale and ρ = (a/D)·a_V). With the lower bidiagonal

      B_β = bidiag( χ_{2α}, χ_{2α−β}, …, χ_{2α−β(n−1)} ;  χ_{β(n−1)}, …, χ_β ),

  L_β = B_β B_βᵀ has eigenvalue density ∝ Π|λ_i − λ_j|^β Π λ_i^{α−p} e^{−Σλ_i/2},
  p = 1 + β(n−1)/2, for any real α > β(n−1)/2 [DE02]. Writing α = βm/2
  (m = number of rows of the Gaussian matrix when β = 1, 2, 4 and m is an integer),
  the exponent is α − p = β(m − n + 1)/2 − 1. Matching the gas,

      β(m − n + 1)/2 − 1 = ρ,   λ/2 = θ x   ⇒   m = n − 1 + 2(ρ + 1)/β,   x = λ/(2θ).

  m need not be an integer; the model needs α > β(n−1)/2, i.e. ρ > −1, which
  every valid Laguerre potential (a_V > 0) satisfies. At large n with m/n fixed,
  x·2θ/(βm) follows Marchenko–Pastur with ratio n/m.

Everything else (a quartic or any other potential, per-mode widths or centres,
unequal noise g_i) has no exact matrix model: :func:`exact_model` returns None
and :func:`sample_exact` raises ValueError naming the reason; use the Markov-chain
samplers instead.

Cost. The eigenvalue solve dominates. Measured here (AMD EPYC, one core of a
shared 2-core machine, scipy 1.17.1, OpenBLAS LAPACK), one β-Hermite matrix,
median of warm calls:

    ==============================================  =========  =========
    driver (scipy.linalg.eigvalsh_tridiagonal)       n = 1e3    n = 1e4
    ==============================================  =========  =========
    lapack.dsterf directly ("sterf", the default)     13.6 ms     1.21 s
    "auto" (scipy 1.17: stevd, = dsterf inside)       13.2 ms     1.17 s
    "sterf" / "stevd" / "stev" (all call dsterf)      ~13.5 ms   ~1.16 s
    "stemr" (MRRR; dqds for eigenvalues only)         15.9 ms     1.45 s
    "stebz" (bisection)                              296   ms    25.6  s
    dpteqr on T + c·I (Cholesky + dqds)               14.1 ms     1.27 s
    ==============================================  =========  =========

dsterf (Pal–Walker–Kahan root-free QL/QR, eigenvalues only) is the fastest, so
it is the default and is called directly (no wrapper overhead, ~3 µs per call at
n = 5). In older scipy "auto" meant "stemr", and "stebz" is 20× slower: the
driver matters more than anything else here.

For β-Laguerre the eigenvalues of B Bᵀ are the squared singular values of B.
scipy exposes no bidiagonal SVD (no dbdsqr/dlasq1), so the choices are: dsterf on
the tridiagonal T = B Bᵀ (absolute accuracy ε‖T‖ ≈ ε·4βm); dpteqr on T (LAPACK's
positive-definite tridiagonal solver: Cholesky factor, then dqds on it); or
dsterf on the 2n×2n Golub–Kahan matrix. Measured (β = 1, m = n + 2.5, n = 1e3 / 1e4,
medians of interleaved calls): 10.6 ms / 0.96 s, 13.2 ms / 1.22 s, 50 ms / 4.9 s
(the same ratios with scipy 1.12). Largest relative error of any eigenvalue against
bisection on the Golub–Kahan form (relatively accurate), β = 1, n = 1e3, a_V → 0
(hard edge, λ_min ≈ 6e-5, λ_max ≈ 4e3): 1.5e-9, 3.4e-13, 4.8e-12. The default for
Laguerre is therefore dpteqr: it keeps the small eigenvalues near the hard edge to
full relative precision for 25–35 % more time (bench: β = 1, m = 2n);
``lapack_driver="sterf"`` is the faster choice when absolute accuracy ε·λ_max is
enough.

References
----------
[DE02] I. Dumitriu, A. Edelman, *Matrix models for beta ensembles*, J. Math. Phys.
43, 5830 (2002), doi:10.1063/1.1507823, arXiv:math-ph/0206043.
A. Edelman, B. D. Sutton, *From random matrices to stochastic operators*, J. Stat.
Phys. 127, 1121 (2007), arXiv:math-ph/0607038 (the scalings of the β-Hermite and
β-Laguerre models used above).
K. V. Fernando, B. N. Parlett, *Accurate singular values and differential qd
algorithms*, Numer. Math. 67, 191 (1994) (dqds, behind dpteqr).
"""

from __future__ import annotations

import math

import numpy as np
import scipy.linalg
from scipy.linalg import lapack

from .. import _rng
from .. import _validate as v
from .. import potentials as pot
from ..gas import CoulombGas

__all__ = ["exact_model", "sample_exact", "match_model", "hermite_entries", "laguerre_entries", "DRIVERS"]

#: Accepted ``lapack_driver`` names. "auto" picks "sterf" (β-Hermite) or "pteqr"
#: (β-Laguerre); the others are passed to scipy.linalg.eigvalsh_tridiagonal.
DRIVERS = ("auto", "sterf", "pteqr", "stevd", "stev", "stemr", "stebz")

# Relative spread below which per-mode parameters count as "common". Matches the
# tolerance of CoulombGas.stationary_is_exact.
_RTOL = 1e-12

_UNSUPPORTED = ("`method`='tridiagonal' needs a common quadratic (β-Hermite) or Laguerre "
                "(β-Laguerre) potential with equal noise; got {reason}")


# ---------------------------------------------------------------------- matching

def _common(values) -> bool:
    """All entries equal to relative precision _RTOL (all zero counts as equal)."""
    values = np.asarray(values, dtype=np.float64)
    scale = float(np.max(np.abs(values)))
    return scale == 0.0 or float(np.max(np.abs(values - values[0]))) <= _RTOL * scale


def _stationary_is_exact(gas) -> bool:
    """:attr:`CoulombGas.stationary_is_exact` in O(n) instead of an (n, n) array.

    c w_j / D_i = β for all pairs iff its extremes c·min w/max D and
    c·max w/min D are both β (same relative tolerance as the property, which
    allocates n² ratios: 800 MB and ~0.5 s at n = 1e4).
    """
    w, d = gas.weights, gas.diffusion
    extremes = gas.coulomb_scale * np.array([w.min() / d.max(), w.max() / d.min()])
    return bool(np.allclose(extremes, gas.beta, rtol=_RTOL, atol=0.0))


def match_model(gas) -> tuple[dict | None, str]:
    """(model, "") for a gas with an exact matrix model, else (None, the reason why not)."""
    if not isinstance(gas, CoulombGas):
        raise TypeError(f"`gas` must be a coulombgas.CoulombGas, got {type(gas).__name__}")
    n, beta = gas.n, float(gas.beta)
    if not _stationary_is_exact(gas):
        d, w = gas.diffusion, gas.weights
        return None, (
            "unequal noise or pair weights across modes (diffusion D_i in "
            f"[{d.min():.4g}, {d.max():.4g}], weights w_j in [{w.min():.4g}, {w.max():.4g}]; "
            "e.g. unequal g): the Coulomb gas is then not the exact stationary law"
        )
    potential = gas.potential
    # a/D_i per mode (all D_i are equal here, up to rounding).
    strength = gas.drift_scale / gas.diffusion
    if isinstance(potential, pot.Laguerre):
        _, params, _ = potential.kernel_data(n)  # columns [0, 1/scale, a]
        theta = strength * params[:, 1]
        rho = strength * params[:, 2]
        if not _common(theta):
            return None, "per-mode Laguerre potentials with unequal `scale` (or unequal a/D_i)"
        if not _common(rho):
            return None, "per-mode Laguerre potentials with unequal log strength `a`"
        theta, rho = float(np.mean(theta)), float(np.mean(rho))
        if rho <= -1.0:  # unreachable for a validated Laguerre (a > 0); kept for safety
            raise ValueError(
                f"the β-Laguerre model needs exponent ρ = (a/D)·a_V > -1, got {rho:g}"
            )
        m = n - 1.0 + 2.0 * (rho + 1.0) / beta
        return {"kind": "laguerre", "beta": beta, "n": n, "shift": 0.0,
                "scale": 1.0 / (2.0 * theta), "m": m, "exponent": rho}, ""
    if isinstance(potential, pot.Polynomial):
        _, params, _ = potential.kernel_data(n)  # columns p_0, p_1, p_2, ...
        degree = params.shape[1] - 1
        if degree != 2:
            return None, (f"a polynomial potential of degree {degree}"
                          + (" (quartic)" if degree == 4 else "")
                          + "; only a quadratic potential has a β-Hermite model")
        kappa = 2.0 * strength * params[:, 2]  # (a/D)V = κ(x − m)²/2 + const
        if not _common(kappa):
            return None, ("per-mode quadratic potentials with unequal curvature "
                          "(a/D_i)·V_i'' (unequal widths)")
        centre = -params[:, 1] / (2.0 * params[:, 2])
        if not _common(centre):
            return None, "per-mode quadratic potentials with unequal centres"
        kappa = float(np.mean(kappa))
        return {"kind": "hermite", "beta": beta, "n": n, "shift": float(np.mean(centre)),
                "scale": 1.0 / math.sqrt(kappa), "m": None, "exponent": None}, ""
    return None, f"a {type(potential).__name__} potential (no exact matrix model)"


def exact_model(gas) -> dict | None:
    """The Dumitriu–Edelman β-ensemble whose eigenvalues have the gas's stationary law.

    Parameters
    ----------
    gas : CoulombGas
        The gas. It has an exact model when its stationary law is exact
        (:attr:`CoulombGas.stationary_is_exact`: equal noise and pair weights,
        e.g. equal g) and every mode has the same quadratic potential (β-Hermite)
        or the same Laguerre potential (β-Laguerre), after the factor a/D.

    Returns
    -------
    dict or None
        ``None`` when no exact model exists (quartic or custom potential,
        per-mode widths or centres, unequal noise). Otherwise a JSON-friendly dict

        - ``"kind"``: ``"hermite"`` or ``"laguerre"``;
        - ``"beta"``, ``"n"``: Dyson index and number of eigenvalues;
        - ``"shift"``, ``"scale"``: the gas's eigenvalues are
          x = shift + scale · λ, with λ the eigenvalues of the standard model:
          H_β (density ∝ |Δ|^β e^{−Σλ²/2}; shift = common centre m,
          scale = 1/√κ) or L_β = B_β B_βᵀ (density
          ∝ |Δ|^β Π λ^{β(m−n+1)/2−1} e^{−Σλ/2}; shift = 0, scale = 1/(2θ));
        - ``"m"``: the Laguerre parameter m = n − 1 + 2(ρ+1)/β (real, not
          necessarily an integer; ``None`` for Hermite);
        - ``"exponent"``: ρ = β(m−n+1)/2 − 1 of λ^ρ (``None`` for Hermite).

    Raises
    ------
    TypeError
        If `gas` is not a CoulombGas.
    ValueError
        If a Laguerre gas implies an invalid model parameter (ρ <= −1).

    Notes
    -----
    The derivation of the mapping is in the module docstring.

    References
    ----------
    I. Dumitriu, A. Edelman, J. Math. Phys. 43, 5830 (2002), arXiv:math-ph/0206043.

    Examples
    --------
    >>> from coulombgas import CoulombGas, potentials
    >>> from coulombgas.samplers.tridiagonal import exact_model
    >>> exact_model(CoulombGas.gaussian(5, beta=2.0))["scale"]   # 1/sqrt(beta)
    0.7071067811865475
    >>> exact_model(CoulombGas.dyson(potentials.Quartic(), 5)) is None
    True
    """
    return match_model(gas)[0]


# ---------------------------------------------------------------------- sampling

def sample_exact(gas, n_samples, *, seed=None, lapack_driver=None) -> np.ndarray:
    """Independent exact samples of the stationary law of `gas` (β-Hermite / β-Laguerre).

    Each sample is the spectrum of an independent random tridiagonal matrix
    (Dumitriu & Edelman 2002), mapped affinely onto the gas (see
    :func:`exact_model` and the module docstring):

        β-Hermite:   x = m + λ/√κ,     λ = eig H_β,   density ∝ |Δ|^β e^{−κΣ(x−m)²/2};
        β-Laguerre:  x = λ/(2θ),        λ = eig B_β B_βᵀ, density ∝ |Δ|^β Π x^ρ e^{−θΣx}.

    Parameters
    ----------
    gas : CoulombGas
        A reversible gas with a common quadratic or Laguerre potential.
    n_samples : int, >= 1
        Number of independent spectra.
    seed : None, int, numpy.random.SeedSequence or numpy.random.Generator
        Randomness. The draws are vectorised over samples: first all
        diagonals, then all off-diagonals, shape (n_samples, ·) each, so one
        seed gives the same spectra whatever the driver (up to rounding).
    lapack_driver : {None, "auto", "sterf", "pteqr", "stevd", "stev", "stemr", "stebz"}
        Eigenvalue solver. None/"auto": LAPACK dsterf for β-Hermite, dpteqr for
        β-Laguerre (fastest, resp. relatively accurate near the hard edge; see
        the measurements in the module docstring). "pteqr" needs a positive
        definite matrix (β-Laguerre only). The others go through
        :func:`scipy.linalg.eigvalsh_tridiagonal`.

    Returns
    -------
    ndarray, shape (n_samples, n)
        Axis 0: independent samples; axis 1: eigenvalues in ascending order.

    Raises
    ------
    ValueError
        If the gas has no exact model (the message names the reason), if
        `n_samples` < 1 or `lapack_driver` is unknown.
    TypeError
        If `gas` is not a CoulombGas or `n_samples` is not an int.
    RuntimeError
        If LAPACK fails to converge (not observed in practice).

    References
    ----------
    I. Dumitriu, A. Edelman, J. Math. Phys. 43, 5830 (2002), arXiv:math-ph/0206043.

    Examples
    --------
    >>> from coulombgas import CoulombGas
    >>> from coulombgas.samplers.tridiagonal import sample_exact
    >>> x = sample_exact(CoulombGas.gaussian(4, beta=2.5), 3, seed=0)
    >>> x.shape, bool((x[:, 1:] > x[:, :-1]).all())
    ((3, 4), True)
    """
    model, reason = match_model(gas)
    if model is None:
        raise ValueError(_UNSUPPORTED.format(reason=reason))
    n_samples = v.integer("n_samples", n_samples, minimum=1)
    # Diagonals, off-diagonals and eigenvalues: ~5 arrays of n_samples × n, refused before drawing.
    v.fits_in_memory(f"`n_samples` × `n` = {n_samples} × {gas.n}", 5.0 * 8.0 * n_samples * gas.n)
    driver = "auto" if lapack_driver is None else v.one_of("lapack_driver", lapack_driver, DRIVERS)
    rng = _rng.generator(seed)
    if model["kind"] == "hermite":
        if driver == "pteqr":
            raise ValueError("`lapack_driver`='pteqr' needs a positive definite matrix "
                             "(β-Laguerre only); use 'sterf' for a β-Hermite gas")
        lam = _hermite(rng, gas.n, model["beta"], n_samples, "sterf" if driver == "auto" else driver)
    else:
        alpha = 0.5 * model["beta"] * model["m"]
        lam = _laguerre(rng, gas.n, model["beta"], alpha, n_samples,
                        "pteqr" if driver == "auto" else driver)
    lam *= model["scale"]
    lam += model["shift"]
    return lam


def hermite_entries(rng, n, beta, size):
    """Diagonal N(0, 1) and off-diagonal χ_{βk}/√2 (k = n−1, …, 1) of H_β, shape (size, ·)."""
    diag = rng.standard_normal((size, n))
    # χ²_ν / 2 is Gamma(ν/2, 1): off = √Gamma(βk/2).
    off = np.sqrt(rng.standard_gamma(0.5 * beta * np.arange(n - 1, 0, -1.0), size=(size, n - 1)))
    return diag, off


def _hermite(rng, n, beta, size, driver):
    """Ascending eigenvalues of `size` independent H_β, shape (size, n)."""
    diag, off = hermite_entries(rng, n, beta, size)
    return _tridiagonal_eigenvalues(diag, off, driver)


def laguerre_entries(rng, n, beta, alpha, size):
    """Squared entries of B_β, shape (size, ·).

    Diagonal χ²_{2α−βk} for k = 0, …, n−1; subdiagonal χ²_{βk} for k = n−1, …, 1.
    """
    diag2 = 2.0 * rng.standard_gamma(alpha - 0.5 * beta * np.arange(n), size=(size, n))
    sub2 = 2.0 * rng.standard_gamma(0.5 * beta * np.arange(n - 1, 0, -1.0), size=(size, n - 1))
    return diag2, sub2


def _laguerre(rng, n, beta, alpha, size, driver):
    """Ascending eigenvalues of `size` independent B_β B_βᵀ, shape (size, n)."""
    diag2, sub2 = laguerre_entries(rng, n, beta, alpha, size)
    # T = B Bᵀ for lower bidiagonal B (diag b_i, subdiag c_i):
    # T_ii = b_i² + c_{i−1}², T_{i,i+1} = b_i c_i.
    off = np.sqrt(diag2[:, :-1] * sub2)
    diag = diag2
    diag[:, 1:] += sub2
    return _tridiagonal_eigenvalues(diag, off, driver)


def _tridiagonal_eigenvalues(diag, off, driver):
    """Ascending eigenvalues of each row's symmetric tridiagonal matrix (diag, off)."""
    size, n = diag.shape
    out = np.empty_like(diag)
    sterf = lapack.dsterf
    if driver == "sterf":
        for i in range(size):
            w, info = sterf(diag[i], off[i])  # ascending order on exit
            if info != 0:
                raise RuntimeError(f"LAPACK dsterf did not converge for sample {i} (info = {info})")
            out[i] = w
    elif driver == "pteqr":
        pteqr, dummy = lapack.dpteqr, np.zeros((1, 1))
        for i in range(size):
            w, _, _, info = pteqr(diag[i], off[i], dummy, compute_z=0)
            if info == 0:
                out[i] = w[::-1]  # dpteqr returns descending order
                continue
            # info > 0: T not numerically positive definite (or no convergence);
            # the absolute-accuracy solver still gives the eigenvalues.
            w, info = sterf(diag[i], off[i])
            if info != 0:
                raise RuntimeError(f"LAPACK dpteqr and dsterf failed for sample {i} (info = {info})")
            out[i] = w
    else:
        for i in range(size):
            out[i] = scipy.linalg.eigvalsh_tridiagonal(diag[i], off[i], lapack_driver=driver,
                                                       check_finite=False)
        out.sort(axis=1)
    return out
