"""The one store (coulombgas.store): layout, commit order, resume checks, xarray views, earlier files.

``tests/data/v0_*`` were written by the version before the store (``tests/data/make_v0_files.py``)
together with what its loaders read from them (``v0_expected.*``): they must load identically.
"""

import json
import os
import shutil

import numpy as np
import pytest

import coulombgas as cg
from coulombgas import store as st

h5py = pytest.importorskip("h5py")

DATA = os.path.join(os.path.dirname(__file__), "data")
HARVEST_FIELDS = ("eigenvalues", "singular_values", "loss", "steps", "model_ids", "diverged_ids", "diverged_step",
                  "weights")


@pytest.fixture(scope="module")
def v0():
    with np.load(os.path.join(DATA, "v0_expected.npz")) as fh:
        arrays = dict(fh)
    with open(os.path.join(DATA, "v0_expected.json")) as fh:
        return arrays, json.load(fh)


def _same_harvest(h, arrays, meta, prefix):
    for name in HARVEST_FIELDS:
        key = f"{prefix}_{name}"
        if key in arrays:
            np.testing.assert_array_equal(getattr(h, name), arrays[key], err_msg=name)
            assert getattr(h, name).dtype == arrays[key].dtype, name
        else:
            assert getattr(h, name) is None, name
    m = meta[prefix]
    assert (h.model, h.params, h.seed, h.gram) == (m["model"], m["params"], m["seed"], m["gram"])


# ------------------------------------------------------------------ files of the earlier layouts

def test_v0_trajectory_loads_as_before(v0):
    arrays, meta = v0
    traj = cg.Trajectory.load(os.path.join(DATA, "v0_trajectory.h5"))
    np.testing.assert_array_equal(traj.x, arrays["traj_x"])
    np.testing.assert_array_equal(traj.t, arrays["traj_t"])
    m = meta["traj"]
    assert traj.gas.to_dict() == m["gas"] and traj.scheme == m["scheme"] and traj.dt == m["dt"]
    assert traj.seed == m["seed"] and traj.diagnostics == m["diagnostics"]


@pytest.mark.parametrize("name,prefix", [("v0_harvest_stream.h5", "stream"), ("v0_harvest.npz", "saved"),
                                         ("v0_harvest.h5", "saved")])
def test_v0_harvests_load_as_before(v0, name, prefix):
    _same_harvest(cg.training.Harvest.load(os.path.join(DATA, name)), *v0, prefix)


def test_v0_torch_recording_loads_as_before(v0):
    pytest.importorskip("torch")
    h = cg.training.TorchRecorder.load(os.path.join(DATA, "v0_torch.h5"), "weight")
    _same_harvest(h, *v0, "torch")


def test_new_files_hold_the_same_numbers_as_the_v0_files(v0, tmp_path):
    """The runs that wrote the v0 files, streamed again into the new layout, give the same records."""
    arrays, meta = v0
    gas = cg.CoulombGas.gaussian(3, beta=2.0)
    cg.simulate(gas, 0.2, 0.01, replicas=2, record_every=4, seed=7, chunk_records=2, out=tmp_path / "t.h5")
    traj = cg.Trajectory.load(tmp_path / "t.h5")
    np.testing.assert_array_equal(traj.x, arrays["traj_x"])
    assert traj.diagnostics == meta["traj"]["diagnostics"]
    cg.training.teacher_student(models=3, steps=12, record_every=4, seed=3, epoch_batches=4, batch_size=4,
                                out=tmp_path / "h.h5")
    _same_harvest(cg.training.Harvest.load(tmp_path / "h.h5"), arrays, meta, "stream")


