"""Papers 1–3's Gaussian restricted Boltzmann machine learning a free scalar field.

Model (Aarts, Lucini, Park, arXiv:2407.16427, §IV; SCIENCE.md §6). Visible
φ ∈ ℝⁿ, hidden h ∈ ℝ^{n_h}, weights W (n_h × n), no biases, action

    S(φ, h) = (μ²/2) φᵀφ + hᵀh/(2σ_h²) − hᵀWφ,       p(φ, h) ∝ e^{−S}.

Completing the square in h, then in φ, gives the two Gibbs conditionals and
the visible marginal:

    h | φ ~ N(σ_h² Wφ, σ_h² 1),     φ | h ~ N(Wᵀh/μ², 1/μ²),
    p(φ) ∝ exp(−½ φᵀ A φ),          A = μ² − σ_h² WᵀW,

normalisable only while A is positive definite.

Target: the free scalar field on a periodic 1-D lattice of n sites,
p_t(φ) ∝ exp(−½ φᵀK_φφ), K_φ = (2 + m²)δ_ij − δ_{i,j±1} (indices mod n), with
eigenvalues κ_k = m² + 2 − 2cos(2πk/n), k = 0 … n−1 (κ_k = κ_{n−k}: for even n
two singles, k = 0 and n/2, and n/2 − 1 degenerate pairs).

Loss and update. The loss is the KL divergence of the model from the target
(the negative log-likelihood up to the target's entropy),

    L(W) = KL(p_t ‖ p_W) = ½ [tr(A K_φ⁻¹) − n − ln det A + ln det K_φ],
    ∂L/∂W = −σ_h² W (K_φ⁻¹ − A⁻¹).

Training is SGD on L with the data term exact (⟨φφᵀ⟩_data = K_φ⁻¹) and the
model term ⟨φφᵀ⟩_model = A⁻¹ estimated from |B| persistent Gibbs chains:

    W ← W + α σ_h² W [K_φ⁻¹ − (1/|B|) Σ_b φ_b φ_bᵀ],

after ``gibbs_steps`` sweeps (h | φ, then φ | h) of every chain at the current
W. SCIENCE.md writes the data term without σ_h²; the two agree for the papers'
σ_h = 1, and only the form above is the gradient of L, whose fixed point
A = K_φ, i.e. eigenvalues of X = WᵀW at x_k = (μ² − κ_k)/σ_h², is the one both
quote. Representing the target needs μ² > max κ_k (checked).

Recorded ``loss``: L(W) at the recorded weights (exact, no batch noise), not a
mean over the updates since the previous record. A model whose marginal stops
being normalisable (A not positive definite), or whose L exceeds
``divergence_loss`` or is not finite, is stopped and flagged; the check runs
before every update and on the final weights.

Random streams: model i draws, from its own numpy stream and in this order,
W(0) (n_h × n, entries N(0, init_std²)); the chains' initial values z
(|B| × n), set to φ_b = L⁻ᵀ z_b with A(0) = L Lᵀ, i.e. exact independent draws
from the model's marginal at W(0) (if A(0) is not positive definite the chains
start at z/μ and the model is flagged at its first update); and 4 × 64 bits
that seed the model's Gibbs generator (xoshiro256++ of :mod:`coulombgas._prng`,
``state["rng"]``; the comment "the Gibbs sampler's random numbers" below says why). The Gibbs generator then draws,
for every update and every sweep, the hidden noise (|B| × n_h) and the visible
noise (|B| × n), each in C order, with h = σ_h² Wφ + σ_h z and φ = Wᵀh/μ² + z/μ.

Linear response (used by the tests; :func:`stationary_variance`): around the
fixed point each mode's eigenvalue is an AR(1) process
δx ← (1 − r)δx + noise, r = 2ασ_h²(μ² − κ)/κ², with noise variance
q = 8α²(μ² − κ)²/(|B|κ²), correlated over updates through the persistent chains
with coefficient b = ρ², ρ = ((μ² − κ)/μ²)^{gibbs_steps} (the chain's mode
autocorrelation per update). Its stationary variance,
s² = q(1 + ab)/((1 − a²)(1 − ab)) with a = 1 − r, tends to
2(α/|B|)(μ² − κ)/σ_h² · (1 + ρ²)/(1 − ρ²) for α → 0: the width
σ ∝ √(α/|B| · (μ² − κ)) of the papers. A degenerate pair's 2×2 block gets
GOE-like noise (off-diagonal variance s²/2), so the pair's two eigenvalues
spread around their centre with variance 3s²/2 and level repulsion.
"""

