"""coulombgas.io: the old public storage names, now a facade over coulombgas.store."""

import json

import numpy as np
import pytest

import coulombgas as cg
from coulombgas import io, store


def test_io_names_are_the_store_ones():
    assert io.TrajectoryStore is store.TrajectoryStore  # so patching io.TrajectoryStore reaches simulate
    assert io.write_json is store.write_json and io.json_default is store.json_default
    assert io.read_json is store.read_json


def test_write_json_is_atomic_and_numpy_aware(tmp_path):
    path = tmp_path / "summary.json"
    io.write_json(path, {"x": np.linspace(0, 1, 3), "n": np.int64(4), "ok": np.bool_(True)})
    text = path.read_text()
    assert text.endswith("\n") and json.loads(text) == {"x": [0.0, 0.5, 1.0], "n": 4, "ok": True}
    assert not (tmp_path / "summary.json.tmp").exists()


def test_read_trajectory_matches_the_simulation(tmp_path):
    pytest.importorskip("h5py")
    gas = cg.CoulombGas.gaussian(3, beta=2.0)
    kw = dict(replicas=2, record_every=3, seed=11, chunk_records=2)
    mem = cg.simulate(gas, 0.25, 0.01, **kw)
    cg.simulate(gas, 0.25, 0.01, out=tmp_path / "r.h5", **kw)
    back = io.read_trajectory(tmp_path / "r.h5")
    assert isinstance(back, cg.Trajectory)
    np.testing.assert_array_equal(back.x, mem.x)
    np.testing.assert_array_equal(back.t, mem.t)
    assert back.gas == gas and back.seed == mem.seed and back.scheme == mem.scheme and back.dt == mem.dt
    assert back.diagnostics["complete"] and back.diagnostics["steps"] == mem.diagnostics["steps"]
    assert back.diagnostics["accepted"] == mem.diagnostics["accepted"]
    assert back.diagnostics["smallest_gap"] == mem.diagnostics["smallest_gap"]
