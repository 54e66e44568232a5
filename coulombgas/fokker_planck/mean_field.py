"""The large-n gas in mean field: the equilibrium density and its time evolution.

For the eigenvalue SDE of :class:`~coulombgas.gas.CoulombGas` with a common potential V
and equal weights w,

    dx_i = [ a K_i(x_i) + c w Σ_{j≠i} 1/(x_i − x_j) ] dt + s_i dW_i,   K_i = −V_i',

with V fixed and n particles, the equilibrium positions spread: the density of the gas at leading order in 1/n is the equilibrium
measure of Q = a V/(c w n) (Dyson form: Q = V/n), i.e. the solution of
PV∫ρ(y)/(x − y) dy = Q'(x) on its support — the semicircle of radius √(2n)
for V = x²/2 (support ∝ √n), ∝ n^{1/4} for a quartic, n^{1/(2k)} for degree 2k.
:func:`equilibrium_density` returns it as a frozen scipy distribution (closed
forms for the quadratic and the symmetric quartic, including its two-cut
phase; a one-cut endpoint solver for any other polynomial).
:func:`mean_field_evolution` follows the density in time (free Fokker–Planck
equation; exact free-convolution formula for quadratic V, a deterministic
particle method otherwise).

References
----------
E. Brézin, C. Itzykson, G. Parisi, J.-B. Zuber, Commun. Math. Phys. 59, 35 (1978) (quartic).
P. Biane, Indiana Univ. Math. J. 46, 705 (1997) (free convolution with a semicircle).
D. Voiculescu, Invent. Math. 104, 201 (1991) (free convolution).
T. Chan, Probab. Theory Relat. Fields 93, 249 (1992); L. C. G. Rogers, Z. Shi,
Probab. Theory Relat. Fields 95, 555 (1993) (McKean–Vlasov limit of Dyson BM).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
from scipy import integrate, optimize, stats

from .. import _validate as v
from .. import potentials as pot
from ..gas import CoulombGas
from ._common import Entry, Saveable

__all__ = ["EquilibriumLaw", "equilibrium_density", "MEAN_FIELD_METHODS", "MeanFieldEvolution",
           "mean_field_evolution"]


# ======================================================================================
# Large n: equilibrium measure of the log-gas
# ======================================================================================

_Frozen = type(stats.uniform())


def _polynomial_rows(potential, n_rows, name):
    """Coefficients (increasing powers) of one common polynomial potential."""
    if isinstance(potential, pot.Potential):
        if not isinstance(potential, pot.Polynomial):
            raise NotImplementedError(
                f"`{name}` must be a polynomial potential for the equilibrium density, got "
                f"{type(potential).__name__} (for a Wishart/Laguerre gas use theory.marchenko_pastur)")
        coeffs = np.asarray(potential.coeffs, dtype=np.float64)
    else:
        coeffs = v.finite_array(name, potential)
    if coeffs.ndim == 2:
        if not np.allclose(coeffs, coeffs[:1], rtol=1e-12, atol=0.0):
            raise ValueError(f"`{name}` must be one common potential for every mode (the mean-field density "
                             "of a multi-species gas is not implemented)")
        coeffs = coeffs[0]
    if coeffs.ndim != 1 or coeffs.size < 3:
        raise ValueError(f"`{name}` must be coefficients (c0, c1, c2, ...) of degree >= 2, got shape {coeffs.shape}")
    nz = np.flatnonzero(coeffs)
    degree = int(nz.max()) if nz.size else 0
    if degree < 2 or degree % 2 or coeffs[degree] <= 0:
        raise ValueError(f"`{name}` must be confining: even degree >= 2 with a positive leading coefficient, "
                         f"got degree {degree} with leading coefficient {coeffs[degree]:g}")
    return coeffs[: degree + 1]


def _scaled_potential(potential_or_gas, n, *, need_gas=False):
    """(Q coefficients, n, γ-data): Q = a V/(c w n), the potential whose equilibrium measure is ρ.

    With V fixed, the T = 0 force balance a V'(x_i) = c w Σ_{j≠i} 1/(x_i − x_j)
    becomes PV∫ρ(y)/(x − y) dy = Q'(x) at large n.
    """
    if isinstance(potential_or_gas, CoulombGas):
        gas = potential_or_gas
        if n is not None and v.integer("n", n) != gas.n:
            raise ValueError(f"`n` must equal gas.n = {gas.n} (or be omitted), got {n}")
        if not np.allclose(gas.weights, gas.weights[0], rtol=1e-12, atol=0.0):
            raise ValueError("`gas` must have equal weights w_j (equal g) for the one-species mean-field density")
        coeffs = _polynomial_rows(gas.potential, gas.n, "gas.potential")
        n = gas.n
        scale = gas.drift_scale / (gas.coulomb_scale * float(gas.weights[0]) * n)
        return coeffs * scale, n, gas
    if need_gas:
        raise TypeError(f"`gas` must be a CoulombGas, got {type(potential_or_gas).__name__}")
    if n is None:
        raise ValueError("`n` must be given with a potential (number of eigenvalues, >= 2)")
    n = v.integer("n", n, minimum=2)
    coeffs = _polynomial_rows(potential_or_gas, None, "potential")
    return coeffs / n, n, None


def _gauss_chebyshev(k):
    """Nodes cos θ_j, θ_j = (j + ½)π/k: (1/π)∫₀^π f(cos θ) dθ = mean f(nodes), exact below degree 2k."""
    return np.cos((np.arange(k) + 0.5) * np.pi / k)


def _endpoint_residuals(qp, m, r, nodes):
    """F₁ = (1/π)∫₀^π Q'(m + r cos θ) dθ,  F₂ = (1/π)∫₀^π r cos θ Q'(m + r cos θ) dθ − 1."""
    y = m + r * nodes
    f = np.polynomial.polynomial.polyval(y, qp)
    return np.array([f.mean(), (r * nodes * f).mean() - 1.0])


def _h_coefficients(qp, m, r, nodes):
    """ρ(x) = h(x)√((B − x)(x − A)): h(x) = (1/π) Σ_k q'_k Σ_{j<k} x^j ⟨y^{k−1−j}⟩_arcsine.

    From ρ(x) = (1/π²)√((B−x)(x−A)) ∫ [Q'(x) − Q'(y)]/(x − y) dy/√((B−y)(y−A)),
    whose divided difference is a polynomial, integrated exactly by Gauss–Chebyshev.
    """
    y = m + r * nodes
    mom = np.array([np.mean(y**p) for p in range(len(qp))])
    h = np.zeros(max(len(qp) - 1, 1))
    for k in range(1, len(qp)):
        for j in range(k):
            h[j] += qp[k] * mom[k - 1 - j]
    return h / np.pi


class _OneCut:
    """ρ(x) = h(x)√((B − x)(x − A)) on [A, B], with an exact cdf via x = m + r cos θ."""

    def __init__(self, h, lo, hi):
        self.h = np.asarray(h, dtype=np.float64)
        self.lo, self.hi = float(lo), float(hi)
        self.m, self.r = 0.5 * (lo + hi), 0.5 * (hi - lo)
        # h(m + r t) = Σ c_k T_k(t): Chebyshev coefficients on [A, B].
        self.cheb = np.polynomial.Polynomial(self.h).convert(
            kind=np.polynomial.Chebyshev, domain=[lo, hi]).coef
        self.cuts = np.array([[self.lo, self.hi]])

    def pdf(self, x):
        x = np.asarray(x, dtype=np.float64)
        root = np.sqrt(np.clip((self.hi - x) * (x - self.lo), 0.0, None))
        return np.where((x > self.lo) & (x < self.hi),
                        np.polynomial.polynomial.polyval(x, self.h) * root, 0.0)

    def cdf(self, x):
        # F = r² ∫_θ^π h(m + r cos φ) sin²φ dφ, with h = Σ c_k cos kφ and
        # cos kφ sin²φ = ½[cos kφ − ½cos (k+2)φ − ½cos |k−2|φ].
        x = np.asarray(x, dtype=np.float64)
        theta = np.arccos(np.clip((x - self.m) / self.r, -1.0, 1.0))

        def tail(j):  # ∫_θ^π cos(jφ) dφ
            return np.pi - theta if j == 0 else -np.sin(j * theta) / j

        total = np.zeros_like(theta)
        for k, ck in enumerate(self.cheb):
            total += 0.5 * ck * (tail(k) - 0.5 * tail(k + 2) - 0.5 * tail(abs(k - 2)))
        return np.clip(self.r**2 * total, 0.0, 1.0)

    def moment(self, p):
        """⟨x^p⟩ = r² ∫₀^π x^p h(x) sin²θ dθ, x = m + r cos θ (Gauss–Chebyshev of the 2nd kind, exact)."""
        k = int(p) + len(self.h) + 2
        theta = np.arange(1, k + 1) * np.pi / (k + 1)
        x = self.m + self.r * np.cos(theta)
        w = np.pi / (k + 1) * np.sin(theta) ** 2
        return float(self.r**2 * np.sum(w * x**p * np.polynomial.polynomial.polyval(x, self.h)))


class _SymmetricTwoCut:
    """ρ(x) = (g'/π)|x|√((b − x²)(x² − a)) on a <= x² <= b (symmetric quartic, two cuts)."""

    def __init__(self, g4, a2, b2):
        self.g4, self.a2, self.b2 = float(g4), float(a2), float(b2)
        self.lo, self.hi = -math.sqrt(b2), math.sqrt(b2)
        self.cuts = np.array([[-math.sqrt(b2), -math.sqrt(a2)], [math.sqrt(a2), math.sqrt(b2)]])

    def pdf(self, x):
        x = np.asarray(x, dtype=np.float64)
        x2 = x * x
        return self.g4 / np.pi * np.abs(x) * np.sqrt(np.clip((self.b2 - x2) * (x2 - self.a2), 0.0, None))

    def cdf(self, x):
        # Mass of [√a, |x|] = (g'/2π)∫_a^{x²} √((b − u)(u − a)) du, u = c + ρ cos φ:
        # ρ²[(π − φ)/2 + sin 2φ/4] (g'/2π); each cut holds ½.
        x = np.asarray(x, dtype=np.float64)
        c, rho = 0.5 * (self.a2 + self.b2), 0.5 * (self.b2 - self.a2)
        phi = np.arccos(np.clip((x * x - c) / rho, -1.0, 1.0))
        half = self.g4 / (2 * np.pi) * rho**2 * ((np.pi - phi) / 2 + np.sin(2 * phi) / 4)
        return np.clip(np.where(x >= 0, 0.5 + half, 0.5 - half), 0.0, 1.0)

    def moment(self, p):
        """Odd moments vanish; ⟨x^{2k}⟩ = (g'/π) ∫_a^b u^k √((b − u)(u − a)) du (exact quadrature)."""
        if int(p) % 2:
            return 0.0
        k = int(p) // 2 + 2
        theta = np.arange(1, k + 1) * np.pi / (k + 1)
        c, rho = 0.5 * (self.a2 + self.b2), 0.5 * (self.b2 - self.a2)
        u = c + rho * np.cos(theta)
        w = np.pi / (k + 1) * np.sin(theta) ** 2
        return float(self.g4 / np.pi * rho**2 * np.sum(w * u ** (int(p) // 2)))


class _EquilibriumGen(stats.rv_continuous):
    """scipy wrapper: the model lives on a per-law subclass, which survives scipy's re-instantiation."""

    _model = None

    def _pdf(self, x):
        return self._model.pdf(x)

    def _cdf(self, x):
        return self._model.cdf(x)

    def _munp(self, n):
        return self._model.moment(n)

    def _ppf(self, q):
        # Bisection on the exact cdf (monotone; 60 halvings reach double precision).
        q = np.asarray(q, dtype=np.float64)
        lo = np.full(q.shape, self._model.lo)
        hi = np.full(q.shape, self._model.hi)
        for _ in range(60):
            mid = 0.5 * (lo + hi)
            below = self._model.cdf(mid) < q
            lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
        return 0.5 * (lo + hi)


class EquilibriumLaw(_Frozen):
    """Frozen scipy distribution of the large-n eigenvalue density, with the solution's data.

    Attributes
    ----------
    n : int
        Number of eigenvalues the density describes.
    cuts : ndarray, shape (k, 2)
        Support intervals (one or two).
    regime : {"one-cut", "two-cut"}
    q_coefficients : ndarray
        Q = a V/(c w n) (Dyson form V/n), increasing powers.
    h_coefficients : ndarray or None
        One-cut: ρ(x) = h(x)√((B − x)(x − A)), h in increasing powers.
    endpoint_residuals : ndarray, shape (2,)
        The one-cut endpoint conditions F₁, F₂ at the solution (≈ 0).
    method : str
        "semicircle", "quartic-closed-form" or "one-cut-endpoints".
    """

    def __init__(self, model, *, n, regime, q_coefficients, h_coefficients, residuals, method, label):
        cls = type("equilibrium_density_gen", (_EquilibriumGen,), {"_model": model})
        super().__init__(cls(a=model.lo, b=model.hi, name="equilibrium_density"))
        self.n, self.regime, self.method = n, regime, method
        self.cuts = model.cuts
        self.q_coefficients = q_coefficients
        self.h_coefficients = h_coefficients
        self.endpoint_residuals = residuals
        self._label = label

    def __repr__(self) -> str:
        return self._label

    def counting(self, x) -> np.ndarray:
        """Expected number of eigenvalues below x at leading order, n·F(x)."""
        return self.n * self.cdf(x)


def _solve_one_cut(qp, nodes):
    """Solve the endpoint conditions F₁ = F₂ = 0 for (m, r), from several starting points."""
    crit = np.polynomial.polynomial.polyroots(qp) if len(qp) > 2 else np.array([-qp[0] / qp[1]])
    crit = np.real(crit[np.abs(np.imag(crit)) < 1e-9 * (1 + np.abs(crit))])
    q = np.polynomial.polynomial.polyint(qp)
    starts = sorted(set(np.round(crit, 12).tolist()), key=lambda c: np.polynomial.polynomial.polyval(c, q))
    starts = starts + [float(np.mean(crit))]
    found = []
    for m0 in starts:
        f2 = lambda r: _endpoint_residuals(qp, m0, r, nodes)[1]  # noqa: E731
        hi = 1.0
        while f2(hi) < 0 and hi < 1e150:
            hi *= 2.0
        r0 = optimize.brentq(f2, 0.0 if f2(0.0) < 0 else 1e-300, hi)
        sol = optimize.root(lambda z: _endpoint_residuals(qp, z[0], abs(z[1]), nodes), [m0, r0],
                            method="hybr", options={"xtol": 1e-14})
        m, r = float(sol.x[0]), abs(float(sol.x[1]))
        res = _endpoint_residuals(qp, m, r, nodes)
        if r > 0 and np.all(np.abs(res) < 1e-9):
            found.append((m, r, res))
    return found


def _one_cut_is_valid(h, lo, hi):
    """h >= 0 on [A, B] and the effective potential outside does not dip below its edge value."""
    t = np.linspace(lo, hi, 2001)
    hv = np.polynomial.polynomial.polyval(t, h)
    scale = np.max(np.abs(hv)) if hv.size else 1.0
    if np.any(hv < -1e-10 * scale):
        return False
    roots = np.polynomial.polynomial.polyroots(h) if len(h) > 1 else np.array([])
    roots = np.real(roots[np.abs(np.imag(roots)) < 1e-9 * (1 + np.abs(roots))])
    for xi in roots:
        # U_eff(ξ) − U_eff(edge) = ∫ h(s)√|(s − A)(s − B)| ds from the nearer edge (sign as x moves out).
        if xi > hi:
            val = integrate.quad(lambda s: np.polynomial.polynomial.polyval(s, h) * math.sqrt((s - lo) * (s - hi)),
                                 hi, xi)[0]
        elif xi < lo:
            val = integrate.quad(lambda s: np.polynomial.polynomial.polyval(s, h) * math.sqrt((lo - s) * (hi - s)),
                                 xi, lo)[0]
        else:
            continue
        if val < -1e-10 * max(1.0, abs(hi - lo)):
            return False
    return True


def equilibrium_density(potential_or_gas, n=None) -> EquilibriumLaw:
    r"""Large-n eigenvalue density of the log-gas with a polynomial potential, as a scipy law.

    For the Dyson-form gas with n eigenvalues and stationary law
    ∝ Π|λ_i − λ_j|^β exp(−β Σ V(λ_i)) (V fixed, not scaled with n), the
    one-point density converges to the equilibrium measure of Q = V/n,

    .. math::

        \mathrm{PV}\!\int \frac{\rho(y)}{x - y}\,dy = Q'(x)\quad (x \in \mathrm{supp}\,\rho),
        \qquad Q = V/n,

    independent of β at leading order (corrections O(1/n), ∝ 1 − 2/β). For a
    gas in canonical form (common potential, equal weights w) Q = a V/(c w n):
    the balance of drift a V' against the Coulomb force c w Σ 1/(x_i − x_j).
    So the support grows with n: radius √(2n) for V = x²/2, ∝ n^{1/4} for a
    quartic, ∝ n^{1/(2k)} for degree 2k.

    * Quadratic V = κ(x − x₀)²/2: semicircle centred at x₀, radius
      R = √(2n/κ) (canonical form: √(2 c w n/(a κ))).
    * Symmetric quartic V = t x²/2 + g x⁴/4 (any quadratic+quartic Q = t'x²/2 +
      g'x⁴/4, t' = t/n, g' = g/n): one cut for t' >= −√(2 g'), i.e.
      t >= −√(2 g n),

      .. math::

          \rho(x) = \frac{1}{\pi}\Big(g' x^2 + t' + \tfrac{g' b^2}{2}\Big)\sqrt{b^2 - x^2},
          \qquad b^2 = \frac{2}{3g'}\Big(\sqrt{t'^2 + 6 g'} - t'\Big)

      (Brézin, Itzykson, Parisi, Zuber 1978), and two cuts √a <= |x| <= √b for
      t' < −√(2g'): ρ(x) = (g'/π)|x|√((b − x²)(x² − a)), a + b = −2t'/g',
      b − a = 2√(2/g'), each cut holding mass ½.
    * Any other polynomial: one-cut ansatz ρ = h(x)√((B − x)(x − A)); the
      endpoints solve (1/π)∫₀^π Q'(m + r cos θ) dθ = 0 and
      (1/π)∫₀^π r cos θ Q'(m + r cos θ) dθ = 1 (m, r: centre and half-width),
      h follows exactly (Gauss–Chebyshev on polynomials). The solution is
      accepted only if h >= 0 on the cut and the effective potential does not
      dip below its edge value outside it; otherwise the gas is in a multi-cut
      phase and NotImplementedError is raised.

    Parameters
    ----------
    potential_or_gas : Polynomial, array_like or CoulombGas
        A confining polynomial potential (``potentials.Polynomial``,
        ``Quadratic``, ``Quartic`` with one common row, or coefficients in
        increasing powers) in the Dyson form, or a gas with a common
        polynomial potential and equal weights.
    n : int, >= 2
        Number of eigenvalues (required with a potential; must equal ``gas.n``
        if given with a gas).

    Returns
    -------
    EquilibriumLaw
        Frozen ``scipy.stats`` distribution (pdf, cdf, ppf, rvs, moments,
        ``kstest``) with ``cuts``, ``regime``, ``endpoint_residuals``, ``counting``.

    Raises
    ------
    ValueError
        Non-confining or per-mode potential, unequal weights, missing or wrong ``n``.
    NotImplementedError
        Non-polynomial potential, or a multi-cut phase of a non-symmetric polynomial.

    References
    ----------
    E. Brézin, C. Itzykson, G. Parisi, J.-B. Zuber, Commun. Math. Phys. 59, 35 (1978).
    P. Deift, *Orthogonal Polynomials and Random Matrices: a Riemann–Hilbert
    Approach*, AMS (1999), §6.7 (one-cut endpoint conditions).
    F. J. Dyson, J. Math. Phys. 3, 1191 (1962).

    Examples
    --------
    >>> from coulombgas import fokker_planck as fp, potentials as P
    >>> law = fp.equilibrium_density(P.Quadratic(0.0, 1.0), n=50)
    >>> round(float(law.support()[1]), 6)        # √(2n)
    10.0
    >>> fp.equilibrium_density(P.Quartic(t=-20.0, g=1.0), n=50).regime
    'two-cut'
    """
    q, n, _ = _scaled_potential(potential_or_gas, n)
    qp = np.polynomial.polynomial.polyder(q)
    nodes = _gauss_chebyshev(len(qp) + 4)
    degree = len(q) - 1
    symmetric_quartic = degree <= 4 and np.all(qp[0::2] == 0)
    if degree == 2:
        kappa, centre = 2.0 * q[2], -q[1] / (2.0 * q[2])
        radius = math.sqrt(2.0 / kappa)
        m, r, method = centre, radius, "semicircle"
    elif symmetric_quartic:
        t1, g4 = qp[1], qp[3]
        if t1 < -math.sqrt(2.0 * g4):
            a2 = -t1 / g4 - math.sqrt(2.0 / g4)
            b2 = -t1 / g4 + math.sqrt(2.0 / g4)
            model = _SymmetricTwoCut(g4, a2, b2)
            return EquilibriumLaw(model, n=n, regime="two-cut", q_coefficients=q, h_coefficients=None,
                                  residuals=np.zeros(2), method="quartic-closed-form",
                                  label=f"equilibrium_density(quartic two-cut, n={n}, cuts=±[{math.sqrt(a2):.6g}, "
                                        f"{math.sqrt(b2):.6g}])")
        b2 = 2.0 / (3.0 * g4) * (math.sqrt(t1 * t1 + 6.0 * g4) - t1)
        m, r, method = 0.0, math.sqrt(b2), "quartic-closed-form"
    else:
        candidates = [(mm, rr) for mm, rr, _ in _solve_one_cut(qp, nodes)]
        valid = [(mm, rr) for mm, rr in candidates
                 if _one_cut_is_valid(_h_coefficients(qp, mm, rr, nodes), mm - rr, mm + rr)]
        if not valid:
            raise NotImplementedError(
                "the potential is in a multi-cut phase at this n (the one-cut solution has a negative density "
                "or a deeper well outside its support); only the symmetric quartic two-cut phase is implemented")
        m, r = valid[0]
        method = "one-cut-endpoints"
    h = _h_coefficients(qp, m, r, nodes)
    residuals = _endpoint_residuals(qp, m, r, nodes)
    if method != "one-cut-endpoints" and not _one_cut_is_valid(h, m - r, m + r):  # pragma: no cover
        raise NotImplementedError("the closed-form one-cut density is not valid for this potential")
    model = _OneCut(h, m - r, m + r)
    return EquilibriumLaw(model, n=n, regime="one-cut", q_coefficients=q, h_coefficients=h,
                          residuals=residuals, method=method,
                          label=f"equilibrium_density({method}, n={n}, support=[{m - r:.6g}, {m + r:.6g}])")


# ======================================================================================
# Large n: time-dependent mean-field density
# ======================================================================================

MEAN_FIELD_METHODS = {
    "free-convolution": Entry("free-convolution", 0, True,
                              "exact for quadratic V: ρ_t = (scaled ρ₀) ⊞ semicircle (Biane 1997)"),
    "particles": Entry("particles", 1, True,
                       "deterministic zero-noise Dyson ODE of K quantile points (error O(1/K))"),
}


@dataclasses.dataclass(frozen=True, eq=False)
class MeanFieldEvolution(Saveable):
    """Mean-field one-point density of a large-n gas at several times.

    Attributes
    ----------
    t : ndarray, shape (times,)
        Requested times.
    x : ndarray, shape (times, points)
        Abscissae at each time (increasing): the mapped grid ψ_t(u) for the
        free convolution, the particle positions for the particle method.
    density : ndarray, shape (times, points)
        ρ(x, t) at those abscissae.
    cdf_values : ndarray, shape (times, points)
        F(x, t) at those abscissae.
    method : str
        "free-convolution" or "particles".
    gas : CoulombGas
    diagnostics : dict
        ``mass`` (∫ρ dx before normalisation, free convolution), ``atoms`` (K),
        ``nfev``/``njev`` (particles), ``variance`` (semicircle variance v(t)).
    """

    t: np.ndarray
    x: np.ndarray
    density: np.ndarray
    cdf_values: np.ndarray
    method: str
    gas: CoulombGas
    diagnostics: dict

    _arrays = ("t", "x", "density", "cdf_values")

    def pdf(self, x, index: int = -1) -> np.ndarray:
        """ρ at x for time ``t[index]`` (linear interpolation, 0 outside)."""
        return np.interp(np.asarray(x, dtype=np.float64), self.x[index], self.density[index], left=0.0, right=0.0)

    def cdf(self, x, index: int = -1) -> np.ndarray:
        """F at x for time ``t[index]`` (linear interpolation, clamped to [0, 1])."""
        return np.interp(np.asarray(x, dtype=np.float64), self.x[index], self.cdf_values[index], left=0.0, right=1.0)

    def counting(self, x, index: int = -1) -> np.ndarray:
        """Expected number of eigenvalues below x, n·F(x, t)."""
        return self.gas.n * self.cdf(x, index)


def _initial_atoms(initial, atoms):
    """Equal-weight atoms of the initial law: the given points, or K quantiles of a distribution."""
    if hasattr(initial, "ppf"):
        k = 1000 if atoms is None else v.integer("atoms", atoms, minimum=16)
        v.fits_in_memory(f"`atoms` = {k}", 10 * 8.0 * k)
        s = np.asarray(initial.ppf((np.arange(k) + 0.5) / k), dtype=np.float64)
        if not np.all(np.isfinite(s)):
            raise ValueError("`initial` must have finite quantiles")
        return np.sort(s), True
    s = v.finite_array("initial", initial, ndim=1, min_size=2)
    s = np.sort(s)
    if atoms is not None:
        k = v.integer("atoms", atoms, minimum=16)
        v.fits_in_memory(f"`atoms` = {k}", 10 * 8.0 * k)
        s = np.quantile(s, (np.arange(k) + 0.5) / k)
    return s, False


def _free_ou_parameters(gas, q):
    """(θ, centre, v∞) of the free OU process for quadratic Q: θ = a κ, v∞ = γ/(2θ), γ = c w n."""
    kappa = 2.0 * q[2] * gas.coulomb_scale * float(gas.weights[0]) * gas.n / gas.drift_scale
    theta = gas.drift_scale * kappa
    centre = -q[1] / (2.0 * q[2])
    gamma = gas.coulomb_scale * float(gas.weights[0]) * gas.n
    return theta, centre, gamma / (2.0 * theta)


def _free_convolution(atoms, var, points):
    """Density of μ ⊞ semicircle(variance var) for an atomic μ, by Biane's parametrisation.

    For u ∈ ℝ let y(u) >= 0 solve ∫ dμ(s)/((u − s)² + y²) = 1/var (y = 0 if the
    left side is <= 1/var at y = 0). Then ψ(u) = u + var ∫ (u − s) dμ/((u − s)² + y²)
    is increasing and ρ(ψ(u)) = y(u)/(π var). Y = y² is found by Newton's method
    on φ(Y) = 1/∫dμ/((u−s)²+Y), which is concave with slope >= 1, so Newton from
    Y = 0 increases monotonically to the root.
    """
    spread = math.sqrt(var)
    u = np.linspace(atoms[0] - 1.02 * spread, atoms[-1] + 1.02 * spread, points)
    big_y = np.zeros(points)
    re = np.empty(points)
    # Blocks of u so that the (block, atoms) tables stay ~2e5 entries: O(points + atoms) memory
    # for any number of atoms (all n eigenvalues of a large spectrum, say), the same arithmetic.
    block = max(1, 200_000 // max(atoms.size, 1))
    for lo in range(0, points, block):
        sl = slice(lo, min(lo + block, points))
        big_y[sl], re[sl] = _free_convolution_block(u[sl], atoms, var)
    x = u + var * re
    dens = np.sqrt(big_y) / (np.pi * var)
    return x, dens


def _free_convolution_block(u, atoms, var):
    """Y = y² (Newton from 0) and ∫ (u − s) dμ/((u − s)² + Y) on a block of u (see :func:`_free_convolution`)."""
    d2 = (u[:, None] - atoms[None, :]) ** 2
    big_y = np.zeros(u.size)
    for _ in range(100):
        with np.errstate(divide="ignore"):
            inv = 1.0 / (d2 + big_y[:, None])
        g = inv.mean(axis=1)
        phi = np.where(np.isfinite(g), 1.0 / g, 0.0)
        dphi = np.where(np.isfinite(g), (inv**2).mean(axis=1) / g**2, 1.0)
        step = np.where(np.isfinite(dphi) & (dphi > 0), (var - phi) / dphi, var - phi)
        step = np.where(phi >= var, 0.0, np.maximum(step, 0.0))
        big_y = big_y + step
        if np.all(step <= 1e-14 * np.maximum(big_y, var * 1e-300)):
            break
    with np.errstate(divide="ignore", invalid="ignore"):
        re = ((u[:, None] - atoms[None, :]) / (d2 + big_y[:, None])).mean(axis=1)
    return big_y, re


def _particle_rhs(qp_force, gamma, k):
    """dx_k/dt = −a Q̃'(x_k) + (γ/K) Σ_{j≠k} 1/(x_k − x_j) and its Jacobian (dense)."""
    dpoly = np.polynomial.polynomial

    def rhs(_, x):
        d = x[:, None] - x[None, :]
        np.fill_diagonal(d, np.inf)
        return -dpoly.polyval(x, qp_force) + (gamma / k) * (1.0 / d).sum(axis=1)

    def jac(_, x):
        d = x[:, None] - x[None, :]
        np.fill_diagonal(d, np.inf)
        j = (gamma / k) / d**2
        np.fill_diagonal(j, 0.0)
        j[np.diag_indices(x.size)] = -dpoly.polyval(x, dpoly.polyder(qp_force)) - j.sum(axis=1)
        return j

    return rhs, jac


def mean_field_evolution(gas: CoulombGas, initial, times, *, method: str = "auto", atoms=None,
                         points: int = 1500) -> MeanFieldEvolution:
    r"""Time-dependent large-n density of the gas (McKean–Vlasov / free Fokker–Planck equation).

    For the canonical gas with a common potential and equal weights w, the
    empirical measure μ = (1/n)Σδ_{x_i} obeys, by Itô's formula and the
    symmetrisation Σ_{i≠j} f'(x_i)/(x_i − x_j) = ½Σ_{i≠j}[f'(x_i) − f'(x_j)]/(x_i − x_j),

    .. math::

        \partial_t\rho = \partial_x\big[\rho\,\big(a V'(x) - \gamma\, H\rho(x)\big)\big]
        + \big(\bar D - \tfrac{c w}{2}\big)\,\partial_x^2\rho + O(n^{-1/2})\ \text{noise},
        \qquad \gamma = c\,w\,n,\quad H\rho(x) = \mathrm{PV}\!\int\frac{\rho(y)}{x-y}dy.

    At fixed n the Coulomb term is O(n) larger than the diffusion term (in
    units of the support, which grows with n), so the leading-order equation
    drops the latter; it vanishes identically for the Dyson form at β = 2
    (D = c w/2) and is an O(1/n) correction ∝ (1 − β/2) otherwise. Dyson form:
    ∂_t ρ = ∂_x[ρ(V' − n Hρ)].

    * ``"free-convolution"`` (quadratic V = κ(x − x₀)²/2, exact for this
      equation): with θ = aκ, the free Ornstein–Uhlenbeck solution is
      ρ_t = law[x₀ + e^{−θt}(X₀ − x₀)] ⊞ semicircle of variance
      v(t) = (γ/2θ)(1 − e^{−2θt}), computed with Biane's parametrisation of the
      free convolution with a semicircle. For a Marchenko–Pastur start this is
      the MP law relaxing to the semicircle of radius √(2γ/θ).
    * ``"particles"`` (any polynomial): K points at the initial quantiles
      follow the zero-noise Dyson ODE dx_k/dt = −aV'(x_k) + (γ/K)Σ_{j≠k}
      1/(x_k − x_j) (BDF with the exact Jacobian), a particle discretisation of
      the same equation with O(1/K) error; the density is read off the
      quantile spacings, ρ(x_k) ≈ 2/(K(x_{k+1} − x_{k−1})).

    Parameters
    ----------
    gas : CoulombGas
        Gas with one common polynomial potential and equal weights.
    initial : array_like or frozen distribution
        Initial eigenvalues (atoms of equal weight, e.g. ``x0`` of a
        :func:`~coulombgas.dynamics.simulate` run) or a law with ``ppf`` (e.g.
        ``theory.marchenko_pastur(0.25, sigma)``), represented by K quantile atoms.
    times : array_like, >= 0
        Times (the gas's unit), increasing.
    method : {"auto", "free-convolution", "particles"}
        ``"auto"``: free convolution for a quadratic potential, particles otherwise.
    atoms : int, >= 16, optional
        K: quantile atoms for a law (default 1000 for the free convolution, 400
        for particles), or a resampling of given points into K quantiles.
    points : int, >= 100
        Evaluation points per time for the free convolution.

    Returns
    -------
    MeanFieldEvolution
        ``x``, ``density``, ``cdf_values`` per time, with ``pdf``, ``cdf``, ``counting``.

    Raises
    ------
    ValueError, TypeError
        Bad gas (per-mode potential, unequal weights), ``initial``, ``times``,
        ``method``, ``atoms`` or ``points``.

    References
    ----------
    P. Biane, Indiana Univ. Math. J. 46, 705 (1997).
    D. Voiculescu, Invent. Math. 104, 201 (1991).
    T. Chan, Probab. Theory Relat. Fields 93, 249 (1992).
    L. C. G. Rogers, Z. Shi, Probab. Theory Relat. Fields 95, 555 (1993).

    Examples
    --------
    >>> import coulombgas as cg
    >>> from coulombgas import fokker_planck as fp, theory
    >>> gas = cg.CoulombGas.gaussian(100, beta=2.0)
    >>> run = fp.mean_field_evolution(gas, theory.marchenko_pastur(0.25, 2.0), [0.0, 10.0])
    >>> round(float(run.cdf(0.0)), 3)            # relaxed to the centred semicircle
    0.5
    """
    if not isinstance(gas, CoulombGas):
        raise TypeError(f"`gas` must be a CoulombGas, got {type(gas).__name__}")
    q, n, _ = _scaled_potential(gas, None, need_gas=True)
    times = v.finite_array("times", times)
    times = np.atleast_1d(times)
    if times.ndim != 1 or np.any(times < 0) or np.any(np.diff(times) < 0):
        raise ValueError("`times` must be a 1-d array of increasing times >= 0")
    method = v.one_of("method", method, ("auto", *MEAN_FIELD_METHODS))
    if method == "auto":
        method = "free-convolution" if len(q) == 3 else "particles"
    if method == "free-convolution" and len(q) != 3:
        raise ValueError("`method` 'free-convolution' needs a quadratic potential; use 'particles'")
    points = v.integer("points", points, minimum=100)
    v.fits_in_memory(f"`points` = {points} (x, density and cdf per time, {times.size} times)",
                     8.0 * points * (12 + 3 * times.size))
    if atoms is None and method == "particles":
        atoms = 400 if hasattr(initial, "ppf") else None
    s, from_law = _initial_atoms(initial, atoms)
    if method == "particles":
        # BDF with a dense K × K Jacobian and its LU factors (a few copies): O(K²) memory.
        v.fits_in_memory(f"`atoms` = {s.size} particles (dense K × K Jacobian; pass a smaller `atoms`)",
                         6 * 8.0 * s.size * s.size)
    if method == "particles" and np.any(np.diff(s) <= 0):
        raise ValueError("`initial` must hold distinct points for the particle method")
    k = s.size
    xs, dens, cdfs = [], [], []
    diag = {"atoms": int(k)}
    if method == "free-convolution":
        theta, centre, v_inf = _free_ou_parameters(gas, q)
        masses, variances = [], []
        for t in times:
            lam, var = math.exp(-theta * t), v_inf * -math.expm1(-2.0 * theta * t)
            scaled = centre + lam * (s - centre)
            variances.append(var)
            if var <= 1e-14 * v_inf:   # t = 0: the initial law itself
                x, rho, cdf = _atoms_view(scaled, initial if from_law else None, lam, centre, points)
                masses.append(1.0)
            else:
                x, rho = _free_convolution(scaled, var, points)
                cdf = np.concatenate([[0.0], np.cumsum(0.5 * (rho[1:] + rho[:-1]) * np.diff(x))])
                masses.append(float(cdf[-1]))
                cdf = cdf / cdf[-1]
            xs.append(x)
            dens.append(rho)
            cdfs.append(cdf)
        diag.update(mass=masses, variance=variances)
    else:
        gamma = gas.coulomb_scale * float(gas.weights[0]) * n
        force = np.polynomial.polynomial.polyder(q) * (gas.coulomb_scale * float(gas.weights[0]) * n)
        rhs, jac = _particle_rhs(force, gamma, k)
        width = float(s[-1] - s[0])
        if times[-1] > 0:
            sol = integrate.solve_ivp(rhs, (0.0, float(times[-1])), s, method="BDF", jac=jac,
                                      t_eval=times, rtol=1e-8, atol=1e-10 * max(width, 1.0))
            if not sol.success:
                raise RuntimeError(f"particle integration failed: {sol.message}")
            traj = sol.y.T
            diag.update(nfev=int(sol.nfev), njev=int(sol.njev))
        else:
            traj = np.broadcast_to(s, (times.size, k)).copy()
        if np.any(np.diff(traj, axis=1) <= 0):
            raise RuntimeError("particles crossed during the mean-field integration; this should not happen "
                               "for distinct initial points — report it")
        for x in traj:
            xs.append(x)
            dens.append(_quantile_density(x))
            cdfs.append((np.arange(k) + 0.5) / k)
    return MeanFieldEvolution(t=times, x=_stack(xs, edge=True), density=_stack(dens, edge=False),
                              cdf_values=_stack(cdfs, edge=True), method=method, gas=gas, diagnostics=diag)


def _stack(arrays, *, edge):
    """Stack rows of unequal length, padding with the last value (``edge``) or zeros."""
    width = max(len(a) for a in arrays)
    return np.array([np.concatenate([a, np.full(width - len(a), a[-1] if edge else 0.0)]) for a in arrays])


def _quantile_density(x):
    """ρ at sorted equal-weight points from their spacings: 2/(K(x_{k+1} − x_{k−1}))."""
    k = x.size
    grad = np.gradient(x)
    return 1.0 / (k * grad)


def _atoms_view(atoms, law, lam, centre, points):
    """(x, ρ, F) of the initial law (t = 0): the law's own pdf/cdf if given, else the atoms."""
    if law is not None:
        lo, hi = (float(law.ppf(q)) for q in (0.0, 1.0))
        lo = lo if np.isfinite(lo) else atoms[0]
        hi = hi if np.isfinite(hi) else atoms[-1]
        raw = np.union1d(np.linspace(lo, hi, points), (atoms - centre) / lam + centre)
        with np.errstate(all="ignore"):
            dens = np.nan_to_num(np.asarray(law.pdf(raw), dtype=np.float64), posinf=0.0)
        return centre + lam * (raw - centre), dens / lam, np.asarray(law.cdf(raw))
    k = atoms.size
    return atoms, _quantile_density(atoms), (np.arange(k) + 0.5) / k