from __future__ import annotations

import math

import numpy as np
from numba import prange

from .. import _prng, _rng
from .. import _validate as v
from .._jit import njit
from ..cuda import training as cuda_training
from ._kernels import pick_device
from ._loop import check_common, check_footprint, check_run_options, run_ensemble
from .harvest import coincident_groups

__all__ = ["gaussian_rbm", "per_sample_gradients", "fixed_point", "stationary_variance", "kernel_eigenvalues",
           "chain_autocorrelation_time", "fixed_point_weights", "GRAM"]

GRAM = "WtW"
NAME = "gaussian-rbm"


# -- the target and its theory -------------------------------------------------------------------
def kernel_eigenvalues(n: int, m2: float) -> np.ndarray:
    """κ_k = m² + 2 − 2cos(2πk/n), k = 0 … n−1: eigenvalues of the periodic lattice kernel K_φ."""
    n = v.integer("n", n, minimum=2)
    m2 = v.positive("m2", m2)
    return m2 + 2.0 - 2.0 * np.cos(2.0 * np.pi * np.arange(n) / n)


def target_kernel(n: int, m2: float) -> np.ndarray:
    """K_φ = (2 + m²)1 − S − Sᵀ with S the periodic shift (for n = 2 both neighbours are one site)."""
    shift = np.roll(np.eye(n), 1, axis=1)
    return (2.0 + m2) * np.eye(n) - shift - shift.T


def fixed_point(n: int = 10, mu2: float = 9.0, m2: float = 4.0, sigma_h: float = 1.0, *,
                n_hidden: int | None = None):
    """Predicted eigenvalues of X = WᵀW at the end of training, and the table of κ_k.

    At the fixed point the model's marginal equals the target, A = K_φ, so
    X has eigenvalues x_k = (μ² − κ_k)/σ_h² in the Fourier modes of the lattice.
    With ``n_hidden`` < n, X has rank n_hidden: the KL divergence is lowest
    when the n_hidden modes with the smallest κ (largest correlations) are
    fitted and the others left at x = 0.

    Returns
    -------
    x : ndarray, shape (n,)
        Predicted eigenvalues, ascending (the order of ``Harvest.eigenvalues``).
    kappa : ndarray, shape (n,)
        κ_k for k = 0 … n−1.
    """
    kappa = kernel_eigenvalues(n, m2)
    mu2 = _check_mu2(mu2, kappa)
    sigma_h = v.positive("sigma_h", sigma_h)
    n_hidden = n if n_hidden is None else v.integer("n_hidden", n_hidden, minimum=1)
    x = (mu2 - kappa) / sigma_h**2
    if n_hidden < n:
        x[np.argsort(kappa, kind="stable")[n_hidden:]] = 0.0
    return np.sort(x), kappa


def stationary_variance(n: int = 10, mu2: float = 9.0, m2: float = 4.0, sigma_h: float = 1.0, *,
                        lr: float = 0.1, batch_size: int = 16, gibbs_steps: int = 3):
    """Linear-response variance s_k² of each mode's eigenvalue about its fixed point (module docstring).

    Returns ``(x, s2)``, both shape (n,), in the ascending order of :func:`fixed_point`
    (n_hidden ≥ n). A single mode's eigenvalue has variance s²; a degenerate
    pair's two eigenvalues have pooled variance 3s²/2 about the pair's centre.
    Valid for small α/|B| (fluctuations small against the gaps between levels).
    """
    kappa = kernel_eigenvalues(n, m2)
    mu2 = _check_mu2(mu2, kappa)
    sigma_h = v.positive("sigma_h", sigma_h)
    lr = v.positive("lr", lr)
    batch_size = v.integer("batch_size", batch_size, minimum=1)
    gibbs_steps = v.integer("gibbs_steps", gibbs_steps, minimum=1)
    x = (mu2 - kappa) / sigma_h**2
    r = 2.0 * lr * sigma_h**2 * (mu2 - kappa) / kappa**2
    q = 8.0 * lr**2 * (mu2 - kappa) ** 2 / (batch_size * kappa**2)
    if np.any(r >= 2.0):  # the linearised map δx ↦ (1 − r)δx no longer contracts
        raise ValueError(f"`lr` must be < {np.min(2.0 / (r / lr)):g} for a stable fixed point "
                         f"(2ασ_h²(μ² − κ)/κ² < 2 for every mode), got {lr:g}")
    a = 1.0 - r
    b = ((mu2 - kappa) / mu2) ** (2 * gibbs_steps)
    s2 = q * (1.0 + a * b) / ((1.0 - a * a) * (1.0 - a * b))
    order = np.argsort(x, kind="stable")
    return x[order], s2[order]


