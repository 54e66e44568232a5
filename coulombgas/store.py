"""One chunked, resumable HDF5 store for trajectories, training harvests and PyTorch recordings.

Every long run of the package streams to the same kind of file (emcee's HDF
backend idea: the records plus everything needed to continue the run exactly):

``records``
    Chunked datasets with *named axes*: a row axis (``replica`` for a
    trajectory, ``model`` for a harvest), ``record``, and the axes of one
    record (``mode``: the n eigenvalues; ``row``/``col``: a weight matrix).
    The axes are HDF5 dimension scales (the netCDF-4 convention), so the file
    opens as a labelled dataset in xarray as well as in the package::

        import xarray as xr
        ds = xr.open_dataset("run.h5", engine="h5netcdf")   # ds.x: (replica, record, mode)
        ds.x.isel(record=slice(0, int(ds.records_done.min())))

    Unwritten entries hold the fill value (NaN for floats), so a partly
    written file never shows stale numbers.
``records_done``
    The marker (one count per row, or one count): the number of leading
    records that are complete. Readers trust only these.
``/state``
    Datasets (never growing attributes) with what a resumed run needs: the
    current positions or weights, the work counters, each row's random-stream
    state (``/state/bit_generators``, one JSON string per row) and ``/state/record``, the
    number of records the state belongs to. It is not part of the labelled view.
attributes
    ``format`` = ``"coulombgas-store"``, ``version``, ``kind`` (``"trajectory"``,
    ``"harvest"``, ``"recording"``) and ``meta``: canonical JSON of what made the
    run (parameters, seed record, shapes), fixed at creation and compared on resume.

Commit order of one chunk (what makes an interrupted file consistent): the
records, then the state, a flush, then the marker and a second flush. A run
killed anywhere keeps every record up to the last marker; a resumed run
continues from the state's own record count, so it reproduces an
uninterrupted run bit for bit.

Layer 0 of the package: imports only NumPy, h5py (lazily) and the standard
library. Result objects (``Trajectory``, ``Harvest``) are built by the layers
above from the plain arrays and metadata this module returns.

References: D. Foreman-Mackey et al., emcee, ``backends/hdf.py``; the netCDF-4
data model on HDF5 dimension scales (Unidata, "NetCDF-4 format", 2008).
"""

from __future__ import annotations

import json
import math
import os

import numpy as np

__all__ = ["h5py_module", "json_default", "dumps", "write_json", "read_json", "ChunkedStore", "is_store",
           "read_store", "TrajectoryStore", "read_trajectory_arrays", "FORMAT", "VERSION"]

FORMAT = "coulombgas-store"
VERSION = 1
# Target chunk size in elements (512 KiB of float64): small enough for h5py's per-dataset
# chunk cache (set to 8 MiB below), large enough that a long run is a few thousand chunks.
_CHUNK_ELEMENTS = 2**16
_CACHE_BYTES = 8 << 20
# Names under /state that the store writes itself (a model's state arrays may not use them).
_RESERVED = frozenset({"bit_generators", "record"})


def h5py_module():
    """The :mod:`h5py` module, imported on first use, with an install hint when it is missing."""
    try:
        import h5py
    except ImportError:  # pragma: no cover - exercised only without the extra
        raise ImportError("streaming to HDF5 needs h5py: pip install 'coulombgas[hdf5]'") from None
    return h5py


def json_default(obj):
    """``json.dump``'s ``default`` for NumPy arrays and scalars (lists and Python numbers)."""
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    raise TypeError(f"cannot serialise {type(obj).__name__}")


def dumps(obj) -> str:
    """Canonical JSON (sorted keys, NumPy values allowed): equal metadata gives equal strings."""
    return json.dumps(obj, default=json_default, sort_keys=True)


def write_json(path, data) -> None:
    """Write ``data`` as indented JSON (NumPy arrays and scalars allowed), atomically."""
    tmp = f"{path}.tmp"
    with open(tmp, "w") as fh:
        json.dump(data, fh, indent=2, default=json_default, allow_nan=False)
        fh.write("\n")
    os.replace(tmp, path)


def read_json(path):
    """The JSON document in ``path``."""
    with open(path) as fh:
        return json.load(fh)


