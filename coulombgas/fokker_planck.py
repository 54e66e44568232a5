"""Fokker–Planck solvers: the two-eigenvalue gas on a grid, and the large-n mean-field density.

Two regimes of the eigenvalue SDE of :class:`~coulombgas.gas.CoulombGas`,

    dx_i = [ a K_i(x_i) + c Σ_{j≠i} w_j/(x_i − x_j) ] dt + s_i dW_i,   K_i = −V_i',  D_i = s_i²/2.

**n = 2, exactly on a grid.** The density p(x₁, x₂, t) of the ordered pair solves

    ∂_t p = −Σ_i ∂_i(b_i p) + Σ_i D_i ∂_i² p,    b_i = a K_i(x_i) + c w_j/(x_i − x_j)  (j ≠ i),

on x₁ < x₂ (the dynamics never crosses for β ≥ 1, so mode 1 stays the lower
one) with zero flux through the box and through the diagonal, where the
repulsion makes p vanish like (x₂ − x₁)^β. :func:`stationary_two_mode` solves
the discrete stationary problem, :func:`evolve_two_mode` the time-dependent one,
and :func:`l1_distance_to_coulomb_gas` measures how far the true stationary
state is from the papers' Coulomb gas P_s ∝ |x₁ − x₂|^β exp(−Σ a V_i/D_i).

*Coordinates.* The grid lives in r = x₂ − x₁ > 0 (the gap) and the
diffusion-weighted centre u = κ₂x₁ + κ₁x₂, κ_i = D_i/(D₁ + D₂). This linear map
has unit Jacobian and makes the diffusion diagonal, D_u = D₁D₂/(D₁ + D₂),
D_r = D₁ + D₂, so the diagonal x₁ = x₂ becomes the grid edge r = 0 (zero flux)
and five-point fluxes keep the M-matrix structure. The drift is
b_u = [D₂ aK₁ + D₁ aK₂]/(D₁+D₂) + c(D₁w₁ − D₂w₂)/((D₁+D₂) r) and
b_r = a(K₂ − K₁) + c(w₁ + w₂)/r. For unequal g the 1/r Coulomb drift has a
component *along* the diagonal, and the density carries an O(1) current
next to it (∝ r^{β−1}); a staircase of square cells in (x₁, x₂) cuts that
current off and converges only like O(h) — the reason for these coordinates.

*Discretisation.* Finite volumes on a uniform cell grid in (u, r). The flux
through a face is the Scharfetter–Gummel / exponential-fitting flux: along an
edge in direction e the one-dimensional problem J = b_e p − D_e ∂_e p is solved
exactly with b_e/D_e = −∂_e φ_e, giving

    J = (D_e/h) [ B(Δφ) p_P − B(−Δφ) p_Q ],     B(z) = z/(eᶻ − 1),

with Δφ = φ_e(Q) − φ_e(P). Every off-diagonal entry of the resulting generator
is ≥ 0 and every column sums to zero, so mass is conserved, the stationary
vector is positive (Perron–Frobenius) and implicit steps keep p ≥ 0.

``flux="exponential"`` (default) integrates b_e/D_e exactly along the edge:
with S = Σ_i a V_i(x_i)/D_i,
φ_u = S − u c(D₁w₁ − D₂w₂)/(D₁D₂ r) and φ_r = S − (c(w₁ + w₂)/(D₁ + D₂)) log r.
For a reversible gas (:attr:`~coulombgas.gas.CoulombGas.stationary_is_exact`:
c w_j/D_i = β for all pairs) both are slices of one potential −log P_s, so the
discrete stationary state equals P_s at the cell centres *exactly*; what
remains is the O(h²) error of representing a density by point values (the
normalisation near r = 0). For unequal g_i the edge potentials do not fit
together into one function (the drift has a curl) and the scheme is an
ordinary second-order discretisation. ``flux="scharfetter-gummel"`` is the
classical version with the drift frozen at the face midpoint, Δφ = −b_e h/D_e
(second order, exact for neither case) — an independent check.

**Large n, mean field.** With V fixed and n particles the equilibrium positions
spread: the density of the gas at leading order in 1/n is the equilibrium
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
D. L. Scharfetter, H. K. Gummel, IEEE Trans. Electron Devices 16, 64 (1969) (the flux).
R. E. Bank et al., IEEE Trans. Electron Devices 32, 1992 (1985) (TR-BDF2).
E. Brézin, C. Itzykson, G. Parisi, J.-B. Zuber, Commun. Math. Phys. 59, 35 (1978) (quartic).
P. Biane, Indiana Univ. Math. J. 46, 705 (1997) (free convolution with a semicircle).
D. Voiculescu, Invent. Math. 104, 201 (1991) (free convolution).
T. Chan, Probab. Theory Relat. Fields 93, 249 (1992); L. C. G. Rogers, Z. Shi,
Probab. Theory Relat. Fields 95, 555 (1993) (McKean–Vlasov limit of Dyson BM).
G. Aarts, B. Lucini, C. Park, Phys. Rev. E 111, 015303 (2025), arXiv:2407.16427.
"""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from scipy import integrate, optimize, special, stats

from . import _validate as v
from . import potentials as pot
from .gas import CoulombGas

__all__ = [
    "FLUXES", "TIME_METHODS", "TwoModeGrid", "TwoModeStationary", "TwoModeEvolution",
    "stationary_two_mode", "evolve_two_mode", "l1_distance_to_coulomb_gas",
    "EquilibriumLaw", "equilibrium_density", "MEAN_FIELD_METHODS", "MeanFieldEvolution", "mean_field_evolution",
]


@dataclasses.dataclass(frozen=True)
class _Entry:
    """A named discretisation choice: its order and where it comes from."""

    name: str
    order: int
    positive: bool
    reference: str


#: Face fluxes of the n = 2 finite-volume scheme.
FLUXES = {
    "exponential": _Entry("exponential", 2, True,
                          "Scharfetter & Gummel (1969) with the drift potential integrated exactly along "
                          "each edge; exact stationary state for a reversible gas"),
    "scharfetter-gummel": _Entry("scharfetter-gummel", 2, True,
                                 "Scharfetter & Gummel (1969), drift frozen at the face midpoint"),
}

#: Implicit time steppers of :func:`evolve_two_mode` (one sparse LU each).
TIME_METHODS = {
    "backward-euler": _Entry("backward-euler", 1, True,
                             "implicit Euler: (I − dt A) is an M-matrix, so p ≥ 0 for every dt"),
    "tr-bdf2": _Entry("tr-bdf2", 2, False,
                      "Bank et al. (1985), L-stable; p ≥ 0 only for small enough dt"),
}

