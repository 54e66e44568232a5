"""plots: each figure function writes a PNG of the size it drew, and never touches pyplot's state."""
import sys

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")

from coulombgas import plots, theory  # noqa: E402


def _png(path):
    with open(path, "rb") as fh:
        head = fh.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
    return width, height


def test_figures_write_pngs_without_pyplot(tmp_path):
    backend = matplotlib.get_backend()
    rng = np.random.default_rng(0)
    x = np.sort(rng.standard_normal((3, 20, 4)), axis=-1)
    t = np.linspace(0.0, 1.0, 20)
    drawn = [
        plots.theory_figure(tmp_path / "theory.png"),
        plots.paths_figure(tmp_path / "paths.png", t, x),
        plots.density_figure(tmp_path / "density.png", rng.standard_normal(500), theory.semicircle(2.0)),
        plots.trace_figure(tmp_path / "trace.png", rng.standard_normal(100)),
        plots.loss_figure(tmp_path / "loss.png", np.arange(20), np.exp(-t) * rng.uniform(1, 2, (5, 1))),
        plots.spacing_figure(tmp_path / "spacing.png", rng.rayleigh(size=300), beta=1),
    ]
    for path in drawn:
        w, h = _png(path)
        assert w > 100 and h > 100
    # The theory overview is four panels (11 x 8 inches at 120 dpi, trimmed): wider than tall.
    w, h = _png(drawn[0])
    assert w > h
    assert matplotlib.get_backend() == backend
    assert "matplotlib.pyplot" not in sys.modules or not sys.modules["matplotlib.pyplot"].get_fignums()


def test_scaling_figure_draws_the_finite_step_fit_and_the_continuum_line(tmp_path, monkeypatch):
    """The finite-step fit is drawn at each scan point (not one slope), the continuum law as a line."""
    drawn = []
    monkeypatch.setattr(plots, "_save", lambda fig, path: drawn.append(fig) or str(path))
    c = np.array([0.01, 0.04, 0.09])
    rows = [{"c": ci, "mean_S": 1.1 * np.sqrt(ci), "mean_S_err": 0.01, "fit": np.sqrt(ci) / (1 - 2 * ci),
             "fit_continuum": np.sqrt(ci)} for ci in c]
    plots.scaling_figure(tmp_path / "s.png", rows)
    lines = {ln.get_label(): ln for ln in drawn[0].axes[0].get_lines()}
    fit = next(ln for label, ln in lines.items() if label.startswith("finite-step"))
    np.testing.assert_allclose(fit.get_ydata(), [r["fit"] for r in rows])
    cont = next(ln for label, ln in lines.items() if label.startswith("continuum"))
    np.testing.assert_allclose(cont.get_ydata(), cont.get_xdata())  # slope sqrt(c)/sqrt(c) = 1 through 0
