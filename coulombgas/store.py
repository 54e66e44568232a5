"""One chunked, resumable HDF5 store for trajectories, training harvests and PyTorch recordings.

Every long run streams to the same kind of file (emcee's HDF backend idea: the
records plus everything needed to continue the run exactly):

``records``
    Chunked datasets with *named axes* (HDF5 dimension scales, the netCDF-4
    convention: ``xr.open_dataset(path, engine="h5netcdf")`` labels them; cut
    at ``records_done``): rows (``replica``, ``model``), ``record``, and the axes
    of one record (``mode``, ``row``/``col``). Unwritten entries are NaN.
``/checksums``
    A :func:`checksum` per record (and row or block of rows) of each dataset.
``/state/0``, ``/state/1``
    Two slots, used in turn: what a resumed run needs (positions or weights,
    counters, PCG64 states as (rows, 6) uint64, ``record``), the commit marker
    (sequence number, records done, first and last row) and a checksum over
    both. ``records_done`` mirrors the newest marker for other readers.
attributes
    ``format``, ``version`` (2), ``kind``, ``rows``, ``meta`` (canonical JSON of the
    run's parameters, compared on resume).

Why this survives a kill at any moment. HDF5 keeps metadata and chunks in
its caches and writes them at a flush in its own order; a kill inside a flush
can leave half-written metadata ("bad object header version number"), and
chunks reach the file out of program order. So (1) the file is built whole as
``path.part`` (every chunk placed at creation, fixed-size state slots) and
moved over ``path`` at its first commit: during the run a write only
overwrites bytes in place and no HDF5 metadata ever changes (growing an axis
works on a copy that replaces the file at the next commit); (2) a commit
flushes the records, then writes the older slot and flushes again. A slot
whose checksum verifies was written after its records reached the file; a
kill in the middle of a slot leaves the other one, a commit older, as the
resume point. Resuming from it reproduces the uninterrupted run bit for bit
(tests/test_kill.py kills real writers at random moments to show it).

Why a truncated copy keeps its leading records. The head of the file holds
all of its metadata (one sized block), the axes, state slots and checksums;
the record chunks follow in record order across the datasets
(:mod:`coulombgas._h5layout`). :func:`open_h5` reads a file shorter than its
superblock says with the tail as zeros: the records lost fail their checksums,
the error names the first, and ``read_store(path, prefix=True)`` returns those
before it. A record whose checksum lies past the cut too, or that the cut
chunk index no longer reaches, counts as lost whatever the comparison says (an
axis that grew puts checksum chunks and index nodes among the records, where
zeros could otherwise match zeros).

Layer 0: NumPy, h5py (lazily) and the standard library. References:
D. Foreman-Mackey et al., emcee, ``backends/hdf.py``; Unidata, "NetCDF-4
format" (2008); J. L. Carter, M. N. Wegman, J. Comput. Syst. Sci. 18 (1979) 143.
"""

from __future__ import annotations

import json
import os
import shutil

import numpy as np

from ._durable import (block_checksums, checksum, damage_message, dumps, index_shape, json_default, read_json,
                       write_json)
from ._h5layout import (ZeroPadded, allocate_in_record_order, chunk_shape, end_of_address, field_chunks, mark_cut,
                        meta_block_bytes, metadata_spilled, read_surviving, walk)
from ._rng import pack_pcg64, unpack_pcg64

__all__ = ["h5py_module", "json_default", "dumps", "write_json", "read_json", "ChunkedStore", "is_store",
           "read_store", "TrajectoryStore", "read_trajectory_arrays", "FORMAT", "VERSION", "StoreError",
           "checksum", "open_h5"]

FORMAT = "coulombgas-store"
VERSION = 2
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


def _key_ndim(axes, rows) -> int:
    """Axes one checksum covers the rest of: up to ``record``, else the row axis, else none."""
    names = [a.rsplit("/", 1)[-1] for a in axes]
    if "record" in names:
        return names.index("record") + 1
    return 1 if rows and axes and axes[0] == rows else 0


class StoreError(ValueError):
    """A store file that is empty, truncated, damaged, or cannot be continued (the message says which and why)."""


