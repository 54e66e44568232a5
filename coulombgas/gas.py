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

import numpy as np

from . import _validate as v
from . import potentials as pot

__all__ = ["CoulombGas"]


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
        object.__setattr__(self, "n", n)
        object.__setattr__(self, "beta", v.positive("beta", self.beta))
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
        beta = v.positive("beta", beta)
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
        beta = v.positive("beta", beta)
        g_arr = v.positive_array("g", g)
        if n is None:
            if g_arr.ndim == 0:
                raise ValueError("`n` must be given when `g` is a scalar")
            n = g_arr.shape[0]
        n = v.integer("n", n, minimum=2)
        g_arr = v.positive_array("g", g_arr, (n,))
        return cls(
            n=n, beta=beta, potential=potential, drift_scale=lr,
            coulomb_scale=beta * lr**2 / batch_size, weights=g_arr**2,
            noise=math.sqrt(2.0) * lr * g_arr / math.sqrt(batch_size),
            convention="sgd", lr=lr, batch_size=batch_size, g=g_arr,
        )

    @classmethod
    def from_harvest(cls, harvest, estimate=None, **kwargs) -> "CoulombGas":
        """The gas whose SDE has the drift and noise measured in a training harvest.

        See :func:`coulombgas.training.drift_noise.gas_from_harvest` (keywords
        ``potential``, ``gradients``, ``records``, ``beta``).
        """
        from .training.drift_noise import gas_from_harvest

        return gas_from_harvest(harvest, estimate, **kwargs)

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
        """Coulomb term Σ_{j≠i} w_j/(x_i − x_j) for x of shape (..., n)."""
        x = self._check_x(x)
        d = x[..., :, None] - x[..., None, :]
        with np.errstate(divide="ignore"):
            inv = np.where(np.eye(self.n, dtype=bool), 0.0, 1.0 / np.where(d == 0, np.inf, d))
        return inv @ self.weights

    def drift(self, x) -> np.ndarray:
        """Full drift a K_i(x_i) + c Σ_{j≠i} w_j/(x_i − x_j), shape (..., n)."""
        x = self._check_x(x)
        return -self.drift_scale * self.potential.derivative(x, self.n) + self.coulomb_scale * self.force(x)

    def log_density(self, x) -> np.ndarray:
        """Unnormalised log P_s(x) = β Σ_{i<j} log|x_i − x_j| − Σ_i a V_i(x_i)/D_i, shape (...).

        Exact for a reversible gas (:attr:`stationary_is_exact`); the papers'
        Coulomb-gas approximation otherwise (SCIENCE.md §3). Returns −inf where
        two eigenvalues coincide or x leaves the potential's domain.
        """
        x = self._check_x(x)
        iu = np.triu_indices(self.n, 1)
        diff = np.abs(x[..., iu[0]] - x[..., iu[1]])
        with np.errstate(divide="ignore", invalid="ignore"):
            pair = self.beta * np.sum(np.log(diff), axis=-1)
            conf = np.sum(self.drift_scale * self.potential.value(x, self.n) / self.diffusion, axis=-1)
            out = pair - conf
        return np.where(np.isnan(out), -np.inf, out)

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