def fixed_point_weights(params) -> np.ndarray:
    """W* (n_h × n) with W*ᵀW* = the fixed point: diag(√x_k) Vᵀ over the target's Fourier modes V."""
    n, nh = params["n"], params["n_hidden"]
    kappa, V = np.linalg.eigh(target_kernel(n, params["m2"]))  # ascending κ: descending x
    x = (params["mu2"] - kappa) / params["sigma_h"] ** 2
    W = np.zeros((nh, n))
    k = min(nh, n)
    W[:k] = np.sqrt(x[:k])[:, None] * V[:, :k].T
    return W


def _check_mu2(mu2, kappa):
    mu2 = v.positive("mu2", mu2)
    if mu2 <= kappa.max():
        raise ValueError(f"`mu2` must be > max κ_k = m² + 2 − 2cos(2πk/n) = {kappa.max():g} so that the model "
                         f"can represent the target (X = WᵀW ≥ 0 needs μ² ≥ κ_k), got {mu2:g}")
    return mu2


# -- the Gibbs sampler's random numbers ---------------------------------------------------------
# Each update of each model needs gibbs_steps·|B|·(n_h + n) normals (960 in the papers' setting),
# which is most of its cost: they come from the inline xoshiro256++/ziggurat stream of
# :mod:`coulombgas._prng` (a third of the cost of a numpy Generator called from Numba), whose
# same source the CUDA kernel compiles, so both devices draw the same numbers. Each model's
# generator state (4 × uint64, ``state["rng"]``) is seeded from the model's own numpy stream and
# saved with the rest of the state, so results stay bit-identical across thread counts and resume
# exactly.


