"""The n = 2 discretisation: the box, the (u, r) cell grid, the finite-volume generator, bin masses.

Private to :mod:`coulombgas.fokker_planck` (used by
:mod:`~coulombgas.fokker_planck.two_mode`, which documents the scheme).

*Coordinates.* The grid lives in r = x₂ − x₁ > 0 (the gap) and the
diffusion-weighted centre u = κ₂x₁ + κ₁x₂, κ_i = D_i/(D₁ + D₂): unit Jacobian,
diagonal diffusion D_u = D₁D₂/(D₁ + D₂), D_r = D₁ + D₂, and the diagonal
x₁ = x₂ is the grid edge r = 0 (zero flux).

*Generator.* Finite volumes with the Scharfetter–Gummel / exponential-fitting
face flux J = (D_e/h)[B(Δφ) p_P − B(−Δφ) p_Q], B(z) = z/(eᶻ − 1): off-diagonal
entries >= 0, zero column sums (an M-matrix generator).

*Box.* From the modes' effective potentials U_i = a V_i/D_i (within 30 of their
minimum), widened for the push of the log-repulsion.

References
----------
D. L. Scharfetter, H. K. Gummel, IEEE Trans. Electron Devices 16, 64 (1969).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import scipy.sparse as sp
from scipy import special

from .. import _validate as v

__all__ = ["TwoModeGrid", "resolve_grid", "assemble", "coulomb_gas_on_grid", "marginal_masses", "cdf_from_bins"]

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
    lower = gas.potential.kernel_data(gas.n)[2]
    x0 = gas.ground_state()   # the T = 0 equilibrium: where the modes sit
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



def resolve_grid(gas, grid, box):
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


def assemble(gas, g: TwoModeGrid, flux: str):
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


def coulomb_gas_on_grid(gas, g: TwoModeGrid, lo_i, hi_i):
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


def marginal_masses(masses, g: TwoModeGrid, edges):
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


def cdf_from_bins(x, edges, masses):
    """Cdf from bin masses: exact at the edges, linear in between."""
    cum = np.concatenate([[0.0], np.cumsum(masses)])
    return np.interp(np.asarray(x, dtype=np.float64), edges, cum, left=0.0, right=cum[-1])
