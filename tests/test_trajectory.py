"""Trajectory: shapes, views and an exact save/load round trip (npz and the streamed HDF5 file)."""
import numpy as np
import pytest

import coulombgas as cg
from coulombgas.trajectory import Trajectory


def test_views_and_round_trip(tmp_path):
    tr = cg.simulate(cg.CoulombGas.gaussian(4, beta=2.0), 0.05, 0.01, replicas=3, seed=5)
    assert tr.x.shape == (3, 6, 4) and tr.replicas == 3
    np.testing.assert_array_equal(tr.final(), tr.x[:, -1])
    assert tr.flat(discard=2).shape == (3 * 4, 4)
    with pytest.raises(ValueError, match="`discard`"):
        tr.flat(discard=6)
    tr.save(tmp_path / "t.npz")
    back = Trajectory.load(tmp_path / "t.npz")
    np.testing.assert_array_equal(back.x, tr.x)
    np.testing.assert_array_equal(back.t, tr.t)
    assert (back.scheme, back.dt, back.seed, back.diagnostics) == (tr.scheme, tr.dt, tr.seed, tr.diagnostics)
    assert back.gas.to_dict() == tr.gas.to_dict()


def test_streamed_file_loads_as_the_run(tmp_path):
    pytest.importorskip("h5py")
    gas = cg.CoulombGas.gaussian(3)
    tr = cg.simulate(gas, 0.05, 0.01, replicas=2, seed=1, out=tmp_path / "run.h5")
    back = Trajectory.load(tmp_path / "run.h5")
    np.testing.assert_array_equal(back.x, tr.x)
    np.testing.assert_array_equal(back.t, tr.t)
    assert back.diagnostics["complete"] is True