# Cut-off of the effective one-mode potential U_i = a V_i/D_i above its minimum
# that defines the automatic box: e^{-30} ≈ 1e-13 of the peak density.
_CUT = 30.0
_MIN_GRID = 16
# The narrowest mode must span at least this many cells.
_MIN_CELLS_PER_MODE = 8


# ======================================================================================
# Small helpers
# ======================================================================================

def _bernoulli(z):
    """B(z) = z/(eᶻ − 1), evaluated without cancellation (scipy's exprel)."""
    with np.errstate(over="ignore"):
        return 1.0 / special.exprel(z)


def _mode_terms(gas, x):
    """a V_i(x_i)/D_i for x of shape (..., 2), per mode; +inf outside the potential's domain."""
    with np.errstate(all="ignore"):
        u = gas.drift_scale * gas.potential.value(x, gas.n) / gas.diffusion
    return np.where(np.isfinite(u), u, np.inf)


def _confinement(gas, x):
    """Σ_i a V_i(x_i)/D_i for x of shape (..., 2)."""
    return _mode_terms(gas, x).sum(axis=-1)


def _one_mode_potentials(gas, y):
    """U_i(y) = a V_i(y)/D_i for both modes: shape (len(y), 2); +inf outside the domain."""
    return _mode_terms(gas, np.column_stack([y, y]))


def _mode_intervals(gas, cut=_CUT):
    """Per mode, the interval where U_i − min U_i <= cut (found by an expanding scan)."""
    from .dynamics import default_x0  # imports Numba-backed modules lazily (nothing compiles)

    lower = gas.potential.kernel_data(gas.n)[2]
    x0 = default_x0(gas)
    centre = float(np.mean(x0))
    half = max(float(np.ptp(x0)), 1e-3 * max(1.0, abs(centre)))
    for _ in range(80):
        lo, hi = centre - half, centre + half
        at_wall = lo <= lower
        if at_wall:
            lo = lower + 1e-9 * (hi - lower)
        y = np.linspace(lo, hi, 4097)
        u = _one_mode_potentials(gas, y)
        umin = u.min(axis=0)
        if not np.all(np.isfinite(umin)):
            raise ValueError("`gas` has a potential that is infinite everywhere on the scan; check the potential")
        left = at_wall or bool(np.all(u[0] - umin >= cut))
        right = bool(np.all(u[-1] - umin >= cut))
        if left and right:
            break
        half *= 2.0
    else:
        raise ValueError("`gas` has a potential that does not confine (no finite box holds the density)")
    los, his = [], []
    for i in range(2):
        inside = np.flatnonzero(u[:, i] - umin[i] <= cut)
        los.append(y[max(inside[0] - 1, 0)])
        his.append(y[min(inside[-1] + 1, y.size - 1)])
    # Second, finer pass over the union of the two intervals.
    y = np.linspace(min(los), max(his), 8193)
    u = _one_mode_potentials(gas, y)
    umin = u.min(axis=0)
    lo_i, hi_i = np.empty(2), np.empty(2)
    for i in range(2):
        inside = np.flatnonzero(u[:, i] - umin[i] <= cut)
        lo_i[i] = y[max(inside[0] - 1, 0)]
        hi_i[i] = y[min(inside[-1] + 1, y.size - 1)]
    return lo_i, hi_i, float(lower)


def _significant_region(gas, cut=_CUT):
    """Where the pair density can matter, including the push of the Coulomb repulsion.

    Mode i feels the log-repulsion exponent γ_i = c w_j/D_i (= β for a
    reversible gas); for unequal g a narrow mode can feel a much larger one
    and is pushed far beyond its own well. The lower tail of x₁ is bounded with
    Ψ₁ = U₁(x₁) + U₂(x₂) − max(β, γ₁) log(x₂ − x₁), the upper tail of x₂ with the
    same form and γ₂: the sets {Ψ − min Ψ <= cut}, on an (x₁, x₂) scan widened
    until they stay inside it, give the extents.

    Returns (single-mode lo, hi; region lo (of x₁), hi (of x₂); lower edge of the domain).
    """
    lo_i, hi_i, lower = _mode_intervals(gas, cut)
    c, (w1, w2), (d1, d2) = gas.coulomb_scale, gas.weights, gas.diffusion
    narrowest = float(np.min(hi_i - lo_i))
    extents = []
    for mode, gamma in ((0, max(gas.beta, c * w2 / d1)), (1, max(gas.beta, c * w1 / d2))):
        left, right = float(lo_i.min()), float(hi_i.max())
        for _ in range(40):
            points = int(np.clip(16 * (right - left) / narrowest, 401, 1601))
            y = np.linspace(left, right, points)
            u_mode = _one_mode_potentials(gas, y)
            x1, x2 = np.meshgrid(y, y, indexing="ij")
            with np.errstate(divide="ignore", invalid="ignore"):
                psi = u_mode[:, 0][:, None] + u_mode[:, 1][None, :] - gamma * np.log(x2 - x1)
            psi = np.where(np.isfinite(psi) & (x1 < x2), psi, np.inf)
            sig = psi - psi.min() <= cut
            grow_left = bool(sig[0, :].any()) and left > lower + 1e-12 * max(1.0, abs(lower))
            grow_right = bool(sig[:, -1].any())
            if not (grow_left or grow_right):
                break
            span = right - left
            left = max(left - 0.5 * span, lower) if grow_left else left
            right = right + 0.5 * span if grow_right else right
        else:
            raise ValueError("`gas` has a pair density that does not decay (no finite box holds it)")
        step = y[1] - y[0]
        extents.append(max(float(x1[sig].min()) - 2 * step, lower) if mode == 0
                       else float(x2[sig].max()) + 2 * step)
    return lo_i, hi_i, extents[0], extents[1], lower


def _check_two(gas):
    if not isinstance(gas, CoulombGas):
        raise TypeError(f"`gas` must be a CoulombGas, got {type(gas).__name__}")
    if gas.n != 2:
        raise ValueError(f"`gas.n` must be 2 for the grid Fokker–Planck solver, got {gas.n}; "
                         "use equilibrium_density / mean_field_evolution for large n")


# ======================================================================================
# n = 2: grid, generator, stationary state, time evolution
# ======================================================================================

