"""Figures: the theory overview, eigenvalue paths, and densities against theory.

All functions draw on a :class:`matplotlib.figure.Figure` with its own Agg canvas,
save a PNG and return its path; none of them shows a window. pyplot is never
imported and ``matplotlib.use`` is never called, so importing this module leaves
the user's backend (and any open pyplot figures) as they were.
"""

from __future__ import annotations

import os

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from . import spectra, theory

__all__ = ["theory_figure", "paths_figure", "density_figure", "trace_figure", "ensemble_paths_figure",
           "loss_figure", "spacing_figure", "pair_density_figure", "scaling_figure", "trajectories_figure",
           "stationary_figure"]


def _subplots(nrows=1, ncols=1, *, figsize=None, **kwargs):
    """What pyplot's ``subplots`` gives, without pyplot: a Figure on its own Agg canvas (no global state)."""
    fig = Figure(figsize=figsize)
    FigureCanvasAgg(fig)
    return fig, fig.subplots(nrows, ncols, **kwargs)


def _save(fig, path) -> str:
    path = os.fspath(path)
    fig.savefig(path, dpi=120, bbox_inches="tight")
    return path


def theory_figure(path, *, sigmas=((1.0, 1.0), (0.5, 1.5), (0.3, 2.0))) -> str:
    """Four panels: Wigner surmises, exact vs surmise spacing, gap ratios, two-mode densities."""
    s = np.linspace(0.0, 3.5, 400)
    fig, ax = _subplots(2, 2, figsize=(11, 8))
    a = ax[0, 0]
    for beta in (1, 2, 4):
        a.plot(s, theory.wigner_surmise(beta).pdf(s), label=f"surmise β={beta}")
    a.plot(s, theory.poisson_spacing().pdf(s), "k--", label="Poisson")
    a.set(xlabel="s", ylabel="P(s)", title="Wigner surmises (mean spacing 1)")
    a.legend()

    a = ax[0, 1]
    for beta, color in ((1, "C0"), (2, "C1")):
        a.plot(s, theory.spacing(beta).pdf(s), color=color, label=f"exact N=∞, β={beta}")
        a.plot(s, theory.wigner_surmise(beta).pdf(s), color=color, ls=":", label=f"surmise β={beta}")
    inset = a.inset_axes([0.58, 0.35, 0.38, 0.3])
    for beta, color in ((1, "C0"), (2, "C1")):
        inset.plot(s, theory.spacing(beta).pdf(s) - theory.wigner_surmise(beta).pdf(s), color=color)
    inset.axhline(0, color="k", lw=0.5)
    inset.set_title("exact − surmise", fontsize=8)
    inset.tick_params(labelsize=7)
    a.set(xlabel="s", ylabel="P(s)", title="Gaudin–Mehta spacing laws (Fredholm determinants)")
    a.legend(loc="upper left", fontsize=8)

    a = ax[1, 0]
    r = np.linspace(0.0, 1.0, 300)
    for beta in (1, 2, 4):
        law = theory.gap_ratio(beta)
        a.plot(r, law.pdf(r), label=f"β={beta}, ⟨r⟩={law.mean():.4f}")
    law = theory.gap_ratio("poisson")
    a.plot(r, law.pdf(r), "k--", label=f"Poisson, ⟨r⟩={law.mean():.4f}")
    a.set(xlabel="r̃ = min/max of adjacent gaps", ylabel="P(r̃)", title="Gap-ratio laws (Atas et al. 2013)")
    a.legend(fontsize=8)

    a = ax[1, 1]
    x = np.linspace(-5, 5, 500)
    for s1, s2 in sigmas:
        a.plot(x, theory.two_mode_density(s1, s2).pdf(x), label=f"σ₁={s1:g}, σ₂={s2:g}")
    a.set(xlabel="x − κ", ylabel="ρ(x)", title="Two-mode Coulomb gas: one-point density")
    a.legend(fontsize=8)
    fig.suptitle("coulombgas: closed-form laws")
    fig.tight_layout()
    return _save(fig, path)


def paths_figure(path, t, x, *, max_replicas: int = 5, title: str = "eigenvalue paths") -> str:
    """Eigenvalue paths x_i(t) of the first few replicas; x has shape (replicas, records, n)."""
    fig, ax = _subplots(figsize=(8, 5))
    n = x.shape[-1]
    for r in range(min(max_replicas, x.shape[0])):
        for i in range(n):
            ax.plot(t, x[r, :, i], color=f"C{r % 10}", lw=0.7, alpha=0.8)
    ax.set(xlabel="t", ylabel="eigenvalues", title=f"{title} ({min(max_replicas, x.shape[0])} replicas)")
    return _save(fig, path)


