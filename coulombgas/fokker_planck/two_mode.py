"""The two-eigenvalue gas (n = 2) on a grid: stationary state, time evolution, distance to P_s.

The eigenvalue SDE of :class:`~coulombgas.gas.CoulombGas`,

    dx_i = [ a K_i(x_i) + c Σ_{j≠i} w_j/(x_i − x_j) ] dt + s_i dW_i,   K_i = −V_i',  D_i = s_i²/2.

The density p(x₁, x₂, t) of the ordered pair solves

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

The grid, the box and the generator are built in
:mod:`coulombgas.fokker_planck._grid`.

References
----------
D. L. Scharfetter, H. K. Gummel, IEEE Trans. Electron Devices 16, 64 (1969) (the flux).
R. E. Bank et al., IEEE Trans. Electron Devices 32, 1992 (1985) (TR-BDF2).
G. Aarts, B. Lucini, C. Park, Phys. Rev. E 111, 015303 (2025), arXiv:2407.16427.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from .. import _validate as v
from ..gas import CoulombGas
from ._common import Entry, Saveable
from ._grid import TwoModeGrid, assemble, cdf_from_bins, coulomb_gas_on_grid, marginal_masses, resolve_grid

__all__ = [
    "FLUXES", "TIME_METHODS", "MAX_STEPS", "TwoModeGrid", "TwoModeStationary", "TwoModeEvolution",
    "stationary_two_mode", "evolve_two_mode", "l1_distance_to_coulomb_gas",
]


#: Face fluxes of the n = 2 finite-volume scheme.
FLUXES = {
    "exponential": Entry("exponential", 2, True,
                         "Scharfetter & Gummel (1969) with the drift potential integrated exactly along "
                         "each edge; exact stationary state for a reversible gas"),
    "scharfetter-gummel": Entry("scharfetter-gummel", 2, True,
                                "Scharfetter & Gummel (1969), drift frozen at the face midpoint"),
}

#: Implicit time steppers of :func:`evolve_two_mode` (one sparse LU each).
TIME_METHODS = {
    "backward-euler": Entry("backward-euler", 1, True,
                            "implicit Euler: (I − dt A) is an M-matrix, so p ≥ 0 for every dt"),
    "tr-bdf2": Entry("tr-bdf2", 2, False,
                     "Bank et al. (1985), L-stable; p ≥ 0 only for small enough dt"),
}

#: How a result writes its grid into the ``.npz`` metadata (the file format of the old module).
_GRID_CODEC = (("__grid__", TwoModeGrid,
                lambda g: [list(g.u_box), g.r_max, list(g.shape), g.kappa],
                lambda data: TwoModeGrid(tuple(data[0]), data[1], tuple(data[2]), data[3])),)


#: Most time steps one Fokker–Planck evolution may take (beyond it a run would not finish).
MAX_STEPS = 10**8


def _check_two(gas):
    if not isinstance(gas, CoulombGas):
        raise TypeError(f"`gas` must be a CoulombGas, got {type(gas).__name__}")
    if gas.n != 2:
        raise ValueError(f"`gas.n` must be 2 for the grid Fokker–Planck solver, got {gas.n}; "
                         "use equilibrium_density / mean_field_evolution for large n")


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
        return edges, marginal_masses(density * g.area, g, edges)

    def cdf(self, x, mode=None, record: int = -1) -> np.ndarray:
        """Cdf of ρ₁ (``mode=0``, the lower eigenvalue), ρ₂ (``mode=1``) or ρ = (ρ₁+ρ₂)/2 (``None``).

        Exact at the bin edges of :attr:`x_edges` for the cell-wise constant
        density, linear in between (second-order accurate). ``record`` selects
        the time for :class:`TwoModeEvolution` (ignored for the stationary state).
        """
        density = self.density if self.density.ndim == 2 else self.density[record]
        edges, masses = self._marg(density)
        m = masses.mean(axis=0) if mode is None else masses[v.one_of("mode", mode, (0, 1))]
        return cdf_from_bins(x, edges, m)


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
class TwoModeStationary(Saveable, _TwoModeViews):
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
    _codecs = _GRID_CODEC

    def coulomb_gas_cdf(self, x, mode=None) -> np.ndarray:
        """Cdf of the papers' P_s marginals (renormalised on the grid), as :meth:`cdf`."""
        g = self.grid
        mass = self.coulomb_gas * g.area
        edges, masses = self._marg(self.coulomb_gas / mass.sum())
        m = masses.mean(axis=0) if mode is None else masses[v.one_of("mode", mode, (0, 1))]
        return cdf_from_bins(x, edges, m)


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
    g, lo_i, hi_i = resolve_grid(gas, grid, box)
    a_mat, active = assemble(gas, g, flux)
    ps, log_z, nodes = coulomb_gas_on_grid(gas, g, lo_i, hi_i)
    q = _stationary_vector(a_mat, ps[active])
    clipped = float(np.sum(np.abs(q[q < 0])) / np.sum(np.abs(q)))
    q = np.maximum(q, 0.0)
    q /= q.sum()
    residual = float(np.abs(a_mat @ q).sum() / (np.abs(a_mat.diagonal()) @ q))
    density = np.zeros(g.shape)
    density[active] = q / g.area
    edges = g.marginal_edges()
    marg = marginal_masses(np.stack([density, ps]) * g.area, g, edges) / g.hu
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
class TwoModeEvolution(Saveable, _TwoModeViews):
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
    _codecs = _GRID_CODEC

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
    g, _, _ = resolve_grid(gas, grid, box)
    n_steps = int(math.ceil(t_end / dt - 1e-12)) if t_end > 0 else 0
    v.fits_in_memory(f"`t_end`/`dt`/`record_every` records × `grid` = {n_steps // record_every + 1} × "
                     f"{g.shape[0]} × {g.shape[1]}", 2 * 8.0 * (n_steps // record_every + 1) * g.shape[0] * g.shape[1])
    a_mat, active = assemble(gas, g, flux)
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