@dataclasses.dataclass(frozen=True)
class TwoModeGrid:
    """Cell grid of the ordered pair in diffusion-adapted coordinates (u, r).

    r = x₂ − x₁ > 0 is the gap and u = κ₂ x₁ + κ₁ x₂, κ_i = D_i/(D₁ + D₂), the
    diffusion-weighted centre. The map (x₁, x₂) → (u, r) has unit Jacobian and
    makes the diffusion diagonal (D_u = D₁D₂/(D₁+D₂), D_r = D₁ + D₂), so the
    diagonal x₁ = x₂ is the grid boundary r = 0 and five-point fluxes suffice.
    Inverse: x₁ = u − κ₁ r, x₂ = u + κ₂ r.

    Attributes
    ----------
    u_box : tuple (lo, hi)
        Range of u.
    r_max : float
        Largest gap on the grid (r ∈ (0, r_max]).
    shape : tuple (Mu, Mr)
        Cells along u and r.
    kappa : float
        κ₁ = D₁/(D₁ + D₂).
    """

    u_box: tuple
    r_max: float
    shape: tuple
    kappa: float

    @property
    def hu(self) -> float:
        """Cell width along u."""
        return (self.u_box[1] - self.u_box[0]) / self.shape[0]

    @property
    def hr(self) -> float:
        """Cell width along r."""
        return self.r_max / self.shape[1]

    @property
    def area(self) -> float:
        """Cell area hu·hr (= its area in the (x₁, x₂) plane)."""
        return self.hu * self.hr

    @property
    def u(self) -> np.ndarray:
        """Cell centres along u, shape (Mu,)."""
        return self.u_box[0] + (np.arange(self.shape[0]) + 0.5) * self.hu

    @property
    def r(self) -> np.ndarray:
        """Cell centres along r (gaps), shape (Mr,)."""
        return (np.arange(self.shape[1]) + 0.5) * self.hr

    @property
    def x1(self) -> np.ndarray:
        """Lower eigenvalue at the cell centres, shape (Mu, Mr)."""
        return self.u[:, None] - self.kappa * self.r[None, :]

    @property
    def x2(self) -> np.ndarray:
        """Upper eigenvalue at the cell centres, shape (Mu, Mr)."""
        return self.u[:, None] + (1.0 - self.kappa) * self.r[None, :]

    def to_cell(self, x1, x2):
        """(i, j) indices of the cells holding points (x₁, x₂); −1 outside the grid."""
        u = (1.0 - self.kappa) * np.asarray(x1) + self.kappa * np.asarray(x2)
        r = np.asarray(x2) - np.asarray(x1)
        i = np.floor((u - self.u_box[0]) / self.hu).astype(np.int64)
        j = np.floor(r / self.hr).astype(np.int64)
        bad = (i < 0) | (i >= self.shape[0]) | (j < 0) | (j >= self.shape[1])
        return np.where(bad, -1, i), np.where(bad, -1, j)

    def marginal_edges(self) -> np.ndarray:
        """Bin edges (spacing hu) covering every x₁ and x₂ on the grid."""
        lo = self.u_box[0] - self.kappa * self.r_max
        hi = self.u_box[1] + (1.0 - self.kappa) * self.r_max
        bins = int(math.ceil((hi - lo) / self.hu - 1e-9))
        return lo + self.hu * np.arange(bins + 1)


#: Bytes per cell of the two-mode grid: generator, its LU factors (COLAMD fill-in), work vectors.
_BYTES_PER_CELL = 2000.0

#: Most time steps one Fokker–Planck evolution may take (beyond it a run would not finish).
MAX_STEPS = 10**8


def _resolve_grid(gas, grid, box):
    """The grid (u, r) for ``gas``: from the modes' scales, or from a box [lo, hi] for x₁ and x₂."""
    if isinstance(grid, (tuple, list)):
        if len(grid) != 2:
            raise ValueError(f"`grid` must be an int or a pair (Mu, Mr), got {grid!r}")
        mu, mr = (v.integer("grid", g_, minimum=_MIN_GRID) for g_ in grid)
    else:
        mu, mr = v.integer("grid", grid, minimum=_MIN_GRID), None
    lo_i, hi_i, reg_lo, reg_hi, lower = _significant_region(gas)
    d1, d2 = gas.diffusion
    kappa = float(d1 / (d1 + d2))
    if box is None:
        # Both coordinates get the union of all ranges: the dynamics keeps x₁ < x₂, so a
        # wide mode drags a narrow one along its tail (x₁ can sit as low as x₂ reaches),
        # which P_s would forbid — do not cut it off.
        lo = min(reg_lo, float(lo_i.min()))
        hi = max(reg_hi, float(hi_i.max()))
        pad = 0.05 * (hi - lo)
        lo, hi = max(lo - pad, lower), hi + pad
        u_box, r_max = (lo, hi), hi - lo
    else:
        b = v.finite_array("box", box, ndim=1)
        if b.shape != (2,) or not b[1] > b[0]:
            raise ValueError(f"`box` must be (lo, hi) with lo < hi, got {b.tolist()}")
        if b[0] < lower:
            raise ValueError(f"`box` must lie inside the potential's domain x > {lower:g}, got lo = {b[0]:g}")
        u_box, r_max = (float(b[0]), float(b[1])), float(b[1] - b[0])
    hu = (u_box[1] - u_box[0]) / mu
    if mr is None:
        mr = max(_MIN_GRID, int(math.ceil(r_max / hu - 1e-9)))
    # The sparse generator (5 entries per cell) and its LU factors (nested-dissection-like
    # fill-in): about _BYTES_PER_CELL per cell, refused before anything is built.
    v.fits_in_memory(f"`grid` = {mu} × {mr} cells", _BYTES_PER_CELL * float(mu) * float(mr))
    g = TwoModeGrid((float(u_box[0]), float(u_box[1])), float(r_max), (mu, mr), kappa)
    narrowest = float(np.min(hi_i - lo_i))
    coarsest = max(g.hu, g.hr)
    if narrowest < _MIN_CELLS_PER_MODE * coarsest:
        need = int(math.ceil(_MIN_CELLS_PER_MODE * max(g.hu * mu, g.hr * mr) / narrowest))
        raise ValueError(f"`grid` must be >= {need} cells per axis for this gas and box (the narrowest mode "
                         f"would span fewer than {_MIN_CELLS_PER_MODE} cells), got {grid}")
    return g, np.minimum(lo_i, reg_lo), np.maximum(hi_i, reg_hi)