def open_h5(path, mode="r", **kw):
    """``h5py.File(path, mode)``, with a :class:`StoreError` naming the file when HDF5 cannot open it.

    A file cut short (shorter than its superblock says) is opened for reading
    with the missing tail read as zeros (:mod:`coulombgas._h5layout`): the
    records there fail their checksums, so :func:`read_store` names the first
    lost one and, with ``prefix=True``, returns those before it.
    """
    h5py = h5py_module()
    path = os.fspath(path)
    size = os.path.getsize(path) if os.path.exists(path) else None
    try:
        if size == 0 and mode in ("r", "r+"):  # HDF5 2 would take an empty file for a new one in r+
            raise OSError("no superblock")
        return h5py.File(path, mode, **kw)
    except (OSError, RuntimeError) as exc:
        if size is None:
            raise
        end = end_of_address(path) if size else None
        if end is None or size >= end:
            what = "empty (0 bytes)" if size == 0 else f"damaged ({size} bytes; HDF5 says: {exc})"
            raise StoreError(f"{path} cannot be opened: the file is {what}. Nothing in it can be read; run again "
                             "with a new path (or overwrite=True / --force), or restore a copy") from None
        cut = f"{path} is truncated ({size} of its {end} bytes)"
        if mode != "r":
            raise StoreError(f"{cut}: it cannot be continued; the records before the cut can be read with "
                             f"coulombgas.store.read_store({path!r}, prefix=True)") from None
        fh = None
        try:  # every object and attribute, read now: the head (the index) must be whole
            fh = h5py.File(ZeroPadded(path, end), "r", **kw)
            for _, obj in walk(fh):
                dict(obj.attrs)
            dict(fh.attrs)
        except (OSError, RuntimeError, KeyError, ValueError):
            if fh is not None:
                fh.close()
            raise StoreError(f"{cut}, inside the index at its head: nothing in it can be read; restore a "
                             "copy or run again") from None
        fh.coulombgas_truncated = (path, cut, size)  # the file's own name: h5py sees a file object
        return fh


def is_store(fh) -> bool:
    """Whether an open h5py file was written by :class:`ChunkedStore` (else: an older layout)."""
    return fh.attrs.get("format") == FORMAT


