"""Where a store's bytes lie in its HDF5 file, so that a truncated copy keeps its leading records.

A file cut short (a copy that stopped, a full disk) loses its tail. HDF5 puts
its metadata wherever space is free when an object is made, and by default a
dataset's chunks are all allocated when it is made, one dataset after another:
a cut then takes whole datasets and, usually, the metadata made last, and the
file no longer opens. :mod:`coulombgas.store` therefore builds each file so that
its head holds everything but the records:

1. one metadata block at the front, large enough for all of it
   (:func:`meta_block_bytes`; checked after the build, :func:`metadata_spilled`);
2. the small datasets (axes, state slots, checksums) made first;
3. the record chunks allocated last, in record order across all datasets
   (:func:`allocate_in_record_order`), each written once with the fill value, so
   that no metadata changes during the run.

A cut then falls inside the records: :func:`end_of_address` reads from the
superblock how long the file should be, and :class:`ZeroPadded` presents the
missing tail as zeros, which HDF5 can open. The records there fail their
checksums, so the reader names the first lost record and keeps those before it.
Where a lost record's checksum lies past the cut too (an axis grown after the
file was made puts new checksum chunks among the records), zeros would match
zeros: :func:`mark_cut` counts every record whose checksum lies past the cut
(:func:`chunks_past`) as lost, whatever the comparison says. Such an axis also
puts chunk-index nodes among the records: :func:`read_surviving` reads what the
remaining index still reaches, chunk by chunk, and names the chunks it cannot,
and :func:`walk` lists the objects without reading any chunk index.

It also sets the chunk shapes (:func:`chunk_shape`): ~512 KiB, whole records.

Layer 0: NumPy and the standard library (h5py objects are passed in).
Reference: The HDF Group, "HDF5 File Format Specification", version 3.0,
§II.A (superblock).
"""

from __future__ import annotations

import io
import itertools
import math
import os
import struct

import numpy as np

__all__ = ["CHUNK_ELEMENTS", "even_chunk", "chunk_shape", "field_chunks", "end_of_address", "ZeroPadded",
           "meta_block_bytes", "allocate_in_record_order", "metadata_spilled", "chunks_past", "read_surviving",
           "mark_cut", "walk"]

_SIGNATURE = b"\x89HDF\r\n\x1a\n"
# Target chunk size in elements (512 KiB of float64): small enough for h5py's per-dataset
# chunk cache (8 MiB in the store), large enough that a long run is a few thousand chunks.
CHUNK_ELEMENTS = 2**16