def _assemble(gas, g: TwoModeGrid, flux: str):
    """Finite-volume generator A (dq/dt = A q for cell masses q) and the active-cell mask.

    Columns of A sum to zero and its off-diagonal entries are >= 0.
    """
    mu, mr = g.shape
    a, c = gas.drift_scale, gas.coulomb_scale
    w1, w2 = gas.weights
    d1, d2 = gas.diffusion
    du, dr = d1 * d2 / (d1 + d2), d1 + d2
    u, r = g.u, g.r
    x1, x2 = g.x1, g.x2
    big_s = _confinement(gas, np.stack([x1, x2], axis=-1))    # Σ a V_i/D_i at the centres
    active = np.isfinite(big_s)
    index = -np.ones((mu, mr), dtype=np.int64)
    index[active] = np.arange(int(active.sum()))
    # Singular parts of b/D: tangential (∝ 1/r) and normal (∝ 1/r) Coulomb terms.
    tang = c * (d1 * w1 - d2 * w2) / (d1 * d2)   # b_u/D_u ∋ tang/r
    norm = c * (w1 + w2) / (d1 + d2)             # b_r/D_r ∋ norm/r
    def face_potential_jumps(axis):
        """(ii, jj, qi, qj, rate, Δφ) for the faces (i, j) → (i+1, j) or (i, j) → (i, j+1)."""
        if axis == 0:
            ii, jj = np.meshgrid(np.arange(mu - 1), np.arange(mr), indexing="ij")
            qi, qj = ii + 1, jj
            if flux == "exponential":
                return ii, jj, qi, qj, du / g.hu**2, big_s[qi, qj] - big_s[ii, jj] - tang * g.hu / r[jj]
            xm1, xm2 = x1[ii, jj] + 0.5 * g.hu, x2[ii, jj] + 0.5 * g.hu
            k = -gas.potential.derivative(np.stack([xm1, xm2], axis=-1), 2)
            b = a * (d2 * k[..., 0] + d1 * k[..., 1]) / (d1 + d2) + du * tang / r[jj]
            return ii, jj, qi, qj, du / g.hu**2, -b * g.hu / du
        ii, jj = np.meshgrid(np.arange(mu), np.arange(mr - 1), indexing="ij")
        qi, qj = ii, jj + 1
        if flux == "exponential":
            # Δφ_r = ΔS − (c(w₁+w₂)/(D₁+D₂)) log(r_{j+1}/r_j), the log exact on the grid.
            return ii, jj, qi, qj, dr / g.hr**2, big_s[qi, qj] - big_s[ii, jj] - norm * np.log((jj + 1.5) / (jj + 0.5))
        rm = (jj + 1.0) * g.hr
        xm1, xm2 = u[ii] - g.kappa * rm, u[ii] + (1 - g.kappa) * rm
        k = -gas.potential.derivative(np.stack([xm1, xm2], axis=-1), 2)
        b = a * (k[..., 1] - k[..., 0]) + dr * norm / rm
        return ii, jj, qi, qj, dr / g.hr**2, -b * g.hr / dr

    rows, cols, vals = [], [], []
    for axis in (0, 1):
        with np.errstate(invalid="ignore"):  # inf − inf next to inactive cells, masked out below
            ii, jj, qi, qj, rate, dphi = face_potential_jumps(axis)
        ok = active[ii, jj] & active[qi, qj] & np.isfinite(dphi)
        p, q, dphi = index[ii[ok], jj[ok]], index[qi[ok], qj[ok]], dphi[ok]
        fwd = rate * _bernoulli(dphi)    # P → Q
        bwd = rate * _bernoulli(-dphi)   # Q → P
        rows += [q, p, p, q]
        cols += [p, p, q, q]
        vals += [fwd, -fwd, bwd, -bwd]
    rows, cols, vals = (np.concatenate(z) for z in (rows, cols, vals))
    n = int(active.sum())
    return sp.csc_matrix((vals, (rows, cols)), shape=(n, n)), active


def _coulomb_gas_on_grid(gas, g: TwoModeGrid, lo_i, hi_i):
    """P_s at the cell centres, normalised over the whole ordered domain x₁ < x₂.

    Z = ∫₀^∞ r^β ∫ e^{−U₁(x₁) − U₂(x₁+r)} dx₁ dr: Gauss–Jacobi in the gap r (the
    weight r^β handles the diagonal exactly) and Gauss–Legendre in x₁ over the
    intersection of the two modes' significant intervals, with the node count
    doubled until log Z changes by < 1e-12.
    """
    beta = gas.beta
    lo, hi = lo_i, hi_i
    smax = hi[1] - lo[0]

    def log_z(nodes):
        t, wt = special.roots_jacobi(nodes, 0.0, beta)
        s = 0.5 * smax * (1.0 + t)
        log_ws = np.log(wt) + (beta + 1.0) * math.log(0.5 * smax)
        xl = np.maximum(lo[0], lo[1] - s)
        xr = np.minimum(hi[0], hi[1] - s)
        ok = xr > xl
        s, log_ws, xl, xr = s[ok], log_ws[ok], xl[ok], xr[ok]
        z, wz = np.polynomial.legendre.leggauss(nodes)
        y1 = 0.5 * (xl + xr)[:, None] + 0.5 * (xr - xl)[:, None] * z[None, :]
        logw = np.log(0.5 * (xr - xl))[:, None] + np.log(wz)[None, :] + log_ws[:, None]
        conf = _confinement(gas, np.stack([y1, y1 + s[:, None]], axis=-1))
        return special.logsumexp(logw - conf)

    nodes, prev = 128, log_z(64)
    while True:
        cur = log_z(nodes)
        if abs(cur - prev) < 1e-12 or nodes >= 4096:
            break
        prev, nodes = cur, 2 * nodes
    logp = gas.log_density(np.stack([g.x1, g.x2], axis=-1)) - cur
    return np.exp(logp), float(cur), nodes


def _trapezoid_cdf(t, a_w, b_w):
    """Cdf at t of U(−a/2, a/2) + U(−b/2, b/2) (a > 0, b >= 0): piecewise quadratic."""
    if b_w <= 1e-12 * a_w:
        return np.clip(t / a_w + 0.5, 0.0, 1.0)
    ramp = lambda z: np.maximum(z, 0.0) ** 2  # noqa: E731
    s, d = 0.5 * (a_w + b_w), 0.5 * abs(a_w - b_w)
    return (ramp(t + s) - ramp(t + d) - ramp(t - d) + ramp(t - s)) / (2.0 * a_w * b_w)


def _marginal_masses(masses, g: TwoModeGrid, edges):
    """Mass of each x-bin for x₁ and x₂: masses (..., Mu, Mr) → (..., 2, bins).

    Inside a cell the density is taken constant in (u, r), so x_i is the sum of
    two uniforms (widths hu and κ hr): the bin masses are exact for that
    piecewise-constant density (second-order accurate in h).
    """
    masses = np.asarray(masses)
    lead = masses.shape[:-2]
    flat = masses.reshape((-1,) + g.shape)
    out = np.zeros((flat.shape[0], 2, edges.size - 1))
    dx = edges[1] - edges[0]
    for mode, (centre, spread) in enumerate(((g.x1, g.kappa * g.hr), (g.x2, (1 - g.kappa) * g.hr))):
        half = 0.5 * (g.hu + spread)
        first = np.floor((centre - half - edges[0]) / dx).astype(np.int64).ravel()
        reach = int(math.ceil((2 * half) / dx)) + 2
        c = centre.ravel()
        for o in range(reach):
            k = first + o
            ok = (k >= 0) & (k < edges.size - 1)
            frac = (_trapezoid_cdf(edges[np.minimum(k + 1, edges.size - 1)] - c, g.hu, spread)
                    - _trapezoid_cdf(edges[np.clip(k, 0, edges.size - 1)] - c, g.hu, spread))
            frac = np.where(ok, frac, 0.0)
            for rec in range(flat.shape[0]):
                out[rec, mode] += np.bincount(k[ok], weights=(flat[rec].ravel() * frac)[ok],
                                              minlength=edges.size - 1)
    return out.reshape(lead + (2, edges.size - 1))