def _early(h5py, incremental=False):
    """A dataset creation list that allocates every chunk at creation (``H5D_ALLOC_TIME_EARLY``), or,
    ``incremental``, as each is first written (the store writes them all at creation, in record order)."""
    dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
    dcpl.set_alloc_time(h5py.h5d.ALLOC_TIME_INCR if incremental else h5py.h5d.ALLOC_TIME_EARLY)
    return dcpl


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
    state : dict, name -> array, optional
        What :meth:`save_state` will store (examples: their shapes and dtypes
        fix the space; a later value may have fewer rows). ``record`` is added.
    rng_rows : int, optional
        The number of PCG64 random-stream states :meth:`save_state` will store.
    row_block : int or None
        Rows one checksum covers, per record (default 1; None: all rows). Writes
        of a field then cover whole blocks (a trajectory writes every replica at
        once, a training run a block of models): 8 bytes a record per block.
    resume, overwrite : bool
        Reopen an existing file (kind and ``meta`` must match; a missing one is
        created), or replace it (atomically, at the first commit).
    exists_hint : str
        The remedy named when the file exists and neither flag is set.

    Raises
    ------
    ValueError
        ``out`` exists (without ``resume``/``overwrite``); on resume, a file of
        another kind, an older layout, or a different run; :class:`StoreError`
        (a ValueError): on resume, a file empty, damaged or with no valid commit.

    Examples
    --------
    One chunk of two records for two replicas, committed, then read back:

    >>> import numpy as np, os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "run.h5")
    >>> with ChunkedStore(path, kind="demo", meta={"seed": 1}, rows="replica",
    ...                   dims={"replica": 2, "record": 4, "mode": 3},
    ...                   fields={"x": (("replica", "record", "mode"), "f8")},
    ...                   state={"x": np.zeros((2, 3))}) as s:
    ...     s.write("x", (slice(None), slice(0, 2)), np.ones((2, 2, 3)))
    ...     s.save_state({"x": np.ones((2, 3))}, record=2)
    ...     s.commit(2)
    >>> back = read_store(path)
    >>> back["done"].tolist(), back["arrays"]["x"].shape, back["state"]["record"]
    ([2, 2], (2, 4, 3), np.int64(2))
    """

    def __init__(self, path, *, kind: str, meta: dict, dims: dict, fields: dict, data: dict | None = None,
                 rows: str | None = None, state: dict | None = None, rng_rows: int | None = None,
                 row_block: int | None = 1, resume: bool = False, overwrite: bool = False,
                 exists_hint: str = "pass resume=True to continue it, or choose a new path"):
        h5py_module()
        self.path = os.fspath(path)
        self.part = self.path + ".part"
        self.meta_json = dumps(meta)
        self._handles, self._staged = {}, {}
        exists = os.path.exists(self.path)
        if exists and resume:
            self.fh = open_h5(self.path, "r+", rdcc_nbytes=_CACHE_BYTES)
            self.live = True
            try:
                self._check(kind, meta)
                found = _committed(self.fh)
                if found is None:
                    raise StoreError(f"`resume`: {self.path} has no commit record that verifies (killed before "
                                     "its first chunk, or damaged): nothing to continue; start again with a new "
                                     "path or overwrite=True")
                self.seq = found["seq"]
                self._staged = found["state"]
                self._marker = (found["lo"], found["hi"], found["record"])
            except ValueError:
                self.fh.close()
                raise
        else:
            if exists and not overwrite:
                raise ValueError(f"`out` file {self.path} exists; {exists_hint}")
            # Built beside the target and moved over it at the first commit: a run refused or
            # killed before then leaves no file (and an overwritten one intact until then).
            self.live, self.seq = False, 0
            block = meta_block_bytes(dims, fields, rows, 2 * len(data or {}) + 2 * len(state or {}) + 12)
            while True:  # a bigger head block while HDF5 spills metadata among the records
                self.fh = h5py_module().File(self.part, "w", rdcc_nbytes=_CACHE_BYTES, meta_block_size=block)
                try:
                    spilled = self._create(kind, dims, fields, data or {}, rows, dict(state or {}), rng_rows,
                                           row_block, block)
                except BaseException:
                    self.discard()
                    raise
                if not spilled or block > 1 << 26:
                    break
                self.discard()
                block *= 4
            n = self.fh["records_done"].shape
            self._marker = (0, n[0] if n else 0, 0)

    # -- creation and checks -----------------------------------------------------------------
    def _create(self, kind, dims, fields, data, rows, state, rng_rows, row_block, meta_block):
        h5py = h5py_module()
        fh = self.fh
        fh.attrs["format"] = FORMAT
        fh.attrs["version"] = VERSION
        fh.attrs["kind"] = kind
        fh.attrs["meta"] = self.meta_json
        fh.attrs["rows"] = rows or ""
        for name, size in dims.items():
            scale = fh.create_dataset(name, data=np.arange(size or 0, dtype=np.int64), maxshape=(size,),
                                      chunks=(1024,) if size is None else None, track_times=False,
                                      dcpl=_early(h5py))
            scale.make_scale(name.rsplit("/", 1)[-1])
        sums = fh.create_group("checksums")
        for name, (axes, values) in data.items():
            values = np.asarray(values)
            self._attach(fh.create_dataset(name, data=values, track_times=False), axes)
            k = _key_ndim(axes, rows)
            block = max(1, values.shape[0]) if k == 2 else 0  # known whole: one checksum a record
            sums.create_dataset(name, data=block_checksums(values, k, block), track_times=False)
            sums[name].attrs.update(role="data", row_block=block)
        done = fh.create_dataset("records_done", data=np.zeros(dims[rows] if rows else (), dtype=np.int64),
                                 track_times=False)
        if rows:
            self._attach(done, (rows,))
        state["record"] = np.int64(0)
        if rng_rows is not None:
            state["bit_generators"] = np.zeros((rng_rows, 6), dtype=np.uint64)
        names = sorted(state)
        self._staged = {key: np.asarray(state[key])[:0] if key == "bit_generators" else np.zeros_like(state[key])
                        for key in names}
        for slot in _SLOTS:
            grp = fh.create_group(slot)
            for key in names:
                grp.create_dataset(key, data=np.zeros_like(np.asarray(state[key])), track_times=False)
            grp.create_dataset("lengths", data=np.zeros(len(names), dtype=np.int64), track_times=False)
            grp.create_dataset("commit", data=np.zeros(4, dtype=np.int64), track_times=False)
            grp.create_dataset("checksum", data=np.uint64(0), track_times=False)
        # The records last, every chunk placed now in record order (_h5layout): no HDF5 metadata
        # changes during the run, and a truncated copy keeps its head (module docstring).
        made, record_axes = [], []
        for name, (axes, dtype) in fields.items():
            dtype = np.dtype(dtype)
            shape = tuple(dims[a] or 0 for a in axes)
            maxshape = tuple(dims[a] for a in axes)
            base = [dims[a] if dims[a] is not None else 1024 for a in axes]
            chunks = field_chunks(dims, axes, rows)
            k = _key_ndim(axes, rows)
            block = (max(1, shape[0]) if row_block is None else min(row_block, max(1, shape[0]))) if k == 2 else 0
            sum_shape, sum_max, sum_chunks = shape[:k], maxshape[:k], base[:k]
            if k == 2:  # (row blocks, record)
                sum_shape = sum_max = (-(-shape[0] // block), shape[1])
                sum_chunks = (sum_shape[0], base[1])
            sums.create_dataset(name, shape=sum_shape, maxshape=sum_max, dtype=np.uint64, fillvalue=0,
                                chunks=chunk_shape(sum_chunks, rows_axis=False) if k else None,
                                track_times=False, dcpl=_early(h5py))
            role = "record" if k and axes[k - 1].rsplit("/", 1)[-1] == "record" else "row" if k else "once"
            sums[name].attrs.update(role=role, row_block=block)
            ds = fh.create_dataset(name, shape=shape, maxshape=maxshape, dtype=dtype, chunks=chunks,
                                   fillvalue=np.nan if dtype.kind == "f" else 0, track_times=False,
                                   dcpl=_early(h5py, incremental=True))
            self._attach(ds, axes)
            made.append(ds)
            names = [a.rsplit("/", 1)[-1] for a in axes]
            record_axes.append(names.index("record") if "record" in names else None)
        before = fh.id.get_filesize()
        written = allocate_in_record_order(made, record_axes)
        return metadata_spilled(before, written, fh.id.get_filesize(), meta_block)

    def _attach(self, ds, axes):
        for i, axis in enumerate(axes):
            ds.dims[i].attach_scale(self.fh[axis])
            ds.dims[i].label = axis.rsplit("/", 1)[-1]

    def _check(self, kind, meta):
        fh = self.fh
        if "meta" not in fh.attrs:
            raise StoreError(f"`resume`: {self.path} is not a coulombgas file; choose another path")
        if not is_store(fh) or int(fh.attrs["version"]) < VERSION:
            raise ValueError(f"`resume`: {self.path} was written by an older coulombgas (before checksummed "
                             "commits); it still loads, but cannot be continued: start a new file")
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
        """``dataset[index] = value`` and its checksums (no flush: :meth:`commit` makes it durable).

        ``index`` addresses the axes a checksum is kept for (row and record, or
        the row, or nothing) and ``value`` holds the whole trailing axes.
        """
        ds = self.dataset(name)
        sums = self.dataset(f"checksums/{name}")
        value = np.asarray(value, dtype=ds.dtype)
        ds[index] = value
        block = self._handles.get(("block", name))
        if block is None:
            block = self._handles[("block", name)] = int(sums.attrs["row_block"])
        if block:  # (rows, record) keys: one checksum per block of rows and record
            rows, rec = index
            lo, hi, _ = rows.indices(ds.shape[0])
            if lo % block or (hi % block and hi != ds.shape[0]):
                raise ValueError(f"{name!r} is checksummed in blocks of {block} rows: write whole blocks")
            if not isinstance(rec, slice):
                value, rec = value[:, None], slice(rec, rec + 1)
            sums[lo // block: -(-hi // block), rec] = block_checksums(value, 2, block)
        elif sums.ndim:
            shape = index_shape(index, sums.shape)
            sums[index] = checksum(value.reshape(shape + ds.shape[sums.ndim:]), len(shape))
        else:
            sums[()] = checksum(value)

    def verified(self, name, rows=slice(None), upto: int | None = None) -> np.ndarray:
        """``dataset[rows, :upto]`` (or ``[:upto]``) after checking it against its checksums."""
        ds, sums = self.dataset(name), self.dataset(f"checksums/{name}")
        block = int(sums.attrs["row_block"])
        if block:
            lo, hi, _ = rows.indices(ds.shape[0])
            values = ds[lo:hi, :upto]
            bad = np.argwhere(block_checksums(values, 2, block) != sums[lo // block: -(-hi // block), :upto])
            bad[:, 0] += lo // block
        else:
            values = ds[:upto] if sums.ndim else ds[()]
            bad = np.argwhere(checksum(values, sums.ndim) != (sums[:upto] if sums.ndim else sums[()]))
        if bad.size:
            raise StoreError(damage_message(self.path, name, bad, sums.ndim, self.fh.attrs.get("rows", ""), block,
                                     ds.shape[0], resume=True))
        return values

    def grow(self, axis: str, size: int) -> None:
        """Resize the growable axis ``axis`` (and every dataset along it) to ``size``.

        Resizing changes HDF5 metadata, which a kill could leave half written,
        so it is done (and the new chunks placed, in record order) on a copy (``path.part``) that the next :meth:`commit`
        moves over the file: a killed run leaves the old file whole. Doubling
        the size each time keeps the copying under twice the final file.
        """
        if self.live:
            self.fh.close()
            shutil.copyfile(self.path, self.part)
            self.fh = h5py_module().File(self.part, "r+", rdcc_nbytes=_CACHE_BYTES)
            self.live, self._handles = False, {}
        scale = self.dataset(axis)
        old = scale.shape[0]
        scale.resize((size,))
        if size > old:
            scale[old:] = np.arange(old, size)
        along = self._along(axis)
        for ds, i in along:
            ds.resize(size, axis=i)
            sums = self.dataset(f"checksums/{ds.name.lstrip('/')}")
            if sums.ndim > i:
                sums.resize(size, axis=i)
        allocate_in_record_order([ds for ds, _ in along], [i for _, i in along], [old] * len(along))

    def _along(self, axis):
        """(dataset, axis index) of every dataset attached to the scale ``axis`` (cached)."""
        key = ("along", axis)
        if key not in self._handles:
            name = self.fh[axis].name
            found = []

            def visit(_, obj):
                if hasattr(obj, "dims") and not obj.is_scale and not obj.name.startswith("/checksums/"):
                    found.extend((obj, i) for i in range(obj.ndim)
                                 if any(s.name == name for s in obj.dims[i].values()))
            for path, obj in walk(self.fh):
                visit(path, obj)
            self._handles[key] = found
        return self._handles[key]

    @property
    def done(self) -> np.ndarray:
        """Committed leading records: one count per row (or a 0-d array)."""
        done = self.fh["records_done"][()].copy()
        lo, hi, record = self._marker
        if done.ndim:
            done[lo:hi] = record
            return done
        return np.int64(record)

    def commit(self, done, rows=()) -> None:
        """Make the records written so far and the staged state durable, with the marker ``done``.

        Order: a flush (records and their checksums reach the file), then the
        staged state and the marker (``done`` for ``rows``) into the older of
        the two state slots with a checksum over both, a second flush, then the
        ``records_done`` mirror. A kill before the slot's checksum is on disk
        leaves the other slot, one commit older, as the resume point; a kill
        after it leaves this one. The first commit moves the new file (built as
        ``path.part``) over ``path``.
        """
        self.fh.flush()
        n = self.fh["records_done"].shape
        lo, hi = (rows.start or 0, n[0] if rows.stop is None else rows.stop) if isinstance(rows, slice) \
            else (0, n[0] if n else 0)
        self.seq += 1
        grp = self.fh[_SLOTS[self.seq % 2]]
        names = sorted(self._staged)
        values = [np.asarray(self._staged[key]) for key in names]
        lengths = np.array([v.shape[0] if v.ndim else 1 for v in values], dtype=np.int64)
        for key, value in zip(names, values):
            if value.ndim:
                grp[key][: value.shape[0]] = value
            else:
                grp[key][()] = value
        marker = np.array([self.seq, int(np.max(done)), lo, hi], dtype=np.int64)
        grp["lengths"][...] = lengths
        grp["commit"][...] = marker
        grp["checksum"][()] = _slot_checksum(marker, lengths, values)
        self.fh.flush()
        self.fh["records_done"][rows] = done
        self._marker = (lo, hi, int(marker[1]))
        if not self.live:
            self.fh.close()
            with open(self.part, "rb+") as fd:  # durable before it takes the name (an OS crash, too)
                os.fsync(fd.fileno())
            os.replace(self.part, self.path)
            self.fh = h5py_module().File(self.path, "r+", rdcc_nbytes=_CACHE_BYTES)
            self.live, self._handles = True, {}

    # -- resumable state ---------------------------------------------------------------------
    def save_state(self, arrays: dict, rng_states=None, record: int | None = None) -> None:
        """Stage the state to continue from; :meth:`commit` stores it with its marker.

        ``arrays`` must be among those given as ``state`` at creation (same
        trailing shape, at most as many rows). ``rng_states`` are PCG64
        ``bit_generator.state`` dicts, one per row (what :mod:`coulombgas._rng`
        makes), packed as a (rows, 6) uint64 array (state and increment as
        64-bit halves, ``has_uint32``, ``uinteger``).
        """
        clash = _RESERVED.intersection(arrays)
        if clash:
            raise ValueError(f"state arrays must not be named {sorted(clash)} (the store's own)")
        grp = self.fh[_SLOTS[0]]
        items = {key: np.array(value, copy=True) for key, value in arrays.items()}
        if rng_states is not None:
            items["bit_generators"] = pack_pcg64(rng_states)
        if record is not None:
            items["record"] = np.int64(record)
        for key, value in items.items():
            if key not in grp:
                raise ValueError(f"state {key!r} was not declared when the store was created")
            space = grp[key]
            if value.shape != space.shape and (value.ndim != space.ndim or value.shape[1:] != space.shape[1:]
                                               or value.shape[0] > space.shape[0]):
                raise ValueError(f"state {key!r} has shape {value.shape}; the file has room for {space.shape}")
        self._staged.update(items)

    def state_names(self) -> set:
        """Names of the state arrays the file has room for (declared at creation; a file made by an
        older version may lack ones a newer writer adds)."""
        return set(self.fh[_SLOTS[0]])

    def state(self) -> dict:
        """The committed state: its arrays, ``"bit_generators"`` (list of states) and ``"record"``."""
        return _state_values(self._staged)

    def flush(self) -> None:
        self.fh.flush()

    def discard(self) -> None:
        """Close, and delete the file if it was never committed (a refused or failed start leaves nothing)."""
        self.close()
        if not self.live and os.path.exists(self.part):
            os.remove(self.part)

    def close(self) -> None:
        if self.fh.id.valid:
            self.fh.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:  # closes on any exit; exceptions propagate
        if exc[0] is not None and not self.live:
            self.discard()
        self.close()


_SLOTS = ("state/0", "state/1")
_SLOT_OWN = frozenset({"lengths", "commit", "checksum"})


def _slot_checksum(marker, lengths, values) -> np.uint64:
    """One checksum over a state slot: the marker, the row counts and each array's used rows."""
    parts = [np.ascontiguousarray(marker).view(np.uint8).ravel(), np.ascontiguousarray(lengths).view(np.uint8).ravel()]
    for value, length in zip(values, lengths):
        used = value[:length] if value.ndim else value
        parts.append(np.ascontiguousarray(used).reshape(-1).view(np.uint8))
    return checksum(np.concatenate(parts))


