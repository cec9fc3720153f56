"""Bounded-memory HDF5 output and input: datasets written and read block by block.

The data jobs (ingest, preprocess, features) handle datasets that grow with the number of
recordings (NTU-60: 56,880 clips, about 40 GB of features). They never hold a whole array:

* :class:`BlockWriter` writes one file of a :class:`~harxai.io.contracts.FileContract`: it
  opens the temporary file of an atomic write (:func:`harxai.io.atomic_path`) and appends
  blocks to chunked, resizable datasets (gzip level 4 with byte shuffle, as
  :func:`harxai.io.write_hdf5` compresses large arrays); small arrays are written whole. Dims,
  stored dtypes, units and the finiteness check are the contract's, applied to each block as
  :meth:`FileContract.write` applies them to the whole array; required datasets and
  attributes are checked at :meth:`BlockWriter.finish`. The provenance attributes are those of
  :func:`harxai.io.write_hdf5`. The file is moved into place only when the ``with`` block ends
  without an error, so a failed job leaves nothing.
* :func:`read_except` reads a contract's file without its large datasets, which
  :class:`LazyRows` then reads block by block (checked like :meth:`FileContract.check_rows`);
  :func:`iter_blocks` reads any dataset block by block along its first axis.

Values are those of the in-memory write: the concatenation of the blocks, cast block by block,
is the array the contract would store. Only the HDF5 chunk shape differs: a chunk holds whole
rows (one sample of ``features`` per chunk), so that reading a random row (training,
explanation) decompresses that row only.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import h5py
import numpy as np

from . import hdf5 as _hdf5
from .atomic import atomic_path
from .contracts import DatasetSpec, FileContract, _check_finite, _stored
from .hdf5 import (
    Array,
    HDF5Content,
    HDF5ContractError,
    _json_default,
    dataset_names,
    open_hdf5,
    provenance_attrs,
)

CHUNK_BYTES = 1 << 20
"""Target size of one HDF5 chunk of an appended dataset (whole rows; at least one row)."""
COMPRESSION: dict[str, Any] = {"compression": "gzip", "compression_opts": 4, "shuffle": True}
FLUSH_BYTES = 4 << 20
"""Appended blocks are buffered and written once they reach this size (whole chunks, few rewrites)."""
CHUNK_CACHE_BYTES = 4 << 20
"""HDF5 chunk cache per dataset of the file being written (holds the partly filled last chunk)."""


def chunk_rows(row_shape: Sequence[int], itemsize: int, target: int = CHUNK_BYTES) -> int:
    """Rows per chunk: as many whole rows as fit in ``target`` bytes, at least one."""
    row_bytes = max(int(np.prod(row_shape, dtype=np.int64)) * itemsize, 1)
    return max(1, target // row_bytes)


def root_attrs(
    config: Mapping[str, Any],
    inputs: Sequence[str | os.PathLike[str]],
    seed: int | None,
    attrs: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """Provenance plus stage attributes, encoded as :func:`harxai.io.write_hdf5` stores them."""
    out = provenance_attrs(config, inputs, seed)
    for key, value in (attrs or {}).items():
        if isinstance(value, (str, int, float, bool, np.integer, np.floating)):
            out[key] = value
        else:
            out[key] = json.dumps(value, sort_keys=True, default=_json_default)
    return out


class BlockWriter:
    """Write one HDF5 file of a :class:`~harxai.io.contracts.FileContract` atomically, block by block.

    Use as a context manager::

        with BlockWriter(path, FEATURE_SET) as out:
            for block in blocks:
                out.append("features", block)
            out.write("label", labels)
            out.finish(config=..., inputs=[...], attrs={...})

    Dims, stored dtype, units and finiteness come from the contract, exactly as
    :meth:`FileContract.write` applies them to a whole array: each block is cast to the stored
    dtype and checked (NaN only where the contract allows it, inf never). :meth:`finish`
    checks that every required dataset and attribute was written. :meth:`finish` must be
    called inside the ``with`` block; leaving the block without it, or with an exception
    (a contract violation included), removes the temporary file and leaves ``path`` untouched.
    """

    def __init__(self, path: str | os.PathLike[str], contract: FileContract) -> None:
        self.path = Path(path)
        self.contract = contract
        self._stack = contextlib.ExitStack()
        self._fh: h5py.File | None = None
        self._appended: dict[str, h5py.Dataset] = {}
        self._rows: dict[str, int] = {}
        self._pending: dict[str, list[np.ndarray]] = {}
        self._pending_bytes: dict[str, int] = {}
        self._finished = False

    def __enter__(self) -> Self:
        tmp = self._stack.enter_context(atomic_path(self.path))
        self._fh = self._stack.enter_context(h5py.File(tmp, "w", rdcc_nbytes=CHUNK_CACHE_BYTES))
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool | None:
        if exc_type is None and not self._finished:
            err = RuntimeError(f"{self.path}: BlockWriter closed without finish(); nothing written")
            self._stack.__exit__(RuntimeError, err, None)
            raise err
        return self._stack.__exit__(exc_type, exc, tb)

    @property
    def file(self) -> h5py.File:
        """The open temporary file."""
        if self._fh is None:
            raise RuntimeError(f"{self.path}: BlockWriter used outside its with block")
        return self._fh

    def _checked(self, name: str, data: Any) -> tuple[DatasetSpec, np.ndarray, Any]:
        """The contract's spec, the values as stored (cast, finiteness checked), the string dtype."""
        spec = self.contract.spec(name)
        stored = _stored(spec, data)
        _check_finite(self.path, spec, stored)
        arr = Array(stored, dims=spec.dims, units=spec.units, keep_dtype=spec.dtype == "float64")
        values, str_dtype = _hdf5._prepare(name, arr)
        return spec, values, str_dtype

    def append(self, name: str, block: Any) -> int:
        """Append ``block`` along the first axis of dataset ``name`` (created by the first call).

        Returns
        -------
        int
            The dataset's length after the append.
        """
        spec, data, str_dtype = self._checked(name, block)
        ds = self._appended.get(name)
        if ds is None:
            fh = self.file
            if name in fh:
                raise HDF5ContractError(f"{self.path}: dataset {name!r} was written whole, not appended")
            dtype = str_dtype if str_dtype is not None else data.dtype
            tail = tuple(int(s) for s in data.shape[1:])
            kwargs: dict[str, Any] = {}
            if str_dtype is None:
                kwargs = dict(COMPRESSION, chunks=(chunk_rows(tail, data.dtype.itemsize), *tail))
            else:
                kwargs = {"chunks": (1024,)}
            ds = fh.create_dataset(name, shape=(0, *tail), maxshape=(None, *tail), dtype=dtype, **kwargs)
            ds.attrs["dims"] = ",".join(spec.dims)
            if spec.units:
                ds.attrs["units"] = spec.units
            self._appended[name] = ds
            self._rows[name] = 0
        if data.shape[1:] != ds.shape[1:]:
            raise HDF5ContractError(
                f"{self.path}: block of shape {data.shape} does not extend dataset {name!r} of shape {ds.shape}"
            )
        if data.shape[0]:
            self._pending.setdefault(name, []).append(data)
            self._pending_bytes[name] = self._pending_bytes.get(name, 0) + data.nbytes
            self._rows[name] += data.shape[0]
        if self._pending_bytes.get(name, 0) >= FLUSH_BYTES:
            self.flush(name)
        return self._rows[name]

    def flush(self, name: str | None = None) -> None:
        """Write the buffered blocks of ``name`` (default: of every dataset)."""
        for key in [name] if name is not None else list(self._pending):
            blocks = self._pending.pop(key, [])
            self._pending_bytes.pop(key, None)
            if not blocks:
                continue
            ds = self._appended[key]
            data = np.concatenate(blocks) if len(blocks) > 1 else blocks[0]
            start = ds.shape[0]
            ds.resize(start + data.shape[0], axis=0)
            ds[start:] = data

    def length(self, name: str) -> int:
        """Rows appended so far to ``name`` (0 if not created; a dataset written whole: its length)."""
        if name in self._rows:
            return self._rows[name]
        return int(self.file[name].shape[0]) if name in self.file else 0

    def write(self, name: str, data: Any) -> None:
        """Write a whole dataset at once (compressed above 65,536 values as in :func:`write_hdf5`)."""
        spec, values, dtype = self._checked(name, data)
        kwargs: dict[str, Any] = {}
        if dtype is None and values.size > 1 << 16:
            kwargs = dict(COMPRESSION, chunks=True)
        ds = self.file.create_dataset(name, data=values, dtype=dtype, **kwargs)
        ds.attrs["dims"] = ",".join(spec.dims)
        if spec.units:
            ds.attrs["units"] = spec.units

    def keep_rows(
        self, names: Sequence[str], spans: Sequence[tuple[int, int]], block_rows: int = 1 << 16
    ) -> None:
        """Keep only the rows ``[start, stop)`` of ``spans`` (increasing, disjoint) in appended datasets.

        The kept rows move forward in place, block by block, and the datasets shrink; used
        when recordings already appended are left out afterwards.
        """
        self.flush()
        for name in names:
            ds = self.file[name]
            write = 0
            for start, stop in spans:
                for s in range(start, stop, block_rows):
                    e = min(s + block_rows, stop)
                    if s != write:
                        ds[write : write + e - s] = ds[s:e]
                    write += e - s
            ds.resize(write, axis=0)
            if name in self._rows:
                self._rows[name] = write

    def finish(
        self,
        *,
        config: Mapping[str, Any],
        inputs: Sequence[str | os.PathLike[str]] = (),
        seed: int | None = None,
        attrs: Mapping[str, Any] | None = None,
    ) -> Path:
        """Check the contract's required datasets and attributes and write the root attributes.

        The file is moved into place when the ``with`` block ends.
        """
        self.flush()
        missing = [s.name for s in self.contract.datasets if s.required and s.name not in self.file]
        if missing:
            raise HDF5ContractError(
                f"{self.path}: required datasets {missing} of the {self.contract.name} contract missing"
            )
        lacking = [a for a in self.contract.attrs if a not in (attrs or {})]
        if lacking:
            raise HDF5ContractError(
                f"{self.path}: required attributes {lacking} of the {self.contract.name} contract missing"
            )
        for key, value in root_attrs(config, inputs, seed, attrs).items():
            self.file.attrs[key] = value
        self._finished = True
        return self.path