def _cdf_from_bins(x, edges, masses):
    """Cdf from bin masses: exact at the edges, linear in between."""
    cum = np.concatenate([[0.0], np.cumsum(masses)])
    return np.interp(np.asarray(x, dtype=np.float64), edges, cum, left=0.0, right=cum[-1])


class _Saveable:
    """npz round trip for the result dataclasses: arrays as arrays, the rest as JSON."""

    _arrays: tuple = ()

    def save(self, path) -> None:
        """Write to a ``.npz`` file; :meth:`load` round-trips it exactly."""
        meta = {}
        arrays = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name in self._arrays:
                arrays[f.name] = np.asarray(value)
            elif isinstance(value, CoulombGas):
                meta[f.name] = {"__gas__": value.to_dict()}
            elif isinstance(value, TwoModeGrid):
                meta[f.name] = {"__grid__": [list(value.u_box), value.r_max, list(value.shape), value.kappa]}
            else:
                meta[f.name] = value
        with open(path, "wb") as fh:
            np.savez(fh, meta=np.array(json.dumps(meta)), **arrays)

    @classmethod
    def load(cls, path):
        """Read a file written by :meth:`save`."""
        with np.load(path, allow_pickle=False) as f:
            meta = json.loads(str(f["meta"]))
            kw = {name: f[name] for name in cls._arrays}
        for name, value in meta.items():
            if isinstance(value, dict) and "__gas__" in value:
                value = CoulombGas.from_dict(value["__gas__"])
            elif isinstance(value, dict) and "__grid__" in value:
                ub, rmax, shape, kappa = value["__grid__"]
                value = TwoModeGrid(tuple(ub), rmax, tuple(shape), kappa)
            kw[name] = value
        return cls(**kw)


class _TwoModeViews:
    """Marginal, one-point and spacing views shared by the stationary and evolving results."""

    def pdf(self, x1, x2, record: int = -1) -> np.ndarray:
        """p(x₁, x₂) by bilinear interpolation in (u, r); 0 outside the grid and for x₁ >= x₂.

        Handy as the initial condition of another run (a quench):
        ``evolve_two_mode(other_gas, result.pdf, ...)``.
        """
        from scipy.interpolate import RegularGridInterpolator

        g = self.grid
        density = self.density if self.density.ndim == 2 else self.density[record]
        x1, x2 = np.broadcast_arrays(np.asarray(x1, dtype=np.float64), np.asarray(x2, dtype=np.float64))
        u = (1.0 - g.kappa) * x1 + g.kappa * x2
        r = x2 - x1
        # p vanishes on the diagonal: pin r = 0 to zero so the first half-cell interpolates.
        table = np.concatenate([np.zeros((g.shape[0], 1)), density], axis=1)
        interp = RegularGridInterpolator((g.u, np.concatenate([[0.0], g.r])), table,
                                         bounds_error=False, fill_value=0.0)
        out = interp(np.stack([u, r], axis=-1))
        return np.where(r > 0, out, 0.0)

    def _marg(self, density):
        g = self.grid
        edges = g.marginal_edges()
        return edges, _marginal_masses(density * g.area, g, edges)

    def cdf(self, x, mode=None, record: int = -1) -> np.ndarray:
        """Cdf of ρ₁ (``mode=0``, the lower eigenvalue), ρ₂ (``mode=1``) or ρ = (ρ₁+ρ₂)/2 (``None``).

        Exact at the bin edges of :attr:`x_edges` for the cell-wise constant
        density, linear in between (second-order accurate). ``record`` selects
        the time for :class:`TwoModeEvolution` (ignored for the stationary state).
        """
        density = self.density if self.density.ndim == 2 else self.density[record]
        edges, masses = self._marg(density)
        m = masses.mean(axis=0) if mode is None else masses[v.one_of("mode", mode, (0, 1))]
        return _cdf_from_bins(x, edges, m)


def _stationary_vector(a_mat, guess):
    """Positive null vector of a generator: fix the component at argmax(guess), solve for the rest.

    Removing one state from an irreducible generator leaves −A' a nonsingular
    M-matrix, so q = (−A')⁻¹ A[:, r] >= 0: positivity is built in.
    """
    n = a_mat.shape[0]
    r = int(np.argmax(guess))
    keep = np.ones(n, dtype=bool)
    keep[r] = False
    sub = a_mat[keep][:, keep].tocsc()
    rhs = -a_mat[keep][:, [r]].toarray().ravel()
    sol = spla.splu(sub, permc_spec="COLAMD").solve(rhs)
    q = np.empty(n)
    q[keep] = sol
    q[r] = 1.0
    return q