# -- training ------------------------------------------------------------------------------------
def gaussian_rbm(*, n: int = 10, n_hidden: int = 10, mu2: float = 9.0, sigma_h: float = 1.0, m2: float = 4.0,
                 lr: float = 0.1, batch_size: int = 16, gibbs_steps: int = 3, models: int = 7500,
                 steps: int = 100_000, record_every: int = 1000, seed=0, init_std: float = 0.1,
                 divergence_loss: float = 100.0, out=None, resume: bool = False, progress: bool | None = None,
                 record_weights: bool = True, device: str = "cpu", fallback: bool = False,
                 block_models: int | None = None, start: str = "random"):
    """Train an ensemble of Gaussian RBMs on the free scalar field (protocol in the module docstring).

    Parameters
    ----------
    n, n_hidden : int
        Visible sites n ≥ 2 (the lattice) and hidden units n_h ≥ 1 (10 and 10 in the papers).
    mu2, sigma_h, m2 : float
        μ² > max κ_k (9), σ_h > 0 (1), and the target's mass² m² > 0 (4).
    lr, batch_size : float, int
        Learning rate α > 0 and the number |B| ≥ 1 of persistent Gibbs chains per model.
    gibbs_steps : int
        Gibbs sweeps of every chain per update (3).
    models, steps, record_every : int
        Independent models (one random stream each), SGD updates, and updates between records.
        The papers use 7,500 models and 10⁵ updates.
    seed : int, SeedSequence or Generator
    init_std : float
        Std of W(0)'s entries (0.1).
    start : {"random", "fixed-point"}
        ``"random"`` (the papers' protocol): W(0) entries N(0, init_std²). ``"fixed-point"``:
        W(0) = diag(√x_k*) Vᵀ (rows padded with zeros for n_h > n; the n_h largest levels
        for n_h < n), V the target's Fourier modes, so X(0) = WᵀW is the fixed point of
        :func:`fixed_point` exactly: for stationary studies without the long approach. The
        random draws of W(0) are made (and discarded) either way, so the streams are the same.
    divergence_loss : float
        A model whose KL divergence exceeds this (or whose marginal is not normalisable) is
        stopped and flagged.
    out : path, optional
        Stream records to this HDF5 file (``resume=True`` continues an interrupted run).
    device : {"cpu", "cuda"}
        ``"cuda"`` runs the updates on an NVIDIA GPU (extra ``gpu``; one thread per model,
        the same random streams, so the same results within rounding); the working set of
        one model, 3·n_h·n + |B|(n + n_h) + 2n² values, must stay within
        :data:`coulombgas.cuda.training.RBM_MAX_VALUES`. Without a GPU, ValueError unless
        ``fallback=True`` (warn, run on the CPU).
    block_models : int, optional
        Models trained at once (memory); default 2048 (CPU) or what fits in a quarter of
        the GPU's free memory.

    Returns
    -------
    Harvest
        ``eigenvalues`` of X = WᵀW (models, records, n), ascending, which approach
        :func:`fixed_point`; ``singular_values`` of W; ``loss`` the KL divergence
        KL(target ‖ model) at each record; ``weights`` (models, records, n_h, n).

    Examples
    --------
    >>> h = gaussian_rbm(models=8, steps=200, record_every=100, progress=False)
    >>> h.eigenvalues.shape
    (8, 3, 10)
    """
    # Every check before any work, on either device: flags, sizes and the memory the run needs.
    check_run_options(out, resume, progress, record_weights)
    params, models, steps, record_every = validated(n, n_hidden, mu2, sigma_h, m2, lr, batch_size, gibbs_steps,
                                                    models, steps, record_every, init_std, divergence_loss)
    if start != "random":  # recorded only when used: harvests of the papers' protocol keep their params
        params["start"] = v.one_of("start", start, ("random", "fixed-point"))
    n, nh, bs = params["n"], params["n_hidden"], params["batch_size"]
    # Per model: the chains φ and z (bs, n), hidden draws (nh, bs), W and A (nh·n, n²) with copies.
    per_model = 8.0 * (3.0 * bs * n + 2.0 * nh * bs + 4.0 * nh * n + 4.0 * n * n + 8)
    check_footprint(models=models, steps=steps, record_every=record_every, weight_shape=(nh, n), gram=GRAM,
                    data_bytes=per_model, block_models=2048, record_weights=record_weights)
    if device == "cuda" and cuda_training.rbm_values(n, nh, bs) > cuda_training.RBM_MAX_VALUES:
        raise ValueError(f"`n`, `n_hidden` and `batch_size` must keep 3·n_h·n + |B|(n + n_h) + 2n² <= "
                         f"{cuda_training.RBM_MAX_VALUES} on device='cuda' (one GPU thread holds one model), "
                         f"got {cuda_training.rbm_values(n, nh, bs)}; use device='cpu'")
    run, block_models = pick_device(device, fallback, block_models, advance, cuda_advance,
                                    cpu_block=2048, device_bytes=8 * (nh * n + bs * n + 4 + 3), models=models)
    return run_ensemble(init, run, GRAM, params, models=models, steps=steps, record_every=record_every, seed=seed,
                        name=NAME, out=out, resume=resume, progress=progress, block_models=block_models,
                        record_weights=record_weights)


def validated(n, n_hidden, mu2, sigma_h, m2, lr, batch_size, gibbs_steps, models, steps, record_every, init_std,
              divergence_loss):
    """Checked arguments of :func:`gaussian_rbm` (CPU and GPU): ``(params, models, steps, record_every)``."""
    lr, batch_size, models, steps, record_every = check_common(lr, batch_size, models, steps, record_every)
    n = v.integer("n", n, minimum=2)
    v.fits_in_memory("`n` x `n` (the target kernel and the weights)", 8.0 * 8 * float(n) * n)
    m2 = v.positive("m2", m2)
    kappa = kernel_eigenvalues(n, m2)
    params = {
        "lr": lr, "batch_size": batch_size, "n": n, "n_hidden": v.integer("n_hidden", n_hidden, minimum=1),
        "mu2": _check_mu2(mu2, kappa), "sigma_h": _check_sigma_h(sigma_h), "m2": m2,
        "gibbs_steps": v.integer("gibbs_steps", gibbs_steps, minimum=1),
        "init_std": v.nonnegative("init_std", init_std),
        "divergence_loss": v.positive("divergence_loss", divergence_loss),
    }
    return params, models, steps, record_every


