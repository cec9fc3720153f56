"""HDF5 helpers: round trip, provenance, dims checks, atomic writes."""

from __future__ import annotations

import json
import os
from pathlib import Path

import h5py
import numpy as np
import pytest

from harxai.io import Array, HDF5ContractError, atomic_path, read_hdf5, write_hdf5


def _write(path: Path) -> None:
    write_hdf5(
        path,
        {
            "values": Array(np.arange(24, dtype=np.float64).reshape(2, 3, 4), ("sample", "frame", "joint")),
            "ids": Array(np.array(["a", "bé"]), ("sample",)),
            "time": Array(np.array([0.1, 0.2]), ("sample",), units="s", keep_dtype=True),
        },
        config={"window": 5, "nested": {"x": [1, 2]}},
        inputs=["in/a.h5"],
        seed=7,
        attrs={"layout": {"name": "x"}, "task": "binary"},
    )


def test_round_trip_with_provenance(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "out.h5"
    _write(path)
    content = read_hdf5(path, {"values": ("sample", "frame", "joint"), "ids": ("sample",)})
    assert content["values"].dtype == np.float32
    np.testing.assert_array_equal(content["values"], np.arange(24).reshape(2, 3, 4))
    assert content["ids"].tolist() == ["a", "bé"]
    assert content["time"].dtype == np.float64
    assert content.dims["time"] == ("sample",)
    attrs = content.attrs
    assert attrs["seed"] == 7
    assert json.loads(attrs["config"]) == {"nested": {"x": [1, 2]}, "window": 5}
    assert json.loads(attrs["inputs"]) == ["in/a.h5"]
    for key in ("harxai_version", "created", "numpy_version", "torch_version", "h5py_version"):
        assert attrs[key]
    assert content.json_attr("layout") == {"name": "x"}
    assert attrs["task"] == "binary"
    with h5py.File(path) as fh:
        assert fh["time"].attrs["units"] == "s"


def test_reader_names_file_and_mismatch(tmp_path: Path) -> None:
    path = tmp_path / "out.h5"
    _write(path)
    with pytest.raises(HDF5ContractError, match=r"out\.h5.*'values' has dims 'sample,frame,joint'"):
        read_hdf5(path, {"values": ("sample", "joint")})
    with pytest.raises(HDF5ContractError, match=r"out\.h5.*missing dataset 'cam'"):
        read_hdf5(path, {"cam": ("sample",)})
    with pytest.raises(HDF5ContractError, match=r"out\.h5.*shape \(2, 3, 4\), expected \(2, None, 5\)"):
        read_hdf5(path, {"values": ("sample", "frame", "joint")}, shapes={"values": (2, None, 5)})
    with pytest.raises(HDF5ContractError, match="does not exist"):
        read_hdf5(tmp_path / "absent.h5")
    bad = tmp_path / "bad.h5"
    bad.write_text("not hdf5")
    with pytest.raises(HDF5ContractError, match=r"bad\.h5: not a readable HDF5 file"):
        read_hdf5(bad)


def test_writer_rejects_wrong_dims(tmp_path: Path) -> None:
    with pytest.raises(HDF5ContractError, match="2 axes"):
        write_hdf5(tmp_path / "x.h5", {"v": Array(np.zeros((2, 2)), ("sample",))}, config={})
    with pytest.raises(HDF5ContractError, match="unknown dimension"):
        write_hdf5(tmp_path / "x.h5", {"v": Array(np.zeros(2), ("samples",))}, config={})
    assert list(tmp_path.iterdir()) == []


def test_failed_write_leaves_nothing_and_keeps_old_file(tmp_path: Path) -> None:
    path = tmp_path / "out.h5"
    _write(path)
    before = path.read_bytes()

    class Boom:
        def __array__(self, dtype=None, copy=None):
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        write_hdf5(path, {"a": Array(np.zeros(3), ("sample",)), "b": Array(Boom(), ("sample",))}, config={})
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.h5"]


def test_atomic_path_replaces_only_on_success(tmp_path: Path) -> None:
    target = tmp_path / "t.txt"
    with atomic_path(target) as tmp:
        tmp.write_text("one")
        assert not target.exists()
    assert target.read_text() == "one"

    def write_then_fail() -> None:
        with atomic_path(target) as tmp:
            tmp.write_text("two")
            raise ValueError("fail")

    with pytest.raises(ValueError, match="fail"):
        write_then_fail()
    assert target.read_text() == "one"
    assert [p.name for p in tmp_path.iterdir()] == ["t.txt"]
    assert target.stat().st_mode & 0o777 == 0o666 & ~_umask()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_large_arrays_are_compressed(tmp_path: Path) -> None:
    path = tmp_path / "big.h5"
    write_hdf5(path, {"v": Array(np.zeros((100, 1000)), ("sample", "frame"))}, config={})
    with h5py.File(path) as fh:
        assert fh["v"].compression == "gzip"