@dataclasses.dataclass(frozen=True, eq=False)
class TwoModeStationary(_Saveable, _TwoModeViews):
    """Stationary state of the n = 2 Fokker–Planck equation on a grid.

    Attributes
    ----------
    grid : TwoModeGrid
        Cells in (u, r) = (κ₂x₁ + κ₁x₂, x₂ − x₁); ``grid.x1``, ``grid.x2`` give
        the eigenvalues at the cell centres.
    density : ndarray, shape (Mu, Mr)
        p(x₁, x₂) at the cell centres, normalised so that Σ p·area = 1.
    coulomb_gas : ndarray, shape (Mu, Mr)
        The papers' P_s ∝ |x₁ − x₂|^β exp(−Σ a V_i/D_i) at the same points,
        normalised over the whole ordered domain x₁ < x₂ (not over the grid).
    x_edges : ndarray, shape (bins + 1,)
        Bin edges for the one-point densities (spacing hu).
    x : ndarray, shape (bins,)
        Bin centres.
    marginals : ndarray, shape (2, bins)
        ρ₁ (lower eigenvalue) and ρ₂ averaged over each bin.
    one_point : ndarray, shape (bins,)
        ρ = (ρ₁ + ρ₂)/2.
    coulomb_gas_one_point : ndarray, shape (bins,)
        The same for P_s.
    spacing : ndarray, shape (Mr,)
        Gaps s = r_j (cell centres along r).
    spacing_density : ndarray, shape (Mr,)
        P(s) = Σ_u p hu.
    l1_distance : float
        ∫|p − P_s| (sum over cells): discretisation error only when
        ``gas.stationary_is_exact`` (equal g), the papers' approximation
        error otherwise.
    l1_one_point : float
        ∫|ρ − ρ_s| dx for the one-point densities.
    gas : CoulombGas
    flux : str
    diagnostics : dict
        ``unknowns``, ``residual`` (‖A q‖₁ / ‖diag(A) q‖₁), ``edge_mass`` (mass in
        the outermost cells: truncation by the box), ``clipped`` (relative mass of
        round-off negatives set to 0), ``quadrature_nodes`` and ``log_z`` of P_s.
    """

    grid: TwoModeGrid
    density: np.ndarray
    coulomb_gas: np.ndarray
    x_edges: np.ndarray
    x: np.ndarray
    marginals: np.ndarray
    one_point: np.ndarray
    coulomb_gas_one_point: np.ndarray
    spacing: np.ndarray
    spacing_density: np.ndarray
    l1_distance: float
    l1_one_point: float
    gas: CoulombGas
    flux: str
    diagnostics: dict

    _arrays = ("density", "coulomb_gas", "x_edges", "x", "marginals", "one_point",
               "coulomb_gas_one_point", "spacing", "spacing_density")

    def coulomb_gas_cdf(self, x, mode=None) -> np.ndarray:
        """Cdf of the papers' P_s marginals (renormalised on the grid), as :meth:`cdf`."""
        g = self.grid
        mass = self.coulomb_gas * g.area
        edges, masses = self._marg(self.coulomb_gas / mass.sum())
        m = masses.mean(axis=0) if mode is None else masses[v.one_of("mode", mode, (0, 1))]
        return _cdf_from_bins(x, edges, m)


def stationary_two_mode(gas: CoulombGas, *, grid=192, box=None,
                        flux: str = "exponential") -> TwoModeStationary:
    r"""Stationary density of the two-eigenvalue Fokker–Planck equation on a grid.

    Solves A q = 0, Σ q = 1 for the finite-volume generator A of

    .. math::

        \partial_t p = -\sum_{i=1,2}\partial_i(b_i p) + \sum_i D_i\,\partial_i^2 p,\qquad
        b_i = a K_i(x_i) + \frac{c\,w_j}{x_i - x_j},

    on x₁ < x₂ with zero flux through the diagonal and the box (module docstring).

    Parameters
    ----------
    gas : CoulombGas
        A two-mode gas (``gas.n == 2``) in any form: Dyson, SGD with equal or
        unequal g_i, per-mode potentials.
    grid : int or (int, int), >= 16
        Cells along u (Mu); the gap axis gets cells of the same width unless a
        pair (Mu, Mr) is given. About Mu² unknowns.
    box : (lo, hi), optional
        Range of both eigenvalues: u ∈ [lo, hi], r ∈ (0, hi − lo]. Default: from
        the modes' scales — the union over both modes of where a V_i/D_i is
        within 30 of its minimum (density above e⁻³⁰ of the peak), widened for
        the push of the repulsion (log exponent c w_j/D_i), padded by 5 %.
        ``diagnostics["edge_mass"]`` reports what a box cuts off.
    flux : {"exponential", "scharfetter-gummel"}
        Face flux (:data:`FLUXES`).

    Returns
    -------
    TwoModeStationary
        Density, marginals, one-point and spacing densities, P_s on the same
        points and the L1 distance between the two.

    Raises
    ------
    ValueError
        ``gas.n != 2``, ``grid`` too small for the gas's scales, a bad ``box``
        or ``flux``.

    Notes
    -----
    *Accuracy (equal g, exact stationary law).* L1 distance to P_s for the
    Gaussian gas (``CoulombGas.dyson(Quadratic(0, 1), 2)``, β = 1), pair density
    (one-point density in brackets):

    =====  ======================  =======================
    grid   ``"exponential"``       ``"scharfetter-gummel"``
    =====  ======================  =======================
    32     6.4e-3 (6.4e-3)         2.1e-2 (7.5e-3)
    64     1.6e-3 (1.6e-3)         7.1e-3 (2.5e-3)
    128    3.9e-4 (3.9e-4)         2.3e-3 (7.9e-4)
    256    9.8e-5 (9.8e-5)         7.0e-4 (2.4e-4)
    =====  ======================  =======================

    The exponential flux reproduces P_s at the cell centres exactly; its
    error is the O(h²) cost of representing the density by point values next
    to the diagonal (for even β and a symmetric gap law it is spectrally small).

    *The papers' approximation (unequal g).* SGD form, V_i = x²/2 for both
    modes, ``lr=0.5``, ``batch_size=1``, β = 1; values extrapolated in the grid
    (Richardson from grids 192 and 384; the correction is < 2e-3):

    =======  =========  ======  ===============  ===============  ===============  ===============
    g₂/g₁    L1 pair    L1 ρ    ⟨x₁⟩, sd (FP)    ⟨x₂⟩, sd (FP)    ⟨x₁⟩, sd (P_s)   ⟨x₂⟩, sd (P_s)
    =======  =========  ======  ===============  ===============  ===============  ===============
    1        0          0       −0.627, 0.627    0.627, 0.627     (identical)
    1.25     0.438      0.253   −0.865, 0.609    0.554, 0.761    −0.554, 0.623    0.865, 0.714
    1.5      0.767      0.460   −1.106, 0.645    0.492, 0.937    −0.492, 0.642    1.106, 0.825
    2        1.202      0.755   −1.585, 0.765    0.396, 1.302    −0.396, 0.666    1.585, 1.042
    4        1.821      1.197   −3.438, 1.444    0.216, 2.761    −0.215, 0.695    3.439, 1.924
    =======  =========  ======  ===============  ===============  ===============  ===============

    (L1 is at most 2.) The pair force is not symmetric — mode 1 feels g₂², mode 2
    feels g₁² — so the *smaller*-g mode is pushed out by the larger repulsion,
    the opposite of P_s, where the wider (larger-g) mode moves more: exact
    stationarity of ⟨x_i⟩ gives ⟨x₁⟩/⟨x₂⟩ = −g₂²/g₁² for the dynamics and
    −g₁²/g₂² under P_s. With a common quadratic potential the gap
    r = x₂ − x₁ is an autonomous diffusion, dr = [−a r + c(w₁ + w₂)/r]dt +
    √(2(D₁+D₂)) dW, so the spacing law (Rayleigh, the Wigner surmise after
    rescaling) is exact for any g_i: the papers' approximation shows in the
    one-point density, not in the spacing. In the tails the difference is
    qualitative: a wide mode drags the narrow one along its own tail (x₁ stays
    just below x₂ wherever x₂ goes), a cost e^{−U₂} instead of P_s's e^{−U₁}.

    References
    ----------
    D. L. Scharfetter, H. K. Gummel, IEEE Trans. Electron Devices 16, 64 (1969).
    G. Aarts, B. Lucini, C. Park, Phys. Rev. E 111, 015303 (2025), arXiv:2407.16427.

    Examples
    --------
    >>> import coulombgas as cg
    >>> from coulombgas import fokker_planck as fp, potentials as P
    >>> res = fp.stationary_two_mode(cg.CoulombGas.dyson(P.Quadratic(0.0, 1.0), 2), grid=128)
    >>> bool(res.l1_distance < 1e-3)
    True
    """
    _check_two(gas)
    flux = v.one_of("flux", flux, tuple(FLUXES))
    g, lo_i, hi_i = _resolve_grid(gas, grid, box)
    a_mat, active = _assemble(gas, g, flux)
    ps, log_z, nodes = _coulomb_gas_on_grid(gas, g, lo_i, hi_i)
    q = _stationary_vector(a_mat, ps[active])
    clipped = float(np.sum(np.abs(q[q < 0])) / np.sum(np.abs(q)))
    q = np.maximum(q, 0.0)
    q /= q.sum()
    residual = float(np.abs(a_mat @ q).sum() / (np.abs(a_mat.diagonal()) @ q))
    density = np.zeros(g.shape)
    density[active] = q / g.area
    edges = g.marginal_edges()
    marg = _marginal_masses(np.stack([density, ps]) * g.area, g, edges) / g.hu
    edge = density[0].sum() + density[-1].sum() + density[:, -1].sum() - density[0, -1] - density[-1, -1]
    return TwoModeStationary(
        grid=g, density=density, coulomb_gas=ps, x_edges=edges, x=0.5 * (edges[1:] + edges[:-1]),
        marginals=marg[0], one_point=marg[0].mean(axis=0), coulomb_gas_one_point=marg[1].mean(axis=0),
        spacing=g.r, spacing_density=density.sum(axis=0) * g.hu,
        l1_distance=float(np.abs(density - ps).sum() * g.area),
        l1_one_point=float(np.abs(marg[0].mean(axis=0) - marg[1].mean(axis=0)).sum() * g.hu),
        gas=gas, flux=flux,
        diagnostics={"unknowns": int(q.size), "residual": residual, "edge_mass": float(edge * g.area),
                     "clipped": clipped, "quadrature_nodes": int(nodes), "log_z": log_z},
    )