def density_figure(path, samples, law=None, *, label: str = "theory", title: str = "density") -> str:
    """Histogram of ``samples`` (Freedman–Diaconis, with Poisson error bars) against ``law.pdf``."""
    h = spectra.histogram(np.ravel(samples))
    fig, ax = _subplots(figsize=(7, 5))
    ax.errorbar(h.centers, h.density, yerr=h.error, fmt=".", ms=3, color="C0", label="simulation")
    if law is not None:
        grid = np.linspace(h.edges[0], h.edges[-1], 600)
        ax.plot(grid, law.pdf(grid), "C3", label=label)
    ax.set(xlabel="x", ylabel="density", title=title)
    ax.legend()
    return _save(fig, path)


def trace_figure(path, values, *, title: str = "trace") -> str:
    """Trace plot of a Markov-chain statistic; ``values`` has shape (chains, draws)."""
    values = np.atleast_2d(values)
    fig, ax = _subplots(figsize=(8, 4))
    for c, row in enumerate(values):
        ax.plot(row, lw=0.5, color=f"C{c % 10}", label=f"chain {c}" if values.shape[0] <= 8 else None)
    ax.set(xlabel="draw", ylabel="value", title=title)
    if values.shape[0] <= 8:
        ax.legend(fontsize=8)
    return _save(fig, path)


def ensemble_paths_figure(path, steps, x, *, title: str = "eigenvalue paths", xlabel: str = "SGD update") -> str:
    """Ensemble mean (line) and 16–84 % band (shade) of every mode; x is (models, records, n)."""
    fig, ax = _subplots(figsize=(8, 5))
    lo, mid, hi = np.percentile(x, [16, 50, 84], axis=0)
    for i in range(x.shape[-1]):
        ax.plot(steps, x.mean(axis=0)[:, i], color=f"C{i % 10}", lw=1)
        ax.fill_between(steps, lo[:, i], hi[:, i], color=f"C{i % 10}", alpha=0.25, lw=0)
    ax.set(xlabel=xlabel, ylabel="eigenvalues", title=f"{title} ({x.shape[0]} models: mean, 16–84 %)")
    return _save(fig, path)


def loss_figure(path, steps, loss, *, title: str = "training loss") -> str:
    """Median and 16–84 % band of the loss over models, log scale; loss is (models, records)."""
    fig, ax = _subplots(figsize=(7, 4.5))
    lo, mid, hi = np.percentile(loss, [16, 50, 84], axis=0)
    ax.plot(steps, mid, "C0", label="median")
    ax.fill_between(steps, lo, hi, color="C0", alpha=0.25, lw=0, label="16–84 %")
    if np.all(loss > 0):
        ax.set_yscale("log")
    ax.set(xlabel="SGD update", ylabel="loss", title=title)
    ax.legend()
    return _save(fig, path)


def spacing_figure(path, s, *, beta: float = 1, title: str = "normalised spacings", raw=None,
                   sigmas=None) -> str:
    """Histogram of normalised spacings against the Wigner surmise and the Poisson law.

    With ``raw`` (unnormalised spacings S) and ``sigmas`` (σ₁, σ₂), a second panel shows S
    against the exact two-mode Rayleigh law of SCIENCE.md §4.
    """
    h = spectra.histogram(np.ravel(s))
    if raw is not None:
        fig, (ax, ax2) = _subplots(1, 2, figsize=(13, 5))
        hr = spectra.histogram(np.ravel(raw))
        ax2.errorbar(hr.centers, hr.density, yerr=hr.error, fmt=".", ms=3, color="C0", label="data")
        grid = np.linspace(0, hr.edges[-1], 600)
        s1, s2 = sigmas
        ax2.plot(grid, theory.two_mode_spacing(s1, s2).pdf(grid), "C3",
                 label=f"two-mode law, σ = {s1:.3g}, {s2:.3g}")
        ax2.set(xlabel="S", ylabel="density", title="spacing against the two-mode law (fitted σ's)")
        ax2.legend()
    else:
        fig, ax = _subplots(figsize=(7, 5))
    ax.errorbar(h.centers, h.density, yerr=h.error, fmt=".", ms=3, color="C0", label=f"data ({np.size(s)})")
    grid = np.linspace(0, max(3.5, h.edges[-1]), 600)
    ax.plot(grid, theory.wigner_surmise(beta).pdf(grid), "C3", label=f"Wigner surmise β={beta:g}")
    ax.plot(grid, theory.poisson_spacing().pdf(grid), "C7--", label="Poisson")
    ax.set(xlabel="s = S/⟨S⟩", ylabel="density", title=title)
    ax.legend()
    return _save(fig, path)