def test_v0_interrupted_runs_load_as_before():
    """Files of runs killed mid-way (``make_v0_files.partial``): the records up to the last committed chunk."""
    with np.load(os.path.join(DATA, "v0_partial_expected.npz")) as fh:
        arrays = dict(fh)
    with open(os.path.join(DATA, "v0_partial_expected.json")) as fh:
        meta = json.load(fh)
    traj = cg.Trajectory.load(os.path.join(DATA, "v0_trajectory_partial.h5"))
    np.testing.assert_array_equal(traj.x, arrays["traj_x"])
    np.testing.assert_array_equal(traj.t, arrays["traj_t"])
    assert traj.diagnostics == meta["traj"]["diagnostics"] and not traj.diagnostics["complete"]
    h = cg.training.Harvest.load(os.path.join(DATA, "v0_harvest_partial.h5"))
    _same_harvest(h, arrays, meta, "stream")
    assert h.models == 3 and h.records == 4  # the finished first block; the second had not finished


def test_an_old_layout_file_is_not_resumed(tmp_path):
    path = tmp_path / "old.h5"
    shutil.copy(os.path.join(DATA, "v0_trajectory.h5"), path)
    gas = cg.CoulombGas.gaussian(3, beta=2.0)
    with pytest.raises(ValueError, match="older coulombgas"):
        cg.simulate(gas, 0.2, 0.01, replicas=2, record_every=4, seed=7, chunk_records=2, out=path, resume=True)
    shutil.copy(os.path.join(DATA, "v0_harvest_partial.h5"), tmp_path / "old_h.h5")
    with pytest.raises(ValueError, match="older coulombgas"):
        cg.training.teacher_student(models=5, steps=12, record_every=4, seed=2, epoch_batches=4, batch_size=4,
                                    out=tmp_path / "old_h.h5", resume=True)


# ------------------------------------------------------------------ the store itself

def _small(path, **kw):
    return st.ChunkedStore(path, kind="test", meta={"a": 1, "seed": {"entropy": 5, "spawn_key": []}},
                           dims={"replica": 2, "record": 4, "mode": 3},
                           fields={"x": (("replica", "record", "mode"), "f8"), "flag": (("replica",), "i8")},
                           data={"t": (("record",), np.arange(4.0) / 2)}, rows="replica",
                           state={"x": np.zeros((2, 3))}, rng_rows=2, **kw)


def test_store_records_state_and_marker(tmp_path):
    path = tmp_path / "s.h5"
    x = np.arange(24.0).reshape(2, 4, 3)
    gens = [np.random.default_rng(i) for i in range(2)]
    with _small(path) as s:
        assert s.done.tolist() == [0, 0]
        s.write("x", (slice(None), slice(0, 2)), x[:, :2])
        assert not path.exists()  # built as s.h5.part; it takes the name at the first commit
        s.save_state({"x": x[:, 1]}, [g.bit_generator.state for g in gens], record=2)
        s.commit(2)
        assert path.exists() and not (tmp_path / "s.h5.part").exists()
        s.write("x", (slice(None), 2), x[:, 2])  # written, never committed: not a record yet
        s.save_state({"x": x[:, 2]}, record=3)  # staged, never committed: not the state yet
    back = st.read_store(path)
    assert back["kind"] == "test" and back["meta"] == {"a": 1, "seed": {"entropy": 5, "spawn_key": []}}
    assert back["done"].tolist() == [2, 2]
    np.testing.assert_array_equal(back["arrays"]["x"][:, :3], x[:, :3])
    assert np.isnan(back["arrays"]["x"][:, 3]).all()  # unwritten entries are the fill value
    np.testing.assert_array_equal(back["arrays"]["t"], np.arange(4.0) / 2)
    assert back["state"]["record"] == 2
    np.testing.assert_array_equal(back["state"]["x"], x[:, 1])
    assert back["state"]["bit_generators"] == [g.bit_generator.state for g in gens]
    # Reopened for resume: the state comes back as saved, and a stream set from it continues exactly.
    with _small(path, resume=True) as s:
        state = s.state()
        np.testing.assert_array_equal(state["x"], x[:, 1])
        g = np.random.default_rng()
        g.bit_generator.state = state["bit_generators"][1]
        assert g.random() == gens[1].random()
        s.save_state({"x": np.zeros((1, 3))}, [gens[0].bit_generator.state], record=3)  # fewer rows
        s.commit(3, slice(0, 1))
        assert s.state()["x"].shape == (1, 3) and len(s.state()["bit_generators"]) == 1
        with pytest.raises(ValueError, match="must not be named"):
            s.save_state({"record": np.zeros(1)})
        with pytest.raises(ValueError, match="was not declared"):
            s.save_state({"y": np.zeros(1)})
        with pytest.raises(ValueError, match=r"has room for \(2, 3\)"):
            s.save_state({"x": np.zeros((3, 3))})
    back = st.read_store(path)
    assert back["done"].tolist() == [3, 2] and back["state"]["x"].shape == (1, 3)
    with h5py.File(path) as fh:  # two state slots of fixed size, never attributes
        assert set(fh["state"]) == {"0", "1"}
        assert set(fh["state/0"]) == {"x", "bit_generators", "record", "lengths", "commit", "checksum"}
        assert set(fh.attrs) == {"format", "version", "kind", "meta", "rows"}