def l1_distance_to_coulomb_gas(gas: CoulombGas, *, grid=192, box=None, flux: str = "exponential") -> float:
    """L1 distance between the stationary Fokker–Planck density and the papers' P_s (n = 2).

    ∫_{x₁<x₂} |p(x) − P_s(x)| dx, with P_s ∝ |x₁ − x₂|^β exp(−Σ a V_i/D_i)
    normalised on the ordered domain. Zero up to the O(h²) discretisation error
    when ``gas.stationary_is_exact`` (equal g); for unequal g it measures the
    Coulomb-gas approximation of the papers (values in the Notes of
    :func:`stationary_two_mode`). Same parameters as :func:`stationary_two_mode`.
    """
    return stationary_two_mode(gas, grid=grid, box=box, flux=flux).l1_distance


@dataclasses.dataclass(frozen=True, eq=False)
class TwoModeEvolution(_Saveable, _TwoModeViews):
    """Time-dependent solution of the n = 2 Fokker–Planck equation.

    Attributes
    ----------
    t : ndarray, shape (records,)
        Record times (``t[0] = 0`` is the initial condition).
    density : ndarray, shape (records, Mu, Mr)
        p(x₁, x₂, t) at the cell centres ``grid.x1``, ``grid.x2``.
    grid : TwoModeGrid
    gas : CoulombGas
    flux, method : str
    dt : float
        Step used (t_end / number of steps).
    diagnostics : dict
        ``steps``, ``mass_drift`` (largest |Σ p·area − 1| over all steps),
        ``min_density`` (most negative value seen; 0 for backward Euler),
        ``lu_nnz`` (fill of the factorisation).
    """

    t: np.ndarray
    density: np.ndarray
    grid: TwoModeGrid
    gas: CoulombGas
    flux: str
    method: str
    dt: float
    diagnostics: dict

    _arrays = ("t", "density")

    @property
    def mass(self) -> np.ndarray:
        """Σ p·area at every record, shape (records,)."""
        return self.density.sum(axis=(-2, -1)) * self.grid.area

    def mean(self) -> np.ndarray:
        """⟨x₁⟩, ⟨x₂⟩ at every record: shape (records, 2)."""
        g = self.grid
        w = self.density * g.area
        return np.stack([(w * g.x1).sum(axis=(-2, -1)), (w * g.x2).sum(axis=(-2, -1))], axis=-1)

    def marginal_densities(self) -> tuple[np.ndarray, np.ndarray]:
        """(x_edges (bins+1,), ρ₁ and ρ₂ bin averages (records, 2, bins)) at every record."""
        edges, masses = self._marg(self.density)
        return edges, masses / self.grid.hu


def _initial_masses(p0, g: TwoModeGrid, active):
    """Cell masses (sum 1) on the active cells from the accepted forms of ``p0``."""
    if isinstance(p0, _TwoModeViews):
        if p0.grid != g:
            raise ValueError("`p0` is a result on a different grid; pass `p0=result.pdf` to interpolate it, "
                             "or the same `grid` and `box`")
        p0 = p0.density if p0.density.ndim == 2 else p0.density[-1]
    if callable(p0):
        vals = np.asarray(p0(g.x1, g.x2), dtype=np.float64)
        try:
            vals = np.broadcast_to(vals, g.shape).astype(np.float64)
        except ValueError:
            raise ValueError(f"`p0` must return an array broadcastable to the grid shape {g.shape}") from None
        vals = np.where(active, vals, 0.0)
        if not np.all(np.isfinite(vals)) or np.any(vals < 0):
            raise ValueError("`p0` must return finite values >= 0 on the grid")
        full = vals
    else:
        arr = v.finite_array("p0", p0)
        if arr.shape == (2,):          # a point: all mass in its cell
            i, j = g.to_cell(arr[0], arr[1])
            if not arr[0] < arr[1] or i < 0 or not active[i, j]:
                raise ValueError(f"`p0` = {arr.tolist()} must be a point with x1 < x2 inside the grid")
            full = np.zeros(g.shape)
            full[i, j] = 1.0
        elif arr.shape == g.shape:     # a density on the grid
            if np.any(arr < 0):
                raise ValueError("`p0` must be >= 0 everywhere")
            full = np.where(active, arr, 0.0)
        elif arr.ndim == 2 and arr.shape[1] == 2:   # samples (x1, x2)
            if np.any(arr[:, 0] >= arr[:, 1]):
                raise ValueError("`p0` samples must satisfy x1 < x2 (mode 1 is the lower eigenvalue)")
            i, j = g.to_cell(arr[:, 0], arr[:, 1])
            ok = i >= 0
            full = np.zeros(g.shape)
            np.add.at(full, (i[ok], j[ok]), 1.0)
            full = np.where(active, full, 0.0)
        else:
            raise ValueError(f"`p0` must be a callable p0(x1, x2), a point (2,), samples (m, 2) or a grid "
                             f"density of shape {g.shape}; got shape {arr.shape}")
    q = full[active]
    total = q.sum()
    if not total > 0:
        raise ValueError("`p0` puts no mass on the grid")
    return q / total


