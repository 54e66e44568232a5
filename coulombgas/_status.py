"""One table of kernel status codes, their meanings, and the check that raises them.

Numba kernels never raise: they stop and leave one of these integers in their
counters (with the step, sweep or chain where it happened). The Python wrapper
that launched them turns a non-``OK`` code into one error that says what went
wrong and what to do. The codes are shared by every kernel (CPU and CUDA
integrators, Monte Carlo chains), so the same number always means the same thing.
"""
from __future__ import annotations

__all__ = ["OK", "TOO_MANY_REFINEMENTS", "DIVERGED", "CROSSED", "NEWTON_FAILED", "LEFT_DOMAIN",
           "STEP_COLLAPSED", "SIMULATE_MESSAGES", "SAMPLE_MESSAGES", "raise_on_status", "ESCAPE"]

OK = 0
TOO_MANY_REFINEMENTS = 1
DIVERGED = 2
CROSSED = 3
NEWTON_FAILED = 4
LEFT_DOMAIN = 5
STEP_COLLAPSED = 6

#: |x| beyond this is treated as divergence: far below overflow of x² in any drift.
ESCAPE = 1e100

#: What a status means for an integration (`coulombgas.simulate`).
SIMULATE_MESSAGES = {
    NEWTON_FAILED: "the implicit nearest-neighbour step (Newton on a convex problem) did not converge; "
                   "this should not happen for finite input: please report it, and use "
                   "scheme='adaptive-heun' meanwhile",
    LEFT_DOMAIN: "the lowest eigenvalue left the domain of a Custom potential with a finite `lower` edge "
                 "(the implicit scheme keeps the order, but has no wall for a user potential); "
                 "use scheme='adaptive-heun' or a smaller `dt`",
    TOO_MANY_REFINEMENTS: "a step was halved `max_refinements` times without keeping every gap "
                          "within `max_gap_factor` (a collision: beta < 1, or a potential whose "
                          "force is singular); try a smaller `dt` or a larger `max_refinements`",
    DIVERGED: "the eigenvalues escaped to infinity or became non-finite (a potential that does not "
              "confine, or a step far too large for the drift); reduce `dt` or check the potential",
    CROSSED: "two eigenvalues crossed (or one left the potential's domain) under plain "
             "Euler-Maruyama; use scheme='auto' (adaptive, never crosses) or a smaller `dt`",
}

#: What a status means for a Markov chain (`coulombgas.sample`); ``{radius}`` is filled in.
SAMPLE_MESSAGES = {
    DIVERGED: "the log-density became non-finite or the chain ran away to |x| > {radius:.3g} "
              "(a potential that does not confine: V_i must grow faster than "
              "(β(n−1)/κ_i) log|x|; check a Custom potential's sign and growth)",
    STEP_COLLAPSED: "the tuned step size fell below 1e-300: every move was rejected "
                    "(a log-density that is −inf or NaN around the chain)",
}


def raise_on_status(status, where: str, *, messages=None, error=FloatingPointError, **fields) -> None:
    """Raise ``error`` for a non-OK ``status``: "<where>: <meaning>".

    ``messages`` is the table for the caller (default: :data:`SIMULATE_MESSAGES`);
    ``fields`` fill the message's ``{placeholders}``.
    """
    status = int(status)
    if status == OK:
        return
    table = SIMULATE_MESSAGES if messages is None else messages
    text = table.get(status, f"unknown kernel status {status} (please report it)")
    raise error(f"{where}: {text.format(**fields) if fields else text}")