def test_store_refuses_existing_other_kind_and_other_run(tmp_path):
    path = tmp_path / "s.h5"
    _small(path).close()
    assert not path.exists()  # never committed: a refused or failed start leaves no file
    with _small(path) as s:
        s.commit(0)
    with pytest.raises(ValueError, match="exists; pass resume=True"):
        _small(path)
    with _small(path, overwrite=True) as s:
        s.commit(0)
    with pytest.raises(ValueError, match="holds a test, not a trajectory"):
        st.ChunkedStore(path, kind="trajectory", meta={}, dims={}, fields={}, resume=True)
    with pytest.raises(ValueError, match=r"different run, made with other parameters \(a, b differ\)"):
        st.ChunkedStore(path, kind="test", meta={"a": 2, "b": 0, "seed": {"entropy": 5, "spawn_key": []}},
                        dims={}, fields={}, resume=True)


def test_store_grows_an_open_axis(tmp_path):
    path = tmp_path / "g.h5"
    with st.ChunkedStore(path, kind="test", meta={}, dims={"record": None, "g/mode": 2},
                         fields={"v": (("record",), "i8"), "g/w": (("record", "g/mode"), "f8")}) as s:
        for r in range(40):
            if r >= s.dataset("v").shape[0]:
                s.grow("record", max(16, 2 * s.dataset("v").shape[0]))
                if r:  # resized on a copy: the file keeps its committed form until the next commit
                    assert st.read_store(path)["arrays"]["v"].shape == (r,)
            s.write("v", r, r)
            s.write("g/w", r, [r, -r])
            s.commit(r + 1)
        assert s.dataset("record").shape == (64,) and s.dataset("g/w").shape == (64, 2)
    back = st.read_store(path)
    assert int(back["done"]) == 40
    np.testing.assert_array_equal(back["arrays"]["v"][:40], np.arange(40))
    np.testing.assert_array_equal(back["arrays"]["g/w"][:40, 1], -np.arange(40))


def test_json_helpers(tmp_path):
    data = {"a": np.arange(3), "b": np.float64(0.5), "c": [np.int64(2)]}
    st.write_json(tmp_path / "d.json", data)
    assert st.read_json(tmp_path / "d.json") == {"a": [0, 1, 2], "b": 0.5, "c": [2]}
    assert st.dumps({"b": 1, "a": np.int32(2)}) == '{"a": 2, "b": 1}'
    with pytest.raises(TypeError, match="cannot serialise object"):
        st.dumps({"a": object()})
    with pytest.raises(ValueError):
        st.write_json(tmp_path / "e.json", {"a": float("nan")})  # strict JSON: no NaN
    assert not (tmp_path / "e.json").exists()


def test_streamed_divergence_matches_the_in_memory_run(tmp_path):
    kw = dict(models=6, steps=40, record_every=10, seed=1, lr=1.2, batch_size=2, epoch_batches=4,
              progress=False)
    mem = cg.training.teacher_student(**kw)
    assert len(mem.diverged_ids) > 0 and mem.models > 0  # the case this test is about
    streamed = cg.training.teacher_student(out=tmp_path / "d.h5", **kw)
    for name in HARVEST_FIELDS:
        np.testing.assert_array_equal(getattr(streamed, name), getattr(mem, name), err_msg=name)
    mem.save(tmp_path / "saved.h5")
    saved = cg.training.Harvest.load(tmp_path / "saved.h5")
    for name in HARVEST_FIELDS:
        np.testing.assert_array_equal(getattr(saved, name), getattr(mem, name), err_msg=name)