def _even(size: int, most: int) -> int:
    """The shortest chunk length <= ``most`` that needs no more chunks for ``size`` than ``most`` does.

    HDF5 stores an edge chunk whole, so 1001 records in chunks of 819 would
    cost 1638 on disk; chunks of 501 cost 1002.
    """
    pieces = -(-size // max(1, most))
    return -(-size // pieces)


def _chunks(shape, rows_axis: bool) -> tuple:
    """Chunk shape of at most ``_CHUNK_ELEMENTS``: whole trailing axes, then rows, then records."""
    shape = [max(1, int(s)) for s in shape]
    if not shape:
        return ()
    out = list(shape)
    # Trailing axes (one record of one row) whole; rows next (a chunk of records is written
    # for all rows at once); the record axis takes what is left.
    inner = 2 if rows_axis and len(shape) >= 2 else 1
    budget = max(1, _CHUNK_ELEMENTS // max(1, math.prod(shape[inner:])))
    out[0] = _even(shape[0], budget)
    if inner == 2:
        out[1] = _even(shape[1], max(1, budget // out[0]))
    return tuple(out)


def is_store(fh) -> bool:
    """Whether an open h5py file was written by :class:`ChunkedStore` (else: an older layout)."""
    return fh.attrs.get("format") == FORMAT


class ChunkedStore:
    """An HDF5 file with named axes that a run appends records to and resumes from.

    Parameters
    ----------
    path : path
        The file.
    kind : str
        What the file holds (``"trajectory"``, ``"harvest"``, ``"recording"``).
    meta : dict
        JSON-able description of the run (parameters, seed record, shapes); on
        resume it must equal the stored one.
    dims : dict, name -> int or None
        The named axes and their sizes (``None``: grows with :meth:`grow`). A
        name may be a path (``"spectra/w/mode"``) to put an axis in a group; the
        axis is called by the last part.
    fields : dict, name -> (dims tuple, dtype)
        The datasets filled while the run goes (floats start as NaN).
    data : dict, name -> (dims tuple, array), optional
        Datasets known at creation (record times, update counts).
    rows : str or None
        The row axis (``"replica"``, ``"model"``): ``records_done`` has one count
        per row; None: one count.
    resume : bool
        Reopen an existing file (its kind and ``meta`` must match) instead of
        refusing it. A missing file is created.
    overwrite : bool
        Replace an existing file.
    exists_hint : str
        The remedy named when the file exists and neither flag is set.

    Raises
    ------
    ValueError
        ``out`` exists (without ``resume``/``overwrite``); on resume, a file of
        another kind, an older layout, or a different run.

    Examples
    --------
    One chunk of two records for two replicas, committed, then read back:

    >>> import numpy as np, os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "run.h5")
    >>> with ChunkedStore(path, kind="demo", meta={"seed": 1}, rows="replica",
    ...                   dims={"replica": 2, "record": 4, "mode": 3},
    ...                   fields={"x": (("replica", "record", "mode"), "f8")}) as s:
    ...     s.write("x", (slice(None), slice(0, 2)), np.ones((2, 2, 3)))
    ...     s.save_state({"x": np.ones((2, 3))}, record=2)
    ...     s.commit(2)
    >>> back = read_store(path)
    >>> back["done"].tolist(), back["arrays"]["x"].shape, back["state"]["record"]
    ([2, 2], (2, 4, 3), np.int64(2))
    """

    def __init__(self, path, *, kind: str, meta: dict, dims: dict, fields: dict, data: dict | None = None,
                 rows: str | None = None, resume: bool = False, overwrite: bool = False,
                 exists_hint: str = "pass resume=True to continue it, or choose a new path"):
        h5py = h5py_module()
        self.path = os.fspath(path)
        self.meta_json = dumps(meta)
        exists = os.path.exists(self.path)
        if exists and resume:
            self.fh = h5py.File(self.path, "r+", rdcc_nbytes=_CACHE_BYTES)
            try:
                self._check(kind, meta)
            except ValueError:
                self.fh.close()
                raise
        else:
            if exists and not overwrite:
                raise ValueError(f"`out` file {self.path} exists; {exists_hint}")
            self.fh = h5py.File(self.path, "w", rdcc_nbytes=_CACHE_BYTES)
            self._create(kind, dims, fields, data or {}, rows)
        self._handles = {}

    # -- creation and checks -----------------------------------------------------------------
    def _create(self, kind, dims, fields, data, rows):
        fh = self.fh
        fh.attrs["format"] = FORMAT
        fh.attrs["version"] = VERSION
        fh.attrs["kind"] = kind
        fh.attrs["meta"] = self.meta_json
        for name, size in dims.items():
            scale = fh.create_dataset(name, data=np.arange(size or 0, dtype=np.int64),
                                      maxshape=(size,), chunks=(1024,) if size is None else None)
            scale.make_scale(name.rsplit("/", 1)[-1])
        for name, (axes, values) in data.items():
            self._attach(fh.create_dataset(name, data=values), axes)
        for name, (axes, dtype) in fields.items():
            dtype = np.dtype(dtype)
            shape = tuple(dims[a] or 0 for a in axes)
            maxshape = tuple(dims[a] for a in axes)
            fill = np.nan if dtype.kind == "f" else 0
            chunk_shape = [dims[a] if dims[a] is not None else 1024 for a in axes]
            ds = fh.create_dataset(name, shape=shape, maxshape=maxshape, dtype=dtype, fillvalue=fill,
                                   chunks=_chunks(chunk_shape, rows_axis=bool(rows) and axes[0] == rows))
            self._attach(ds, axes)
        done = fh.create_dataset("records_done", data=np.zeros(dims[rows] if rows else (), dtype=np.int64))
        if rows:
            self._attach(done, (rows,))
        fh.create_group("state")
        fh.flush()

    def _attach(self, ds, axes):
        for i, axis in enumerate(axes):
            ds.dims[i].attach_scale(self.fh[axis])
            ds.dims[i].label = axis.rsplit("/", 1)[-1]

    def _check(self, kind, meta):
        fh = self.fh
        if not is_store(fh):
            raise ValueError(f"`resume`: {self.path} was written by an older coulombgas (before the one "
                             "store); it still loads, but cannot be continued: start a new file")
        if fh.attrs["kind"] != kind:
            raise ValueError(f"`resume`: {self.path} holds a {fh.attrs['kind']}, not a {kind}")
        if fh.attrs["meta"] != self.meta_json:
            stored = json.loads(fh.attrs["meta"])
            new = json.loads(self.meta_json)
            differ = sorted(k for k in set(stored) | set(new) if stored.get(k) != new.get(k))
            raise ValueError(f"`resume`: {self.path} holds a different run, made with other parameters "
                             f"({', '.join(differ)} differ); use another path or resume=False")

    # -- records -----------------------------------------------------------------------------
    def dataset(self, name):
        """The h5py dataset ``name`` (handles are cached: a lookup costs more than a small write)."""
        ds = self._handles.get(name)
        if ds is None:
            ds = self._handles[name] = self.fh[name]
        return ds

    def write(self, name, index, value) -> None:
        """``dataset[index] = value`` (no flush: :meth:`commit` makes it durable)."""
        self.dataset(name)[index] = value

    def grow(self, axis: str, size: int) -> None:
        """Resize the growable axis ``axis`` (and every dataset along it) to ``size``."""
        scale = self.dataset(axis)
        old = scale.shape[0]
        scale.resize((size,))
        if size > old:
            scale[old:] = np.arange(old, size)
        for ds, i in self._along(axis):
            ds.resize(size, axis=i)

    def _along(self, axis):
        """(dataset, axis index) of every dataset attached to the scale ``axis`` (cached)."""
        key = ("along", axis)
        if key not in self._handles:
            name = self.fh[axis].name
            found = []

            def visit(_, obj):
                if hasattr(obj, "dims") and not obj.is_scale:
                    found.extend((obj, i) for i in range(obj.ndim)
                                 if any(s.name == name for s in obj.dims[i].values()))
            self.fh.visititems(visit)
            self._handles[key] = found
        return self._handles[key]

    @property
    def done(self) -> np.ndarray:
        """Complete leading records: one count per row (or a 0-d array)."""
        return self.fh["records_done"][()]

    def commit(self, done, rows=()) -> None:
        """Flush the records and state written so far, then set the marker ``records_done[rows] = done``."""
        self.fh.flush()
        self.fh["records_done"][rows] = done
        self.fh.flush()

    # -- resumable state ---------------------------------------------------------------------
    def save_state(self, arrays: dict, rng_states=None, record: int | None = None) -> None:
        """Store the state to continue from as datasets under ``/state`` (replaced, not appended).

        ``rng_states`` are ``bit_generator.state`` dicts, one per row: PCG64 ones
        (what :mod:`coulombgas._rng` makes) are packed into a (rows, 6) uint64
        array (state and increment as 64-bit halves, ``has_uint32``,
        ``uinteger``), any other kind is kept as one JSON string per row.
        """
        clash = _RESERVED.intersection(arrays)
        if clash:
            raise ValueError(f"state arrays must not be named {sorted(clash)} (the store's own)")
        items = dict(arrays)
        if rng_states is not None:
            items["bit_generators"] = _pack_states(rng_states)
        if record is not None:
            items["record"] = np.int64(record)
        grp = self.fh["state"]
        for key, value in items.items():
            value = np.asarray(value)
            old = self._handles.get(f"state/{key}") or grp.get(key)
            if old is not None and (old.shape != value.shape or old.dtype != value.dtype
                                    and (value.dtype == object or old.dtype.kind == "O")):
                del grp[key]
                old = None
            if old is None:
                old = grp.create_dataset(key, data=value,
                                         dtype=h5py_module().string_dtype() if value.dtype == object else None)
            else:
                old[...] = value
            self._handles[f"state/{key}"] = old

    def state(self) -> dict:
        """The saved state: its arrays, ``"bit_generators"`` (list of states) and ``"record"``."""
        return {key: _unpack_states(ds) if key == "bit_generators" else ds[()]
                for key, ds in self.fh["state"].items()}

    def flush(self) -> None:
        self.fh.flush()

    def close(self) -> None:
        if self.fh.id.valid:
            self.fh.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:  # closes on any exit; exceptions propagate
        self.close()


_LOW = (1 << 64) - 1


def _pack_states(states) -> np.ndarray:
    """Bit-generator states as an array: (rows, 6) uint64 when all are PCG64, else JSON strings."""
    if all(st.get("bit_generator") == "PCG64" for st in states):
        out = np.empty((len(states), 6), dtype=np.uint64)
        for row, st in zip(out, states):
            s, inc = int(st["state"]["state"]), int(st["state"]["inc"])
            row[:] = (s >> 64, s & _LOW, inc >> 64, inc & _LOW, int(st["has_uint32"]), int(st["uinteger"]))
        return out
    return np.array([json.dumps(st, default=json_default) for st in states], dtype=object)


def _unpack_states(ds) -> list:
    if ds.dtype.kind == "O":
        return [json.loads(text) for text in ds.asstr()[()]]
    return [{"bit_generator": "PCG64", "state": {"state": (int(a) << 64) | int(b), "inc": (int(c) << 64) | int(d)},
             "has_uint32": int(e), "uinteger": int(f)} for a, b, c, d, e, f in ds[()]]


def read_store(path_or_file) -> dict:
    """Everything in a store as plain values: ``kind``, ``meta`` (dict), ``done``, each dataset, ``state``.

    Datasets are read whole (named by their path, e.g. ``"spectra/w/eigenvalues"``);
    the caller cuts them at ``done``. Axis-scale datasets are left out.
    """
    def read(fh):
        if not is_store(fh):
            raise ValueError(f"{fh.filename} is not a coulombgas store file")
        out = {"kind": str(fh.attrs["kind"]), "meta": json.loads(fh.attrs["meta"]),
               "done": fh["records_done"][()], "arrays": {}, "state": {}}

        def visit(name, obj):
            if not hasattr(obj, "dtype") or name == "records_done" or obj.is_scale:
                return
            if name.startswith("state/"):
                key = name[len("state/"):]
                out["state"][key] = _unpack_states(obj) if key == "bit_generators" else obj[()]
            else:
                out["arrays"][name] = obj[()]
        fh.visititems(visit)
        return out

    if hasattr(path_or_file, "attrs"):
        return read(path_or_file)
    with h5py_module().File(os.fspath(path_or_file), "r") as fh:
        return read(fh)


# ------------------------------------------------------------------------------ trajectories

class TrajectoryStore:
    """The file :func:`coulombgas.simulate` streams to (``out=``): one :class:`ChunkedStore` of kind "trajectory".

    Layout: ``x`` (replica, record, mode) and ``t`` (record); state ``x``
    (replica, mode), ``counts`` (replica, counters: accepted, rejected, status,
    failed step, implicit steps, Newton iterations), ``gaps`` (replica, 1), ``bit_generators``.
    Record 0 (the start) is written at creation; ``records_done`` in the file
    counts it, :attr:`records_done` here counts the records after it (the
    simulation's chunk loop counts that way).
    """

    def __init__(self, path, *, gas, scheme, dt, n_records, replicas, record_every, seed, resume, x0, t_end,
                 t=None, n_counts=6):
        n = gas.n
        meta = {"gas": gas.to_dict(), "scheme": scheme, "dt": dt, "seed": seed, "record_every": record_every,
                "t_end": t_end, "replicas": replicas, "n_records": n_records}
        if t is None:
            t = np.arange(n_records) * (record_every * dt)
        self._store = ChunkedStore(
            path, kind="trajectory", meta=meta, rows="replica", resume=resume,
            dims={"replica": replicas, "record": n_records, "mode": n},
            fields={"x": (("replica", "record", "mode"), "f8")},
            data={"t": (("record",), np.asarray(t, dtype=np.float64))})
        self.path = self._store.path
        if "record" not in self._store.fh["state"]:  # a new file (or one killed before its first flush)
            self._store.write("x", (slice(None), 0), x0)
            self._store.save_state({"x": x0, "counts": np.zeros((replicas, n_counts), dtype=np.int64),
                                    "gaps": np.full((replicas, 1), np.inf)}, rng_states=[], record=0)
            self._store.commit(1)

    @property
    def records_done(self) -> int:
        """Records after record 0 that the saved state belongs to (the resume point)."""
        return int(self._store.fh["state/record"][()])

    def state(self):
        """(x, rng states, counts, gaps) at the last committed chunk."""
        s = self._store.state()
        return s["x"], s["bit_generators"], s["counts"], s["gaps"]

    def read_x(self) -> np.ndarray:
        """Records 0 .. :attr:`records_done` (the ones the state continues from)."""
        return self._store.dataset("x")[:, : self.records_done + 1, :]

    def append(self, chunk, x, rng_states, counts, gaps) -> None:
        """Write one chunk of records (replicas, k, n) and the state to continue from; commit."""
        done = self.records_done
        k = chunk.shape[1]
        self._store.write("x", (slice(None), slice(done + 1, done + 1 + k)), chunk)
        self._store.save_state({"x": x, "counts": counts, "gaps": gaps}, rng_states=rng_states, record=done + k)
        self._store.commit(done + k + 1)

    def close(self) -> None:
        self._store.close()


def read_trajectory_arrays(path) -> dict:
    """The records a streamed run wrote so far, as plain values for ``Trajectory``.

    Returns a dict with ``t`` (records,), ``x`` (replicas, records, n), ``gas``
    (the :meth:`CoulombGas.to_dict` form), ``scheme``, ``dt``, ``seed`` and
    ``diagnostics`` (``steps``, ``accepted``, ``rejected``, ``smallest_gap``,
    ``complete``). Reads the current layout and the one before the store
    (``attrs["records_done"]``, JSON random-stream states).
    """
    with h5py_module().File(os.fspath(path), "r") as f:
        meta = json.loads(f.attrs["meta"])
        if is_store(f):
            if f.attrs["kind"] != "trajectory":
                raise ValueError(f"{os.fspath(path)} holds a {f.attrs['kind']}, not a trajectory")
            records = int(np.min(f["records_done"][()]))
        else:  # the layout before the one store: the marker counted the records after record 0
            records = int(f.attrs["records_done"]) + 1
        x = f["x"][:, :records, :]
        t = f["t"][:records]
        counts = f["state/counts"][()]
        gaps = f["state/gaps"][()]
    done = records - 1
    steps = min(done * meta["record_every"], int(round(meta["t_end"] / meta["dt"]))) if meta["dt"] > 0 else 0
    diagnostics = {"steps": steps, "accepted": int(counts[:, 0].sum()), "rejected": int(counts[:, 1].sum()),
                   "smallest_gap": float(gaps.min()), "complete": records == meta["n_records"]}
    return {"t": t, "x": x, "gas": meta["gas"], "scheme": meta["scheme"], "dt": meta["dt"], "seed": meta["seed"],
            "diagnostics": diagnostics}
