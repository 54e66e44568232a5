"""Reports of single runs (coulombgas.report.runs): the closed-form law a gas should show, and its check."""

import math

import numpy as np
import pytest

import coulombgas as cg
from coulombgas import potentials
from coulombgas.report import density_check, matching_law


@pytest.mark.parametrize("beta", [1.0, 2.0, 4.0])
@pytest.mark.parametrize("n", [5, 40])
def test_gaussian_gas_matches_the_semicircle_of_radius_sqrt_2n(n, beta):
    # P ∝ Π|x_i − x_j|^β exp(−β Σ x_i²/2): the GβE, whose density is a semicircle of radius √(2n).
    law, shift, label = matching_law(cg.CoulombGas.gaussian(n, beta=beta))
    assert shift == 0.0 and label.startswith("semicircle")
    assert law.support() == pytest.approx((-math.sqrt(2 * n), math.sqrt(2 * n)), rel=1e-12)


def test_two_sgd_modes_match_the_two_mode_density():
    # SGD form: σ_i = w_i √(T g²) with T = α/|B| (SCIENCE.md §4), centred on the common centre.
    lr, batch, g, widths = 0.1, 10, 1.5, (0.6, 1.7)
    gas = cg.CoulombGas.from_sgd(potentials.Quadratic(center=1.0, width=list(widths)), g, lr=lr, batch_size=batch,
                                 n=2)
    law, shift, label = matching_law(gas)
    sigma = [w * math.sqrt(lr / batch * g**2) for w in widths]
    assert shift == pytest.approx(1.0) and "two-mode" in label
    ref = cg.theory.two_mode_density(*sigma)
    x = np.linspace(-1.0, 1.0, 41)
    assert np.allclose(law.pdf(x), ref.pdf(x), rtol=1e-12, atol=0)


def test_no_law_without_a_common_quadratic():
    assert matching_law(cg.CoulombGas.dyson(potentials.Quartic(t=1.0, g=1.0), 6, beta=1.0)) is None
    assert matching_law(cg.CoulombGas.dyson(potentials.Quadratic(center=[0.0, 1.0, 2.0]), 3, beta=1.0)) is None
    x = np.ones((4, 6))
    centred, law, label, check = density_check(x, cg.CoulombGas.dyson(potentials.Quartic(t=1.0, g=1.0), 6, beta=1.0))
    assert centred is x and law is label is check is None


def test_density_check_mirrors_pairs_and_thins():
    gas = cg.CoulombGas.from_sgd(potentials.Quadratic(center=0.5, width=[1.0, 2.0]), 1.0, lr=0.1, batch_size=10, n=2)
    law, shift, _ = matching_law(gas)
    x = law.rvs(size=(3000, 1), random_state=np.random.default_rng(1)) + shift
    x = np.concatenate([x, x + 0.01], axis=1)
    centred, law2, _, check = density_check(x, gas, seed=3)
    same = np.all(centred == x - shift, axis=1)
    flipped = np.all(centred == -(x - shift), axis=1)
    assert np.all(same ^ flipped)  # each row mirrored as a whole, or not at all
    assert 0.4 < flipped.mean() < 0.6  # a fair coin: 3000 rows, |z| < 5.5
    assert set(check) == {"law", "ks_statistic", "ks_pvalue"}
    # thinning: every ⌊size/max_points⌋-th value enters the test
    thin = density_check(x, gas, seed=3, max_points=1000)[3]
    flat = centred.ravel()[:: centred.size // 1000]
    assert thin["ks_statistic"] == cg.spectra.goodness_of_fit(flat, law2, "ks").statistic