def _check_sigma_h(sigma_h):
    """σ_h in (0, 1e100]: σ_h² W multiplies every Gibbs draw and must stay a finite float."""
    sigma_h = v.positive("sigma_h", sigma_h)
    if sigma_h > 1e100:
        raise ValueError(f"`sigma_h` must be in (0, 1e100], got {sigma_h:g}")
    return sigma_h


def _target(params):
    """K_φ⁻¹ and ln det K_φ of the run's target."""
    K = target_kernel(params["n"], params["m2"])
    return np.linalg.inv(K), float(np.linalg.slogdet(K)[1])


def init(params, gens):
    """Initial weights and persistent chains of every model (stream order in the module docstring)."""
    count, n, nh, bs = len(gens), params["n"], params["n_hidden"], params["batch_size"]
    mu2, s2 = params["mu2"], params["sigma_h"] ** 2
    W = np.empty((count, nh, n))
    z = np.empty((count, bs, n))
    rng = np.empty((count, 4), dtype=np.uint64)
    for i, g in enumerate(gens):
        W[i] = params["init_std"] * g.standard_normal((nh, n))
        z[i] = g.standard_normal((bs, n))
        rng[i] = _prng.seed_state(g)
    if params.get("start", "random") == "fixed-point":
        W[:] = fixed_point_weights(params)
    # Exact draws from each model's marginal: φ_b = L⁻ᵀ z_b, Cov = (L Lᵀ)⁻¹ = A⁻¹.
    A = mu2 * np.eye(n) - s2 * np.matmul(W.transpose(0, 2, 1), W)
    try:  # all models at once
        chol = np.linalg.cholesky(A)
        phi = np.linalg.solve(chol.transpose(0, 2, 1), z.transpose(0, 2, 1)).transpose(0, 2, 1)
    except np.linalg.LinAlgError:  # some A(0) not positive definite: those start at z/μ and are flagged
        phi = z / math.sqrt(mu2)
        for m in range(count):
            try:
                chol = np.linalg.cholesky(A[m])
            except np.linalg.LinAlgError:
                continue
            phi[m] = np.linalg.solve(chol.T, z[m].T).T
    kinv, logdet_k = _target(params)  # the target, once per block, for the kernels of both devices
    return {"kinv": kinv, "logdet_k": logdet_k}, {"W": W, "phi": phi, "rng": rng}


def advance(data, state, gens, n_steps, params):
    """``n_steps`` updates of every model; returns the KL divergence at the final weights."""
    return _advance(state["W"], state["phi"], state["rng"], state["step"], state["diverged"], n_steps,
                    params["lr"], params["mu2"], params["sigma_h"], params["gibbs_steps"], data["kinv"],
                    data["logdet_k"], params["divergence_loss"], _prng.ZIG_W, _prng.ZIG_K, _prng.ZIG_F, _prng.ZIG_R)


@njit
def _kl(W, A, kinv, mu2, s2, logdet_k):
    """KL(p_t ‖ p_W) = ½[tr(A K⁻¹) − n − ln det A + ln det K], A = μ² − σ_h²WᵀW; inf if A is not positive definite.

    ``A`` is scratch (n × n), overwritten: its lower triangle by the Cholesky factor L (A = LLᵀ).
    Loops run over contiguous rows (full rows of A, dot products of L's rows) so that they vectorise.
    """
    nh, n = W.shape
    for i in range(n):
        for j in range(n):
            A[i, j] = 0.0
    for a in range(nh):
        for i in range(n):
            c = -s2 * W[a, i]
            for j in range(n):
                A[i, j] += c * W[a, j]
    tr = 0.0
    for i in range(n):
        A[i, i] += mu2
        for j in range(n):
            tr += A[i, j] * kinv[i, j]
    # Left-looking Cholesky; the product of the pivots is det A, logged once.
    det = 1.0
    logdet = 0.0
    for j in range(n):
        d = A[j, j]
        for k in range(j):
            d -= A[j, k] * A[j, k]
        if not (d > 0.0):  # also catches NaN
            return np.inf
        det *= d
        if det < 1e-200 or det > 1e200:  # keep the running product representable
            logdet += math.log(det)
            det = 1.0
        inv = 1.0 / math.sqrt(d)
        for i in range(j + 1, n):
            acc = A[i, j]
            for k in range(j):
                acc -= A[i, k] * A[j, k]
            A[i, j] = acc * inv
    logdet += math.log(det)
    return 0.5 * (tr - n - logdet + logdet_k)