def _committed(fh):
    """The newest state slot whose checksum verifies: {"seq", "record", "lo", "hi", "state"}; None if none."""
    best = None
    if "state" not in fh or _SLOTS[0] not in fh:
        return None
    for slot in _SLOTS:
        grp = fh[slot]
        marker, lengths = grp["commit"][()], grp["lengths"][()]
        names = sorted(k for k in grp if k not in _SLOT_OWN)
        values = [grp[k][()] for k in names]
        if marker[0] <= 0 or np.any(lengths < 0) or _slot_checksum(marker, lengths, values) != grp["checksum"][()]:
            continue
        if best is None or marker[0] > best["seq"]:
            state = {k: (v[:n] if v.ndim else v) for k, v, n in zip(names, values, lengths)}
            best = {"seq": int(marker[0]), "record": int(marker[1]), "lo": int(marker[2]), "hi": int(marker[3]),
                    "state": state}
    return best


def _state_values(raw) -> dict:
    return {key: unpack_pcg64(value) if key == "bit_generators" else value for key, value in raw.items()}


def read_store(path_or_file, *, prefix: bool = False) -> dict:
    """Everything in a store as plain values: ``kind``, ``meta`` (dict), ``done``, each dataset, ``state``.

    Datasets are read whole (named by their path, e.g. ``"spectra/w/eigenvalues"``);
    the caller cuts them at ``done``. Axis-scale datasets are left out. The
    committed records are checked against their checksums: a mismatch raises
    :class:`StoreError` naming the file and the first bad record, unless
    ``prefix=True``, which cuts ``done`` before it (the good records).
    """
    def read(fh):
        name, cut, size = getattr(fh, "coulombgas_truncated", (fh.filename, None, None))
        if not is_store(fh):
            raise ValueError(f"{name} is not a coulombgas store file")
        out = {"kind": str(fh.attrs["kind"]), "meta": json.loads(fh.attrs["meta"]), "arrays": {}, "state": {}}
        if int(fh.attrs["version"]) < 2:  # the first store: a marker, no checksums
            out["done"] = fh["records_done"][()]

            def visit(key, obj):
                if hasattr(obj, "dtype") and key != "records_done" and not obj.is_scale:
                    sub = key[len("state/"):]
                    if key.startswith("state/"):
                        out["state"][sub] = unpack_pcg64(obj[()]) if sub == "bit_generators" else obj[()]
                    else:
                        out["arrays"][key] = obj[()]
            for key, obj in walk(fh):
                visit(key, obj)
            return out
        found = _committed(fh)
        if found is None:
            raise StoreError(f"{name} holds no commit record that verifies (killed before its first chunk was "
                             "committed, or damaged): no records can be trusted; run it again")
        done = fh["records_done"][()].copy()
        if done.ndim:
            done[found["lo"]: found["hi"]] = found["record"]
        else:
            done = np.int64(found["record"])
        out["state"] = _state_values(found["state"])

        unread = {}  # chunks a cut chunk index no longer reaches (truncated files only)

        def visit(key, obj):
            if hasattr(obj, "dtype") and not obj.is_scale and key != "records_done" \
                    and not key.startswith(("state/", "checksums/")):
                if size is None:
                    out["arrays"][key] = obj[()]
                else:
                    out["arrays"][key], unread[key] = read_surviving(obj)
        for key, obj in walk(fh):
            visit(key, obj)
        rows = str(fh.attrs.get("rows", ""))
        lo, hi = found["lo"], found["hi"]
        worst = None
        for key, values in out["arrays"].items():
            sums_ds = fh[f"checksums/{key}"]
            sums, sums_unread = (sums_ds[()], []) if size is None else read_surviving(sums_ds)
            role = sums_ds.attrs.get("role", "data")
            block, k = int(sums_ds.attrs.get("row_block", 0)), sums.ndim
            mismatch = np.asarray(block_checksums(values, k, block) != sums)
            if size is not None:  # cut short: records unread, or whose checksum was cut too (zeros match zeros)
                mark_cut(mismatch, sums_ds, size, k, unread[key], sums_unread, block)
            if role == "record" and k == 2:  # only committed records count: later ones may be half written
                upto = np.minimum.reduceat(done, np.arange(0, done.shape[0], block)) if done.size else done
                mismatch &= np.arange(sums.shape[1]) < upto.reshape(-1, 1)
            elif role == "record":
                mismatch &= np.arange(sums.shape[0]) < np.min(done)
            elif role == "row":  # a per-row field rewritten each commit: the committed state says
                if key in found["state"]:
                    values[lo:hi] = found["state"][key][: hi - lo]
                    mismatch[lo:hi] = False
                mismatch &= done > 0
            elif role == "once":
                mismatch &= done > 0
            bad = np.argwhere(mismatch)
            if not bad.size:
                continue
            if not prefix:  # report the earliest bad record over all datasets
                message = damage_message(name, key, bad, k, rows, block, values.shape[0] if k else 0)
                first = int(bad[:, -1].min()) if k and role != "row" else 0
                worst = min(worst or (first, message), (first, message), key=lambda w: w[0])
                continue
            if role == "row":
                done[bad[:, 0]] = 0
            elif k == 2:
                for j, r in bad:
                    done[j * block: (j + 1) * block] = np.minimum(done[j * block: (j + 1) * block], r)
            else:
                done = np.minimum(done, int(bad[:, -1].min()) if k else 0)
        if worst:
            raise StoreError(worst[1].replace(f"{name} is damaged", cut, 1) if cut else worst[1])
        out["done"] = done
        return out

    def read_or_say(fh):
        truncated = getattr(fh, "coulombgas_truncated", None)
        if truncated is None:
            return read(fh)
        try:
            return read(fh)
        except (OSError, RuntimeError, KeyError) as exc:  # an object the cut took (HDF5 metadata)
            raise StoreError(f"{truncated[1]}, inside the index (HDF5 says: {exc}): nothing in it can be read; "
                             "restore a copy or run again") from None

    if hasattr(path_or_file, "attrs"):
        return read_or_say(path_or_file)
    with open_h5(path_or_file, "r") as fh:
        return read_or_say(fh)


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
        counts = np.zeros((replicas, n_counts), dtype=np.int64)
        gaps = np.full((replicas, 1), np.inf)
        self._store = ChunkedStore(
            path, kind="trajectory", meta=meta, rows="replica", resume=resume,
            dims={"replica": replicas, "record": n_records, "mode": n},
            fields={"x": (("replica", "record", "mode"), "f8")},
            data={"t": (("record",), np.asarray(t, dtype=np.float64))},
            state={"x": x0, "counts": counts, "gaps": gaps}, rng_rows=replicas, row_block=None)
        self.path = self._store.path
        if not self._store.live:  # a new file: record 0 and the start, committed (the file appears now)
            self._store.write("x", (slice(None), 0), x0)
            self._store.save_state({"x": x0, "counts": counts, "gaps": gaps}, rng_states=[], record=0)
            self._store.commit(1)

    @property
    def records_done(self) -> int:
        """Records after record 0 that the committed state belongs to (the resume point)."""
        return int(self._store.state()["record"])

    def state(self):
        """(x, rng states, counts, gaps) at the last committed chunk."""
        s = self._store.state()
        return s["x"], s["bit_generators"], s["counts"], s["gaps"]

    def read_x(self) -> np.ndarray:
        """Records 0 .. :attr:`records_done` (the ones the state continues from)."""
        return self._store.verified("x", slice(None), self.records_done + 1)

    def append(self, chunk, x, rng_states, counts, gaps) -> None:
        """Write one chunk of records (replicas, k, n) and the state to continue from; commit."""
        done = self.records_done
        k = chunk.shape[1]
        self._store.write("x", (slice(None), slice(done + 1, done + 1 + k)), chunk)
        self._store.save_state({"x": x, "counts": counts, "gaps": gaps}, rng_states=rng_states, record=done + k)
        self._store.commit(done + k + 1)

    def close(self) -> None:
        self._store.discard()


