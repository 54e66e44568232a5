"""`CoulombGas`: the one description of a system shared by integrator, samplers and theory.

Every constructor ends in one canonical form that all kernels read,

    dx_i = [ a K_i(x_i) + c Σ_{j≠i} w_j / (x_i − x_j) ] dt + s_i dW_i,     K_i = −V_i'(x_i),

with drift scale ``a``, Coulomb scale ``c``, pair weights ``w_j`` and noise
amplitudes ``s_i`` (diffusion coefficient D_i = s_i²/2).

The two conventions of SCIENCE.md §2, and the mapping between them (written
here once):

* **Dyson form** (textbook β-Dyson Brownian motion),
  dλ_i = −V'(λ_i) dt + Σ_{j≠i} dt/(λ_i − λ_j) + √(2/β) dB_i:
  a = c = w = 1, s = √(2/β). Stationary density ∝ Π_{i<j}|λ_i − λ_j|^β e^{−β Σ V(λ_i)}.
* **SGD form** (Aarts, Lucini, Park 2024, with learning rate α = ``lr`` and batch
  size |B| = ``batch_size``), dx_i = α K_i dt + β(α²/|B|) Σ_{j≠i} g_j²/(x_i − x_j) dt
  + (α/√|B|) √2 g_i dW_i: a = α, c = βα²/|B|, w_j = g_j², s_i = √2 α g_i/√|B|.
  The poster prints the noise as √(2 g_i); only √2·g_i (diffusion (α²/|B|) g_i²)
  makes the zero-flux Fokker–Planck solution the Coulomb gas
  P_s ∝ Π|x_i − x_j|^β exp(−Σ_i V_i/(T g_i²)), T = α/|B| — the form used here.
  β = 1 (real weight matrices) is the papers' case.
* **Mapping** (equal g): the SGD gas equals the Dyson gas with potential
  Ṽ = V/(β T g²) run in the time t' = β α² g² t/|B| (:meth:`CoulombGas.to_dyson`).
  Both have the same stationary law; ``tests/test_gas.py`` checks it.

With unequal g the pair force is not symmetric, the dynamics is not a
gradient flow, and P_s is only the papers' approximation of its stationary
state (:attr:`CoulombGas.stationary_is_exact`).

References
----------
F. J. Dyson, J. Math. Phys. 3, 1191 (1962).
G. Aarts, B. Lucini, C. Park, Phys. Rev. E 111, 015303 (2025), arXiv:2407.16427.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numba
import numpy as np
from numba import prange

from . import _validate as v
from . import _zeros
from . import potentials as pot
from ._jit import njit
from ._pairs import sum_log_dist

__all__ = ["CoulombGas", "ground_state", "register_harvest_converter", "GAS_PARAMS"]

#: Flat gas parameters of :meth:`CoulombGas.from_params` (CLI and sweeps), with their defaults.
GAS_PARAMS = {"n": 10, "beta": 1.0, "potential": "quadratic", "center": 0.0, "width": 1.0, "t": 1.0,
              "g_quartic": 1.0, "laguerre_a": 1.0, "laguerre_scale": 1.0, "lr": None, "batch_size": None,
              "noise_g": 1.0}

# harvest -> gas, set by coulombgas.training on import (register_harvest_converter).
_HARVEST_TO_GAS = None


def register_harvest_converter(function) -> None:
    """Install ``function(harvest, estimate, **kwargs) -> CoulombGas`` behind :meth:`CoulombGas.from_harvest`.

    Called once by :mod:`coulombgas.training`; the layer above supplies the
    conversion so that the gas never imports the training code that uses it.
    """
    global _HARVEST_TO_GAS
    if not callable(function):
        raise TypeError(f"`function` must be callable, got {type(function).__name__}")
    _HARVEST_TO_GAS = function


@dataclasses.dataclass(frozen=True, eq=False)
class CoulombGas:
    """An n-particle log-gas in canonical form (see the module docstring).

    Prefer the constructors :meth:`gaussian`, :meth:`dyson` and :meth:`from_sgd`.

    Attributes
    ----------
    n : int, >= 2
        Number of eigenvalues.
    beta : float, > 0
        Dyson index (exponent of the Vandermonde factor in the stationary law).
    potential : coulombgas.potentials.Potential
        V_i, one per mode.
    drift_scale, coulomb_scale : float, > 0
        ``a`` and ``c`` of the canonical form.
    weights, noise : ndarray, shape (n,), > 0
        ``w_j`` and ``s_i`` of the canonical form.
    convention : {"dyson", "sgd"}
        Which constructor made the gas (for reports; kernels read only a, c, w, s).
    lr, batch_size, g : SGD parameters α, |B| and g_i (None in the Dyson form).
    """

    n: int
    beta: float
    potential: Any
    drift_scale: float = 1.0
    coulomb_scale: float = 1.0
    weights: Any = None
    noise: Any = None
    convention: str = "dyson"
    lr: float | None = None
    batch_size: float | None = None
    g: Any = None

    def __post_init__(self):
        n = v.integer("n", self.n, minimum=2)
        # A gas holds a handful of length-n arrays (weights, noise, g, potential rows, the
        # kernels' copies): refuse n = 1e9 before allocating them, not after 18 s and 7.6 GB.
        v.fits_in_memory(f"`n` = {n}", _BYTES_PER_MODE * float(n))
        object.__setattr__(self, "n", n)
        object.__setattr__(self, "beta", _check_beta(self.beta))
        if not isinstance(self.potential, pot.Potential):
            raise TypeError(
                "`potential` must be a coulombgas.potentials.Potential (Quadratic, Quartic, "
                f"Polynomial, Laguerre or Custom), got {type(self.potential).__name__}"
            )
        self.potential.kernel_data(n)  # shape check against n
        object.__setattr__(self, "drift_scale", v.positive("drift_scale", self.drift_scale))
        object.__setattr__(self, "coulomb_scale", v.positive("coulomb_scale", self.coulomb_scale))
        w = np.ones(n) if self.weights is None else self.weights
        s = np.full(n, math.sqrt(2.0 / self.beta)) if self.noise is None else self.noise
        object.__setattr__(self, "weights", v.positive_array("weights", w, (n,)))
        object.__setattr__(self, "noise", v.positive_array("noise", s, (n,)))
        d = 0.5 * self.noise**2
        if not (np.all(np.isfinite(d)) and np.all(d > 0)):
            raise ValueError("`noise` must have a finite, nonzero diffusion s²/2 for every mode, got "
                             f"s in [{self.noise.min():g}, {self.noise.max():g}]")
        v.one_of("convention", self.convention, ("dyson", "sgd"))
        if self.g is not None:
            object.__setattr__(self, "g", v.positive_array("g", self.g, (n,)))
        for arr in (self.weights, self.noise, self.g):
            if arr is not None:
                arr.setflags(write=False)

    def __eq__(self, other):
        # Dataclass equality would compare arrays elementwise; compare descriptions.
        return isinstance(other, CoulombGas) and self.to_dict() == other.to_dict()

    __hash__ = None

    # ------------------------------------------------------------ constructors
    @classmethod
    def dyson(cls, potential, n: int, *, beta: float = 1.0) -> "CoulombGas":
        """β-Dyson Brownian motion dλ = −V'dt + Σ dt/(λ_i−λ_j) + √(2/β) dB.

        Stationary density ∝ Π_{i<j}|λ_i − λ_j|^β exp(−β Σ_i V_i(λ_i)).
        """
        beta = _check_beta(beta)
        return cls(n=n, beta=beta, potential=potential, convention="dyson")

    @classmethod
    def gaussian(cls, n: int, beta: float = 1.0) -> "CoulombGas":
        """The Gaussian β-ensemble gas: Dyson form with V(λ) = λ²/2.

        Its stationary law is that of GOE (β=1), GUE (β=2), GSE (β=4) matrices
        with density ∝ exp(−β tr H²/2): semicircle of radius √(2n) at large n.
        """
        return cls.dyson(pot.Quadratic(0.0, 1.0), n, beta=beta)

    @classmethod
    def from_sgd(cls, potential, g, *, lr: float, batch_size: float, n: int | None = None,
                 beta: float = 1.0) -> "CoulombGas":
        """The eigenvalue SDE of SGD (SCIENCE.md §2) with learning rate ``lr`` = α, batch size |B|.

        dx_i = α K_i dt + β(α²/|B|) Σ_{j≠i} g_j²/(x_i − x_j) dt + (α/√|B|) √2 g_i dW_i,
        with time counted in SGD steps.

        Parameters
        ----------
        potential : Potential
            V_i, with K_i = −V_i'.
        g : float or array_like, shape (n,), > 0
            Gradient-noise strength per mode.
        lr, batch_size : float, > 0
            α and |B|. Only T = α/|B| enters the stationary law (linear scaling rule).
        n : int, optional
            Number of modes when ``g`` is a scalar.
        beta : float, > 0
            Vandermonde exponent of the stationary law (1 for real weights).
        """
        lr = v.positive("lr", lr)
        batch_size = v.positive("batch_size", batch_size)
        beta = _check_beta(beta)
        g_arr = v.positive_array("g", g)
        if n is None:
            if g_arr.ndim == 0:
                raise ValueError("`n` must be given when `g` is a scalar")
            n = g_arr.shape[0]
        n = v.integer("n", n, minimum=2)
        v.fits_in_memory(f"`n` = {n}", _BYTES_PER_MODE * float(n))
        g_arr = v.positive_array("g", g_arr, (n,))
        # Float products (never **, which raises OverflowError): check the derived scales.
        coulomb = beta * (lr * lr) / batch_size
        with np.errstate(over="ignore", under="ignore"):
            noise = math.sqrt(2.0) * lr * g_arr / math.sqrt(batch_size)
            weights = g_arr * g_arr
            diffusion = 0.5 * noise * noise
        if not (math.isfinite(coulomb) and coulomb > 0 and np.all(np.isfinite(diffusion))
                and np.all(diffusion > 0)):
            raise ValueError(
                "`lr` and `batch_size` must give a finite, nonzero Coulomb scale β·lr²/batch_size and "
                f"diffusion lr²·g²/batch_size, got lr = {lr:g}, batch_size = {batch_size:g} "
                f"(β·lr²/batch_size = {coulomb:g}); use lr and batch_size within about 1e-100..1e100")
        if not (np.all(np.isfinite(weights)) and np.all(weights > 0)):
            raise ValueError(f"`g` must have finite, nonzero squares g², got g in [{g_arr.min():g}, {g_arr.max():g}]")
        return cls(
            n=n, beta=beta, potential=potential, drift_scale=lr,
            coulomb_scale=coulomb, weights=weights,
            noise=noise,
            convention="sgd", lr=lr, batch_size=batch_size, g=g_arr,
        )

    @classmethod
    def from_params(cls, **params) -> "CoulombGas":
        """A gas from flat parameters, the names of :data:`GAS_PARAMS` (what the CLI and sweeps pass).

        ``potential`` is ``"quadratic"`` (``center``, ``width``), ``"quartic"`` (``t``,
        ``g_quartic``) or ``"laguerre"`` (``laguerre_a``, ``laguerre_scale``); giving ``lr``
        and ``batch_size`` selects the SGD form with noise ``noise_g``, else the Dyson form.
        """
        unknown = sorted(set(params) - set(GAS_PARAMS))
        if unknown:
            raise ValueError(f"`{unknown[0]}` is not a gas parameter; choose from {', '.join(GAS_PARAMS)}")
        p = {**GAS_PARAMS, **params}
        kind = v.one_of("potential", p["potential"], ("quadratic", "quartic", "laguerre"))
        if kind == "quadratic":
            potential = pot.Quadratic(center=p["center"], width=p["width"])
        elif kind == "quartic":
            potential = pot.Quartic(t=p["t"], g=p["g_quartic"])
        else:
            potential = pot.Laguerre(a=p["laguerre_a"], scale=p["laguerre_scale"])
        if p["lr"] is not None or p["batch_size"] is not None:
            if p["lr"] is None or p["batch_size"] is None:
                raise ValueError("`lr` and `batch_size` go together (SGD form): give both or neither")
            return cls.from_sgd(potential, p["noise_g"], lr=p["lr"], batch_size=p["batch_size"], n=p["n"],
                                beta=p["beta"])
        return cls.dyson(potential, p["n"], beta=p["beta"])

    @classmethod
    def from_harvest(cls, harvest, estimate=None, **kwargs) -> "CoulombGas":
        """The gas whose SDE has the drift and noise measured in a training harvest.

        See :func:`coulombgas.training.gas_from_harvest` (keywords
        ``potential``, ``gradients``, ``records``, ``beta``, ``corrections``). The training
        package registers that function here when it is imported (a harvest
        cannot exist before it is), so this module never imports upwards.

        ``corrections`` switches on finite-learning-rate corrections of the continuum
        SDE (derived in :mod:`coulombgas.training.finite_lr`): ``"step"`` (each mode's
        stationary variance × 1/(1 − α|K′_i|/2), the AR(1) step), ``"pairs"`` (the
        measured symmetric C_ij as pair weights), ``"wishart"`` (noise ∝ x, as an exact
        Laguerre effective potential), ``"drift2"`` (the measured Itô and second-order
        drift), a list of them or ``"all"``; the default ``"continuum"`` is the papers'
        α → 0 SDE (Aarts, Lucini, Park, arXiv:2407.16427; SCIENCE.md §2, §8).
        """
        if _HARVEST_TO_GAS is None:
            raise TypeError(f"`harvest` must be a coulombgas.training.Harvest, got {type(harvest).__name__}")
        return _HARVEST_TO_GAS(harvest, estimate, **kwargs)

    # ------------------------------------------------------------ properties
    @property
    def temperature(self) -> float | None:
        """T = α/|B| (SGD form); None in the Dyson form."""
        return None if self.lr is None else self.lr / self.batch_size

    @property
    def diffusion(self) -> np.ndarray:
        """D_i = s_i²/2, shape (n,)."""
        return 0.5 * self.noise**2

    @property
    def stationary_is_exact(self) -> bool:
        """True when P_s of :meth:`log_density` is the exact stationary law.

        The dynamics is a reversible gradient flow with the stationary law
        Π|x_i − x_j|^β exp(−Σ a V_i/D_i) iff c w_j / D_i = β for every pair,
        i.e. all w_j equal and all D_i equal (e.g. equal g in the SGD form).
        """
        # c w_j/D_i spans [c min w/max D, c max w/min D]: O(n), not an n×n table.
        extremes = self.coulomb_scale * np.array([self.weights.min() / self.diffusion.max(),
                                                  self.weights.max() / self.diffusion.min()])
        return bool(np.allclose(extremes, self.beta, rtol=1e-12, atol=0.0))

    # ------------------------------------------------------------ NumPy evaluations
    def force(self, x) -> np.ndarray:
        """Coulomb term Σ_{j≠i} w_j/(x_i − x_j) for x of shape (..., n).

        Exact pair sum in a compiled loop: O(n²) time, O(n) extra memory (a
        coincident pair contributes 0). For one large configuration the fast
        O(n log n) method is :func:`coulombgas.forces.coulomb_force`.
        """
        x = self._check_x(x)
        rows = np.ascontiguousarray(x.reshape(-1, self.n))
        out = np.empty_like(rows)
        _force_rows(rows, np.ascontiguousarray(self.weights), out)
        return out.reshape(x.shape)

    def drift(self, x) -> np.ndarray:
        """Full drift a K_i(x_i) + c Σ_{j≠i} w_j/(x_i − x_j), shape (..., n)."""
        x = self._check_x(x)
        return -self.drift_scale * self.potential.derivative(x, self.n) + self.coulomb_scale * self.force(x)

    def log_density(self, x) -> np.ndarray:
        """Unnormalised log P_s(x) = β Σ_{i<j} log|x_i − x_j| − Σ_i a V_i(x_i)/D_i, shape (...).

        Exact for a reversible gas (:attr:`stationary_is_exact`); the papers'
        Coulomb-gas approximation otherwise (SCIENCE.md §3). Returns −inf where
        two eigenvalues coincide or x leaves the potential's domain.

        The pair sum runs in a compiled loop (O(n²) time per configuration,
        O(n) memory, the same bits for any number of threads); nothing of
        size n × n is allocated.
        """
        x = self._check_x(x)
        rows = np.ascontiguousarray(x.reshape(-1, self.n))
        pair = np.empty(rows.shape[0])
        # Threads pay off from a few thousand points; below, one thread (same sum order: same bits).
        (_pair_log_rows if self.n >= _PARALLEL_MIN_N else _pair_log_rows_serial)(rows, pair)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            conf = np.sum(self.drift_scale * self.potential.value(x, self.n) / self.diffusion, axis=-1)
            out = self.beta * pair.reshape(x.shape[:-1]) - conf
        return np.where(np.isnan(out), -np.inf, out)

    def ground_state(self) -> np.ndarray:
        """The T = 0 equilibrium (or its harmonic approximation), ascending, shape (n,).

        * Quadratic potentials: with V approximated by κ(x − m)²/2 around the
          modes' mean minimum m (mean curvature κ), the zero-noise equilibrium
          a κ(x_i − m) = c w̄ Σ_{j≠i} 1/(x_i − x_j) is x_i = m + √(c w̄/(a κ)) ζ_i,
          ζ_i the zeros of the Hermite polynomial H_n (Stieltjes 1885); exact for
          a common quadratic potential.
        * Other polynomial and custom potentials: the same Hermite shape m + L ζ
          with the width L that satisfies the equilibrium's virial identity
          Σ_i (x_i − m) a V_i'(x_i) = c w̄ n(n − 1)/2 (a scalar root, O(n) per
          evaluation), which stays right where the curvature at the minimum
          vanishes (V = x⁴/4).
        * Laguerre potentials V = p x − A log x: a(p − A/x_i) = c w̄ Σ_{j≠i} 1/(x_i − x_j)
          is solved by x_i = s ξ_i with ξ_i the zeros of L_n^{(α)},
          s = c w̄/(2 a p), α = 2aA/(c w̄) − 1 (Stieltjes); exact for a common
          Laguerre potential (p, A: the modes' means otherwise).

        Cost: O(n) time and memory (Golub–Welsch for small n, Glaser–Liu–Rokhlin
        marching above: Hermite 0.05 s, Laguerre 0.4 s at n = 1e5). Minimum and
        curvature are vectorised over modes.

        References
        ----------
        T. J. Stieltjes (1885); G. H. Golub, J. H. Welsch, Math. Comp. 23, 221 (1969);
        A. Glaser, X. Liu, V. Rokhlin, SIAM J. Sci. Comput. 29, 1420 (2007).
        """
        return ground_state(self)

    def initial_states(self, x0, count: int) -> np.ndarray:
        """``count`` starting configurations, shape (count, n), C-contiguous float64: checked.

        ``x0`` is None (the :meth:`ground_state` for every one), shape (n,) (the same start
        for every one) or (count, n). Every start must be strictly increasing and inside the
        potential's domain (x > lower), where the integrators' and chains' densities are
        finite. Shared by :func:`coulombgas.simulate` (replicas) and
        :func:`coulombgas.sample` (chains).
        """
        n, lower = self.n, self.potential.kernel_data(self.n)[2]
        start = self.ground_state() if x0 is None else v.finite_array("x0", x0)
        if start.shape != (n,) and start.shape != (count, n):
            raise ValueError(f"`x0` must have shape ({n},) or ({count}, {n}), got shape {start.shape}")
        states = np.array(np.broadcast_to(start, (count, n)), dtype=np.float64, order="C")
        if not np.all(states[:, 1:] > states[:, :-1]):
            raise ValueError("`x0` must be strictly increasing along its last axis (sorted, no coincident values)")
        if not np.all(states[:, 0] > lower):
            raise ValueError(f"`x0` must lie inside the potential's domain x > {lower:g}")
        return states

    def _check_x(self, x) -> np.ndarray:
        x = v.finite_array("x", x)
        if x.ndim == 0 or x.shape[-1] != self.n:
            raise ValueError(f"`x` must have shape (..., {self.n}), got shape {x.shape}")
        return x

    # ------------------------------------------------------------ conversions
    def to_dyson(self) -> tuple["CoulombGas", float]:
        """The equivalent Dyson-form gas and the time factor t' = factor · t.

        Requires equal g (equal weights and noise). With κ = c w, the SGD gas
        equals the Dyson gas with potential (a/κ)·V in time t' = κ t, so both
        share the stationary law.
        """
        if not (np.all(self.weights == self.weights[0]) and np.all(self.noise == self.noise[0])):
            raise ValueError("`to_dyson` needs equal weights and noise for every mode (equal g)")
        kappa = self.coulomb_scale * self.weights[0]
        scaled = _scaled_potential(self.potential, self.drift_scale / kappa, self.n)
        return CoulombGas.dyson(scaled, self.n, beta=self.beta), kappa

    def kernel_arrays(self):
        """(kind, params, lower, a, c, w, s): the arrays the Numba kernels read."""
        kind, params, lower = self.potential.kernel_data(self.n)
        return kind, params, lower, self.drift_scale, self.coulomb_scale, self.weights, self.noise

    def to_dict(self) -> dict:
        """JSON-friendly description (built-in potentials round-trip through :meth:`from_dict`)."""
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        d["potential"] = self.potential.to_dict()
        for k in ("weights", "noise", "g"):
            if d[k] is not None:
                d[k] = np.asarray(d[k]).tolist()
        return d

    def summary(self) -> dict:
        """A small JSON-ready description for reports, O(1) in size whatever n (one schema per field).

        Scalars as numbers (``lr``, ``batch_size``, ``temperature``: null in the
        Dyson form); the per-mode arrays ``weights``, ``noise`` (and ``g``, null in
        the Dyson form) as ``{"min", "median", "max"}``; the potential as
        ``{"type", "per_mode"}``. :meth:`to_dict` is the exact, round-trip form
        (O(n) numbers).
        """
        def stats(a):
            return None if a is None else {"min": float(np.min(a)), "median": float(np.median(a)),
                                           "max": float(np.max(a))}

        params = self.potential.kernel_data(self.n)[1]
        return {"n": self.n, "beta": self.beta, "convention": self.convention,
                "drift_scale": self.drift_scale, "coulomb_scale": self.coulomb_scale,
                "lr": self.lr, "batch_size": self.batch_size, "temperature": self.temperature,
                "stationary_is_exact": self.stationary_is_exact,
                "potential": {"type": type(self.potential).__name__,
                              "per_mode": bool(not np.all(params == params[0]))},
                "weights": stats(self.weights), "noise": stats(self.noise), "g": stats(self.g)}

    @classmethod
    def from_dict(cls, d: dict) -> "CoulombGas":
        d = dict(d)
        d["potential"] = pot.from_dict(d["potential"])
        return cls(**d)


def _scaled_potential(potential, factor: float, n: int):
    """factor · V for built-in potentials (used by the SGD → Dyson mapping)."""
    if isinstance(potential, pot.Polynomial):
        return pot.Polynomial(np.asarray(potential.coeffs) * factor)
    if isinstance(potential, pot.Laguerre):
        return pot.Laguerre(a=np.asarray(potential.a) * factor, scale=np.asarray(potential.scale) / factor)
    raise TypeError(f"`potential` of type {type(potential).__name__} cannot be rescaled; use a built-in potential")


# ------------------------------------------------------------------ checks

#: Allowed range of β: outside it √(2/β), β·lr² or the log-density's β·Σ log|Δx| leave double precision.
BETA_RANGE = (1e-100, 1e100)

# Bytes a gas of n modes holds (weights, noise, g, three potential columns, the kernels' copies).
_BYTES_PER_MODE = 12 * 8


def _check_beta(beta) -> float:
    beta = v.positive("beta", beta)
    if not BETA_RANGE[0] <= beta <= BETA_RANGE[1]:
        raise ValueError(f"`beta` must be in [{BETA_RANGE[0]:g}, {BETA_RANGE[1]:g}], got {beta:g}")
    return beta


# ------------------------------------------------------------------ ground state

def ground_state(gas: CoulombGas) -> np.ndarray:
    """The T = 0 equilibrium of ``gas`` (or its harmonic approximation): see :meth:`CoulombGas.ground_state`."""
    if not isinstance(gas, CoulombGas):
        raise TypeError(f"`gas` must be a CoulombGas, got {type(gas).__name__}")
    n = gas.n
    kind, params, lower = gas.potential.kernel_data(n)
    wbar = float(np.mean(gas.weights))
    strength = gas.coulomb_scale * wbar / gas.drift_scale  # c w̄ / a
    if kind == pot.LAGUERRE:
        p, big_a = float(np.mean(params[:, 1])), float(np.mean(params[:, 2]))
        alpha = 2.0 * big_a / strength - 1.0
        return 0.5 * strength / p * _zeros.laguerre_zeros(n, alpha)
    m, kappa = minimum_and_curvature(gas.potential, n)
    zeta = _zeros.hermite_zeros(n)
    width = math.sqrt(strength / kappa)
    # Quadratic modes (one centre or several): the harmonic width is the scale already.
    quadratic = kind == pot.POLYNOMIAL and params.shape[1] <= 3
    if not quadratic and n >= 2:
        width = _virial_width(gas, m, width, zeta, lower, strength)
    x = m + width * zeta
    if x[0] <= lower:  # a custom potential with a wall: squeeze inside the domain, keeping the order
        span = x[-1] - x[0]
        x = lower + (x - x[0] + 0.05 * span) * (m - lower) / max(m - x[0] + 0.05 * span, 1e-300)
        x = np.maximum(x, lower + 1e-3 * (m - lower) * np.linspace(1, 2, n))
        x = np.sort(x)
    return x


def _virial_width(gas, m, width, zeta, lower, strength):
    """The width L of the start m + L ζ that satisfies the equilibrium's virial identity.

    At the T = 0 equilibrium a V_i'(x_i) = c w̄ Σ_{j≠i} 1/(x_i − x_j), multiplying by
    x_i − m and summing gives Σ_i (x_i − m) V_i'(x_i) = (c w̄/a) n(n − 1)/2 (the pair
    terms add up to one per pair). Solved for L along the Hermite shape ζ (brentq,
    O(n) per evaluation). For a quadratic V this is the harmonic width √(c w̄/(a κ));
    where the curvature at the minimum vanishes or misleads (V = x⁴/4: κ = 0) it gives
    the right scale where the harmonic guess is off by orders of magnitude.
    """
    from scipy.optimize import brentq

    target = strength * 0.5 * gas.n * (gas.n - 1)
    top = math.inf if lower == -math.inf else (m - lower) / -zeta[0] * (1.0 - 1e-9)

    def excess(L):
        with np.errstate(all="ignore"):
            f = float(np.dot(L * zeta, gas.potential.derivative(m + L * zeta, gas.n))) - target
        return f if math.isfinite(f) else math.inf

    hi = min(width, top)
    for _ in range(2000):  # grow until the confinement wins (a confining V must)
        if excess(hi) > 0 or hi >= top:
            break
        hi = min(2.0 * hi, top)
    lo = hi
    for _ in range(2000):
        lo *= 0.5
        if excess(lo) < 0 or lo < 1e-300:
            break
    if not (excess(lo) < 0 < excess(hi)):
        return width  # no sign change (a potential that does not confine): keep the harmonic guess
    return brentq(excess, lo, hi, xtol=1e-14 * hi, rtol=1e-15, maxiter=200)


def minimum_and_curvature(potential, n: int) -> tuple[float, float]:
    """(mean over modes of argmin V_i, mean of V_i'' there), vectorised over modes.

    Polynomials: the real critical points of every distinct row at once
    (batched companion-matrix eigenvalues of V_i', degree − 1 ≤ a few), the
    lowest of them per row. Laguerre: a/p, with V'' = a/x². Custom: the mean
    potential on a 401-point grid, refined on a second 401-point grid around
    its minimum, both evaluated by a compiled loop over modes (O(n) memory).
    The curvature is floored at 1e-6 (a flat minimum).
    """
    kind, params, lower = potential.kernel_data(n)
    if kind == pot.CUSTOM:
        return _custom_minimum(potential, n, lower)
    if kind == pot.LAGUERRE:
        xm = params[:, 2] / params[:, 1]
        return float(np.mean(xm)), float(np.mean(params[:, 2] / xm**2))
    if np.all(params == params[0]):  # one potential for every mode (the common case): O(n), no sort
        rows, inverse = params[:1], np.zeros(n, dtype=np.intp)
    else:
        rows, inverse = np.unique(params, axis=0, return_inverse=True)
        inverse = inverse.reshape(-1)
    degree = rows.shape[1] - 1
    if degree == 2:  # p0 + p1 x + p2 x²: minimum −p1/(2 p2), curvature 2 p2
        mins, curvs = -rows[:, 1] / (2.0 * rows[:, 2]), 2.0 * rows[:, 2]
    else:
        mins, curvs = _polynomial_minima(rows)
    curvs = np.maximum(curvs, 1e-6)
    return float(np.mean(mins[inverse])), float(np.mean(curvs[inverse]))


def _polynomial_minima(rows):
    """Global minimum and curvature there of each row's polynomial Σ_k rows[r, k] x^k (even degree)."""
    r, k1 = rows.shape
    d = rows[:, 1:] * np.arange(1, k1)  # V' coefficients, degree k1 − 2 (odd, leading > 0 or row-wise lower)
    mins = np.empty(r)
    curvs = np.empty(r)
    # Rows may differ in degree (trailing zeros): group them by their own degree of V'.
    nz = d != 0
    deg = np.where(nz.any(axis=1), (k1 - 2) - np.argmax(nz[:, ::-1], axis=1), 0)
    for dg in np.unique(deg):
        sel = np.flatnonzero(deg == dg)
        coef = d[sel, : dg + 1]
        comp = np.zeros((sel.size, dg, dg))
        if dg > 1:
            comp[:, np.arange(1, dg), np.arange(dg - 1)] = 1.0
        comp[:, :, -1] = -coef[:, :dg] / coef[:, dg:dg + 1]
        roots = np.linalg.eigvals(comp)  # (rows, dg): critical points
        real = np.abs(roots.imag) <= 1e-9 * np.maximum(1.0, np.abs(roots.real))
        xr = np.where(real, roots.real, np.nan)
        vals = _polyval_rows(rows[sel], xr)
        vals = np.where(real, vals, np.inf)
        best = np.argmin(vals, axis=1)
        xb = xr[np.arange(sel.size), best]
        mins[sel] = xb
        second = rows[sel, 2:] * (np.arange(2, k1) * np.arange(1, k1 - 1))
        curvs[sel] = _polyval_rows(np.concatenate([second, np.zeros((sel.size, 2))], axis=1), xb[:, None])[:, 0]
    return mins, curvs


def _polyval_rows(coef, x):
    """Σ_k coef[r, k] x[r, ...]^k (Horner), row by row."""
    out = np.zeros_like(x)
    for k in range(coef.shape[1] - 1, -1, -1):
        out = out * x + coef[:, k:k + 1]
    return out


def _custom_minimum(potential, n, lower):
    fn = potential.value_fn
    if lower == -math.inf:
        grid = np.linspace(-10.0, 10.0, 401)
    else:
        grid = lower + np.geomspace(1e-3, 20.0, 401)
    mean = np.empty(grid.size)
    _mean_over_modes(fn, grid, n, mean)
    k = min(max(int(np.argmin(mean)), 1), grid.size - 2)
    fine = np.linspace(grid[k - 1], grid[k + 1], 401)
    _mean_over_modes(fn, fine, n, mean)
    k = min(max(int(np.argmin(mean)), 1), fine.size - 2)
    h = fine[1] - fine[0]
    curv = (mean[k + 1] - 2.0 * mean[k] + mean[k - 1]) / h**2
    return float(fine[k]), float(max(curv, 1e-6)) if np.isfinite(curv) else 1e-6


@numba.njit(cache=False)
def _mean_over_modes(fn, grid, n, out):
    """out[g] = (1/n) Σ_i fn(grid[g], i) (a user's njit function: compiled once per process)."""
    for g in range(grid.shape[0]):
        s = 0.0
        for i in range(n):
            s += fn(grid[g], i)
        out[g] = s / n


# ------------------------------------------------------------------ O(n)-memory kernels

_CHUNKS = 16  # fixed accumulator slots: the same bits for any thread count
_PARALLEL_MIN_N = 2048


@njit
def _ordered_sum(acc):
    """Σ acc in index order (the same bits whatever produced the slots)."""
    total = 0.0
    for c in range(acc.shape[0]):
        total += acc[c]
    return total


@njit
def _chunk_log_sum(xr, c):
    """Σ_{i ≡ c mod _CHUNKS} Σ_{j>i} log|x_j − x_i|: one of the fixed accumulator slots."""
    s = 0.0
    for i in range(c, xr.shape[0] - 1, _CHUNKS):
        s += sum_log_dist(xr[i], xr[i + 1:])
    return s


@njit(parallel=True)
def _pair_log_rows(x, out):
    """out[r] = Σ_{i<j} log|x[r, j] − x[r, i]| (O(n) memory; inputs validated by the caller)."""
    acc = np.empty(_CHUNKS)
    for r in range(x.shape[0]):
        for c in prange(_CHUNKS):
            acc[c] = _chunk_log_sum(x[r], c)
        out[r] = _ordered_sum(acc)


@njit
def _pair_log_rows_serial(x, out):
    """:func:`_pair_log_rows` in one thread, summed in the same order (the same bits)."""
    acc = np.empty(_CHUNKS)
    for r in range(x.shape[0]):
        for c in range(_CHUNKS):
            acc[c] = _chunk_log_sum(x[r], c)
        out[r] = _ordered_sum(acc)


@njit(parallel=True)
def _force_rows(x, w, out):
    """out[r, i] = Σ_{j≠i} w_j/(x[r, i] − x[r, j]), a coincident pair counting 0 (validated by the caller)."""
    rows, n = x.shape
    for r in range(rows):
        for i in prange(n):
            xi = x[r, i]
            s = 0.0
            for j in range(n):
                d = xi - x[r, j]
                if j != i and d != 0.0:
                    s += w[j] / d
            out[r, i] = s