@njit
def _gibbs(w_h, w_v, p, h, s, sweeps, sigma_h, inv_mu, zw, zk, zf, zr):
    """``sweeps`` Gibbs sweeps of the chains ``p`` (site, chain): h ~ N(w_h p, σ_h²), then φ ~ N(w_vᵀh, 1/μ²).

    ``w_h`` = σ_h² W and ``w_v`` = W/μ²; ``h`` (hidden, chain) is left at the last sweep's
    hidden state. Noise is drawn per sweep in (chain, hidden unit), then (chain, site) order.
    """
    nh, n = w_h.shape
    bs = p.shape[1]
    for sweep in range(sweeps):
        _prng.fill_normals(s, h, sigma_h, zw, zk, zf, zr)
        for a in range(nh):
            for i in range(n):
                c = w_h[a, i]
                for b in range(bs):
                    h[a, b] += c * p[i, b]
        _prng.fill_normals(s, p, inv_mu, zw, zk, zf, zr)
        for a in range(nh):
            for i in range(n):
                c = w_v[a, i]
                for b in range(bs):
                    p[i, b] += c * h[a, b]


def _sample_chains(W, phi, state, sweeps, mu2, sigma_h):
    """Run ``sweeps`` Gibbs sweeps of the chains ``phi`` (chains, n) at fixed ``W`` (n_h, n).

    The kernel's sampler, exposed for tests: returns the final (φ, h), shapes
    (chains, n) and (chains, n_h); ``state`` (xoshiro256++, 4 × uint64) advances in place.
    """
    W = np.ascontiguousarray(W, dtype=float)
    nh, n = W.shape
    p = np.ascontiguousarray(np.asarray(phi, dtype=float).T)
    bs = p.shape[1]
    h = np.empty((nh, bs))
    _gibbs(sigma_h**2 * W, W / mu2, p, h, state, int(sweeps),
           float(sigma_h), 1.0 / math.sqrt(mu2), _prng.ZIG_W, _prng.ZIG_K, _prng.ZIG_F, _prng.ZIG_R)
    return p.T.copy(), h.T.copy()


@njit
def update_model(w, p, h, w_h, w_v, scratch, d, s, kinv, step, n_steps, lr, mu2, sigma_h, sweeps, logdet_k, limit,
                 zw, zk, zf, zr):
    """``n_steps`` PCD updates of one model: the body the CPU kernel and its CUDA twin both compile.

    ``w`` (n_h, n) the weights and ``p`` (n, |B|) the chains (site, chain), updated in place;
    ``s`` the model's xoshiro256++ state; ``h``, ``w_h``, ``w_v`` (n_h, |B|), (n_h, n), (n_h, n)
    and ``scratch``, ``d`` (n, n) are work arrays. Returns ``(kl, step, flag)``: the KL
    divergence at the final weights, the update count, and ``flag`` = the update at which the
    model stopped (KL above ``limit``, not finite, or a non-normalisable marginal; counted from
    1; 0 if none). Inputs are validated by the caller.
    """
    nh, n = w.shape
    bs = p.shape[1]
    s2 = sigma_h * sigma_h
    inv_mu = 1.0 / math.sqrt(mu2)
    scale = lr * s2
    inv_bs = 1.0 / bs
    flag = 0
    kl = _kl(w, scratch, kinv, mu2, s2, logdet_k)
    for it in range(n_steps):
        if not (kl <= limit):  # also catches NaN and a non-normalisable model (inf)
            flag = step + 1
            break
        for a in range(nh):
            for i in range(n):
                w_h[a, i] = s2 * w[a, i]  # σ_h² W: mean of h | φ
                w_v[a, i] = w[a, i] / mu2  # W/μ²: mean of φ | h
        _gibbs(w_h, w_v, p, h, s, sweeps, sigma_h, inv_mu, zw, zk, zf, zr)
        # D = K⁻¹ − (1/|B|) Σ_b φ_b φ_bᵀ, then W ← W + α σ_h² W D.
        for i in range(n):
            for j in range(i, n):
                acc = 0.0
                for b in range(bs):
                    acc += p[i, b] * p[j, b]
                d[i, j] = kinv[i, j] - acc * inv_bs
                d[j, i] = d[i, j]
        for a in range(nh):
            for j in range(n):
                acc = 0.0
                for i in range(n):
                    acc += w[a, i] * d[j, i]  # (W D)_aj, D symmetric: contiguous dot products
                scratch[0, j] = acc
            for j in range(n):
                w[a, j] += scale * scratch[0, j]
        step += 1
        kl = _kl(w, scratch, kinv, mu2, s2, logdet_k)
    if flag == 0 and not (kl <= limit):
        flag = step + 1
    return kl, step, flag