def pair_density_figure(path, harvest, fits) -> str:
    """Mirror-averaged late-time density of each degenerate pair against the two-mode laws."""
    fig, axes = _subplots(1, len(fits), figsize=(6 * len(fits), 4.5), squeeze=False)
    late = harvest.late(0.5)
    for ax, f in zip(axes[0], fits):
        x = late[..., list(f["pair"])] - f["centre"]
        x = np.concatenate([x.ravel(), -x.ravel()])
        h = spectra.histogram(x)
        ax.errorbar(h.centers, h.density, yerr=h.error, fmt=".", ms=3, color="C0", label="training (late)")
        grid = np.linspace(h.edges[0], h.edges[-1], 600)
        s1, s2 = f["sigma"]
        ax.plot(grid, theory.two_mode_density(s1, s2).pdf(grid), "C3",
                label=f"two-component σ = {s1:.3g}, {s2:.3g}")
        se = f["sigma_equal"]
        ax.plot(grid, theory.two_mode_density(se, se).pdf(grid), "C2--", label=f"equal σ = {se:.3g}")
        ax.set(xlabel="x − centre", ylabel="density", title=f"pair {tuple(f['pair'])}")
        ax.legend(fontsize=8)
    return _save(fig, path)


def scaling_figure(path, rows) -> str:
    """⟨S⟩ against √(α c/|B|) over a scan, with the fitted laws: the finite-step one at each point
    (``rows[i]["fit"]``) and the continuum line through the origin (``"fit_continuum"``)."""
    fig, ax = _subplots(figsize=(7, 5))
    x = np.sqrt([r["c"] for r in rows])
    y = np.array([r["mean_S"] for r in rows])
    e = np.array([r["mean_S_err"] for r in rows])
    ax.errorbar(x, y, yerr=e, fmt="o", ms=4, color="C0", label="⟨S⟩ (training)")
    grid = np.linspace(0, x.max() * 1.05, 50)
    if "fit_continuum" in rows[0]:  # the continuum law: a line through the origin
        slope = rows[0]["fit_continuum"] / x[0]
        ax.plot(grid, slope * grid, "C7", ls="--", label=f"continuum fit, slope {slope:.4g}")
    if "fit" in rows[0]:  # the finite-step law: its value at each point of the scan
        order = np.argsort(x)
        label = "finite-step fit" if "fit_continuum" in rows[0] else "fit through origin"
        ax.plot(x[order], np.array([r["fit"] for r in rows])[order], "C3-o", ms=3, label=label)
    ax.set(xlabel="√(α c/|B|)", ylabel="⟨S⟩", title="linear scaling rule")
    ax.legend()
    return _save(fig, path)


def trajectories_figure(path, steps, harvested, simulated) -> str:
    """Ensemble mean and 16–84 % band of every mode in time: training against the simulated SDE.

    Left: the whole run (symmetric-log time axis, so the early relaxation shows); right:
    the last half, zoomed onto the fluctuations.
    """
    fig, axes = _subplots(1, 2, figsize=(13, 5))
    half = len(steps) // 2
    for ax, sl in ((axes[0], slice(None)), (axes[1], slice(half, None))):
        for data, style, label in ((harvested, "-", "training"), (simulated, "--", "SDE")):
            d = data[:, sl]
            lo, hi = np.percentile(d, [16, 84], axis=0)
            mean = d.mean(axis=0)
            for i in range(d.shape[-1]):
                ax.plot(steps[sl], mean[:, i], style, color=f"C{i % 10}", lw=1, label=label if i == 0 else None)
                ax.fill_between(steps[sl], lo[:, i], hi[:, i], color=f"C{i % 10}",
                                alpha=0.15 if style == "-" else 0.08, lw=0)
        ax.set(xlabel="SGD update", ylabel="eigenvalues of X")
        ax.legend()
    axes[0].set_xscale("symlog", linthresh=max(1.0, float(steps[1]) if len(steps) > 1 else 1.0))
    axes[0].set_title("training vs eigenvalue SDE (mean, 16–84 %)")
    axes[1].set_title("last half")
    return _save(fig, path)


def stationary_figure(path, late, stationary) -> str:
    """Per-mode histograms: late-time training eigenvalues against stationary Monte Carlo draws."""
    n = late.shape[-1]
    fig, axes = _subplots(1, min(n, 4), figsize=(4 * min(n, 4), 3.8), squeeze=False)
    for i, ax in zip(range(n), axes[0]):
        for data, color, label in ((late[..., i].ravel(), "C0", "training (late)"),
                                   (stationary[:, i], "C3", "stationary gas")):
            h = spectra.histogram(data)
            ax.step(h.centers, h.density, where="mid", color=color, label=label)
        ax.set(xlabel=f"x_{i}", ylabel="density")
        ax.legend(fontsize=7)
    fig.suptitle("stationary Monte Carlo vs late-time harvest" + (" (first 4 modes)" if n > 4 else ""))
    return _save(fig, path)