# ------------------------------------------------------------------ xarray views

def test_trajectory_and_harvest_files_open_in_xarray(tmp_path):
    xr = pytest.importorskip("xarray")
    pytest.importorskip("h5netcdf")
    gas = cg.CoulombGas.gaussian(4, beta=1.0)
    cg.simulate(gas, 0.3, 0.01, replicas=3, record_every=5, seed=2, chunk_records=2, out=tmp_path / "t.h5")
    traj = cg.Trajectory.load(tmp_path / "t.h5")
    with xr.open_dataset(tmp_path / "t.h5", engine="h5netcdf") as ds:
        assert ds.x.dims == ("replica", "record", "mode") and ds.t.dims == ("record",)
        assert dict(ds.sizes) == {"replica": 3, "record": 7, "mode": 4}
        np.testing.assert_array_equal(ds.x.values, traj.x)
        np.testing.assert_array_equal(ds.t.values, traj.t)
        np.testing.assert_array_equal(ds.records_done.values, [7, 7, 7])
        np.testing.assert_array_equal(ds.mode.values, np.arange(4))
        assert json.loads(ds.attrs["meta"])["seed"] == traj.seed and ds.attrs["kind"] == "trajectory"

    h = cg.training.teacher_student(models=3, steps=20, record_every=5, seed=4, out=tmp_path / "h.h5",
                                    progress=False)
    h.save(tmp_path / "saved.h5")
    for name in ("h.h5", "saved.h5"):
        with xr.open_dataset(tmp_path / name, engine="h5netcdf") as ds:
            assert ds.eigenvalues.dims == ("model", "record", "mode")
            assert ds.weights.dims == ("model", "record", "row", "col") and ds.loss.dims == ("model", "record")
            assert dict(ds.sizes)["record"] == h.records
            np.testing.assert_array_equal(ds.eigenvalues.values, h.eigenvalues)
            np.testing.assert_array_equal(ds.weights.values, h.weights)
            np.testing.assert_array_equal(ds.steps.values, h.steps)
            np.testing.assert_array_equal(ds.model_id.values, h.model_ids)


def test_torch_recording_opens_in_xarray(tmp_path):
    xr = pytest.importorskip("xarray")
    pytest.importorskip("h5netcdf")
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    net = torch.nn.Linear(3, 2)
    rec = cg.training.TorchRecorder(net, every=1, record_weights=True, out=tmp_path / "r.h5")
    for u in range(5):
        rec.step(float(u))
    rec.detach()
    h = cg.training.TorchRecorder.load(tmp_path / "r.h5", "weight")
    with xr.open_dataset(tmp_path / "r.h5", engine="h5netcdf") as ds:
        done = int(ds.records_done)
        assert done == 6 and ds.steps.dims == ("record",)
        np.testing.assert_array_equal(ds.steps.values[:done], h.steps)
    with xr.open_dataset(tmp_path / "r.h5", engine="h5netcdf", group="spectra/weight") as ds:
        assert ds.eigenvalues.dims == ("record", "mode") and ds.weights.dims == ("record", "row", "col")
        np.testing.assert_array_equal(ds.eigenvalues.values[:done], h.eigenvalues[0])
        np.testing.assert_array_equal(ds.weights.values[:done], h.weights[0])


# ------------------------------------------------------------------ size on disk

def test_file_bytes_stay_close_to_the_data_bytes(tmp_path):
    """Chunking costs little: a streamed run's file is its float64 records plus a small fixed overhead."""
    gas = cg.CoulombGas.gaussian(20, beta=1.0)
    cg.simulate(gas, 50.0, 0.05, replicas=4, record_every=1, seed=0, out=tmp_path / "t.h5", chunk_records=64)
    data = 4 * 1001 * 20 * 8 + 1001 * 8  # x and t
    size = os.path.getsize(tmp_path / "t.h5")
    assert data < size < 1.1 * data + 64 * 1024, (size, data)