def read_trajectory_arrays(path, *, prefix: bool = False) -> dict:
    """The records a streamed run wrote so far, as plain values for ``Trajectory``.

    Returns a dict with ``t`` (records,), ``x`` (replicas, records, n), ``gas``
    (the :meth:`CoulombGas.to_dict` form), ``scheme``, ``dt``, ``seed`` and
    ``diagnostics`` (``steps``, ``accepted``, ``rejected``, ``smallest_gap``,
    ``complete``). Reads the current layout and the ones before (the first
    store; before it, ``attrs["records_done"]`` and JSON random-stream states).
    Records are checked against their checksums (:func:`read_store`;
    ``prefix=True`` keeps the good ones before a damaged record).
    """
    with open_h5(path, "r") as f:
        if "meta" not in f.attrs:
            raise ValueError(f"{os.fspath(path)} is not a file written by coulombgas")
        meta = json.loads(f.attrs["meta"])
        if is_store(f):
            if f.attrs["kind"] != "trajectory":
                raise ValueError(f"{os.fspath(path)} holds a {f.attrs['kind']}, not a trajectory")
            stored = read_store(f, prefix=prefix)
            records = int(np.min(stored["done"]))
            x, t = stored["arrays"]["x"][:, :records, :], stored["arrays"]["t"][:records]
            counts, gaps = stored["state"]["counts"], stored["state"]["gaps"]
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