def even_chunk(size: int, most: int) -> int:
    """The shortest chunk length <= ``most`` that needs no more chunks for ``size`` than ``most`` does.

    HDF5 stores an edge chunk whole, so 1001 records in chunks of 819 would
    cost 1638 on disk; chunks of 501 cost 1002.
    """
    pieces = -(-size // max(1, most))
    return -(-size // pieces)


def chunk_shape(shape, rows_axis: bool) -> tuple:
    """Chunk shape of at most ``CHUNK_ELEMENTS``: whole trailing axes, then rows, then records."""
    shape = [max(1, int(s)) for s in shape]
    if not shape:
        return ()
    out = list(shape)
    # Trailing axes (one record of one row) whole; rows next (a chunk of records is written
    # for all rows at once); the record axis takes what is left.
    inner = 2 if rows_axis and len(shape) >= 2 else 1
    budget = max(1, CHUNK_ELEMENTS // max(1, math.prod(shape[inner:])))
    out[0] = even_chunk(shape[0], budget)
    if inner == 2:
        out[1] = even_chunk(shape[1], max(1, budget // out[0]))
    return tuple(out)


def field_chunks(dims, axes, rows) -> tuple:
    """Chunk shape of a record field (a growing axis is chunked as if 1024 long)."""
    return chunk_shape([dims[a] if dims[a] is not None else 1024 for a in axes],
                       rows_axis=bool(rows) and axes[0] == rows)


def end_of_address(path) -> int | None:
    """The file length HDF5's superblock records (its end-of-file address); None if there is no superblock.

    Superblock versions 0 and 1 keep it after the version bytes, the group
    tree parameters, the consistency flags (and, in version 1, the indexed
    storage parameter) and two addresses; versions 2 and 3 after the sizes, the
    flags, and two addresses. 8-byte offsets are assumed, as every HDF5 library
    writes by default; the superblock is assumed at byte 0 (no user block).
    """
    with open(path, "rb") as fh:
        head = fh.read(64)
    if len(head) < 48 or head[:8] != _SIGNATURE:
        return None
    version = head[8]
    if version in (0, 1):
        if head[13] != 8:  # size of offsets
            return None
        at = 8 + 8 + 4 + 4 + (4 if version == 1 else 0) + 8 + 8
    elif version in (2, 3):
        if head[9] != 8:
            return None
        at = 8 + 4 + 8 + 8
    else:
        return None
    return struct.unpack("<Q", head[at: at + 8])[0]


class ZeroPadded(io.RawIOBase):
    """A read-only view of the file ``path`` as ``size`` bytes: what is missing past its end reads as zeros.

    h5py opens such an object like a file (its ``fileobj`` driver).
    """

    def __init__(self, path, size: int):
        super().__init__()
        self.name = os.fspath(path)
        self._fh = open(self.name, "rb")
        self._real = os.path.getsize(self.name)
        self._size, self._pos = int(size), 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        base = (0, self._pos, self._size)[whence]
        self._pos = base + offset
        return self._pos

    def tell(self) -> int:
        return self._pos

    def readinto(self, buffer) -> int:
        view = memoryview(buffer).cast("B")
        n = max(0, min(len(view), self._size - self._pos))
        got = 0
        if self._pos < self._real:
            self._fh.seek(self._pos)
            got = self._fh.readinto(view[: min(n, self._real - self._pos)])
        view[got:n] = bytes(n - got)
        self._pos += n
        return n

    def close(self) -> None:
        self._fh.close()
        super().close()


def meta_block_bytes(dims: dict, fields: dict, rows, others: int) -> int:
    """Size of the one metadata block at the head of a store file (bytes, a multiple of 4 KiB).

    ``dims`` and ``fields`` as :class:`coulombgas.store.ChunkedStore` takes them;
    ``others``: the other datasets. About 384 bytes per dataset (object header,
    dimension-scale references, attributes) and 64 per chunk (its entry in the
    chunk B-tree, with keys), plus 8 KiB; then 25 % to spare. Measured: 8 and
    16 KiB sufficed for a 0.7 MB trajectory and a 3 MB harvest, where this gives
    24 and 32 KiB (24 KiB for an 81 MB harvest). :func:`metadata_spilled` checks
    it after the build (the store then starts again with four times the block).
    """
    chunks = sum(math.prod(-(-max(1, dims[a] or 0) // c) for a, c in zip(axes, field_chunks(dims, axes, rows)))
                 for axes, _ in fields.values())
    need = 8192 + 384 * (len(dims) + 2 * len(fields) + others) + 64 * chunks
    return 4096 * math.ceil(1.25 * need / 4096)


def allocate_in_record_order(datasets, record_axes, start=None) -> int:
    """Write every chunk of ``datasets`` once with its fill value, record chunk by record chunk across them.

    ``record_axes[i]`` is the record axis of ``datasets[i]`` (None: the dataset
    has none and goes first, whole). ``start[i]``: skip record chunks below
    this record (already allocated, when an axis grew). Datasets must be made
    with incremental allocation, so each chunk is placed when written: the
    records of one time lie together and a cut loses only later ones. Returns
    the bytes written.
    """
    start = start or [0] * len(datasets)
    plans = []
    for ds, axis, first in zip(datasets, record_axes, start):
        if 0 in ds.shape:
            continue
        ranges = [range(0, s, c) for s, c in zip(ds.shape, ds.chunks)]
        fill = np.full(ds.chunks, ds.fillvalue, dtype=ds.dtype).tobytes()
        if axis is None:
            plans.append((-1, ds, itertools.product(*ranges), fill))
            continue
        c = ds.chunks[axis]
        ranges[axis] = range(first // c * c + (c if first % c else 0), ds.shape[axis], c)
        for offset in ranges[axis]:
            sub = list(ranges)
            sub[axis] = (offset,)
            plans.append((offset, ds, itertools.product(*sub), fill))
    written = 0
    # Stable sort: per record offset, datasets in the order given.
    for _, ds, offsets, fill in sorted(plans, key=lambda p: p[0]):
        for at in offsets:
            ds.id.write_direct_chunk(at, fill)
            written += len(fill)
    return written


def metadata_spilled(size_before: int, written: int, size_after: int, block: int) -> bool:
    """Whether HDF5 opened a second metadata block among the records (of at least ``block`` bytes):
    the file grew by that much more than the chunks written (small raw data adds under 2 KiB)."""
    return size_after - size_before - written >= block


def chunks_past(ds, size: int) -> list:
    """``(offset, shape, byte_offset)`` of each stored piece of ``ds`` that does not lie wholly in the first ``size`` bytes.

    Chunked datasets give one entry per allocated chunk (offset: its first element;
    shape: the chunk's, elements in C order from ``byte_offset``); a contiguous one
    gives one entry for the whole dataset. A chunk the index cannot locate any more
    counts as wholly lost (``byte_offset`` = ``size``).
    """
    if ds.chunks is None:
        at = ds.id.get_offset()
        if at is None or at + ds.id.get_storage_size() <= size:
            return []
        return [((0,) * ds.ndim, ds.shape, at)]
    try:
        infos = [ds.id.get_chunk_info(i) for i in range(ds.id.get_num_chunks())]
    except (OSError, RuntimeError, ValueError):
        return [((0,) * ds.ndim, ds.shape, size)]
    return [(tuple(info.chunk_offset), ds.chunks, size if info.byte_offset is None else info.byte_offset)
            for info in infos if info.byte_offset is None or info.byte_offset + info.size > size]


def read_surviving(ds):
    """``(values, lost)``: ``ds`` read whole or, when its chunk index was cut, chunk by chunk.

    ``lost`` lists ``(offset, shape)`` of the chunks that could not be read (left at the
    fill value in ``values``); empty when the whole read succeeds.
    """
    try:
        return ds[()], []
    except (OSError, RuntimeError, ValueError):
        if ds.chunks is None:
            raise
    values = np.full(ds.shape, ds.fillvalue, dtype=ds.dtype)
    lost = []
    for offset in itertools.product(*(range(0, n, c) for n, c in zip(ds.shape, ds.chunks))):
        region = tuple(slice(o, min(o + c, n)) for o, c, n in zip(offset, ds.chunks, ds.shape))
        try:
            values[region] = ds[region]
        except (OSError, RuntimeError, ValueError):
            lost.append((offset, ds.chunks))
    return values, lost


def mark_cut(mismatch, sums_ds, size, k, unread, sums_unread, block) -> None:
    """Set ``mismatch`` (keyed like the checksums) for what a cut at byte ``size`` took beyond the checksums' reach.

    A lost record whose checksum survived fails it (the data read as zeros); one whose
    checksum lies past the cut too would compare zeros with zeros, and one whose chunk
    (``unread``: of the data; ``sums_unread``: of the checksums) the cut index no longer
    reaches was not read at all: both count as lost here.
    """
    if k == 0:
        mismatch[()] |= bool(unread or sums_unread or chunks_past(sums_ds, size))
        return
    for offset, shape in unread:
        index = [slice(o, o + c) for o, c in zip(offset[:k], shape[:k])]
        if k == 2 and block > 1:  # (row, record) data, checksummed per block of rows
            index[0] = slice(offset[0] // block, -(-(offset[0] + shape[0]) // block))
        mismatch[tuple(index)] = True
    for offset, shape in sums_unread:
        mismatch[tuple(slice(o, o + c) for o, c in zip(offset, shape))] = True
    item = sums_ds.dtype.itemsize
    for offset, shape, start in chunks_past(sums_ds, size):
        ends = start + (np.arange(int(np.prod(shape))).reshape(shape) + 1) * item  # C order within the chunk
        part = mismatch[tuple(slice(o, o + c) for o, c in zip(offset, shape))]
        part |= (ends > size)[tuple(slice(0, n) for n in part.shape)]


def walk(group, prefix=""):
    """``(path, object)`` of everything below ``group``, groups before their members, by following links.

    Unlike h5py's ``visititems`` (HDF5's object visit, which also sizes each dataset's
    chunk index) this reads no chunk index, so a file whose index was cut still lists.
    """
    for name, obj in group.items():
        path = f"{prefix}{name}"
        if obj is None:  # h5py's answer for a link whose object cannot be read
            raise KeyError(f"object {path!r} cannot be read")
        yield path, obj
        if hasattr(obj, "items"):
            yield from walk(obj, path + "/")