@njit(parallel=True)
def _advance(W, phi, rng, step, diverged, n_steps, lr, mu2, sigma_h, sweeps, kinv, logdet_k, limit,
             zw, zk, zf, zr):
    """:func:`update_model` for every model in parallel (module docstring); inputs are validated by the caller."""
    models, nh, n = W.shape
    bs = phi.shape[1]
    loss_out = np.full(models, np.nan)  # NaN stays for a model stopped earlier
    for m in prange(models):
        if diverged[m] == 0:
            # Private working copies; chains stored transposed (site, chain) so that the
            # inner loops run over the contiguous chain axis and vectorise.
            s = rng[m].copy()
            w = W[m].copy()
            p = np.ascontiguousarray(phi[m].T)
            kl, step[m], diverged[m] = update_model(
                w, p, np.empty((nh, bs)), np.empty((nh, n)), np.empty((nh, n)), np.empty((n, n)), np.empty((n, n)),
                s, kinv, step[m], n_steps, lr, mu2, sigma_h, sweeps, logdet_k, limit, zw, zk, zf, zr)
            W[m] = w
            phi[m] = p.T
            rng[m] = s
            if diverged[m] == 0:
                loss_out[m] = kl
    return loss_out


def cuda_advance(data, state, gens, n_steps, params):
    """:func:`advance` on the GPU: :func:`update_model` compiled for the device, one thread per model."""
    return cuda_training.gaussian_rbm_advance(data, state, gens, n_steps, params, update=update_model)