def iter_blocks(
    ds: h5py.Dataset, rows: int, start: int = 0, stop: int | None = None
) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(first_row, block)`` over ``ds[start:stop]`` in blocks of at most ``rows`` rows."""
    if rows < 1:
        raise ValueError(f"iter_blocks: rows must be >= 1, got {rows}")
    end = ds.shape[0] if stop is None else stop
    for s in range(start, end, rows):
        yield s, np.asarray(ds[s : min(s + rows, end)])


def read_except(contract: FileContract, path: str | os.PathLike[str], lazy: Sequence[str]) -> HDF5Content:
    """Read ``path`` with ``contract`` (:meth:`FileContract.read`), loading every dataset but ``lazy``.

    The datasets in ``lazy`` stay on disk (read them with :class:`LazyRows`); like every
    declared dataset present, their dims are checked, and a required one that is missing
    raises :class:`HDF5ContractError` naming the file.
    """
    with open_hdf5(path) as fh:
        present = set(dataset_names(fh))
    missing = [n for n in lazy if contract.spec(n).required and n not in present]
    if missing:
        raise HDF5ContractError(f"{path}: missing datasets {missing} of the {contract.name} contract")
    load = [s.name for s in contract.datasets if s.name not in lazy and (s.required or s.name in present)]
    return contract.read(path, load=load)


class LazyRows:
    """Rows of the large datasets of a contract's file, read on demand and checked for finiteness."""

    def __init__(self, contract: FileContract, path: str | os.PathLike[str]) -> None:
        self.contract = contract
        self.path = Path(path)
        self.file = open_hdf5(self.path)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.file.close()

    def __contains__(self, name: str) -> bool:
        return name in self.file

    def shape(self, name: str) -> tuple[int, ...]:
        """Shape of dataset ``name``."""
        return tuple(int(n) for n in self.file[name].shape)

    def rows(self, name: str, start: int, stop: int) -> np.ndarray:
        """``name[start:stop]``, checked as :meth:`FileContract.check_rows` checks lazily read rows."""
        return self.contract.check_rows(self.path, name, np.asarray(self.file[name][start:stop]))


__all__ = [
    "BlockWriter",
    "LazyRows",
    "chunk_rows",
    "iter_blocks",
    "read_except",
    "root_attrs",
]