def evolve_two_mode(gas: CoulombGas, p0, t_end: float, dt: float, *, grid=192, box=None,
                    flux: str = "exponential", method: str = "backward-euler",
                    record_every: int = 1) -> TwoModeEvolution:
    r"""Integrate the two-eigenvalue Fokker–Planck equation in time with implicit steps.

    dq/dt = A q with the finite-volume generator A of :func:`stationary_two_mode`;
    the matrix of the implicit step is factorised once (sparse LU).

    * ``"backward-euler"``: (I − Δt A) q^{k+1} = q^k. A has non-negative
      off-diagonal entries and zero column sums, so (I − Δt A)⁻¹ is a
      non-negative matrix whose columns sum to 1: mass is conserved, p stays
      >= 0, and the L1 distance to the stationary state never grows — for any Δt.
    * ``"tr-bdf2"``: second order and L-stable (γ = 2 − √2; one LU of
      I − (γ/2)Δt A serves both stages); conserves mass, p >= 0 only for small Δt.

    Parameters
    ----------
    gas : CoulombGas
        Two-mode gas.
    p0 : callable, result or array_like
        Initial condition: a function ``p0(x1, x2)`` (evaluated at the cell
        centres, need not be normalised; e.g. ``other_result.pdf`` for a
        quench from another gas's state); a :class:`TwoModeStationary` or
        :class:`TwoModeEvolution` (last record) on the same grid; a point
        ``(x1, x2)`` (all mass in its cell); samples of shape (m, 2) with
        x1 < x2 (binned); or an array of the grid's shape on the same grid.
    t_end : float, >= 0
        Final time (the gas's time unit).
    dt : float, > 0
        Largest step; the run takes ceil(t_end/dt) equal steps.
    grid, box, flux
        As in :func:`stationary_two_mode`.
    method : {"backward-euler", "tr-bdf2"}
        Time stepper (:data:`TIME_METHODS`).
    record_every : int, >= 1
        Keep every this many steps (record 0 is the initial state).

    Returns
    -------
    TwoModeEvolution
        ``t`` (records,), ``density`` (records, Mu, Mr) and diagnostics.

    Raises
    ------
    ValueError
        Bad ``gas``, ``p0``, ``t_end``, ``dt``, ``grid``, ``box``, ``flux`` or ``method``.

    Examples
    --------
    >>> import coulombgas as cg
    >>> from coulombgas import fokker_planck as fp
    >>> run = fp.evolve_two_mode(cg.CoulombGas.gaussian(2), (-0.5, 0.5), 1.0, 0.1, grid=64)
    >>> bool(abs(run.mass[-1] - 1) < 1e-12 and run.density.min() >= 0)
    True
    """
    _check_two(gas)
    t_end = v.nonnegative("t_end", t_end)
    dt = v.positive("dt", dt)
    flux = v.one_of("flux", flux, tuple(FLUXES))
    method = v.one_of("method", method, tuple(TIME_METHODS))
    record_every = v.integer("record_every", record_every, minimum=1)
    steps_wanted = t_end / dt
    if not steps_wanted <= MAX_STEPS:
        raise ValueError(f"`t_end`/`dt` = {steps_wanted:.3g} time steps is beyond the limit of {MAX_STEPS:.0e} "
                         "(it would not finish); raise `dt` or lower `t_end`")
    g, _, _ = _resolve_grid(gas, grid, box)
    n_steps = int(math.ceil(t_end / dt - 1e-12)) if t_end > 0 else 0
    v.fits_in_memory(f"`t_end`/`dt`/`record_every` records × `grid` = {n_steps // record_every + 1} × "
                     f"{g.shape[0]} × {g.shape[1]}", 2 * 8.0 * (n_steps // record_every + 1) * g.shape[0] * g.shape[1])
    a_mat, active = _assemble(gas, g, flux)
    q = _initial_masses(p0, g, active)
    dt_eff = t_end / n_steps if n_steps else dt
    eye = sp.identity(a_mat.shape[0], format="csc")
    gamma = 2.0 - math.sqrt(2.0)
    theta = 1.0 if method == "backward-euler" else 0.5 * gamma
    lu = spla.splu((eye - theta * dt_eff * a_mat).tocsc(), permc_spec="COLAMD")
    explicit = (eye + theta * dt_eff * a_mat).tocsr()
    c1 = 1.0 / (gamma * (2.0 - gamma))
    c0 = (1.0 - gamma) ** 2 / (gamma * (2.0 - gamma))
    records = [q.copy()]
    lowest, drift = float(q.min()), 0.0
    for step in range(n_steps):
        if method == "backward-euler":
            q = lu.solve(q)
        else:
            q = lu.solve(c1 * lu.solve(explicit @ q) - c0 * q)
        lowest = min(lowest, float(q.min()))
        drift = max(drift, abs(float(q.sum()) - 1.0))
        if (step + 1) % record_every == 0:
            records.append(q.copy())
    density = np.zeros((len(records),) + g.shape)
    density[:, active] = np.array(records) / g.area
    t = np.arange(len(records)) * record_every * dt_eff
    return TwoModeEvolution(
        t=t, density=density, grid=g, gas=gas, flux=flux, method=method, dt=dt_eff,
        diagnostics={"steps": n_steps, "mass_drift": drift, "min_density": lowest / g.area,
                     "lu_nnz": int(lu.L.nnz + lu.U.nnz)},
    )


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
    "free-convolution": _Entry("free-convolution", 0, True,
                               "exact for quadratic V: ρ_t = (scaled ρ₀) ⊞ semicircle (Biane 1997)"),
    "particles": _Entry("particles", 1, True,
                        "deterministic zero-noise Dyson ODE of K quantile points (error O(1/K))"),
}


@dataclasses.dataclass(frozen=True, eq=False)
class MeanFieldEvolution(_Saveable):
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
