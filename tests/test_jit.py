"""The Numba preset: cached kernels are invalidated by a change anywhere in the package."""

import os
import subprocess
import sys
import textwrap

PROBE = textwrap.dedent("""
    import sys
    import numpy as np
    from coulombgas import _jit
    if sys.argv[1] == "changed":
        _jit.package_digest = lambda: "another version of the package"
    from coulombgas import _pairs
    x = np.sort(np.random.default_rng(0).standard_normal(50))
    out = np.empty_like(x)
    _pairs.direct_force(x, np.ones_like(x), out)
    stats = _pairs.direct_force.stats
    print(sum(stats.cache_hits.values()), sum(stats.cache_misses.values()))
""")


def _run(tmp_path, variant):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path))
    out = subprocess.run([sys.executable, "-c", PROBE, variant], env=env, capture_output=True,
                         text=True, check=True)
    hits, misses = map(int, out.stdout.split())
    return hits, misses


def test_cache_is_reused_until_any_package_source_changes(tmp_path):
    assert _run(tmp_path, "same") == (0, 1)       # cold: compiled and written
    assert _run(tmp_path, "same") == (1, 0)       # warm: loaded
    assert _run(tmp_path, "changed") == (0, 1)    # another package digest: recompiled


def test_package_digest_follows_the_sources():
    from coulombgas import _jit
    d = _jit.package_digest()
    assert len(d) == 64 and d == _jit.package_digest()
