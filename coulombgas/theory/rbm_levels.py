"""O(T) shifts of the Gaussian RBM's eigenvalue levels away from the fixed point μ² − κ_k.

Model and update (papers 1–3; SCIENCE.md §6; :mod:`coulombgas.training.rbm`): with
s = σ_h², A = μ² − sX, the update W ← W + αs W M, M = K⁻¹ − Φ̂ (Φ̂ the chains'
sample covariance of |B| draws), acts on X = WᵀW in closed form:

    X' = P X P,    P = 1 + αs M,    M = m(X) − N,  m = K⁻¹ − A⁻¹,  N = Φ̂ − A⁻¹,

with E N = 0 and, for exact Gaussian draws, Cov(N_ik, N_lj) = (A⁻¹_il A⁻¹_kj + A⁻¹_ij A⁻¹_kl)/|B|.
The fixed point is X* = (μ² − K)/s (eigenvalues x_k = (μ² − κ_k)/s in the Fourier
basis of the lattice kernel K, eigenvalues κ_k). Write X = X* + Y.

**Small-noise expansion of the stationary law** (T = α/|B| → 0 at fixed α|B|⁰, to O(T)).
In K's eigenbasis the linearised map acts on each entry separately,

    Y_ij ← (1 − αλ_ij) Y_ij − αs(x_i + x_j) N_ij,    λ_ij = s²(x_i + x_j)/(κ_i κ_j),

so the entries are independent AR(1) processes. The persistent chains make N_ij
correlated from one update to the next with coefficient b_ij = ρ_i ρ_j,
ρ_k = (s x_k/μ²)^{gibbs_steps} (one Gibbs sweep multiplies mode k of φ by s x_k/μ²),
and the entry variance is

    c_ij = ⟨Y_ij²⟩ = q_ij (1 + a b)/((1 − a²)(1 − a b)),  a = 1 − αλ_ij,
    q_ij = α²s²(x_i + x_j)²(1 + δ_ij)/(|B| κ_i κ_j),

→ T(x_i + x_j)(1 + δ_ij)/2 · (1 + b)/(1 − b) as α → 0 (``finite_lr=False`` takes
that limit). The stationary condition E[X' − X] = 0, expanded to second order in Y,
gives for each diagonal entry (all terms O(T), divided by αs):

    0 = −2s x_i ⟨Y_ii⟩/κ_i²                                     (linear drift)
        − (2sμ²/κ_i²) Σ_l c_il/κ_l                               (drift, 2nd order in Y)
        + (αs/|B|)(x_i/κ_i² + Σ_l x_l/(κ_i κ_l))                  (Itô: α²s² E[N X N])
        + α s³ Σ_l c_il x_l/(κ_i² κ_l²)                          (α² s² m X m; finite α only)
        + (2αs/|B|) Σ_l (x_i + x_l)(1 + δ_il)/(κ_i κ_l) · b_il/(1 − a_il b_il)
                                                                 (chains: E[Y N] ≠ 0)

        − 2 x_i E[N_ii]                                            (chains: E[N] ≠ 0)

The last two lines exist only for persistent chains. The first is the correlation of
the current state with the current noise. The second is a mean of the noise: the
chains' covariance obeys Φ̂_t − A_t⁻¹ = R_t(Φ̂_{t−1} − A_{t−1}⁻¹ + A_{t−1}⁻¹ − A_t⁻¹)R_t + ζ_t
with R_t = (sX_t/μ²)^{gibbs_steps}, and R_t depends on X_t, which is correlated with the
previous update's chain noise; to first order

    E[N_ii] = 2ρ_i s/(μ²(1 − ρ_i²)) Σ_k f_ik E[Y_ik,t N_ik,t−1],
    E[Y_ik,t N_ik,t−1] = −αs(x_i + x_k)(1 + δ_ik)/(|B| κ_i κ_k (1 − a_ik b_ik)),

with f_ik = (r_i^g − r_k^g)/(r_i − r_k) (g r_i^{g−1} for r_i = r_k), r = s x/μ²,
g = ``gibbs_steps``. It multiplies x_i, not Y, so it is of the same order as the others
and is the largest chain effect: it raises every level (the mean by +0.6 T at
``gibbs_steps = 3``, by +8 T at 1; checked by a one-mode simulation). The level itself moves by second-
order perturbation theory,

    ⟨x_i⟩ − x_i* = ⟨Y_ii⟩ + Σ_{l: x_l ≠ x_i} c_il/(x_i − x_l),

which for a degenerate pair holds for the pair's centre (the mean of its two levels;
the pair's own entries split it symmetrically, by O(√T), not shift it). The first
term is what Jensen's inequality sees (Σ_i ⟨Y_ii⟩ is the shift of the mean level;
the repulsion terms cancel in that sum); the repulsion from non-degenerate neighbours
and the Itô term set each level's sign: the top single level rises, the others fall.

Not included: the chains' lag behind a moving W (their covariance is that of a
slightly earlier X; by the same AR(1) algebra it is O(αT·b)); O(T²) and O(T^{3/2}/gap)
terms, which matter when a level's width √(2Tx) approaches its distance to a neighbour.

Measured (training from the fixed point, |B| = 16, 300–400 models; README table): the
mean over levels agrees with training within 0.2 T at α = 0.1 and 0.05 (3 sweeps) and
at one sweep per update; the single bottom level and the three lowest pairs within
their sampling errors; the top single level and the top pair, 0.38 apart, are off by
1–3 T, the size of the O(T^{3/2}/gap) terms that a Monte Carlo of X' = PXP with fresh
samples shows there.

References
----------
G. Aarts, B. Lucini, C. Park, arXiv:2407.16427 (the RBM and its fixed point);
SCIENCE.md §6 and §8.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from .. import _validate as v

__all__ = ["RBMLevelShifts", "rbm_level_shifts"]


@dataclasses.dataclass(frozen=True)
class RBMLevelShifts:
    """Predicted stationary shifts of the RBM's levels (:func:`rbm_level_shifts`).

    Attributes (levels ascending, the order of a harvest's eigenvalues)
    ----------
    fixed_point : ndarray, shape (n,)
        x_k* = (μ² − κ_k)/σ_h².
    shift : ndarray, shape (n,)
        ⟨x_k⟩ − x_k* to O(T) (both levels of a pair carry the pair centre's shift).
    groups : tuple of tuple of int
        Levels that coincide at the fixed point (singles and pairs).
    diagonal : ndarray, shape (n,)
        ⟨Y_kk⟩ alone (the part the mean over levels sees).
    variance : ndarray, shape (n,)
        c_kk, the variance of the diagonal entry (a single level's variance to O(T)).
    temperature : float
        T = α/|B|.
    """

    fixed_point: np.ndarray
    shift: np.ndarray
    groups: tuple
    diagonal: np.ndarray
    variance: np.ndarray
    temperature: float

    @property
    def coefficient(self) -> np.ndarray:
        """shift/T per level."""
        return self.shift / self.temperature

    def group_shifts(self) -> np.ndarray:
        """One shift per group (single level or pair centre), in the order of ``groups``."""
        return np.array([self.shift[g[0]] for g in self.groups])


def rbm_level_shifts(n: int = 10, mu2: float = 9.0, m2: float = 4.0, sigma_h: float = 1.0, *, lr: float = 0.1,
                     batch_size: int = 16, gibbs_steps: int | None = 3, finite_lr: bool = True) -> RBMLevelShifts:
    """O(T) shift of every level of X = WᵀW from the fixed point (module docstring).

    Parameters
    ----------
    n, mu2, m2, sigma_h : the model (lattice sites, μ² > max κ_k, target mass², σ_h > 0).
    lr, batch_size : float > 0, int >= 1
        α and |B| (the number of persistent chains).
    gibbs_steps : int >= 1 or None
        Gibbs sweeps per update (the chains' autocorrelation); None for exact fresh
        samples at every update.
    finite_lr : bool
        Keep the O(α) parts of the coefficients (the discrete AR(1) variance and the
        α²s² m X m term); False gives the α → 0 limit at fixed T.

    Raises
    ------
    ValueError
        μ² ≤ max κ_k, or α outside the stable range of the linearised map (αλ_ij ≥ 2).
    """
    n = v.integer("n", n, minimum=2)
    m2 = v.positive("m2", m2)
    mu2 = v.positive("mu2", mu2)
    sigma_h = v.positive("sigma_h", sigma_h)
    lr = v.positive("lr", lr)
    batch_size = v.integer("batch_size", batch_size, minimum=1)
    if gibbs_steps is not None:
        gibbs_steps = v.integer("gibbs_steps", gibbs_steps, minimum=1)
    finite_lr = v.flag("finite_lr", finite_lr)
    kappa = m2 + 2.0 - 2.0 * np.cos(2.0 * np.pi * np.arange(n) / n)
    if mu2 <= kappa.max():
        raise ValueError(f"`mu2` must be > max κ_k = {kappa.max():g}, got {mu2:g}")
    s = sigma_h**2
    x = (mu2 - kappa) / s
    T = lr / batch_size
    kk = np.outer(kappa, kappa)
    xs = x[:, None] + x[None, :]
    delta = np.eye(n)
    lam = s * s * xs / kk
    a = 1.0 - lr * lam
    if np.any(lr * lam >= 2.0):
        raise ValueError(f"`lr` = {lr:g} is outside the stable range of the linearised update "
                         f"(α s²(x_i + x_j)/(κ_iκ_j) must be < 2, largest {float(np.max(lr * lam)):g})")
    rho = np.zeros(n) if gibbs_steps is None else (s * x / mu2) ** gibbs_steps
    b = np.outer(rho, rho)
    if finite_lr:
        q = lr * lr * s * s * xs**2 * (1.0 + delta) / (batch_size * kk)
        c = q * (1.0 + a * b) / ((1.0 - a * a) * (1.0 - a * b))
        chain = b / (1.0 - a * b)
    else:
        c = T * xs * (1.0 + delta) / 2.0 * (1.0 + b) / (1.0 - b)
        chain = b / (1.0 - b)
    drift2 = -(2.0 * s * mu2 / kappa**2) * (c / kappa[None, :]).sum(axis=1)
    ito = s * T * (x / kappa**2 + (x / kappa).sum() / kappa)
    mxm = lr * s**3 * (c * x[None, :] / (kappa[None, :] ** 2)).sum(axis=1) / kappa**2 if finite_lr else 0.0
    cross = 2.0 * s * T * (xs * (1.0 + delta) / kk * chain).sum(axis=1)
    lag = 0.0
    if gibbs_steps is not None:
        # E[N_ii] ≠ 0: the chains mix at a rate set by the current X (R = sX/μ²), and X is
        # correlated with the previous update's chain noise (module docstring, chain mean).
        r = s * x / mu2
        dr = r[:, None] - r[None, :]
        same = np.abs(dr) <= 1e-12
        f = np.where(same, gibbs_steps * r[:, None] ** (gibbs_steps - 1),
                     (r[:, None] ** gibbs_steps - r[None, :] ** gibbs_steps) / np.where(same, 1.0, dr))
        ab = (a if finite_lr else 1.0) * b
        y_prev_n = -lr * s * xs * (1.0 + delta) / (batch_size * kk) / (1.0 - ab)  # E[Y_ik,t N_ik,t−1]
        mean_n = 2.0 * rho * s / (mu2 * (1.0 - rho**2)) * (f * y_prev_n).sum(axis=1)
        lag = -2.0 * x * mean_n
    diag = (drift2 + ito + mxm + cross + lag) * kappa**2 / (2.0 * s * x)
    scale = max(1.0, float(np.abs(x).max()))
    gap = x[:, None] - x[None, :]
    distinct = np.abs(gap) > 1e-9 * scale
    repulsion = np.where(distinct, c / np.where(distinct, gap, 1.0), 0.0).sum(axis=1)
    shift = diag + repulsion
    order = np.argsort(x, kind="stable")
    x, shift, diag, cdiag = x[order], shift[order], diag[order], np.diagonal(c)[order]
    groups, start = [], 0
    for k in range(1, n + 1):
        if k == n or abs(x[k] - x[start]) > 1e-9 * scale:
            groups.append(tuple(range(start, k)))
            start = k
    for g in groups:  # a degenerate group shifts as a whole: its centre
        shift[list(g)] = shift[list(g)].mean()
    return RBMLevelShifts(fixed_point=x, shift=shift, groups=tuple(groups), diagonal=diag, variance=cdiag,
                          temperature=T)