# -- per-sample gradients ------------------------------------------------------------------------
def per_sample_gradients(harvest, record: int = -1, samples: int | None = None, *, autocorrelation: bool = True):
    """Per-sample update directions at recorded weights, from exact samples of the model.

    Returns ``(W, G)``: W (models, n_h, n) the weights at ``record`` and
    G (models, S, n_h, n) with

        G_b = σ_h² W (Φ_b − K_φ⁻¹),

    so that one SGD update is W ← W − α mean_{b∈B} G_b and E[G_b] = ∂L/∂W, the
    gradient of the KL loss. The φ_b are S = ``samples`` (default 64·|B|)
    independent exact draws from the model's marginal N(0, A⁻¹),
    A = μ² − σ_h²WᵀW, at the recorded W: φ_b = L⁻ᵀ z_b with A = L Lᵀ and z_b
    standard normal. Exact draws, not the persistent chains, because the
    chains' states at a record are not stored and, being a few sweeps behind
    a moving W and correlated from one update to the next, they are not
    samples of the model at that W.

    **Persistent-chain autocorrelation** (``autocorrelation=True``, the default).
    Training's chains are not fresh: one Gibbs sweep maps mode k of φ (eigenvector
    of A, eigenvalue a_k) to ρ_k φ_k + noise with ρ_k = (μ² − a_k)/μ² = σ_h² x_k/μ²,
    so after ``gibbs_steps`` sweeps per update the batch covariance's entry (k, l) in
    that basis has autocorrelation (ρ_kρ_l)^{gibbs_steps·t} at lag t updates. What
    the eigenvalue SDE needs is the long-run noise per update, the per-update variance
    times the integrated autocorrelation time τ_kl = (1 + b_kl)/(1 − b_kl),
    b_kl = (ρ_kρ_l)^{gibbs_steps}. So Φ_b = φ_bφ_bᵀ is used as
    A⁻¹ + √τ ∘ (φ_bφ_bᵀ − A⁻¹) in A's eigenbasis: the same mean, each entry's variance
    multiplied by τ_kl (entries of a Gaussian outer product are uncorrelated in that
    basis). In the papers' setting τ ≤ 1.06 (top level); with ``gibbs_steps = 1`` up to
    ≈ 1.9. ``autocorrelation=False``: the fresh-sample variance (τ = 1).

    Stream: model i's samples at record index r (counted from 0) use the
    r-th spawned child of model i's seed sequence, i.e.
    ``SeedSequence(entropy, spawn_key=seed_key + (i, r))``, which training
    never uses; the first S samples are the same whatever S.

    Raises ValueError when the harvest has no weights or a model's marginal is
    not normalisable at that record.
    """
    if harvest.weights is None:
        raise ValueError("the harvest has no weights (train with record_weights=True)")
    records = harvest.records
    r = v.integer("record", record, minimum=-records, maximum=records - 1) % records
    autocorrelation = v.flag("autocorrelation", autocorrelation)
    p = harvest.params
    samples = 64 * int(p["batch_size"]) if samples is None else v.integer("samples", samples, minimum=1)
    kinv, _ = _target(p)
    mu2, s2 = p["mu2"], p["sigma_h"] ** 2
    W = harvest.weights[:, r]
    n = W.shape[-1]
    base = _rng.from_record(harvest.seed)
    G = np.empty((len(W), samples) + W.shape[1:])
    for row, i in enumerate(harvest.model_ids):
        A = mu2 * np.eye(n) - s2 * W[row].T @ W[row]
        try:
            chol = np.linalg.cholesky(A)
        except np.linalg.LinAlgError:
            raise ValueError(f"model {int(i)}'s marginal is not normalisable at record {r} "
                             "(μ² − σ_h²WᵀW is not positive definite)") from None
        ss = np.random.SeedSequence(base.entropy, spawn_key=tuple(base.spawn_key) + (int(i), r))
        z = np.random.Generator(np.random.PCG64(ss)).standard_normal((samples, n))
        phi = np.linalg.solve(chol.T, z.T).T
        outer = phi[:, :, None] * phi[:, None, :]
        if autocorrelation:
            a, tau, V = chain_autocorrelation_time(A, mu2, p["gibbs_steps"])
            pe = phi @ V  # coordinates in A's eigenbasis
            mean = np.diag(1.0 / a)
            oe = mean + (pe[:, :, None] * pe[:, None, :] - mean) * np.sqrt(tau)
            outer = V @ oe @ V.T
        G[row] = s2 * np.einsum("ai,bij->baj", W[row], outer - kinv)
    return W, G


def chain_autocorrelation_time(A, mu2, gibbs_steps):
    """(a, τ, V): A's eigenvalues a (ascending) and eigenvectors V, and the integrated
    autocorrelation time τ_kl = (1 + b_kl)/(1 − b_kl), b_kl = (ρ_kρ_l)^{gibbs_steps},
    ρ_k = (μ² − a_k)/μ², of the batch covariance's entries along the persistent chains
    (one update = ``gibbs_steps`` sweeps; :func:`per_sample_gradients`)."""
    a, V = np.linalg.eigh(A)
    rho = np.clip((mu2 - a) / mu2, 0.0, 1.0 - 1e-12)
    b = np.outer(rho, rho) ** gibbs_steps
    return a, (1.0 + b) / (1.0 - b), V


def degenerate_groups(harvest) -> list[tuple[int, ...]]:
    """Index groups of the ascending fixed point that coincide: the κ_k = κ_{n−k} pairs."""
    p = harvest.params
    x, _ = fixed_point(p["n"], p["mu2"], p["m2"], p["sigma_h"], n_hidden=p["n_hidden"])
    return coincident_groups(x, 1e-9 * max(1.0, float(np.abs(x).max())))
