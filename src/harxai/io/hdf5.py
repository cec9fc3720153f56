"""HDF5 intermediates: atomic writes with provenance attributes, checked reads.

Every file written by the workflow goes through :func:`write_hdf5`:

* the file is written to a temporary file in the target folder and moved into place with
  ``os.replace`` (see :mod:`harxai.io.atomic`), so a failed job leaves nothing behind;
* root attributes record provenance: ``harxai_version``, ``created`` (UTC ISO 8601),
  ``seed``, ``config`` (JSON of the parameters that shaped the file), ``inputs`` (JSON list
  of source paths) and the ``numpy_version``, ``torch_version``, ``h5py_version`` and
  ``shap_version`` of the writing environment, plus any stage-specific attributes;
* every dataset carries a ``dims`` attribute naming its axes from the vocabulary
  ``sample, group, channel, frame, joint, person`` (and a few extra axis names listed in
  :data:`DIM_NAMES`), and floating-point arrays are stored as float32 unless asked otherwise.

:func:`read_hdf5` checks the datasets, ``dims`` and (optionally) shapes a caller expects and
raises :class:`HDF5ContractError` naming the file and the mismatch.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from .atomic import atomic_path

DIM_NAMES = frozenset(
    {
        "sample",
        "group",
        "channel",
        "frame",
        "joint",
        "person",
        "class",
        "background",
        "partition",
        "step",
        "draw",
        "layer",
        "coordinate",
        "recording",
        "window",
        "item",
        "method",
    }
)

_COMPRESS_ABOVE = 1 << 16  # elements


class HDF5ContractError(ValueError):
    """An HDF5 file does not hold the datasets, dims or shapes its reader expects."""


@dataclass(frozen=True)
class Array:
    """An array to write, with the names of its dimensions.

    Parameters
    ----------
    data
        The values. Floating-point data is stored as float32 unless ``keep_dtype``.
        String arrays are stored as variable-length UTF-8.
    dims
        One name per axis, from :data:`DIM_NAMES`.
    units
        Physical units, stored as the ``units`` attribute when given.
    keep_dtype
        Store floating-point values in their own precision (e.g. float64 time stamps).
    """

    data: Any
    dims: tuple[str, ...]
    units: str | None = None
    keep_dtype: bool = False


@dataclass
class HDF5Content:
    """Arrays and attributes read from one HDF5 file."""

    path: Path
    arrays: dict[str, np.ndarray]
    dims: dict[str, tuple[str, ...]]
    attrs: dict[str, Any] = field(default_factory=dict)

    def __getitem__(self, key: str) -> np.ndarray:
        try:
            return self.arrays[key]
        except KeyError:
            raise HDF5ContractError(f"{self.path}: no dataset {key!r}") from None

    def __contains__(self, key: str) -> bool:
        return key in self.arrays

    def json_attr(self, key: str) -> Any:
        """Decode a JSON-valued root attribute."""
        if key not in self.attrs:
            raise HDF5ContractError(f"{self.path}: no attribute {key!r}")
        return json.loads(self.attrs[key])


def package_versions() -> dict[str, str]:
    """Versions of the packages that shape numerical results."""
    out: dict[str, str] = {}
    for pkg in ("harxai", "numpy", "torch", "h5py", "shap", "scipy"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def provenance_attrs(
    config: Mapping[str, Any], inputs: Iterable[str | os.PathLike[str]], seed: int | None
) -> dict[str, Any]:
    """Root attributes recording how a file was made."""
    versions = package_versions()
    return {
        "harxai_version": versions["harxai"],
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "seed": -1 if seed is None else int(seed),
        "config": json.dumps(config, sort_keys=True, default=_json_default),
        "inputs": json.dumps([str(p) for p in inputs]),
        "numpy_version": versions["numpy"],
        "torch_version": versions["torch"],
        "h5py_version": versions["h5py"],
        "shap_version": versions["shap"],
        "scipy_version": versions["scipy"],
    }


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def _prepare(name: str, arr: Array) -> tuple[np.ndarray, Any]:
    data = np.asarray(arr.data)
    if data.ndim != len(arr.dims):
        raise HDF5ContractError(
            f"dataset {name!r}: {data.ndim} axes but dims {','.join(arr.dims)} name {len(arr.dims)}"
        )
    unknown = [d for d in arr.dims if d not in DIM_NAMES]
    if unknown:
        raise HDF5ContractError(f"dataset {name!r}: unknown dimension names {unknown}")
    if data.dtype.kind in "US" or data.dtype == object:
        return np.asarray(data, dtype=object), h5py.string_dtype("utf-8")
    if data.dtype.kind == "f" and not arr.keep_dtype:
        data = data.astype(np.float32)
    return data, None


def write_hdf5(
    path: str | os.PathLike[str],
    arrays: Mapping[str, Array],
    *,
    config: Mapping[str, Any],
    inputs: Iterable[str | os.PathLike[str]] = (),
    seed: int | None = None,
    attrs: Mapping[str, Any] | None = None,
) -> Path:
    """Write ``arrays`` to ``path`` atomically with provenance attributes.

    Parameters
    ----------
    path
        Target file; its folder is created.
    arrays
        Dataset name -> :class:`Array`. Names may contain ``/`` for groups.
    config
        The parameters that shaped the file, stored as JSON in the ``config`` attribute.
    inputs
        Source paths, stored as JSON in the ``inputs`` attribute.
    seed
        Random seed used (``-1`` is stored when None).
    attrs
        Extra root attributes (str, numbers, or JSON-serialisable values, stored as JSON).

    Returns
    -------
    Path
        The written path.
    """
    target = Path(path)
    root_attrs = provenance_attrs(config, inputs, seed)
    for key, value in (attrs or {}).items():
        if isinstance(value, (str, int, float, bool, np.integer, np.floating)):
            root_attrs[key] = value
        else:
            root_attrs[key] = json.dumps(value, sort_keys=True, default=_json_default)
    with atomic_path(target) as tmp, h5py.File(tmp, "w") as fh:
        for key, value in root_attrs.items():
            fh.attrs[key] = value
        for name, arr in arrays.items():
            data, dtype = _prepare(name, arr)
            kwargs: dict[str, Any] = {}
            if dtype is None and data.size > _COMPRESS_ABOVE:
                kwargs = {"compression": "gzip", "compression_opts": 4, "chunks": True, "shuffle": True}
            ds = fh.create_dataset(name, data=data, dtype=dtype, **kwargs)
            ds.attrs["dims"] = ",".join(arr.dims)
            if arr.units:
                ds.attrs["units"] = arr.units
    return target


def _decode(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, np.generic):
        return value.item()
    return value


def open_hdf5(path: str | os.PathLike[str]) -> h5py.File:
    """Open ``path`` read-only; a missing or unreadable file raises :class:`HDF5ContractError`."""
    p = Path(path)
    if not p.exists():
        raise HDF5ContractError(f"{p}: file does not exist")
    try:
        return h5py.File(p, "r")
    except OSError as exc:
        raise HDF5ContractError(f"{p}: not a readable HDF5 file ({exc})") from exc


def dataset_names(fh: h5py.File) -> list[str]:
    """Paths of every dataset in an open file (groups included in the path)."""
    names: list[str] = []
    fh.visititems(lambda n, o: names.append(n) if isinstance(o, h5py.Dataset) else None)
    return names


def read_hdf5(
    path: str | os.PathLike[str],
    expected: Mapping[str, Sequence[str]] | None = None,
    *,
    shapes: Mapping[str, Sequence[int | None]] | None = None,
    load: Iterable[str] | None = None,
) -> HDF5Content:
    """Read datasets and root attributes, checking a contract.

    Parameters
    ----------
    path
        File to read.
    expected
        Dataset name -> expected dims. Missing datasets or different ``dims`` raise
        :class:`HDF5ContractError` naming the file.
    shapes
        Dataset name -> expected shape (``None`` entries match any length).
    load
        Datasets to load (default: all). Expected datasets are always loaded.

    Returns
    -------
    HDF5Content
        Arrays (strings decoded to ``str`` arrays), their dims and the root attributes.
    """
    p = Path(path)
    with open_hdf5(p) as fh:
        names = dataset_names(fh)
        wanted = set(names) if load is None else set(load) | set(expected or {})
        for name, dims in (expected or {}).items():
            if name not in fh:
                raise HDF5ContractError(f"{p}: missing dataset {name!r} (has {', '.join(sorted(names))})")
            got = str(_decode(fh[name].attrs.get("dims", "")))
            if got != ",".join(dims):
                raise HDF5ContractError(
                    f"{p}: dataset {name!r} has dims '{got}', expected '{','.join(dims)}'"
                )
        arrays: dict[str, np.ndarray] = {}
        dims_out: dict[str, tuple[str, ...]] = {}
        for name in names:
            if name not in wanted:
                continue
            ds = fh[name]
            if h5py.check_string_dtype(ds.dtype) is not None:
                arrays[name] = np.asarray(ds.asstr()[()], dtype=str)
            else:
                arrays[name] = np.asarray(ds[()])
            dims_out[name] = tuple(d for d in str(_decode(ds.attrs.get("dims", ""))).split(",") if d)
        for name, shape in (shapes or {}).items():
            got_shape = arrays[name].shape
            ok = len(got_shape) == len(shape) and all(
                s is None or s == g for s, g in zip(shape, got_shape, strict=True)
            )
            if not ok:
                raise HDF5ContractError(
                    f"{p}: dataset {name!r} has shape {got_shape}, expected {tuple(shape)}"
                )
        attrs = {k: _decode(v) for k, v in fh.attrs.items()}
    return HDF5Content(path=p, arrays=arrays, dims=dims_out, attrs=attrs)
