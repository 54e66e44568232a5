"""Bad input for the random-matrix statistics of issue 17 (theory and spectra).

Every call with a bad argument (NaN, inf, huge or tiny numbers, bools, strings, wrong
shapes, empty arrays) must either raise ValueError/TypeError naming a parameter in
backticks, or return a finite, valid result (harness.finite) — never a traceback from
deep inside, never a NaN.
"""

from __future__ import annotations

import math
import os
import re
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from coulombgas import spectra as sp
from coulombgas import theory as th

sys.path.insert(0, os.path.dirname(__file__))
import bad_input_harness as harness  # noqa: E402

NAMED = re.compile(r"`[^`]+`")
SETTINGS = settings(max_examples=25, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

BAD = [math.nan, math.inf, -math.inf, 0.0, -1.0, 5e-324, 1e-300, 1e200, 1.7e308, True, "1", None, [1.0],
       10**400, 2.5, 3, 0, -5, 10**30]
values_bad = st.one_of(st.sampled_from(BAD), st.floats(allow_nan=True, allow_infinity=True))
SPECIAL = [[], [1.0], [[0.0, 1.0], [2.0]], [True, False, True], [math.nan, 1.0, 2.0], [math.inf, 1.0, 2.0],
           [1e308, -1e308, 0.0], [5e-324, 1e-320, 0.0, 1e-310], "abc", None, 3.0, np.zeros((2, 0)),
           np.ones((2, 3), complex), [0.0, 0.0, 0.0], np.arange(6.0).reshape(2, 3), [0.0, 1.0, 1e9],
           [1, 2, 3, 4, 5], [-1.0, 0.5, 2.0, 3.0]]
arrays = st.one_of(
    st.sampled_from(SPECIAL),
    hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=2, min_side=0, max_side=6),
               elements=st.floats(allow_nan=True, allow_infinity=True, width=64)),
    hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=2, min_side=2, max_side=8),
               elements=st.floats(0, 1e3), unique=True),
)


def clean_or_valid(call):
    try:
        with np.errstate(all="ignore"):
            result = call()
    except (ValueError, TypeError) as exc:
        assert NAMED.search(str(exc)), f"error names no parameter: {type(exc).__name__}: {exc}"
        return None
    assert harness.finite(result), f"result is not finite/valid: {result!r}"[:300]
    return result


LAWS = {
    "tracy_widom": lambda v: th.tracy_widom(v),
    "tracy_widom-scaling": lambda v: th.tracy_widom(2, scaling=v),
    "general_wigner_surmise": lambda v: th.general_wigner_surmise(v),
    "general_gap_ratio": lambda v: th.general_gap_ratio(v),
}


@pytest.mark.parametrize("name", sorted(LAWS))
@SETTINGS
@given(value=values_bad)
def test_laws(name, value):
    clean_or_valid(lambda: LAWS[name](value))


SCALARS = {
    "delta3-L": lambda v: th.delta3(v, 1),
    "delta3-beta": lambda v: th.delta3(2.0, v),
    "form_factor-beta": lambda v: th.form_factor(0.5, v),
    "edge_scaling-n": lambda v: sp.edge_scaling(v, 100),
    "edge_scaling-m": lambda v: sp.edge_scaling(100, v),
    "edge_scaling-beta": lambda v: sp.edge_scaling(10, 20, beta=v),
    "edge_scaling-sigma": lambda v: sp.edge_scaling(10, 20, sigma=v),
    "pvalue-value": lambda v: sp.largest_eigenvalue_pvalue(v, 10, 40),
    "mp_outliers-m": lambda v: sp.mp_outliers([0.5, 1.0, 1.5, 4.0], v),
    "mp_outliers-sigma": lambda v: sp.mp_outliers([0.5, 1.0, 1.5, 4.0], 40, sigma=v),
    "mp_outliers-alpha": lambda v: sp.mp_outliers([0.5, 1.0, 1.5, 4.0], 40, alpha=v),
    "mp_outliers-beta": lambda v: sp.mp_outliers([0.5, 1.0, 1.5, 4.0], 40, beta=v),
    "fit_mp-ratio": lambda v: sp.fit_marchenko_pastur([0.5, 0.8, 1.0, 1.3, 1.6], ratio=v),
    "fit_mp-sigma": lambda v: sp.fit_marchenko_pastur([0.5, 0.8, 1.0, 1.3, 1.6], sigma=v),
    "fit_mp-exclude": lambda v: sp.fit_marchenko_pastur([0.5, 0.8, 1.0, 1.3, 1.6], exclude=v),
    "fit_dyson-statistic": lambda v: sp.fit_dyson_index([0.0, 1.0, 3.0, 4.0], statistic=v),
    "fit_dyson-error": lambda v: sp.fit_dyson_index([0.0, 1.0, 3.0, 4.0], error=v),
    "fit_dyson-sort": lambda v: sp.fit_dyson_index([0.0, 1.0, 3.0, 4.0], sort=v),
    "rigidity-windows": lambda v: sp.spectral_rigidity(np.arange(20.0), [2.0], windows=v),
    "rigidity-bulk": lambda v: sp.spectral_rigidity(np.arange(20.0), [2.0], bulk=v),
    "form_factor-bulk": lambda v: sp.spectral_form_factor(np.arange(20.0), [0.5], bulk=v),
}


@pytest.mark.parametrize("name", sorted(SCALARS))
@SETTINGS
@given(value=values_bad)
def test_scalar_parameters(name, value):
    clean_or_valid(lambda: SCALARS[name](value))


ARRAYS = {
    "fit_dyson_index": lambda a: sp.fit_dyson_index(a),
    "fit_dyson_index-spacing": lambda a: sp.fit_dyson_index(a, statistic="spacing"),
    "mp_outliers": lambda a: sp.mp_outliers(a, 50),
    "fit_marchenko_pastur": lambda a: sp.fit_marchenko_pastur(a),
    "spectral_rigidity": lambda a: sp.spectral_rigidity(a, [0.5]),
    "spectral_rigidity-L": lambda a: sp.spectral_rigidity(np.arange(20.0), a),
    "spectral_form_factor": lambda a: sp.spectral_form_factor(a, [0.5]),
    "spectral_form_factor-tau": lambda a: sp.spectral_form_factor(np.arange(20.0), a),
    "pvalue": lambda a: sp.largest_eigenvalue_pvalue(a, 10, 40),
}


@pytest.mark.parametrize("beta", [1, 2, 4])
@SETTINGS
@given(a=hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=2, max_side=5),
                    elements=st.floats(allow_nan=False, allow_infinity=True, width=64)))
def test_tracy_widom_is_finite_everywhere(beta, a):
    law = th.tracy_widom(beta)
    cdf, sf, pdf = law.cdf(a), law.sf(a), law.pdf(a)
    assert np.all((cdf >= 0) & (cdf <= 1) & (sf >= 0) & (sf <= 1) & (pdf >= 0))


@pytest.mark.parametrize("name", sorted(ARRAYS))
@SETTINGS
@given(a=arrays)
def test_array_inputs(name, a):
    clean_or_valid(lambda: ARRAYS[name](a))
